"""The equivariance term: similarity warps of a frame's person, and the loss on the 2D joints."""

from __future__ import annotations

import math

import pytest
import torch

from posesynth.losses.combine import compute_losses
from posesynth.losses.equivariance import equivariance_loss
from posesynth.models.model import PoseSynthModel
from posesynth.render.warp import random_similarities, transform_points, warp_person


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_random_similarities_shape_range_and_determinism():
    affine = random_similarities(64, 32, _generator())
    assert affine.shape == (64, 2, 3) and affine.dtype == torch.float32
    torch.testing.assert_close(affine, random_similarities(64, 32, _generator()))
    linear = affine[:, :, :2]
    scale = linear.det().sqrt()  # a similarity: A = s·R
    assert scale.min() >= 1 / 1.2 - 1e-5 and scale.max() <= 1.2 + 1e-5
    torch.testing.assert_close(linear @ linear.transpose(-1, -2), scale[:, None, None] ** 2 * torch.eye(2).expand(64, 2, 2))
    angle = torch.rad2deg(torch.atan2(linear[:, 1, 0], linear[:, 0, 0])).abs()
    assert angle.max() <= 30.0 + 1e-4 and angle.max() > 15.0  # the full range is used
    # the crop centre moves by the shift alone, within ±10 % of the side
    centre = torch.full((64, 1, 2), 15.5)
    assert (transform_points(centre, affine) - centre).abs().max() <= 3.2 + 1e-4


def test_random_similarities_without_ranges_is_identity():
    affine = random_similarities(3, 16, _generator(), max_rotation_deg=0.0, max_log_scale=0.0, max_shift=0.0)
    torch.testing.assert_close(affine, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(3, 2, 3))


def test_transform_points_closed_form():
    # a quarter turn about (1, 1), doubled, then shifted by (3, 0): (2, 1) → (1, 1) + 2·(0, 1) + (3, 0)
    c, s = math.cos(math.pi / 2), math.sin(math.pi / 2)
    linear = 2 * torch.tensor([[c, -s], [s, c]])
    offset = torch.tensor([1.0, 1.0]) - linear @ torch.tensor([1.0, 1.0]) + torch.tensor([3.0, 0.0])
    affine = torch.cat([linear, offset[:, None]], dim=1)[None]
    torch.testing.assert_close(transform_points(torch.tensor([[[2.0, 1.0]]]), affine), torch.tensor([[[4.0, 3.0]]]))


def _blob(centre: tuple[float, float], size: int = 32, sigma: float = 1.5) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    return torch.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * sigma ** 2))


def test_warp_person_moves_the_person_where_the_points_go():
    # a bright blob (the person) on a grey background plate: its centroid must land at A(p)
    background = torch.full((4, 3, 32, 32), 0.3)
    blob = _blob((12.0, 18.0))
    image = background + 0.7 * blob.clamp(max=1.0)[None, None] * (blob > 0.2)[None, None]
    affine = random_similarities(4, 32, _generator(1))
    warped = warp_person(image, background, affine)
    assert warped.shape == image.shape and warped.min() >= 0.3 - 1e-5 and warped.max() <= 1.0 + 1e-5
    weight = (warped - 0.3).clamp(min=0).mean(dim=1)  # (B, H, W)
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    centroid = torch.stack([(weight * xs).sum((1, 2)), (weight * ys).sum((1, 2))], -1) / weight.sum((1, 2))[:, None]
    expected = transform_points(torch.tensor([[[12.0, 18.0]]]).expand(4, 1, 2), affine)[:, 0]
    torch.testing.assert_close(centroid, expected, atol=0.2, rtol=0)
    # away from the person the frame is its own background: no black corners
    assert (warped[..., :3, :3] - 0.3).abs().max() < 1e-5


def test_warp_person_identity_and_empty_frame():
    background = torch.rand(2, 3, 16, 16)
    identity = random_similarities(2, 16, _generator(), max_rotation_deg=0.0, max_log_scale=0.0, max_shift=0.0)
    image = background.clone()
    image[:, :, 4:10, 5:9] = torch.rand(2, 3, 6, 4)
    seen = (image - background).abs().amax(1, keepdim=True) > 0.2  # pixels the observed foreground surely keeps
    torch.testing.assert_close(warp_person(image, background, identity)[seen.expand_as(image)],
                               image[seen.expand_as(image)], atol=1e-3, rtol=0)
    # nobody in the frame: any warp gives back the background (up to the soft mask's σ(−8) = 3e-4 floor)
    torch.testing.assert_close(warp_person(background, background, random_similarities(2, 16, _generator())),
                               background, atol=1e-3, rtol=0)


def test_equivariance_loss_closed_form():
    joints = torch.rand(2, 17, 2) * 32
    affine = random_similarities(2, 32, _generator())
    moved = transform_points(joints, affine)
    assert equivariance_loss(moved, joints, affine, 32) < 1e-3
    assert equivariance_loss(moved + torch.tensor([3.0, 4.0]), joints, affine, 10) == pytest.approx(0.5, abs=1e-4)
    # a constant prediction breaks it unless the warp is the identity
    constant = torch.full((2, 17, 2), 16.0) + torch.randn(17, 2)
    assert equivariance_loss(constant, constant, affine, 32) > 0.01
    with pytest.raises(ValueError, match="shapes"):
        equivariance_loss(moved[:, :5], joints, affine, 32)


def test_equivariance_loss_gradcheck():
    generator = _generator(2)
    args = (torch.rand(2, 3, 2, dtype=torch.float64, generator=generator, requires_grad=True),
            torch.rand(2, 3, 2, dtype=torch.float64, generator=generator, requires_grad=True))
    affine = random_similarities(2, 8, _generator()).double()
    assert torch.autograd.gradcheck(lambda a, b: equivariance_loss(a, b, affine, 8.0), args)


def test_model_encodes_the_warped_frame_and_the_term_trains_the_encoder():
    torch.manual_seed(0)
    model = PoseSynthModel(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8,
                           appearance_width=8, decoder_width=8)
    source, target, background = torch.rand(3, 2, 3, 32, 32).unbind(0)
    affine = random_similarities(2, 32, _generator())
    out = model(source, target, background, warp=affine)
    assert out["warped_joints2d"].shape == (2, 17, 2)
    torch.testing.assert_close(out["warp"], affine)
    expected = model.encode_pose(warp_person(target, background, affine))["joints2d"]
    torch.testing.assert_close(out["warped_joints2d"], expected)
    terms = compute_losses(out, {"target": target, "background": background}, weights={"equivariance": 1.0})
    assert set(terms) == {"equivariance", "total"} and terms["total"] > 0
    terms["total"].backward()
    grads = [p.grad for p in model.pose_encoder.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    assert all(p.grad is None for p in model.decoder.parameters())  # the term reaches the pose encoder only
