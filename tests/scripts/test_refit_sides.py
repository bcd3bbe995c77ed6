"""scripts/refit_sides.py: the side stage fitted after a run, scored on its held-out set, written as a new run."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from posesynth.models.model import PoseSynthModel

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "refit_sides.py"
HELDOUT = ROOT / "assets" / "demo" / "heldout"
TINY = dict(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8, appearance_width=8,
            decoder_width=8)


def _run_folder(path: Path, **kwargs) -> Path:
    """A run folder as `posesynth train` leaves it: model.pt and config.yaml (videos and a held-out set)."""
    path.mkdir()
    torch.manual_seed(0)
    torch.save({"model_kwargs": {**TINY, **kwargs}, "state_dict": PoseSynthModel(**TINY, **kwargs).state_dict(),
                "step": 2}, path / "model.pt")
    (path / "config.yaml").write_text(
        f"model:\n  image_size: 32\ndata:\n  videos: {HELDOUT / 'videos'}\n  eval_synthetic: {HELDOUT}\n"
        f"  min_gap: 2\n  max_gap: 8\ntrain:\n  steps: 2\n  batch_size: 4\n  seed: 3\n")
    return path


def _refit(run: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--run", str(run), *args], capture_output=True, text=True,
                          timeout=600)


def test_fitted_sides_are_scored_beside_the_run_and_the_sided_run_reads_as_scored(tmp_path):
    run = _run_folder(tmp_path / "run")
    before = (run / "model.pt").read_bytes()
    result = _refit(run, "--iterations", "3", "--json", str(tmp_path / "sides.json"), "--out", str(tmp_path / "sided"))
    assert result.returncode == 0, result.stderr
    assert (run / "model.pt").read_bytes() == before  # the run is only read
    report = json.loads((tmp_path / "sides.json").read_text())
    assert report["frames"] == 192  # every frame of the two bundled held-out clips
    sided = report["sided"]
    assert sided["iterations"] == 3 and sided["seed"] == 3  # the run's own seed, as the trainer uses
    assert 0 <= sided["side_right"] <= 1 and sided["ratio"] == sided["pa_mpjpe"] / sided["baseline_pa_mpjpe"]
    assert "sides fitted (3 batches)" in result.stdout and "of held-out sides right" in result.stdout
    # the written run loads with its fitted classifier and scores as the report says
    from posesynth.evaluation.synthetic import labelled_views, score_poses
    from posesynth.models.loading import load_model, run_config
    from posesynth.training.inputs import mean_pose, unpaired_poses
    model = load_model(tmp_path / "sided")
    assert model.side_classifier is not None and bool(model.side_fitted)
    config = run_config(tmp_path / "sided")
    assert config.model.side_classifier and config.train.side_fit_iterations == 3
    views = labelled_views(HELDOUT, 32)
    reference = mean_pose(torch.as_tensor(unpaired_poses(config.data), dtype=torch.float32))
    scores = score_poses(model, views["crops"], views["truth"], reference, joints2d=views["joints2d"])
    assert abs(scores["model"]["pa_mpjpe"] - sided["pa_mpjpe"]) < 1e-3
    # a second fit with the same seed is the same classifier; an existing --out is refused
    again = _refit(run, "--iterations", "3", "--out", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    first, second = load_model(tmp_path / "sided").state_dict(), load_model(tmp_path / "again").state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
    refused = _refit(run, "--iterations", "1", "--out", str(tmp_path / "sided"))
    assert refused.returncode != 0 and "already exists" in refused.stderr and "Traceback" not in refused.stderr


def test_the_sided_run_predicts_through_the_console_script(tmp_path):
    run = _run_folder(tmp_path / "run")
    assert _refit(run, "--iterations", "2", "--out", str(tmp_path / "sided")).returncode == 0
    video = sorted((HELDOUT / "videos").glob("*.mp4"))[0]
    for file in (video, video.with_suffix(".boxes.npy")):
        shutil.copy(file, tmp_path / file.name)
    posesynth = Path(sys.executable).with_name("posesynth")
    result = subprocess.run([str(posesynth), "predict", str(tmp_path / "sided"), str(tmp_path / video.name), "--out",
                             str(tmp_path / "pred")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "pred" / "poses.npz") as poses:
        joints = poses["joints3d"]
    assert joints.shape[1:] == (17, 3) and len(joints) > 0 and np.isfinite(joints).all()


def test_a_facing_head_run_or_a_run_without_a_heldout_set_is_a_one_line_error(tmp_path):
    head = _refit(_run_folder(tmp_path / "head", facing_head=True), "--iterations", "1")
    assert head.returncode != 0 and "facing head" in head.stderr and "Traceback" not in head.stderr
    plain = _run_folder(tmp_path / "plain")
    (plain / "config.yaml").write_text("model:\n  image_size: 32\n")
    result = _refit(plain, "--iterations", "1")
    assert result.returncode != 0 and "eval_synthetic" in result.stderr and "Traceback" not in result.stderr
