"""scripts/diagnose_facing_geometry.py: the facing from the 2D joints alone, on the bundled held-out clips."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from posesynth.synth.poses import sample_poses

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "diagnose_facing_geometry.py"
HELDOUT = ROOT / "assets" / "demo" / "heldout"
CHECKPOINT = ROOT / "assets" / "demo" / "checkpoint.pt"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


def test_frontal_labelling_relabels_only_the_people_facing_away():
    sys.path.insert(0, str(SCRIPT.parent))
    from diagnose_facing_geometry import frontal_labelling
    from posesynth.skeleton import facing_side
    toward = torch.zeros(17, 2)
    toward[[1, 14], 0], toward[[4, 11], 0] = -3.0, 3.0  # right hip/shoulder on the image's left: facing the camera
    away = toward.clone()
    away[:, 0] *= -1                                     # the same layout seen from the back
    joints = torch.stack([toward, away])
    drawn, relabelled = frontal_labelling(joints)
    assert relabelled.tolist() == [False, True]
    assert torch.equal(drawn[0], toward)                 # untouched
    assert torch.equal(drawn[1, 1], away[4]) and torch.equal(drawn[1, 4], away[1])  # hips swapped
    assert (facing_side(drawn) < 0).all()                # everyone now "faces the camera"


def test_the_script_trains_on_unpaired_poses_and_scores_real_clips(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "heldout").symlink_to(HELDOUT)
    np.save(data / "poses3d.npy", sample_poses(clips=2, frames=16, seed=7))
    out = tmp_path / "geometry.json"
    result = _run("--data", str(data), "--iterations", "3", "--batch", "16", "--stride", "8", "--noise-px", "2",
                  "--run", str(CHECKPOINT), "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["elevation_deg"] == [0.0, 0.0] and report["lean_deg"] == 20.0  # the recipe's views
    assert report["frames"] > 0 and 0.0 <= report["away_share"] <= 1.0
    scored = [report["true_2d"], report["noisy_2d"]["2.0"], report["run"]]
    assert all(0.0 <= r[key] <= 1.0 for r in scored for key in ("accuracy", "accuracy_window_9", "accuracy_window_33"))
    assert 0.0 <= report["run"]["drawn_facing_right"] <= 1.0
    assert "facing right" in result.stdout


def test_missing_unpaired_poses_are_a_one_line_error(tmp_path):
    result = _run("--data", str(tmp_path), "--iterations", "1")
    assert result.returncode != 0 and "poses3d.npy" in result.stderr and "Traceback" not in result.stderr
