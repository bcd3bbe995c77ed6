"""The weak signals inside the trainer: 2D keypoint sidecars, relative-depth labels and the
bone-ratio term reach the batch and the log."""

import json
from pathlib import Path

import numpy as np
import pytest

from posesynth.config import load_config
from posesynth.data.crops import crop_matrix
from posesynth.data.pairs import FramePairDataset
from posesynth.synth.dataset import generate_dataset, load_labels
from posesynth.training.train import train
from conftest import TINY as TINY_RUN, save_unpaired_poses

TINY = TINY_RUN


@pytest.fixture(scope="module")
def with_keypoints(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("weak")
    labels = generate_dataset(root, videos=2, frames=12, size=64, seed=7, progress=False)
    (root / "keypoints").mkdir()
    for path in labels:
        joints2d = load_labels(path)["joints2d"]
        scores = np.ones(joints2d.shape[:2], np.float32)
        scores[:, 10] = 0.0  # a joint the "detector" missed
        np.savez(root / "keypoints" / f"{path.stem}.keypoints.npz", keypoints=joints2d, scores=scores,
                 layout="h36m17")
    save_unpaired_poses(root, labels)
    return root


def test_items_carry_crop_keypoints_and_depth_labels(with_keypoints):
    root = with_keypoints
    dataset = FramePairDataset(videos=root / "videos", size=32, min_gap=2, max_gap=8, seed=0,
                               keypoints2d=root / "keypoints", relative_depth=True)
    item = dataset[3]
    name = Path(dataset.videos[item["video"]]["path"]).stem
    full = load_labels(root / "labels" / f"{name}.npz")["joints2d"][item["target_index"]]
    A = crop_matrix(item["box"].numpy(), 32)
    seen = np.arange(17) != 10   # the missing joint reads as 0 (score 0)
    assert np.allclose(item["target_keypoints"].numpy()[seen], (full @ A[:2, :2].T + A[:2, 2])[seen], atol=1e-3)
    assert item["target_keypoint_scores"][10] == 0 and item["target_keypoint_scores"][0] == 1
    relation, confidence = item["target_depth_relation"], item["target_depth_confidence"]
    assert relation.shape == (17, 17) and np.allclose(relation, -relation.T)
    assert confidence[10].abs().sum() == 0 and confidence.sum() > 0      # no labels for the missing joint
    with pytest.raises(ValueError, match="keypoints"):
        FramePairDataset(videos=root / "videos", size=32, min_gap=2, max_gap=8, relative_depth=True)


def test_training_logs_every_weak_term(with_keypoints, tmp_path):
    root = with_keypoints
    base = [f"data.videos={root / 'videos'}", f"data.poses3d={root / 'poses.npy'}", *TINY]
    run = train(load_config(None, [*base, "train.steps=2", f"data.keypoints2d={root / 'keypoints'}",
                                   "loss.reprojection=1", "loss.relative_depth=0.1", "loss.bone_ratio=1"]),
                  tmp_path / "weak", progress=False)
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    for term in ("loss/reprojection", "loss/relative_depth", "loss/bone_ratio"):
        assert all(np.isfinite(row[term]) and row[term] >= 0 for row in rows), term
    assert rows[-1]["loss/reprojection"] > 0 and rows[-1]["loss/relative_depth"] > 0


def test_the_weak_gpu_recipe_trains_every_term_at_tiny_size(with_keypoints, tmp_path):
    # configs/h36m_weak.yaml as shipped (2.5D encoder, lifter, refiner, imitation + the weak terms), tiny networks
    root = with_keypoints
    recipe = Path(__file__).resolve().parents[2] / "configs" / "h36m_weak.yaml"
    config = load_config(recipe, [f"data.videos={root / 'videos'}", f"data.poses3d={root / 'poses.npy'}",
                                  f"data.keypoints2d={root / 'keypoints'}", *TINY, "model.decoder_levels=3",
                                  "train.steps=2", "loss.imitation_start=1"])
    rows = [json.loads(line) for line in (train(config, tmp_path / "recipe", progress=False) / "log.jsonl")
            .read_text().splitlines()]
    for term in ("reprojection", "relative_depth", "bone_ratio", "proportions", "lifting", "refining", "imitation"):
        assert np.isfinite(rows[-1][f"loss/{term}"]), term
