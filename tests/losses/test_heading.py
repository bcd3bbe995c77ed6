"""Heading hypotheses: turns about the camera's vertical, the silhouette search, the pull on R."""

import math

import pytest
import torch

from posesynth.geometry import intrinsics, project
from posesynth.losses.heading import best_headings, heading_search_loss, yaw_matrices
from posesynth.render.paint import observed_foreground
from posesynth.render.puppet import foreground_mask, render_part_maps
from posesynth.skeleton import canonical_tpose

SIZE = 48
K = intrinsics(96.0, (SIZE - 1) / 2, (SIZE - 1) / 2)
ROOT = torch.tensor([[0.0, 0.0, 4.5]])


def test_yaw_matrices_are_rotations_about_y():
    R = yaw_matrices(4, torch.float64)
    assert torch.allclose(R[0], torch.eye(3, dtype=torch.float64))
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(4, 3, 3), atol=1e-12)
    assert torch.allclose(torch.linalg.det(R), torch.ones(4, dtype=torch.float64))
    # a quarter turn takes x to −z and keeps y
    assert torch.allclose(R[1] @ torch.tensor([1.0, 0, 0], dtype=torch.float64),
                          torch.tensor([0.0, 0, -1], dtype=torch.float64), atol=1e-12)
    assert torch.allclose(R[:, 1, 1], torch.ones(4, dtype=torch.float64))


def _silhouette_images(pose_camera: torch.Tensor):
    """Target and background images whose difference is exactly the puppet of ``pose_camera``."""
    joints = pose_camera + ROOT[:, None]
    coverage = foreground_mask(render_part_maps(project(joints, K), joints[..., 2], (SIZE, SIZE), focal=K[0, 0]))
    target = coverage.expand(-1, 3, -1, -1).clone()
    return target, torch.zeros_like(target)


def test_search_finds_the_side_view_and_keeps_a_right_heading():
    frontal = canonical_tpose()[None]
    side = frontal @ yaw_matrices(4)[1].T                     # the person turned a quarter
    target, background = _silhouette_images(side)
    observed = observed_foreground(target, background)
    index, losses = best_headings(frontal, ROOT, K, observed, headings=4)
    assert index.item() in (1, 3)                             # ±90° draw the same silhouette
    assert losses[0, index.item()] < 0.6 * losses[0, 0]      # (soft edges against a binarised mask)
    index, losses = best_headings(side, ROOT, K, observed, headings=4)
    assert index.item() == 0                                  # already right: keep it
    # front and back are a near-tie, and the margin keeps it from flipping
    index, _ = best_headings(side @ yaw_matrices(2)[1].T, ROOT, K, observed, headings=4, margin=0.1)
    assert index.item() == 0


def test_loss_pulls_the_rotation_towards_the_best_turn():
    frontal_body = canonical_tpose()[None]
    target, background = _silhouette_images(frontal_body @ yaw_matrices(4)[1].T)
    rotation = torch.eye(3)[None].requires_grad_(True)
    pose_camera = frontal_body @ rotation.transpose(-1, -2)
    loss = heading_search_loss(rotation, pose_camera, ROOT, K, target, background, headings=4)
    # ‖I − R_y(±90°)‖²_F = 2·(1 − cos 90°)·2 = 4
    assert loss.item() == pytest.approx(4.0, abs=1e-5)
    (grad,) = torch.autograd.grad(loss, rotation)
    step = rotation.detach() - 0.1 * grad                     # a gradient step turns the body
    assert abs(math.degrees(math.atan2(step[0, 0, 2], step[0, 0, 0]))) > 5.0
    # nothing to gain: zero loss
    right = torch.eye(3)[None] @ yaw_matrices(4)[1][None]
    loss = heading_search_loss(right, frontal_body @ right.transpose(-1, -2), ROOT, K, target, background, headings=4)
    assert loss.item() == 0.0
