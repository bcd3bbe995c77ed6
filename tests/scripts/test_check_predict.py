"""scripts/check_predict.py: the installed `posesynth predict` on labelled clips, against the best constant pose."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from posesynth.evaluation.synthetic import best_constant_scores
from posesynth.synth.dataset import load_labels

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "check_predict.py"
HELDOUT = REPO / "assets" / "demo" / "heldout"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


def test_the_shipped_checkpoint_through_predict_on_the_demo_clips(tmp_path):
    result = _run("--run", str(REPO / "assets" / "demo" / "checkpoint.pt"), "--data", str(HELDOUT),
                  "--out", str(tmp_path / "check"))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "check" / "check_predict.json").read_text())
    labels = [load_labels(p) for p in sorted((HELDOUT / "labels").glob("*.npz"))]
    assert report["frames"] == sum(len(lab["joints3d"]) for lab in labels)
    assert set(report["clips"]) == {p.stem for p in (HELDOUT / "videos").glob("*.mp4")}
    truths = np.concatenate([lab["joints3d"] for lab in labels])
    assert report["best_constant"] == pytest.approx(best_constant_scores(truths)["pa_mpjpe"])
    assert 20.0 < report["model"] < 200.0 and report["ratio"] == pytest.approx(report["model"] / report["best_constant"])
    for clip in report["clips"]:  # the predictions the user would get are kept
        with np.load(tmp_path / "check" / clip / "poses.npz") as poses:
            assert poses["joints3d"].shape == (report["clips"][clip]["frames"], 17, 3)
    assert "ratio" in result.stdout


def test_a_folder_without_videos_is_named(tmp_path):
    result = _run("--run", str(tmp_path), "--data", str(tmp_path), "--out", str(tmp_path / "o"))
    assert result.returncode == 1 and "holds no .mp4 files" in result.stderr
