"""Loss terms on known inputs."""

import math

import pytest
import torch
from torch.autograd import gradcheck

from posesynth.geometry import axis_angle_to_matrix, elementary_rotation
from posesynth.losses.priors import (
    ELBOWS, KNEES, articulation_loss, discriminator_loss, flexion_angle, generator_loss, hinge_violation,
)
from posesynth.losses.reconstruction import LPIPSUnavailableError, foreground_weight, l1_loss, lpips_loss, ssim_loss
from posesynth.skeleton import canonical_tpose


def test_l1_and_ssim_closed_form():
    a = torch.zeros(2, 3, 16, 16)
    b = torch.full((2, 3, 16, 16), 0.25)
    assert float(l1_loss(a, b)) == pytest.approx(0.25)
    assert float(ssim_loss(b, b)) == pytest.approx(0.0, abs=1e-6)
    noise = torch.rand(2, 3, 16, 16)
    assert 0.0 < float(ssim_loss(noise, b)) <= 1.0
    weight = torch.zeros(2, 1, 16, 16)
    weight[..., :8, :] = 1.0
    c = b.clone()
    c[..., 8:, :] = 0.0          # errors only where the weight is zero
    assert float(l1_loss(c, b, weight)) == pytest.approx(0.0)


def test_foreground_weight_marks_changed_pixels():
    background = torch.full((1, 3, 8, 8), 0.5)
    target = background.clone()
    target[..., 2:4, 2:4] = 1.0
    weight = foreground_weight(target, background, boost=4.0)
    assert weight.shape == (1, 1, 8, 8)
    assert float(weight[0, 0, 2, 2]) == pytest.approx(5.0, abs=1e-3)
    assert float(weight[0, 0, 6, 6]) == pytest.approx(1.0, abs=1e-2)


def test_lpips_without_the_extra_says_how_to_get_it():
    with pytest.raises(LPIPSUnavailableError, match=r"posesynth\[perceptual\]|local backbone weights"):
        lpips_loss(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16))


def test_lsgan_losses_closed_form():
    ones, zeros = torch.ones(4), torch.zeros(4)
    assert float(discriminator_loss(ones, zeros)) == 0.0       # perfect discriminator
    assert float(discriminator_loss(zeros, ones)) == 1.0
    assert float(generator_loss(ones)) == 0.0 and float(generator_loss(zeros)) == 0.5


def _bent(knee_deg: float, elbow_deg: float, knee_forward: bool = False, elbow_backward: bool = False) -> torch.Tensor:
    """A standing pose (arms hanging) with flexed knees and elbows; z points out of the back."""
    pose = canonical_tpose(torch.float64).clone()
    # arms hanging: shoulder → elbow → wrist straight down
    for shoulder, elbow, wrist in ELBOWS:
        pose[elbow] = pose[shoulder] + torch.tensor([0.0, 0.2772, 0.0], dtype=torch.float64)
        pose[wrist] = pose[elbow] + torch.tensor([0.0, 0.2480, 0.0], dtype=torch.float64)
    for (_, knee, ankle), sign in ((k, -1.0 if knee_forward else 1.0) for k in KNEES):
        angle = torch.tensor(math.radians(knee_deg), dtype=torch.float64)
        shin = torch.tensor([0.0, 0.4433, 0.0], dtype=torch.float64)
        pose[ankle] = pose[knee] + elementary_rotation(sign * angle, "x") @ shin   # +z: backwards
    for (_, elbow, wrist), sign in ((e, -1.0 if elbow_backward else 1.0) for e in ELBOWS):
        angle = torch.tensor(math.radians(elbow_deg), dtype=torch.float64)
        forearm = torch.tensor([0.0, 0.2480, 0.0], dtype=torch.float64)
        pose[wrist] = pose[elbow] + elementary_rotation(-sign * angle, "x") @ forearm  # −z: forwards
    return pose[None]


def test_articulation_is_zero_for_valid_poses_and_rigid_invariant():
    valid = _bent(60.0, 80.0)
    assert float(articulation_loss(valid)) == pytest.approx(0.0, abs=1e-12)
    torch.testing.assert_close(flexion_angle(valid, KNEES)[0], torch.full((2,), math.radians(60.0), dtype=torch.float64))
    R = axis_angle_to_matrix(torch.tensor([[0.3, -1.2, 0.5]], dtype=torch.float64))
    assert float(articulation_loss(valid @ R.transpose(1, 2) + 2.0)) == pytest.approx(0.0, abs=1e-12)


def test_articulation_penalises_wrong_hinges_and_overflexion():
    assert float(articulation_loss(_bent(60.0, 80.0, knee_forward=True))) > 0.05
    assert float(articulation_loss(_bent(60.0, 80.0, elbow_backward=True))) > 0.05
    assert float(articulation_loss(_bent(175.0, 30.0))) > 0.0
    wrong_knee = _bent(60.0, 80.0, knee_forward=True)
    frame_backward = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
    assert torch.all(hinge_violation(wrong_knee, KNEES, frame_backward) > 0.5)


def test_articulation_gradcheck():
    pose = (_bent(40.0, 50.0, knee_forward=True) + 0.01 * torch.randn(1, 17, 3, dtype=torch.float64)).requires_grad_()
    assert gradcheck(articulation_loss, (pose,))


def test_silhouette_closed_form():
    from posesynth.losses.reconstruction import silhouette_loss
    from posesynth.render.paint import observed_foreground

    background = torch.full((1, 3, 8, 8), 0.5)
    target = background.clone()
    target[..., :4, :] = 0.9                       # the person fills the top half
    observed = observed_foreground(target, background)
    assert float(observed[..., :4, :].min()) > 0.99 and float(observed[..., 4:, :].max()) < 0.01
    coverage = torch.zeros(1, 1, 8, 8)
    coverage[..., :, :4] = 1.0                      # the puppet covers the left half
    assert float(silhouette_loss(coverage, observed)) == pytest.approx(0.5, abs=0.01)
    assert float(silhouette_loss(observed, observed)) == 0.0
