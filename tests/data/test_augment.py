"""Crop augmentation: mirroring keeps 2D and 3D labels consistent; colour jitter is per sample."""

import torch

from posesynth.data.augment import colour_jitter, flip_images, flip_keypoints, flip_poses, jitter_parameters
from posesynth.geometry import intrinsics, project
from posesynth.skeleton import canonical_tpose


def test_flip_images_only_where_asked_and_is_an_involution():
    images = torch.rand(3, 3, 4, 5)
    flip = torch.tensor([True, False, True])
    out = flip_images(images, flip)
    assert torch.equal(out[0], images[0].flip(-1)) and torch.equal(out[1], images[1])
    assert torch.equal(flip_images(out, flip), images)


def test_mirrored_3d_pose_projects_onto_the_mirrored_2d_pose():
    # the crop camera looks through the crop centre, so flipping the image is x → −x in 3D
    size = 32
    K = intrinsics(64.0, (size - 1) / 2, (size - 1) / 2)
    pose = canonical_tpose()[None].repeat(2, 1, 1)
    pose[:, 13, 2] -= 0.3                                 # an asymmetric pose: left wrist forward
    pose[:, 16, 1] -= 0.2                                 # right wrist up
    pose = pose + torch.tensor([0.1, 0.0, 4.0])
    flip = torch.tensor([True, False])
    mirrored = flip_poses(pose - pose[:, :1], flip) + pose[:, :1] * torch.tensor([-1.0, 1.0, 1.0])
    expected = flip_keypoints(project(pose, K), flip, size)
    assert torch.allclose(project(mirrored[:1], K), expected[:1], atol=1e-4)
    assert torch.equal(flip_poses(pose, flip)[1], pose[1]) and torch.equal(expected[1], project(pose, K)[1])
    # left and right really swapped: the mirrored left wrist is where the right wrist was, mirrored
    uv = project(pose, K)[0]
    assert torch.allclose(expected[0, 13], torch.stack([size - 1 - uv[16, 0], uv[16, 1]]), atol=1e-4)


def test_flip_keypoints_carries_extra_channels():
    keypoints = torch.rand(1, 17, 3)
    out = flip_keypoints(keypoints, torch.tensor([True]), 10)
    assert torch.allclose(out[0, 4], torch.stack([9 - keypoints[0, 1, 0], keypoints[0, 1, 1], keypoints[0, 1, 2]]))


def test_colour_jitter_identity_at_zero_strength_and_shared_per_sample():
    images = torch.rand(4, 3, 8, 8)
    assert torch.allclose(colour_jitter(images, jitter_parameters(4, 0.0)), images, atol=1e-5)
    params = jitter_parameters(4, 1.0, torch.Generator().manual_seed(0))
    assert all(torch.equal(params[k], jitter_parameters(4, 1.0, torch.Generator().manual_seed(0))[k]) for k in params)
    out = colour_jitter(images, params)
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out, images, atol=1e-2)
    # the same draw on a second image of the same sample is the same colour transform
    second = colour_jitter(images.flip(-1), params)
    assert torch.allclose(second, out.flip(-1), atol=1e-5)
    # a grey pixel stays grey under hue and saturation: only brightness and contrast move it
    grey = torch.full((4, 3, 2, 2), 0.5)
    out = colour_jitter(grey, params)
    assert torch.allclose(out[:, 0], out[:, 1], atol=1e-4) and torch.allclose(out[:, 1], out[:, 2], atol=1e-4)
