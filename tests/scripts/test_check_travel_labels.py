"""scripts/check_travel_labels.py on hand-made label files: a person walking towards the camera."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_travel_labels.py"


def _walker(path: Path, frames: int = 40, towards: bool = True) -> None:
    """Label file of a stick person facing the camera, feet 3 px lower each frame (higher if not ``towards``)."""
    joints2d = np.zeros((frames, 17, 2))
    joints2d[:, [1, 14], 0], joints2d[:, [4, 11], 0] = 90.0, 110.0  # right side on the image's left
    step = 3.0 if towards else -3.0
    joints2d[:, :, 1] = 100.0 + step * np.arange(frames)[:, None]
    joints2d[:, [3, 6], 1] += 60.0
    boxes = np.stack([joints2d[..., 0].min(1) - 20, joints2d[..., 1].min(1) - 10,
                      joints2d[..., 0].max(1) + 20, joints2d[..., 1].max(1) + 10], axis=1)
    np.savez(path, joints3d=np.ones((frames, 17, 3)), joints2d=joints2d, K=np.eye(3), R=np.eye(3), t=np.zeros(3),
             fps=25.0, boxes=boxes, motion="walking")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


def test_a_walk_towards_the_camera_labels_the_facing_right(tmp_path):
    (tmp_path / "set" / "labels").mkdir(parents=True)
    _walker(tmp_path / "set" / "labels" / "a.npz")
    result = _run("--data", str(tmp_path / "set"), "--json", str(tmp_path / "out.json"))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["all"]["pairs"] == sum(40 - gap for gap in range(16, 40))
    assert report["all"]["coverage"] == 1.0 and report["all"]["precision"] == 1.0
    assert "walking" in result.stdout


def test_walking_backwards_is_labelled_wrong(tmp_path):
    (tmp_path / "set" / "labels").mkdir(parents=True)
    _walker(tmp_path / "set" / "labels" / "a.npz", towards=False)
    assert _run("--data", str(tmp_path / "set"), "--json", str(tmp_path / "out.json")).returncode == 0
    assert json.loads((tmp_path / "out.json").read_text())["all"]["precision"] == 0.0


def test_a_folder_without_labels_is_a_one_line_error(tmp_path):
    result = _run("--data", str(tmp_path))
    assert result.returncode != 0 and "labels" in result.stderr and "Traceback" not in result.stderr
