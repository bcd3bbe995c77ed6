"""scripts/diagnose_learning.py: one number per suspect for a run folder, on the bundled labelled clips."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from posesynth.models.model import PoseSynthModel
from posesynth.skeleton import canonical_tpose
from posesynth.synth.poses import sample_poses

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "diagnose_learning.py"
HELDOUT = ROOT / "assets" / "demo" / "heldout"
TINY = dict(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8, appearance_width=8,
            decoder_width=8)


def _run_folder(path: Path, facing_head: bool, readout_sharpness: float = 1.0) -> Path:
    """A run folder as `posesynth train` leaves it: model.pt, config.yaml and its unpaired poses."""
    path.mkdir()
    torch.manual_seed(0)
    kwargs = {**TINY, "facing_head": facing_head, "readout_sharpness": readout_sharpness}
    model = PoseSynthModel(**kwargs)
    model.start_from_pose(canonical_tpose())
    torch.nn.init.normal_(model.pose_encoder.heads.weight, std=0.3)   # heatmaps that depend on the image
    torch.save({"model_kwargs": kwargs, "state_dict": model.state_dict(), "step": 0}, path / "model.pt")
    np.save(path / "poses.npy", sample_poses(clips=2, seed=0).astype(np.float32))
    (path / "config.yaml").write_text("\n".join(
        ["model:", "  image_size: 32", f"  facing_head: {str(facing_head).lower()}",
         f"  readout_sharpness: {readout_sharpness}", "data:", f"  poses3d: {path / 'poses.npy'}"]) + "\n")
    return path


@pytest.mark.parametrize("facing_head", [False, True])
def test_the_report_names_every_suspect_and_the_verdict_with_a_facing_head(tmp_path, facing_head):
    run = _run_folder(tmp_path / "run", facing_head)
    out = tmp_path / "report.json"
    result = subprocess.run([sys.executable, str(SCRIPT), "--run", str(run), "--data", str(HELDOUT), "--stride", "4",
                             "--gap", "2", "--pairs", "6", "--json", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    for key in ("joints2d_error_px", "joints2d_error_constant_px", "pa_mpjpe", "pa_mpjpe_start",
                "facing_right_fraction", "recon_loss_predicted_pose", "gradient_cosine_to_truth"):
        assert np.isfinite(report[key]), key
        assert key in result.stdout
    assert report["pairs"] == 6
    assert ("verdict_right_fraction" in report) == facing_head
    if facing_head:
        for key in ("verdict_right_fraction", "head_right_fraction", "verdict_overrides_fraction"):
            assert 0.0 <= report[key] <= 1.0, key


def test_the_start_is_read_as_training_started_whatever_the_runs_readout(tmp_path):
    reports = []
    for k, read_at in ((1.0, []), (4.0, []), (4.0, ["--readout-sharpness", "1"])):
        run = tmp_path / f"run{k:g}"
        if not run.exists():
            _run_folder(run, False, readout_sharpness=k)
        out = tmp_path / f"report{len(reports)}.json"
        result = subprocess.run([sys.executable, str(SCRIPT), "--run", str(run), "--data", str(HELDOUT), "--stride",
                                 "8", "--gap", "2", "--pairs", "2", "--json", str(out), *read_at],
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        reports.append(json.loads(out.read_text()))
    # the run's own joints move with its readout; the start (the mean pose) does not
    assert abs(reports[0]["joints2d_error_px"] - reports[1]["joints2d_error_px"]) > 1e-3
    for key in ("joints2d_error_initial_px", "pa_mpjpe_start"):
        assert reports[0][key] == pytest.approx(reports[1][key], abs=1e-6), key
    # --readout-sharpness reads a run at another k: the k = 4 run read at 1 is the k = 1 run
    for key in ("joints2d_error_px", "pa_mpjpe", "joints2d_shape_slope"):
        assert reports[2][key] == pytest.approx(reports[0][key], abs=1e-6), key


def test_no_pairs_is_a_one_line_error(tmp_path):
    run = _run_folder(tmp_path / "run", False)
    result = subprocess.run([sys.executable, str(SCRIPT), "--run", str(run), "--data", str(HELDOUT), "--pairs", "0"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 2 and "--pairs must be at least 1" in result.stderr
    assert "Traceback" not in result.stderr
