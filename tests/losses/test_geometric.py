"""Bone-length ratio loss (Zhou et al. ICCV 2017) and per-bone scaling."""

import pytest
import torch

from posesynth import skeleton
from posesynth.kinematics import forward_kinematics, pose_to_directions
from posesynth.losses.geometric import bone_lengths, bone_ratio_loss, proportions_loss, scale_bones


def _pose(batch: int = 2, seed: int = 0) -> torch.Tensor:
    directions = torch.randn(batch, skeleton.NUM_BONES, 3, generator=torch.Generator().manual_seed(seed),
                             dtype=torch.float64)
    return forward_kinematics(directions)


def test_bone_lengths_of_the_canonical_pose():
    lengths = bone_lengths(skeleton.canonical_tpose(torch.float64)[None])
    assert lengths.shape == (1, 16)
    torch.testing.assert_close(lengths[0], skeleton.bone_lengths_tensor(torch.float64))


def test_zero_for_canonical_ratios_at_any_size():
    pose = _pose()
    assert bone_ratio_loss(pose).item() == pytest.approx(0.0, abs=1e-12)
    assert bone_ratio_loss(1.3 * pose).item() == pytest.approx(0.0, abs=1e-12)


def test_closed_form_value_of_one_longer_thigh():
    scales = torch.ones(2, 16, dtype=torch.float64)
    scales[0, 1] = 1.1  # the right thigh of the first pose: legs ratios (1.1, 1, 1, 1)
    pose = scale_bones(_pose(), scales)
    variance = (0.075 ** 2 + 3 * 0.025 ** 2) / 4      # mean 1.025
    assert bone_ratio_loss(pose).item() == pytest.approx(variance / 2, rel=1e-9)   # batch mean
    only_arms = bone_ratio_loss(pose, groups={"arms": skeleton.BONE_GROUPS["arms"]})
    assert only_arms.item() == pytest.approx(0.0, abs=1e-12)


def test_proportions_closed_form_and_what_the_groups_miss():
    # every bone 1.2x: the canonical proportions at another size
    assert proportions_loss(scale_bones(_pose(), torch.full((2, 16), 1.2, dtype=torch.float64))).item() == \
        pytest.approx(0.0, abs=1e-12)
    # legs 1.2x, everything else 1x: within Zhou's groups nothing is wrong, across all bones it is
    scales = torch.ones(2, 16, dtype=torch.float64)
    legs = list(skeleton.BONE_GROUPS["legs"])
    scales[:, legs] = 1.2
    pose = scale_bones(_pose(), scales)
    assert bone_ratio_loss(pose).item() == pytest.approx(0.0, abs=1e-12)
    share = len(legs) / 16
    mean = 1 + 0.2 * share
    variance = share * (1.2 - mean) ** 2 + (1 - share) * (1 - mean) ** 2
    assert proportions_loss(pose).item() == pytest.approx(variance, rel=1e-9)
    jitter = torch.randn(2, 17, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    noisy = (_pose(2, seed=2) + 0.01 * jitter).requires_grad_()
    assert torch.autograd.gradcheck(proportions_loss, (noisy,))


def test_gradcheck():
    pose = (_pose(2, seed=1) + 0.01 * torch.randn(2, 17, 3, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(bone_ratio_loss, (pose,))


def test_scale_bones_keeps_directions_and_scales_lengths():
    pose = _pose(3)
    scales = torch.rand(3, 16, dtype=torch.float64) + 0.5
    scaled = scale_bones(pose, scales)
    old_dirs, old_lengths = pose_to_directions(pose)
    new_dirs, new_lengths = pose_to_directions(scaled)
    torch.testing.assert_close(new_lengths, old_lengths * scales)
    torch.testing.assert_close(new_dirs, old_dirs)
    assert torch.equal(scaled[:, 0], torch.zeros(3, 3, dtype=torch.float64))
    # per-sample scales plug into forward kinematics as bone lengths
    lengths = skeleton.bone_lengths_tensor(torch.float64) * scales
    torch.testing.assert_close(scaled, forward_kinematics(old_dirs, lengths))
