"""posesynth predict: streamed poses, their files, the overlay videos, and the geometry behind them."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_test_video
from test_visualize import make_tiny_run

from posesynth import skeleton
from posesynth.apps.predict import (FIELDS, crop_to_frame, iter_person_crops, predict, predict_video,
    run_config, video_camera)
from posesynth.cli import main
from posesynth.data.crops import crop_matrix
from posesynth.data.crops import crop_rotations
from posesynth.evaluation.synthetic import encode_crops
from posesynth.export.motion import bone_vectors, smooth_motion
from posesynth.models.loading import load_model
from posesynth.video.boxes import square_boxes
from posesynth.video.index import probe_video
from posesynth.video.readers import VideoError


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    return make_tiny_run(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    write_test_video(path, frames=21, width=64, height=48, fps=20)
    return path


def test_crop_to_frame_inverts_crop_matrix():
    box = np.array([-7, 12, 93, 112])
    points = np.array([[0.0, 0.0], [31.0, 31.0], [10.5, -3.0]])
    A = crop_matrix(box, 32)
    back = crop_to_frame(points, box, 32)
    forward = (A @ np.c_[back, np.ones(3)].T).T[:, :2]
    np.testing.assert_allclose(forward, points, atol=1e-12)
    # the crop's top-left pixel centre samples the box corner's first pixel at scale 100/32
    scale = 100 / 32
    np.testing.assert_allclose(crop_to_frame(np.zeros(2), box, 32), [-7 + 0.5 * scale - 0.5, 12 + 0.5 * scale - 0.5])


def test_predict_writes_poses_and_overlays(tiny_run, clip, tmp_path):
    result = predict(tiny_run, clip, tmp_path / "out", side_by_side=True, progress=False)
    assert result["joints3d"].shape == (21, 17, 3) and result["joints2d"].shape == (21, 17, 2)
    assert result["boxes"].shape == (21, 4) and float(result["fps"]) == 20.0
    np.testing.assert_allclose(result["joints3d"][:, 0], 0.0, atol=1e-6)  # root-relative
    bones = np.linalg.norm(np.diff(result["joints3d"][:, list(skeleton.BONES)], axis=2)[:, :, 0], axis=-1)
    # the encoder's bone lengths are free, held near the canonical proportions by a loss only
    assert np.isfinite(bones).all() and (bones > 0).all()
    with np.load(tmp_path / "out" / "poses.npz") as saved:
        assert {"joints3d", "joints2d", "boxes", "fps", "joint_names", "parents"} <= set(saved.files)
        np.testing.assert_array_equal(saved["joints2d"], result["joints2d"])
        assert saved["joint_names"].tolist() == list(skeleton.JOINT_NAMES)
    document = json.loads((tmp_path / "out" / "poses.json").read_text())
    assert document["frames"] == 21 and document["fps"] == 20.0 and set(FIELDS) <= set(document["fields"])
    np.testing.assert_allclose(np.array(document["joints3d"]), result["joints3d"], atol=1e-6)
    overlay = probe_video(tmp_path / "out" / "overlay.mp4")
    assert (overlay.frames, overlay.width, overlay.height, overlay.fps) == (21, 64, 48, 20.0)
    side = probe_video(tmp_path / "out" / "side_by_side.mp4")
    assert (side.frames, side.width, side.height) == (21, 64 + 24, 48)


def test_joints2d_are_the_crop_projections_mapped_back(tiny_run, clip):
    model, config = load_model(tiny_run), run_config(tiny_run)
    result = predict_video(model, clip, config, batch_size=4, progress=False)
    d = config.data
    info = probe_video(clip)
    streamed = list(iter_person_crops(info, 32, margin=d.margin, box_source=d.box_source,
                                      background_window=d.background_window))
    assert [i for i, _, _ in streamed] == list(range(21))
    crops = np.stack([c for _, c, _ in streamed])
    np.testing.assert_array_equal(np.stack([b for _, _, b in streamed]), result["boxes"])
    with torch.no_grad():
        crop_joints = model.encode_pose(torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255)["joints2d"]
    for joints, box, expected in zip(result["joints2d"], result["boxes"], crop_joints.numpy()):
        mapped = (crop_matrix(box, 32) @ np.c_[joints, np.ones(17)].T).T[:, :2]
        np.testing.assert_allclose(mapped, expected, atol=1e-3)
    pose = encode_crops(model, crops)["pose_camera"]  # the crop camera's frame; joints3d are in the video camera's
    rotation = crop_rotations(video_camera(info, None), result["boxes"].astype(np.float64))
    np.testing.assert_allclose(result["joints3d"] @ rotation.transpose(0, 2, 1), pose, atol=1e-5)
    assert float(result["focal"]) == 64.0  # assumed: the longer side


def test_boxes_follow_the_moving_person(tiny_run, clip):
    true = write_test_video(clip.with_name("again.mp4"), frames=21, width=64, height=48, fps=20)
    result = predict_video(load_model(tiny_run), clip, run_config(tiny_run), progress=False)
    centres = (result["boxes"][:, 0] + result["boxes"][:, 2]) / 2
    assert np.abs(centres - (true[:, 0] + true[:, 2]) / 2).max() <= 4  # the box moves left → right with it


def test_box_sidecar_is_used(tiny_run, tmp_path):
    video = tmp_path / "side.mp4"
    write_test_video(video, frames=8, width=64, height=48)
    np.save(tmp_path / "side.boxes.npy", np.tile([[10.0, 8.0, 30.0, 40.0]], (8, 1)))
    result = predict_video(load_model(tiny_run), video, run_config(tiny_run), progress=False)
    expected = square_boxes(np.array([[10.0, 8.0, 30.0, 40.0]]), run_config(tiny_run).data.margin)
    assert (result["boxes"] == expected).all()


def test_focal_sets_the_camera_frame_and_the_root_depth(tiny_run, clip):
    model, config = load_model(tiny_run), run_config(tiny_run)
    assumed = predict_video(model, clip, config, progress=False)
    np.testing.assert_array_equal(predict_video(model, clip, config, focal=64.0, progress=False)["joints3d"],
                                  assumed["joints3d"])
    video_frame = predict_video(model, clip, config, focal=50.0, progress=False)
    lengths = lambda p: np.linalg.norm(p, axis=-1)  # noqa: E731 — a rotation keeps distances to the root
    np.testing.assert_allclose(lengths(video_frame["joints3d"]), lengths(assumed["joints3d"]), atol=1e-5)
    assert np.abs(video_frame["joints3d"] - assumed["joints3d"]).max() > 1e-4  # boxes are off-centre
    np.testing.assert_array_equal(video_frame["joints2d"], assumed["joints2d"])
    # the same image size seen through a shorter lens is nearer: depth scales with the focal length
    np.testing.assert_allclose(video_frame["root"][:, 2] / assumed["root"][:, 2], 50 / 64, rtol=0.02)
    assert (assumed["root"][:, 2] > 0).all()


def test_smoothing_keeps_bone_lengths_and_changes_only_over_time(tiny_run, clip):
    model, config = load_model(tiny_run), run_config(tiny_run)
    raw = predict_video(model, clip, config, progress=False)
    smooth = predict_video(model, clip, config, smooth=2.0, progress=False)
    np.testing.assert_allclose(smooth["joints3d"], smooth_motion(raw["joints3d"], 2.0), atol=1e-5)
    bones = np.linalg.norm(bone_vectors(smooth["joints3d"]), axis=-1)
    np.testing.assert_allclose(bones, np.broadcast_to(bones[0], bones.shape), atol=1e-5)


def test_bad_video_is_a_clear_error(tiny_run, tmp_path, capsys):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(VideoError, match="bad.mp4"):
        predict(tiny_run, bad, tmp_path / "out", progress=False)
    assert main(["predict", str(tiny_run), str(bad), "--out", str(tmp_path / "out")]) == 2
    assert "bad.mp4" in capsys.readouterr().err
