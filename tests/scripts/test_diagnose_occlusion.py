"""scripts/diagnose_occlusion.py: the puppet's depth order as a side cue, on the bundled labelled clips."""

import json
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "diagnose_occlusion.py"
HELDOUT = ROOT / "assets" / "demo" / "heldout"


def _module():
    sys.path.insert(0, str(SCRIPT.parent))
    import diagnose_occlusion
    return diagnose_occlusion


def test_the_mirror_interpretation_keeps_the_2d_points_and_reflects_depth():
    mod = _module()
    g = torch.Generator().manual_seed(0)
    joints2d, depth = torch.rand(3, 17, 2, generator=g) * 64, 4 + torch.rand(3, 17, generator=g)
    other2d, other_depth = mod.mirror_interpretation(joints2d, depth)
    # the same set of points, each under its mirror joint's name; the root keeps its place and depth
    assert torch.equal(torch.sort(other2d[..., 0], dim=1).values, torch.sort(joints2d[..., 0], dim=1).values)
    assert torch.equal(other2d[:, 1], joints2d[:, 4]) and torch.equal(other2d[:, 14], joints2d[:, 11])
    assert torch.allclose(other_depth[:, 0], depth[:, 0])
    assert torch.allclose(other_depth[:, 4] - depth[:, 0], -(depth[:, 1] - depth[:, 0]))
    back2d, back_depth = mod.mirror_interpretation(other2d, other_depth)
    assert torch.equal(back2d, joints2d) and torch.allclose(back_depth, depth)


def test_the_lending_frame_stays_in_its_clip():
    mod = _module()
    video = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    assert mod.other_frames(video, 2).tolist() == [2, 3, 0, 1, 6, 5, 4]  # frame 5: no frame 2 away in its clip


def test_the_script_scores_real_clips_and_is_sensitive_to_the_2d(tmp_path):
    out = tmp_path / "occlusion.json"
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(HELDOUT), "--size", "48", "--stride", "4",
                             "--noise-px", "0", "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    rows = {(r["colours"], r["alternative"]): r for r in report["rows"]}
    assert len(rows) == 10 and report["frames"] > 20
    assert all(0.0 <= r["truth_wins"] <= 1.0 for r in rows.values())
    # the measure sees the 2D: the true puppet paints its own frame better than one shifted by 3 px
    assert rows[("own frame", "2D shifted 3 px")]["truth_wins"] > 0.9
    assert "truth wins" in result.stdout


def test_a_folder_without_labels_is_a_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr and str(tmp_path) in result.stderr
