"""Shapes and closed-form behaviour of the learnable networks (encoders, decoder, discriminator)."""

import torch

from posesynth.geometry import axis_angle_to_matrix
from posesynth.models.appearance import AppearanceEncoder, masked_average_pool
from posesynth.models.decoder import Decoder, spread_appearance
from posesynth.models.discriminator import BONE_PAIRS, PoseDiscriminator, body_frame, pose_features
from posesynth.skeleton import canonical_tpose


def test_masked_average_pool_closed_form():
    features = torch.arange(16.0).reshape(1, 1, 4, 4)
    maps = torch.zeros(1, 2, 4, 4)
    maps[0, 0, :2] = 1.0   # top half: mean of 0..7 = 3.5
    maps[0, 1, :, 3] = 2.0  # last column, weighted: mean of 3, 7, 11, 15 = 9
    torch.testing.assert_close(masked_average_pool(features, maps, eps=0.0), torch.tensor([[[3.5], [9.0]]]))
    # maps at twice the resolution are area-averaged down
    assert masked_average_pool(features, torch.rand(1, 2, 8, 8)).shape == (1, 2, 1)


def test_spread_appearance_closed_form():
    maps = torch.zeros(1, 2, 2, 2)
    maps[0, 0, 0, 0] = 1.0
    maps[0, 1, 1, 1] = 0.5
    appearance = torch.tensor([[[1.0, 2.0], [4.0, 6.0]]])
    spread = spread_appearance(maps, appearance)
    assert spread.shape == (1, 2, 2, 2)
    torch.testing.assert_close(spread[0, :, 0, 0], torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(spread[0, :, 1, 1], torch.tensor([2.0, 3.0]))
    assert spread[0, :, 0, 1].abs().sum() == 0


def test_appearance_and_decoder_shapes_and_compositing():
    torch.manual_seed(0)
    maps = torch.softmax(torch.randn(2, 6, 32, 32), dim=1)
    image = torch.rand(2, 3, 32, 32)
    appearance = AppearanceEncoder(channels=16, width=8)(image, maps[:, :-1])
    assert appearance.shape == (2, 5, 16)
    out = Decoder(num_parts=5, appearance_channels=16, width=8, levels=3)(maps, appearance, image)
    assert out["image"].shape == (2, 3, 32, 32) and out["mask"].shape == (2, 1, 32, 32)
    assert 0 <= out["image"].min() and out["image"].max() <= 1
    expected = out["mask"] * out["foreground"] + (1 - out["mask"]) * image
    torch.testing.assert_close(out["image"], expected)


def test_pose_features_are_view_and_scale_invariant():
    torch.manual_seed(0)
    pose = canonical_tpose()[None] + 0.05 * torch.randn(3, 17, 3)
    R = axis_angle_to_matrix(torch.randn(3, 3))
    moved = 2.5 * pose @ R.transpose(1, 2) + torch.randn(3, 1, 3)
    torch.testing.assert_close(pose_features(moved), pose_features(pose), atol=1e-4, rtol=0)
    assert pose_features(pose).shape == (3, 48 + len(BONE_PAIRS))
    frame = body_frame(pose)
    torch.testing.assert_close(frame @ frame.transpose(1, 2), torch.eye(3).expand(3, 3, 3), atol=1e-5, rtol=0)


def test_pose_features_closed_form_on_tpose():
    features = pose_features(canonical_tpose()[None])[0]
    cosines = features[48:]
    # in the T-pose every bone is parallel or perpendicular to its parent bone
    assert torch.all((cosines.abs() < 1e-6) | ((cosines.abs() - 1).abs() < 1e-6))


def test_discriminator_gives_one_logit_per_pose_and_gradients():
    pose = canonical_tpose()[None].repeat(4, 1, 1).requires_grad_()
    logits = PoseDiscriminator(hidden=32)(pose + 0.01 * torch.randn(4, 17, 3))
    assert logits.shape == (4,)
    logits.sum().backward()
    assert torch.isfinite(pose.grad).all() and pose.grad.abs().sum() > 0


def test_decoder_cannot_paint_outside_the_coverage():
    torch.manual_seed(0)
    maps = torch.softmax(torch.randn(1, 6, 16, 16), dim=1)
    background = torch.rand(1, 3, 16, 16)
    coverage = torch.zeros(1, 1, 16, 16)
    coverage[..., 4:12, 4:12] = 1.0
    out = Decoder(num_parts=5, appearance_channels=4, width=8, levels=2)(maps, torch.rand(1, 5, 4), background, coverage)
    outside = coverage == 0
    torch.testing.assert_close(out["image"][outside.expand(1, 3, 16, 16)], background[outside.expand(1, 3, 16, 16)])
