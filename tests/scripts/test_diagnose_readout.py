"""scripts/diagnose_readout.py: one trained model scored at several heatmap sharpnesses."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from posesynth.evaluation.synthetic import labelled_views, score_poses
from posesynth.models.model import PoseSynthModel
from posesynth.skeleton import canonical_tpose
from posesynth.synth.poses import sample_poses
from posesynth.config import load_config
from posesynth.models.loading import load_model
from posesynth.training.inputs import canonical_poses, mean_pose, unpaired_poses

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "diagnose_readout.py"
HELDOUT = ROOT / "assets" / "demo" / "heldout"


def _model(tmp_path: Path) -> Path:
    """A 32 px model whose heatmaps depend on the image (random heads over the start's prior)."""
    torch.manual_seed(0)
    kwargs = dict(image_size=32, encoder_stages=3, encoder_width=8, appearance_channels=8, appearance_width=8,
                  decoder_width=8)
    model = PoseSynthModel(**kwargs)
    model.start_from_pose(canonical_tpose())
    torch.nn.init.normal_(model.pose_encoder.heads.weight, std=0.3)
    torch.save({"model_kwargs": kwargs, "state_dict": model.state_dict()}, tmp_path / "model.pt")
    return tmp_path / "model.pt"


def test_each_sharpness_is_scored_and_one_is_the_plain_evaluation(tmp_path):
    checkpoint = _model(tmp_path)
    np.save(tmp_path / "poses3d.npy", sample_poses(clips=2, frames=16, seed=7))
    result = subprocess.run([sys.executable, str(SCRIPT), "--run", str(checkpoint), "--data", str(HELDOUT),
                             "--poses3d", str(tmp_path / "poses3d.npy"), "--sharpness", "1", "4",
                             "--json", str(tmp_path / "out.json")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "k = 4" in result.stdout and "x the mean pose" in result.stdout
    rows = json.loads((tmp_path / "out.json").read_text())[str(checkpoint)]
    assert set(rows) == {"1", "4"}
    # k = 1 is the evaluation the trainer logs: the same crops, the same baseline
    model = load_model(checkpoint)
    views = labelled_views(HELDOUT, 32, 1.25)
    # the unpaired poses as train() reads them
    poses = unpaired_poses(load_config(None, [f"data.poses3d={tmp_path / 'poses3d.npy'}"]).data)
    poses = torch.as_tensor(poses, dtype=torch.float32)
    plain = score_poses(model, views["crops"], views["truth"], mean_pose=mean_pose(canonical_poses(poses)),
                        joints2d=views["joints2d"])
    assert abs(rows["1"]["pa_mpjpe"] - plain["model"]["pa_mpjpe"]) < 1e-3
    assert abs(rows["1"]["ratio_pa_mpjpe"] - plain["model"]["pa_mpjpe"] / plain["baseline"]["pa_mpjpe"]) < 1e-6
    assert abs(rows["1"]["joints2d_px"] - plain["model"]["joints2d_px"]) < 1e-4
    # a sharper reading moves the joints: the 2D differs
    assert abs(rows["4"]["joints2d_px"] - rows["1"]["joints2d_px"]) > 1e-3


def test_the_models_own_sharpness_is_restored_and_a_missing_run_is_one_line(tmp_path):
    sys.path.insert(0, str(SCRIPT.parent))
    from diagnose_readout import read_at
    model = load_model(_model(tmp_path))
    views = labelled_views(HELDOUT, 32, 1.25, stride=8)
    row = read_at(model, views, canonical_tpose(), 3.0)
    assert model.pose_encoder.readout_sharpness == 1.0 and row["pa_mpjpe"] > 0
    result = subprocess.run([sys.executable, str(SCRIPT), "--run", str(tmp_path / "missing"), "--data", str(HELDOUT),
                             "--poses3d", str(tmp_path / "poses3d.npy")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error:") and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
