"""Relative-depth labels from 2D, the ordinal depth loss, `posesynth depth-labels` and depth pre-training."""

import argparse
import json
import math

import numpy as np
import pytest
import torch

from posesynth import skeleton
from posesynth.cli import main
from posesynth.config import load_config
from posesynth.data.depth_labels import (GROUND, add_depth_labels_arguments, depth_labels, load_depth_labels,
    run_depth_labels, true_relations)
from posesynth.geometry import intrinsics, project
from posesynth.losses.relative_depth import relative_depth_loss
from posesynth.models.loading import load_model
from posesynth.synth.dataset import generate_dataset, load_labels
from posesynth.training.pretrain_depth import pretrain, video_crops

TINY = ["model.image_size=32", "model.encoder_width=8", "model.encoder_stages=3", "model.appearance_channels=8",
        "model.appearance_width=8", "model.decoder_width=8", "train.batch_size=2", "train.log_every=1",
        "train.warmup_steps=1", "data.num_workers=0"]


# --- the loss -------------------------------------------------------------------------------------

def _pair_labels(i: int, j: int, r: int, c: float, joints: int = 3):
    relation, confidence = torch.zeros(1, joints, joints), torch.zeros(1, joints, joints, dtype=torch.float64)
    relation[0, i, j], relation[0, j, i] = r, -r
    confidence[0, i, j] = confidence[0, j, i] = c
    return relation, confidence


def test_loss_closed_form_and_sign_convention():
    depth = torch.tensor([[4.0, 4.1, 3.0]], dtype=torch.float64)  # joint 0 is 10 cm closer than joint 1
    closer = relative_depth_loss(depth, *_pair_labels(0, 1, +1, 1.0), scale=0.1)
    farther = relative_depth_loss(depth, *_pair_labels(0, 1, -1, 1.0), scale=0.1)
    equal = relative_depth_loss(depth, *_pair_labels(0, 1, 0, 0.5), scale=0.1)
    assert closer.item() == pytest.approx(math.log1p(math.exp(-1)))   # right order: small
    assert farther.item() == pytest.approx(math.log1p(math.exp(1)))   # wrong order: large
    assert equal.item() == pytest.approx(1.0)                          # ((4.0 − 4.1) / 0.1)²
    # the same pair written from the other side (r_10 = −1) is the same label
    assert relative_depth_loss(depth, *_pair_labels(1, 0, -1, 1.0), scale=0.1).item() == pytest.approx(closer.item())
    # confidence-weighted mean of two labels
    relation, confidence = _pair_labels(0, 1, +1, 1.0)
    relation[0, 0, 2], relation[0, 2, 0], confidence[0, 0, 2], confidence[0, 2, 0] = 0, 0, 3.0, 3.0
    expected = (math.log1p(math.exp(-1)) + 3 * 100.0) / 4                # (4 − 3)/0.1 = 10 → 100
    assert relative_depth_loss(depth, relation, confidence, scale=0.1).item() == pytest.approx(expected)


def test_loss_without_labels_is_zero_with_zero_gradient():
    depth = torch.randn(2, 17, requires_grad=True)
    loss = relative_depth_loss(depth, torch.zeros(2, 17, 17), torch.zeros(2, 17, 17))
    loss.backward()
    assert loss.item() == 0 and (depth.grad == 0).all()
    with pytest.raises(ValueError, match=r"\(B, J, J\)"):
        relative_depth_loss(depth, torch.zeros(2, 17, 16), torch.zeros(2, 17, 16))


def test_loss_gradcheck():
    g = torch.Generator().manual_seed(0)
    depth = torch.randn(2, 5, dtype=torch.float64, generator=g, requires_grad=True)
    relation = torch.randint(-1, 2, (2, 5, 5), generator=g).double()
    relation = torch.triu(relation, 1) - torch.triu(relation, 1).transpose(1, 2)
    confidence = torch.rand(2, 5, 5, dtype=torch.float64, generator=g)
    confidence = confidence + confidence.transpose(1, 2)
    assert torch.autograd.gradcheck(lambda d: relative_depth_loss(d, relation, confidence, scale=0.3), (depth,))


# --- labels on hand-made 2D poses with known depth order -----------------------------------------------

def _project(pose_camera: torch.Tensor) -> np.ndarray:
    """(17, 3) camera metres → (17, 2) pixels with a 500 px focal length."""
    return project(pose_camera[None].double(), intrinsics(500.0, 320.0, 240.0, dtype=torch.float64))[0].numpy()


def _standing(facing_camera: bool = True) -> torch.Tensor:
    """The canonical T-pose 4 m in front of the camera, facing it (or turned away), metres."""
    pose = skeleton.canonical_tpose(torch.float64)
    if not facing_camera:  # half a turn about the vertical: x → −x, z → −z
        pose = pose * torch.tensor([-1.0, 1.0, -1.0], dtype=torch.float64)
    return pose + torch.tensor([0.0, 0.3, 4.0], dtype=torch.float64)


def _forearm_to_camera(facing_camera: bool) -> torch.Tensor:
    """The left forearm bent at the elbow to point at the camera (or away, for the turned body)."""
    pose = _standing(facing_camera)
    pose[13] = pose[12] + torch.tensor([0.0, 0.0, -0.248 if facing_camera else 0.248], dtype=torch.float64)
    return pose


def _labels_and_truth(pose: torch.Tensor):
    labels = depth_labels(_project(pose)[None], np.ones((1, 17)))
    return labels, true_relations(pose[None].numpy())


@pytest.mark.parametrize("facing_camera", [True, False])
def test_foreshortened_forearm_points_to_the_camera(facing_camera):
    pose = _forearm_to_camera(facing_camera)
    labels, truth = _labels_and_truth(pose)
    wrist, elbow = 13, 12
    expected = 1 if facing_camera else -1   # facing: the elbow flexes forward, toward the camera
    assert labels.relation[0, wrist, elbow] == expected == truth[0, wrist, elbow]
    assert labels.relation[0, elbow, wrist] == -expected
    assert labels.confidence[0, wrist, elbow] > 0.75
    assert labels.relation[0, wrist, 11] == expected      # and than its shoulder, along the chain


def test_labels_of_hand_made_poses_agree_with_their_depth_order():
    for pose in (_forearm_to_camera(True), _forearm_to_camera(False), _standing()):
        labels, truth = _labels_and_truth(pose)
        relation, confidence, truth = labels.relation[0], labels.confidence[0], truth[0]
        assert (confidence > 0).sum() > 40
        # no label contradicts a clear true order; the confident ones are right
        assert not (relation * truth < 0).any()
        sure = confidence >= 0.75
        assert sure.sum() >= 10 and (relation[sure] == truth[sure]).mean() > 0.9
    # the frontal T-pose: the hip bone lies in the image plane, the shoulders are not ordered
    labels, _ = _labels_and_truth(_standing())
    assert labels.relation[0, 0, 1] == 0 and labels.confidence[0, 0, 1] > 0.8
    assert labels.relation[0, 11, 14] == 0


def test_the_foot_lower_in_the_image_is_closer():
    pose = _standing()
    hip = pose[1].clone()
    turn = math.radians(25)  # swing the straight right leg forward about the hip, toward the camera
    for j in (2, 3):
        offset = pose[j] - hip
        pose[j] = hip + torch.tensor([offset[0], offset[1] * math.cos(turn), -offset[1] * math.sin(turn)],
                                     dtype=torch.float64)
    pose[:, 1] += 0.8  # the camera looks down on the person (feet well below the optical axis)
    labels, truth = _labels_and_truth(pose)
    right_ankle, left_ankle = 3, 6
    assert labels.relation[0, right_ankle, left_ankle] == 1 == truth[0, right_ankle, left_ankle]
    assert labels.kind[0, right_ankle, left_ankle] == GROUND


def test_labels_are_antisymmetric_and_skip_unknown_joints():
    points = np.stack([_project(_forearm_to_camera(True)), _project(_standing())])
    scores = np.ones((2, 17))
    scores[1, 16] = 0.1   # right wrist of the second person is not confident
    labels = depth_labels(points, scores)
    assert labels.relation.dtype == np.int8 and labels.confidence.shape == (2, 17, 17)
    np.testing.assert_array_equal(labels.relation, -labels.relation.transpose(0, 2, 1))
    np.testing.assert_array_equal(labels.confidence, labels.confidence.transpose(0, 2, 1))
    assert (labels.confidence[1, 16] == 0).all() and (np.diagonal(labels.confidence, axis1=1, axis2=2) == 0).all()


# --- the command, on real COCO annotations ------------------------------------------------------------

def test_depth_labels_command_on_the_coco_sample(realdata, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_depth_labels_arguments(parser)
    out = tmp_path / "labels.npz"
    assert run_depth_labels(parser.parse_args([str(realdata / "mmpose" / "coco" / "test_coco.json"),
                                               "--out", str(out)])) == 0
    labels, extra = load_depth_labels(out)
    assert labels.relation.shape == (12, 17, 17) and extra["keypoints"].shape == (12, 17, 2)
    assert (labels.confidence > 0).sum(axis=(1, 2)).mean() > 20        # most people get many labels
    assert (labels.confidence[:, [9, 10]] == 0).all()                  # COCO's face stand-ins: none
    assert "12 people" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": []}')
    assert run_depth_labels(parser.parse_args([str(bad), "--out", str(tmp_path / "x.npz")])) == 2
    assert str(bad) in capsys.readouterr().err


# --- depth pre-training -------------------------------------------------------------------------------

def _pretrain(*args: str) -> int:
    return main(["pretrain-depth", *args, "--set", *TINY])


def test_pretrain_on_coco_writes_a_loadable_model(realdata, tmp_path):
    coco = realdata / "mmpose" / "coco"
    run = tmp_path / "run"
    assert _pretrain(str(coco / "test_coco.json"), "--images", str(coco), "--out", str(run), "--steps", "2") == 0
    assert (run / "config.yaml").is_file() and (run / "log.jsonl").read_text().count("loss/depth") == 2
    model = load_model(run)
    assert model.image_size == 32
    assert model.encode_pose(torch.rand(1, 3, 32, 32))["pose_camera"].shape == (1, 17, 3)


def test_pretrain_rejects_labels_of_other_annotations(realdata, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_depth_labels_arguments(parser)
    other = tmp_path / "h36m_labels.npz"
    assert run_depth_labels(parser.parse_args([str(realdata / "mmpose" / "h36m" / "h36m_coco.json"),
                                               "--out", str(other)])) == 0
    coco = realdata / "mmpose" / "coco"
    assert _pretrain(str(coco / "test_coco.json"), "--images", str(coco), "--labels", str(other),
                     "--out", str(tmp_path / "run")) == 2
    assert "annotation ids do not match" in capsys.readouterr().err


def _clip_with_sidecar(tmp_path, frames: int):
    """One synthetic clip with its exact 2D joints as a keypoint sidecar; (videos folder, label file)."""
    labels = generate_dataset(tmp_path / "synth", videos=1, frames=frames, size=64, progress=False)
    videos = tmp_path / "synth" / "videos"
    np.savez(videos / f"{labels[0].stem}.keypoints.npz", keypoints=load_labels(labels[0])["joints2d"], layout="h36m17")
    return videos, labels[0]


def test_pretrain_on_videos_with_keypoint_sidecars(tmp_path, capsys):
    videos, label = _clip_with_sidecar(tmp_path, frames=6)
    joints2d = load_labels(label)["joints2d"]
    run = tmp_path / "run"
    assert _pretrain(str(videos), "--out", str(run), "--steps", "2", "--frame-step", "2") == 0
    before = torch.load(run / "model.pt", weights_only=True)["state_dict"]
    assert load_model(run).image_size == 32 and any(k.startswith("decoder.") for k in before)
    # resuming a finished run continues from its checkpoint and config; no checkpoint is an error
    assert _pretrain(str(videos), "--out", str(run), "--steps", "3", "--frame-step", "2", "--resume") == 0
    assert [json.loads(r)["step"] for r in (run / "log.jsonl").read_text().splitlines()] == [1, 2, 3]
    assert _pretrain(str(videos), "--out", str(tmp_path / "none"), "--steps", "1", "--resume") == 2
    assert "has no checkpoint" in capsys.readouterr().err
    # a sidecar of the wrong length is an error naming it
    np.savez(videos / f"{label.stem}.keypoints.npz", keypoints=joints2d[:4], layout="h36m17")
    assert _pretrain(str(videos), "--out", str(tmp_path / "bad"), "--steps", "1") == 2
    assert f"{label.stem}.keypoints.npz" in capsys.readouterr().err


def test_pretrain_resume_is_exact(tmp_path):
    videos, _ = _clip_with_sidecar(tmp_path, frames=8)
    config = load_config(None, [*TINY, "train.steps=4", "train.log_every=1", "train.warmup_steps=2",
                                "train.checkpoint_every=100", "data.num_workers=0"])
    dataset = video_crops(videos, 32)
    straight = pretrain(config, dataset, tmp_path / "straight", progress=False)
    halves = tmp_path / "halves"
    pretrain(config, dataset, halves, progress=False, stop_after=2)
    pretrain(config, dataset, halves, progress=False, resume=True)

    def losses(run):
        return {r["step"]: r["loss/total"] for r in map(json.loads, (run / "log.jsonl").read_text().splitlines())}

    assert sorted(losses(halves)) == [1, 2, 3, 4]
    assert losses(halves) == pytest.approx(losses(straight), rel=1e-6, abs=0)


def test_pretrain_keeps_the_root_depth_at_the_nominal_one(tmp_path):
    # nothing in the 2D labels says how far away a person is, and the articulation term would
    # flatten the pose by pushing the root away (measured: 20x the nominal depth, the clamp, on
    # the learning benchmark), which a fine-tune then starts from; the root must stay put.
    # A strong articulation weight makes the pull fast: without the anchor log(root/nominal)
    # reaches the clamp (3.0) here, with it about 0.12
    videos, _ = _clip_with_sidecar(tmp_path, frames=6)
    config = load_config(None, [*TINY, "train.steps=40", "train.lr=1e-2", "train.warmup_steps=1",
                                "loss.articulation=100", "data.num_workers=0"])
    dataset = video_crops(videos, 32)
    model = load_model(pretrain(config, dataset, tmp_path / "run", progress=False)).train()
    images = torch.stack([torch.as_tensor(dataset[i]["image"]) for i in range(len(dataset))])
    with torch.no_grad():
        root = model.encode_pose(images)["depth"][:, 0]
    assert torch.log(root / model.nominal_depth).abs().max() < 0.3
