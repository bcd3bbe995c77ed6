"""Multi-view losses and the closed-form root translation: closed-form values, invariances, gradcheck."""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck

from posesynth.geometry import axis_angle_to_matrix, intrinsics, project, relative_transform
from posesynth.losses.reprojection import (
    multiview_consistency_loss, reprojection_loss, solve_root_translation, transform_reprojection_loss,
)
from posesynth.skeleton import canonical_tpose

D = torch.float64


@pytest.fixture
def scene():
    """Two root-relative poses, two cameras looking at them from 4 m, and the truth in both frames."""
    g = torch.Generator().manual_seed(0)
    pose = canonical_tpose(D)[None].repeat(2, 1, 1) + 0.05 * torch.randn(2, 17, 3, generator=g, dtype=D)
    pose = pose - pose[:, :1]
    R_i = axis_angle_to_matrix(torch.tensor([[0.1, 0.4, -0.05], [0.0, -0.3, 0.1]], dtype=D))
    R_j = axis_angle_to_matrix(torch.tensor([[0.2, -1.2, 0.1], [-0.1, 1.0, 0.0]], dtype=D))
    root_world = torch.tensor([[0.1, 0.2, 0.0], [-0.2, 0.0, 0.3]], dtype=D)
    t_i = torch.tensor([[0.0, 0.1, 4.0], [0.2, 0.0, 3.5]], dtype=D) - (R_i @ root_world[..., None])[..., 0]
    t_j = torch.tensor([[0.1, -0.1, 4.5], [0.0, 0.2, 4.0]], dtype=D) - (R_j @ root_world[..., None])[..., 0]
    cam_i = pose @ R_i.transpose(1, 2) + (R_i @ root_world[..., None])[..., 0][:, None] + t_i[:, None]
    cam_j = pose @ R_j.transpose(1, 2) + (R_j @ root_world[..., None])[..., 0][:, None] + t_j[:, None]
    R_ij, t_ij = relative_transform(R_i, t_i, R_j, t_j)
    K = intrinsics(128.0, 31.5, 31.5, dtype=D)
    return {"cam_i": cam_i, "cam_j": cam_j, "R_ij": R_ij, "t_ij": t_ij, "K": K}


def test_reprojection_loss_closed_form():
    points = torch.tensor([[[0.0, 0.0, 2.0], [0.5, 0.0, 2.0]]], dtype=D)   # project to (31.5, 31.5), (63.5, 31.5)
    K = intrinsics(128.0, 31.5, 31.5, dtype=D)
    target = torch.tensor([[[34.5, 35.5], [63.5, 31.5]]], dtype=D)        # first off by (3, 4): 25 px²
    assert float(reprojection_loss(points, K, target)) == pytest.approx(12.5)
    assert float(reprojection_loss(points, K, target, torch.tensor([[0.0, 1.0]], dtype=D))) == pytest.approx(0.0)
    assert float(reprojection_loss(points, K, target, torch.tensor([[1.0, 0.0]], dtype=D))) == pytest.approx(25.0)
    assert float(reprojection_loss(points, K, target, normalizer=5.0)) == pytest.approx(0.5)


def test_consistency_is_zero_for_the_true_views_and_ignores_translation(scene):
    pose_i, pose_j = scene["cam_i"] - scene["cam_i"][:, :1], scene["cam_j"] - scene["cam_j"][:, :1]
    assert float(multiview_consistency_loss(pose_i, pose_j, scene["R_ij"])) == pytest.approx(0.0, abs=1e-20)
    # absolute poses, rotation only: roots are removed inside
    absolute = multiview_consistency_loss(scene["cam_i"], scene["cam_j"], scene["R_ij"])
    assert float(absolute) == pytest.approx(0.0, abs=1e-20)
    # absolute with t_ij
    assert float(multiview_consistency_loss(scene["cam_i"], scene["cam_j"], scene["R_ij"], scene["t_ij"])
                 ) == pytest.approx(0.0, abs=1e-20)
    # symmetric: j → i with the inverse rotation gives the same value for any pair of poses
    other = pose_j + 0.1
    forward = multiview_consistency_loss(pose_i, other, scene["R_ij"])
    backward = multiview_consistency_loss(other, pose_i, scene["R_ij"].transpose(1, 2))
    torch.testing.assert_close(forward, backward)


def test_consistency_closed_form():
    pose = torch.zeros(1, 2, 3, dtype=D)
    pose[0, 1] = torch.tensor([1.0, 0.0, 0.0])
    quarter = axis_angle_to_matrix(torch.tensor([0.0, 0.0, torch.pi / 2], dtype=D))   # x → y
    # moved joint 1 lands on (0, 1, 0); view j says (0, 0, 0): 1 m² on one of two joints
    assert float(multiview_consistency_loss(pose, torch.zeros_like(pose), quarter)) == pytest.approx(0.5)


def test_solve_root_translation_recovers_the_truth(scene):
    pose = scene["cam_i"] - scene["cam_i"][:, :1]
    keypoints = project(scene["cam_i"], scene["K"])
    root = solve_root_translation(pose, keypoints, scene["K"])
    torch.testing.assert_close(root, scene["cam_i"][:, 0], atol=1e-6, rtol=0)
    # a zero-confidence joint with a wrong keypoint does not move the answer
    noisy, confidence = keypoints.clone(), torch.ones(2, 17, dtype=D)
    noisy[:, 5] += 40.0
    confidence[:, 5] = 0.0
    torch.testing.assert_close(solve_root_translation(pose, noisy, scene["K"], confidence), scene["cam_i"][:, 0],
                               atol=1e-6, rtol=0)


def test_transform_reprojection_is_zero_for_the_true_geometry(scene):
    pose_i = scene["cam_i"] - scene["cam_i"][:, :1]
    keypoints_j = project(scene["cam_j"], scene["K"])
    loss = transform_reprojection_loss(pose_i, scene["cam_i"][:, 0], scene["R_ij"], scene["t_ij"], scene["K"],
                                       keypoints_j)
    assert float(loss) == pytest.approx(0.0, abs=1e-16)
    # a 10 cm shift of the root along x in camera j moves every joint by f·0.1/z pixels
    shifted = transform_reprojection_loss(pose_i, scene["cam_i"][:, 0], scene["R_ij"],
                                          scene["t_ij"] + torch.tensor([0.1, 0.0, 0.0], dtype=D), scene["K"],
                                          keypoints_j)
    expected = ((128.0 * 0.1 / scene["cam_j"][..., 2]) ** 2).mean()
    assert float(shifted) == pytest.approx(float(expected), rel=1e-9)


def test_losses_pass_gradcheck(scene):
    g = torch.Generator().manual_seed(1)
    pose_i = (scene["cam_i"] - scene["cam_i"][:, :1])[:, :5].clone().requires_grad_()
    pose_j = (scene["cam_j"] - scene["cam_j"][:, :1])[:, :5] + 0.01 * torch.randn(2, 5, 3, generator=g, dtype=D)
    pose_j.requires_grad_()
    R_ij, t_ij = scene["R_ij"].clone().requires_grad_(), scene["t_ij"].clone().requires_grad_()
    root = scene["cam_i"][:, 0].clone().requires_grad_()
    keypoints = project(scene["cam_j"][:, :5], scene["K"]) + torch.randn(2, 5, 2, generator=g, dtype=D)
    keypoints.requires_grad_()
    confidence = torch.rand(2, 5, generator=g, dtype=D).add(0.1).requires_grad_()
    K = scene["K"]
    assert gradcheck(lambda a, b, R: multiview_consistency_loss(a, b, R), (pose_i, pose_j, R_ij))
    assert gradcheck(lambda a, r, R, t, x, w: transform_reprojection_loss(a, r, R, t, K, x, w, normalizer=8.0),
                     (pose_i, root, R_ij, t_ij, keypoints, confidence))
    keypoints_i = (project(scene["cam_i"][:, :5], K) + torch.randn(2, 5, 2, generator=g, dtype=D)).requires_grad_()
    assert gradcheck(lambda a, x, w: solve_root_translation(a, x, K, w), (pose_i, keypoints_i, confidence))


def test_shapes_broadcast_single_camera(scene):
    pose_i = scene["cam_i"] - scene["cam_i"][:, :1]
    one_R, one_t = scene["R_ij"][0], scene["t_ij"][0]
    value = transform_reprojection_loss(pose_i, scene["cam_i"][:, 0], one_R, one_t, scene["K"],
                                        torch.zeros(2, 17, 2, dtype=D))
    assert value.shape == () and torch.isfinite(value)
    assert solve_root_translation(pose_i, torch.zeros(2, 17, 2, dtype=D), scene["K"]).shape == (2, 3)


def test_reprojection_cap_bounds_each_joint():
    import torch

    from posesynth.losses.reprojection import reprojection_loss

    K = torch.tensor([[100.0, 0, 32], [0, 100.0, 32], [0, 0, 1]], dtype=torch.float64)
    points = torch.tensor([[[0.0, 0.0, 2.0], [0.01, 0.0, 1e-7]]], dtype=torch.float64, requires_grad=True)
    keypoints = torch.tensor([[[32.0, 32.0], [32.0, 40.0]]], dtype=torch.float64)  # joint 1 sits at the camera
    capped = reprojection_loss(points, K, keypoints, normalizer=64.0, cap=1.0)
    assert float(capped.detach()) == pytest.approx(0.5, rel=1e-9)    # (0 + min(huge, 1)) / 2
    assert float(reprojection_loss(points, K, keypoints, normalizer=64.0).detach()) > 1e6
    capped.backward()
    assert torch.isfinite(points.grad).all()
