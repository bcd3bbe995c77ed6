"""Exported motion: BVH round trip through posesynth's own reader, smoothing that keeps bone lengths,
the root track's least squares, the CSV table, and `predict --bvh --csv`."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from conftest import TINY, write_test_video

from posesynth import skeleton
from posesynth.cli import main
from posesynth.config import load_config, write_resolved_config
from posesynth.data.bvh import read_bvh
from posesynth.export.bvh_writer import bvh_joints, read_bvh_joints, smallest_rotation, write_bvh
from posesynth.export.motion import (bone_vectors, canonical_size, fixed_lengths, root_translation, smooth_motion,
                                     with_bone_lengths)
from posesynth.export.table import csv_header
from posesynth.models.model import PoseSynthModel
from posesynth.training.checkpoints import model_kwargs

LENGTHS = np.array(skeleton.BONE_LENGTHS_M)


def random_motion(frames: int = 40, seed: int = 0) -> np.ndarray:
    """(F, 17, 3) root-relative poses with random bone directions (any, including backwards) and canonical bones."""
    rng = np.random.default_rng(seed)
    base = bone_vectors(skeleton.canonical_tpose().double().numpy()[None])
    return with_bone_lengths(base + rng.normal(0, 0.3, (frames, 16, 3)), LENGTHS)


def test_smallest_rotation_aims_every_direction_including_opposite():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(50, 3))
    b = np.concatenate([rng.normal(size=(45, 3)), -a[45:]])  # the last five are exactly opposite
    R = smallest_rotation(a / np.linalg.norm(a, axis=1, keepdims=True), b)
    np.testing.assert_allclose(np.einsum("fij,fj->fi", R, a / np.linalg.norm(a, axis=1, keepdims=True)),
                               b / np.linalg.norm(b, axis=1, keepdims=True), atol=1e-12)
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(3), R.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)


def test_bvh_round_trips_through_the_project_reader_within_a_micrometre(tmp_path):
    poses = random_motion()
    root = np.stack([np.linspace(-1, 1, 40), np.full(40, 0.3), np.linspace(3, 6, 40)], axis=1)
    joints = poses + root[:, None]
    path = write_bvh(tmp_path / "motion.bvh", joints, 50.0, LENGTHS)
    parsed = read_bvh(path)
    names = [name for name, _, _ in bvh_joints()]
    assert [n for n in parsed.names if not n.endswith("_End")] == names
    assert set(skeleton.JOINT_NAMES) <= set(parsed.names) and parsed.fps == pytest.approx(50.0)
    assert len(parsed.motion) == 40
    back = read_bvh_joints(path)
    assert np.abs(back - joints).max() < 1e-6  # metres: far inside the 1 mm asked for
    # y up, facing +z, centimetres: the root channels are the camera-frame root turned and scaled
    np.testing.assert_allclose(parsed.motion[:, :3], root * [100, -100, -100], atol=1e-5)
    # rest offsets: the canonical bones, legs down and arms out
    rknee = parsed.names.index("rknee")
    np.testing.assert_allclose(parsed.offsets[rknee], [0, -100 * LENGTHS[1], 0], atol=1e-6)


def test_smoothing_keeps_every_bone_length_and_reduces_jitter():
    rng = np.random.default_rng(2)
    steady = np.broadcast_to(random_motion(1)[0], (60, 17, 3))
    noisy = with_bone_lengths(bone_vectors(steady) + rng.normal(0, 0.05, (60, 16, 3)), LENGTHS * 1.1)
    smooth = smooth_motion(noisy, 3.0)
    np.testing.assert_allclose(np.linalg.norm(bone_vectors(smooth), axis=-1),
                               np.broadcast_to(LENGTHS * 1.1, (60, 16)), rtol=1e-9)
    np.testing.assert_allclose(smooth_motion(steady, 3.0), steady, atol=1e-9)
    shape = lambda p: p / 1.1 - steady  # noqa: E731 — compare at one scale
    assert np.abs(shape(smooth)).mean() < 0.5 * np.abs(shape(noisy)).mean()
    varying = with_bone_lengths(bone_vectors(steady), LENGTHS)[None].repeat(3, 0)[:, 0] * [[[1.0]], [[2.0]], [[1.1]]]
    np.testing.assert_allclose(fixed_lengths(varying), LENGTHS * 1.1, rtol=1e-9)  # the median


def test_root_translation_is_exact_for_a_perspective_projection():
    poses = random_motion(5, seed=3)
    truth = np.array([[0.3, -0.2, 4.0], [-1.0, 0.1, 7.5], [0.0, 0.0, 2.5], [2.0, 0.5, 9.0], [0.1, 0.2, 3.0]])
    K = np.array([[1145.0, 0, 512.0], [0, 1143.0, 515.0], [0, 0, 1]])
    camera = poses + truth[:, None]
    pixels = camera[..., :2] / camera[..., 2:] * [K[0, 0], K[1, 1]] + K[:2, 2]
    np.testing.assert_allclose(root_translation(poses, pixels, K), truth, atol=1e-8)
    weights = np.ones((5, 17))
    weights[:, 3] = 0
    pixels[:, 3] += 50.0  # an outlier with weight 0 changes nothing
    np.testing.assert_allclose(root_translation(poses, pixels, K, weights), truth, atol=1e-8)
    np.testing.assert_allclose(np.linalg.norm(bone_vectors(canonical_size(poses * 1.3)), axis=-1).sum(1),
                               LENGTHS.sum(), rtol=1e-12)


def _tiny_run(folder):
    config = load_config(None, TINY)
    torch.manual_seed(0)
    model = PoseSynthModel(**model_kwargs(config))
    model.start_from_pose(skeleton.canonical_tpose())
    folder.mkdir(parents=True)
    write_resolved_config(config, folder)
    torch.save({"model_kwargs": model_kwargs(config), "state_dict": model.state_dict(), "step": 0}, folder / "model.pt")
    return folder


def test_predict_writes_a_bvh_that_round_trips_and_a_csv(tmp_path):
    run = _tiny_run(tmp_path / "run")
    video = tmp_path / "clip.mp4"
    write_test_video(video, frames=10, width=64, height=48, fps=25)
    out = tmp_path / "out"
    assert main(["predict", str(run), str(video), "--out", str(out), "--bvh", "--csv", "--smooth", "1",
                 "--device", "cpu"]) == 0
    with np.load(out / "poses.npz") as saved:
        joints3d, root, joints2d = saved["joints3d"], saved["root"], saved["joints2d"]
        assert root.shape == (10, 3) and float(saved["focal"]) == 64.0
    assert np.isfinite(root).all() and (root[:, 2] > 0).all()
    # with --smooth the bone lengths are fixed, so the BVH holds exactly joints3d + root
    back = read_bvh_joints(out / "poses.bvh")
    assert np.abs(back - (joints3d + root[:, None])).max() < 1e-3  # 1 mm
    with open(out / "poses.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == csv_header() and len(rows) == 11
    table = np.array(rows[1:], float)
    np.testing.assert_allclose(table[:, 2:5], root, atol=1e-5)
    np.testing.assert_allclose(table[:, 5:56].reshape(10, 17, 3), joints3d, atol=1e-5)
    np.testing.assert_allclose(table[:, 56:].reshape(10, 17, 2), joints2d, atol=1e-4)
    assert json.loads((out / "poses.json").read_text())["fields"]["root"]
