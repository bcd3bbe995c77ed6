"""scripts/diagnose_facing.py: the supervised facing upper bound, on the bundled labelled clips."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "diagnose_facing.py"
HELDOUT = ROOT / "assets" / "demo" / "heldout"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


def test_facing_labels_closed_form():
    sys.path.insert(0, str(SCRIPT.parent))
    from diagnose_facing import facing_labels
    pose = np.zeros((2, 17, 3))
    pose[0, [1, 14], 0], pose[0, [4, 11], 0] = -0.2, 0.2  # right side on the image's left: facing the camera
    pose[1] = pose[0]
    pose[1, ..., 0] *= -1  # the same person seen from the back
    labels, clarity = facing_labels(pose)
    assert torch.equal(labels, torch.tensor([1.0, 0.0]))
    assert torch.allclose(clarity, torch.tensor([0.8, 0.8]))


def test_window_mean_stays_inside_each_clip():
    sys.path.insert(0, str(SCRIPT.parent))
    from diagnose_facing import window_mean
    values = torch.tensor([1.0, 2.0, 3.0, 10.0, 20.0])
    video = torch.tensor([0, 0, 0, 1, 1])
    assert torch.allclose(window_mean(values, video, 3), torch.tensor([1.5, 2.0, 2.5, 15.0, 15.0]))
    assert torch.equal(window_mean(values, video, 1), values)
    assert torch.allclose(window_mean(values, video, 99), torch.tensor([2.0, 2.0, 2.0, 15.0, 15.0]))


def test_the_script_trains_and_scores_on_real_clips(tmp_path):
    out = tmp_path / "facing.json"
    result = _run("--train", str(HELDOUT), "--heldout", str(HELDOUT), "--size", "32", "--steps", "4",
                  "--eval-every", "2", "--batch", "8", "--width", "4", "--stride", "4", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert [p["step"] for p in report["curve"]] == [2, 4]
    assert [p["samples"] for p in report["curve"]] == [16, 32]
    assert all(0.0 <= p["accuracy"] <= 1.0 and np.isfinite(p["loss"]) for p in report["curve"])
    assert report["windows"] == [9, 33]
    assert all(0.0 <= p[f"accuracy_window_{w}"] <= 1.0 for p in report["curve"] for w in (9, 33))
    assert 0.5 <= report["majority_share"] <= 1.0
    assert report["training_crops"] < report["heldout_crops"]  # every 4th frame against every frame
    assert "held-out accuracy" in result.stdout


def test_a_motion_with_no_clips_is_a_one_line_error(tmp_path):
    result = _run("--train", str(HELDOUT), "--heldout", str(HELDOUT), "--motions", "juggling", "--steps", "1")
    assert result.returncode != 0 and "juggling" in result.stderr and "Traceback" not in result.stderr
