"""The 2D→depth lifter: normalisation, its target's units, learning from unpaired poses, gradient isolation."""

import pytest
import torch

from posesynth.geometry import project
from posesynth.losses.imitation import lifting_loss
from posesynth.models.lifter import DepthLifter, normalise_2d, refined_targets, relative_depth_units
from posesynth.models.model import PoseSynthModel
from posesynth.skeleton import canonical_tpose
from posesynth.synth.poses import sample_poses
from posesynth.training.imitation_views import sample_views
from posesynth.training.inputs import canonical_poses

K = torch.tensor([[128.0, 0.0, 31.5], [0.0, 128.0, 31.5], [0.0, 0.0, 1.0]])


def test_normalise_2d_closed_form():
    joints = torch.tensor([[[10.0, 10.0], [13.0, 14.0], [10.0, 20.0]]])   # distances to the root 0, 5, 10
    shape, scale = normalise_2d(joints)
    assert scale.item() == pytest.approx(5.0)
    torch.testing.assert_close(shape[0], torch.tensor([[0.0, 0.0], [0.6, 0.8], [0.0, 2.0]]))
    # position and size do not matter
    shape2, scale2 = normalise_2d(joints * 3 + 7)
    torch.testing.assert_close(shape2, shape)
    assert scale2.item() == pytest.approx(15.0)


def test_units_turn_back_into_metres():
    poses = canonical_tpose().expand(4, 17, 3)
    joints = sample_views(poses, image_size=64, focal=128.0, generator=torch.Generator().manual_seed(0))
    joints2d = project(joints, K)
    units = relative_depth_units(joints, joints2d, 128.0)
    _, scale = normalise_2d(joints2d)
    metres = units * (scale * joints[:, 0, 2] / 128.0)[:, None]
    torch.testing.assert_close(metres, joints[..., 2] - joints[:, :1, 2])
    assert units[:, 0].abs().max() == 0


def test_lifter_learns_depth_from_unpaired_poses_only():
    torch.manual_seed(0)
    poses = canonical_poses(torch.as_tensor(sample_poses(clips=16, frames=48, seed=1), dtype=torch.float32))
    lifter = DepthLifter(width=128, layers=2)
    optimizer = torch.optim.AdamW(lifter.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(0)

    def batch(n: int):
        joints = sample_views(poses[torch.randint(len(poses), (n,), generator=generator)], image_size=64,
                              focal=128.0, generator=generator)
        joints2d = project(joints, K)
        return joints2d, relative_depth_units(joints, joints2d, 128.0)

    test2d, test_units = batch(256)
    flat = lifting_loss(torch.zeros_like(test_units), test_units)
    for _ in range(300):
        joints2d, units = batch(64)
        loss = lifting_loss(lifter(joints2d), units)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        learned = lifting_loss(lifter(test2d), test_units)
    assert learned < 0.6 * flat, (learned, flat)


def test_model_lifter_learns_only_from_the_lifting_term():
    torch.manual_seed(0)
    model = PoseSynthModel(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8,
                           appearance_width=8, decoder_width=8, decoder_levels=3, lifter=True)
    model.start_from_pose(canonical_tpose())
    source, target, background = torch.rand(3, 2, 3, 32, 32).unbind(0)
    joints = sample_views(canonical_tpose().expand(2, 17, 3), image_size=32, focal=model.focal,
                          generator=torch.Generator().manual_seed(0))
    out = model(source, target, background, lifting_joints=joints)
    assert "imitation_image" not in out and out["lifting_pred"].shape == (2, 17)
    (out["synthesis"] - target).abs().mean().backward()       # the image losses
    assert all(p.grad is None for p in model.lifter.parameters())
    assert model.pose_encoder.heads.weight.grad.abs().sum() > 0
    lifting_loss(out["lifting_pred"], out["lifting_true"]).backward()
    assert all(p.grad is not None for p in model.lifter.parameters())


def test_refined_targets_closed_form():
    joints = sample_views(canonical_tpose().expand(3, 17, 3), image_size=64, focal=128.0,
                          generator=torch.Generator().manual_seed(1))
    clean = project(joints, K)
    target = refined_targets(joints, clean, clean, 128.0)
    shape, _ = normalise_2d(clean)
    torch.testing.assert_close(target[..., :2], shape)            # no noise: the normalised pose itself
    torch.testing.assert_close(target[..., 2], relative_depth_units(joints, clean, 128.0))
    noisy = clean + torch.randn(clean.shape, generator=torch.Generator().manual_seed(2))
    moved = refined_targets(joints, clean, noisy, 128.0)
    _, noisy_scale = normalise_2d(noisy)
    # the clean pose, root-relative, in the noisy input's units: back to pixels it is the clean pose
    torch.testing.assert_close(moved[..., :2] * noisy_scale[:, None, None], clean - clean[:, :1])


def test_the_refiner_builds_only_the_reported_pose_and_learns_only_from_its_term():
    assert DepthLifter(width=16, layers=1, refine_2d=True)(torch.rand(4, 17, 2) * 64).shape == (4, 17, 3)
    torch.manual_seed(0)
    model = PoseSynthModel(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8,
                           appearance_width=8, decoder_width=8, decoder_levels=3, lifter=True,
                           refiner=True)
    model.start_from_pose(canonical_tpose())
    image = torch.rand(2, 3, 32, 32)
    trained = model.encode_pose(image)           # training mode: the refiner is not used
    torch.testing.assert_close(project(trained["joints_camera"], model.K), trained["joints2d"], atol=1e-3, rtol=0)
    reported = model.eval().encode_pose(image)  # eval mode: the pose is built on the refiner's joints and depths
    refined2d, refined_depth = model.refined(reported["joints2d"], torch.full((2,), model.nominal_depth))
    assert (refined2d - reported["joints2d"]).abs().max() > 1e-3
    torch.testing.assert_close(project(reported["joints_camera"], model.K), refined2d, atol=1e-3, rtol=0)
    assert reported["joints_camera"].shape == (2, 17, 3) and refined_depth.shape == (2, 17)
    model.train()
    source, target, background = torch.rand(3, 2, 3, 32, 32).unbind(0)
    joints = sample_views(canonical_tpose().expand(2, 17, 3), image_size=32, focal=model.focal,
                          generator=torch.Generator().manual_seed(0))
    out = model(source, target, background, lifting_joints=joints, refining_noise=2.0 * torch.randn(2, 17, 2))
    assert out["refining_pred"].shape == out["refining_true"].shape == (2, 17, 3)
    (out["synthesis"] - target).abs().mean().backward()       # the image losses never reach it
    assert all(p.grad is None for p in model.refiner.parameters())
    lifting_loss(out["refining_pred"], out["refining_true"]).backward()
    assert all(p.grad is not None for p in model.refiner.parameters())
