"""scripts/diagnose_supervised.py: the supervised learnability curve, on the bundled labelled clips."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "diagnose_supervised.py"
HELDOUT = ROOT / "assets" / "demo" / "heldout"


def test_the_curve_has_3d_and_2d_errors_with_their_baselines(tmp_path):
    (tmp_path / "train").symlink_to(HELDOUT)
    (tmp_path / "heldout").symlink_to(HELDOUT)
    out = tmp_path / "curve.json"
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(tmp_path), "--steps", "4", "--evals", "2",
                             "--batch", "4", "--json", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert [p["samples"] for p in report["curve"]] == [8, 16]
    last = report["curve"][-1]
    for key in ("pa_mpjpe", "n_mpjpe", "baseline_pa_mpjpe", "joints2d_px", "constant_joints2d_px",
                "joints2d_either_side_px", "constant_joints2d_either_side_px"):
        assert np.isfinite(last[key]) and last[key] > 0, key
    # left and right left open can only lower an error
    assert last["joints2d_either_side_px"] <= last["joints2d_px"] + 1e-6
    # the baseline does not depend on training, the best constant pose beats the mean pose
    assert report["curve"][0]["baseline_pa_mpjpe"] == last["baseline_pa_mpjpe"]
    assert report["best_constant_pa_mpjpe"] < last["baseline_pa_mpjpe"]
    assert report["heldout_frames"] > 0 and "held-out PA-MPJPE" in result.stdout


def test_2d_labels_train_the_2d_joints_and_the_saved_model_loads(tmp_path):
    from posesynth.evaluation.synthetic import labelled_views
    from posesynth.models.loading import load_model, run_config
    (tmp_path / "train").symlink_to(HELDOUT)
    (tmp_path / "heldout").symlink_to(HELDOUT)
    out, saved = tmp_path / "curve.json", tmp_path / "sup2d" / "model.pt"
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(tmp_path), "--steps", "30", "--evals", "2",
                             "--batch", "8", "--lr", "3e-3", "--labels", "2d", "--save", str(saved),
                             "--json", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["labels"] == "2d"
    first, last = report["curve"]
    assert "train_mpjpe" not in last and last["train_joints2d_px"] > 0
    # 30 steps of pixel labels move the 2D joints towards the truth of the (here: same) crops
    assert last["joints2d_px"] < first["joints2d_px"] or last["joints2d_px"] < last["constant_joints2d_px"]
    # the saved model is the trained one: it gives the 2D error the last evaluation printed
    model = load_model(saved)
    views = labelled_views(HELDOUT, model.image_size)
    with torch.no_grad():
        joints2d = model.encode_pose(torch.from_numpy(views["crops"]).permute(0, 3, 1, 2).float() / 255)["joints2d"]
    error = (joints2d.double() - torch.from_numpy(views["joints2d"])).norm(dim=-1).mean().item()
    assert abs(error - last["joints2d_px"]) < 1e-3
    assert "train 2D" in result.stdout and f"wrote {saved}" in result.stdout
    # its folder reads like a run's: the crop size and the unpaired poses are in the config beside it
    config = run_config(saved.parent)
    assert config.model.image_size == model.image_size and Path(config.data.poses3d) == tmp_path / "poses3d.npy"
