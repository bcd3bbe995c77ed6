"""Multi-view training: view pairs of synthetic scenes and of the real Pose2Sim capture go through
the trainer with the consistency, transform re-projection and cross-view synthesis terms."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from posesynth.config import load_config
from posesynth.data.multiview_dataset import MultiViewDataset
from posesynth.losses.multiview_terms import multiview_losses, stack_views
from posesynth.models.model import PoseSynthModel
from posesynth.synth.dataset import generate_dataset
from posesynth.training.train import multiview_outputs
from posesynth.training.train import train
from conftest import TINY as TINY_RUN, save_unpaired_poses

TINY = [*TINY_RUN, "train.batch_size=4"]
TERMS = ("loss/multiview_consistency", "loss/transform_reprojection", "loss/cross_view")


@pytest.fixture(scope="module")
def views(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("views")
    labels = generate_dataset(root, videos=2, views=2, frames=12, size=64, seed=11, progress=False)
    save_unpaired_poses(root, labels)
    return root


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_true_poses_satisfy_the_multiview_terms(views):
    """With the ground-truth poses in place of predictions, consistency and re-projection vanish."""
    dataset = MultiViewDataset(videos=views / "videos", calibration=views / "scenes.json", size=32, min_gap=2,
                               max_gap=8, seed=0, labels3d=views / "labels")
    batch = stack_views(torch.utils.data.default_collate([dataset[i] for i in range(3)]))
    pose = batch["target_pose3d"].double()
    K = batch["K_crop"].double()
    from posesynth.geometry import project
    from posesynth.losses.reprojection import solve_root_translation
    # true 2D in the crop: the label placed at its true root (solved from its own exact projection)
    root_truth = torch.zeros(6, 3, dtype=torch.float64)
    root_truth[:, 2] = 4.0
    joints2d = project(pose + root_truth[:, None], K)
    root = solve_root_translation(pose, joints2d, K)
    assert torch.allclose(root, root_truth, atol=1e-6)
    outputs = {"pose_camera": pose, "joints2d": joints2d}
    batch = {**batch, "R_ij": batch["R_ij"].double(), "t_ij": batch["t_ij"].double(), "K_crop": K}
    terms = multiview_losses(outputs, batch, weights={"multiview_consistency": 1.0})
    assert float(terms["multiview_consistency"]) < 1e-8


def test_multiview_training_logs_the_pair_terms(views, tmp_path):
    overrides = [f"data.videos={views / 'videos'}", f"data.poses3d={views / 'poses.npy'}", *TINY,
                 "train.steps=2", f"data.calibration={views / 'scenes.json'}", "loss.multiview_consistency=1",
                 "loss.transform_reprojection=1", "loss.cross_view=1"]
    run = train(load_config(None, overrides), tmp_path / "mv", progress=False)
    rows = _rows(run)
    assert all(np.isfinite(row[t]) and row[t] >= 0 for row in rows for t in TERMS)
    assert rows[-1]["loss/cross_view"] > 0
    with pytest.raises(ValueError, match="data.calibration"):
        train(load_config(None, [o for o in overrides if not o.startswith("data.calibration")]),
              tmp_path / "bad", progress=False)


def test_two_process_multiview_run_with_accelerate_launch(views, tmp_path):
    """DDP over gloo with the pair terms: the cross-view synthesis runs the unwrapped model outside
    DDP's forward; the gradient reducer must accept that (no unused-parameter or ready-twice
    error), and both processes finish and checkpoint."""
    import os
    import subprocess
    import sys

    from posesynth.training.rundir import latest_checkpoint

    run = tmp_path / "mv_ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", ACCELERATE_USE_CPU="true")
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "posesynth", "train",
               "--out", str(run), f"data.videos={views / 'videos'}", f"data.poses3d={views / 'poses.npy'}",
               f"data.calibration={views / 'scenes.json'}", "loss.multiview_consistency=1",
               "loss.transform_reprojection=1", "loss.cross_view=1", *TINY, "train.steps=2"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _rows(run)
    assert [row["step"] for row in rows] == [1, 2] and all(row["loss/cross_view"] > 0 for row in rows)
    assert len(list((latest_checkpoint(run)).glob("random_states_*.pkl"))) == 2


def test_the_heatmap_and_root_depth_heads_get_a_gradient_from_the_cross_view_terms(views):
    dataset = MultiViewDataset(videos=views / "videos", calibration=views / "scenes.json", size=32, min_gap=2,
                               max_gap=8, seed=0)
    batch = stack_views(torch.utils.data.default_collate([dataset[i] for i in range(2)]))
    model = PoseSynthModel(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8,
                           appearance_width=8, decoder_width=8)
    outputs = model(batch["source"], batch["target"], batch["background"])
    outputs.update(multiview_outputs(model, outputs, batch, synthesize=True))
    terms = multiview_losses(outputs, batch, weights={"cross_view": 1.0, "transform_reprojection": 1.0})
    (terms["cross_view"] + terms["transform_reprojection"]).backward()
    heads = [model.pose_encoder.heads, model.pose_encoder.root_head[-1]]
    for head in heads:
        assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0


def test_short_run_on_the_real_pose2sim_views(realdata, tmp_path, views):
    folder = realdata / "pose2sim_multiview"
    overrides = [f"data.videos={folder}", f"data.calibration={folder / 'Calib.qca.txt'}",
                 f"data.poses3d={views / 'poses.npy'}", *TINY, "train.steps=1", "data.min_gap=5", "data.max_gap=20",
                 "data.box_source=foreground", "loss.multiview_consistency=1", "loss.transform_reprojection=1"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cam03/04 are 1088 px wide: a size warning, not an error
        run = train(load_config(None, overrides), tmp_path / "p2s", progress=False)
    rows = _rows(run)
    assert np.isfinite(rows[-1]["loss/multiview_consistency"]) and np.isfinite(rows[-1]["loss/total"])


def test_the_multiview_recipe_trains_every_term_at_tiny_size(views, tmp_path):
    # configs/multiview.yaml as shipped (2.5D encoder, lifter, refiner, imitation + the multi-view terms), tiny networks
    recipe = Path(__file__).resolve().parents[2] / "configs" / "multiview.yaml"
    config = load_config(recipe, [f"data.videos={views / 'videos'}", f"data.calibration={views / 'scenes.json'}",
                                  f"data.poses3d={views / 'poses.npy'}", *TINY, "train.steps=2",
                                  "loss.imitation_start=1"])
    rows = _rows(train(config, tmp_path / "recipe", progress=False))
    for term in ("multiview_consistency", "transform_reprojection", "cross_view", "lifting", "refining", "imitation"):
        assert np.isfinite(rows[-1][f"loss/{term}"]), term
