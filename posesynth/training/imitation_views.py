"""Pose imitation: put a sampled unpaired 3D pose in front of the crop camera, as a crop would show it.

The cycle (Kundu et al., CVPR 2020, the "pose imitation" figures): an unpaired real 3D pose is
turned to a random heading, placed where a person-centred crop would have it, drawn as a puppet,
and painted by the decoder with a real frame's appearance and background; the pose encoder must
then recover that pose from the painted image. The unpaired poses are the only source of depth,
heading and left/right that needs no label: this is how they reach the encoder directly, not only
through the adversarial prior.

This module only samples the views (pure functions of tensors and a generator); the model renders
and encodes (:meth:`~posesynth.models.model.PoseSynthModel.forward`, ``imitation_joints``), and
:func:`~posesynth.losses.imitation.imitation_loss` compares.
"""

from __future__ import annotations

import math

import torch

from posesynth.geometry import euler_to_matrix

CROP_FILL = 0.7        # joint extent / crop side: a 1.25-margin box crop, less the head and feet beyond the joints
EXTENT_MARGIN_M = 0.15  # head top and feet reach beyond the head and ankle joints


def sample_views(poses_body: torch.Tensor, *, image_size: int, focal: float, generator: torch.Generator,
                 max_tilt: float = 0.35, max_roll: float = 0.1, depth_jitter: float = 0.1,
                 shift_jitter: float = 0.05) -> torch.Tensor:
    """Random crop-camera placements of body-frame poses.

    Heading uniform over the full circle (about the vertical), tilt (about the camera's x axis)
    and roll uniform in ±``max_tilt`` / ±``max_roll`` radians; the root depth makes the pose's
    joint extent fill ``CROP_FILL`` of the crop (× e^±``depth_jitter``), and the joints' box is
    centred on the optical axis (± ``shift_jitter`` of the extent), as a box-centred crop has it.

    Args:
        poses_body: (B, 17, 3) root-relative, body frame (x left, y down, z out of the back), metres.
        image_size: crop side S, pixels. focal: crop focal length, pixels.
        generator: the CPU random generator (a pure function of it: exact resume).
    Returns:
        (B, 17, 3) joints in the crop camera frame, metres (z > 0).
    """
    batch = poses_body.shape[0]

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return (low + (high - low) * torch.rand(batch, *shape, generator=generator)).to(poses_body)

    angles = torch.stack([uniform(-math.pi, math.pi), uniform(-max_tilt, max_tilt), uniform(-max_roll, max_roll)], -1)
    rotation = euler_to_matrix(angles, "yxz")
    pose = (poses_body - poses_body[:, :1]) @ rotation.transpose(-1, -2)
    low, high = pose[..., :2].amin(dim=1), pose[..., :2].amax(dim=1)  # (B, 2)
    extent = (high - low).amax(dim=-1) + EXTENT_MARGIN_M               # (B,)
    depth = focal * extent / (CROP_FILL * image_size) * torch.exp(uniform(-depth_jitter, depth_jitter))
    centre = (low + high) / 2 + extent[:, None] * uniform(-shift_jitter, shift_jitter, 2)
    root = torch.cat([-centre, depth[:, None]], dim=-1)
    return pose + root[:, None]


__all__ = ["sample_views", "CROP_FILL"]
