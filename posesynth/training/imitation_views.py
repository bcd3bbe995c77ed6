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
# the camera level and the body leant by up to ±20°: what the recipe was measured with. Most footage
# is filmed from eye level or above (-5..35° with a ±10° lean describes the benchmark's cameras), but
# those views made the self-supervised recipe worse (BENCHMARKS.md, "The camera's elevation in the
# sampled views"), so they are a setting (loss.imitation_elevation_*_deg), not the default.
CAMERA_ELEVATION_DEG = (0.0, 0.0)
BODY_LEAN_DEG = 20.0


def sample_views(poses_body: torch.Tensor, *, image_size: int, focal: float, generator: torch.Generator,
                 elevation_deg: tuple[float, float] = CAMERA_ELEVATION_DEG, max_lean_deg: float = BODY_LEAN_DEG,
                 max_roll: float = 0.1, depth_jitter: float = 0.1, shift_jitter: float = 0.05) -> torch.Tensor:
    """Random crop-camera placements of body-frame poses.

    The body is turned to a heading uniform over the full circle (about the vertical), leant
    forwards/backwards by up to ±``max_lean_deg`` and rolled by up to ±``max_roll`` radians; then
    the camera looks at it from an elevation uniform in ``elevation_deg`` (a rotation about the
    camera's x axis, after the heading, so it always tilts the body's vertical towards or away
    from the camera; positive = the camera above the person, looking down). With the benchmark's
    elevations (−5° to 35°, a ±10° lean) the lifter lifts new people's true 2D joints to 18 mm
    PA-MPJPE instead of 23.5, yet the self-supervised recipe ends worse (BENCHMARKS.md, "The
    camera's elevation in the sampled views"). The root depth makes the pose's joint extent fill
    ``CROP_FILL`` of the crop (× e^±``depth_jitter``), and the joints' box is centred on the
    optical axis (± ``shift_jitter`` of the extent), as a box-centred crop has it.

    Args:
        poses_body: (B, 17, 3) root-relative, body frame (x left, y down, z out of the back), metres.
        image_size: crop side S, pixels. focal: crop focal length, pixels.
        generator: the CPU random generator (a pure function of it: exact resume).
        elevation_deg: (low, high) camera elevation range, degrees. max_lean_deg: degrees.
    Returns:
        (B, 17, 3) joints in the crop camera frame, metres (z > 0).
    """
    batch = poses_body.shape[0]

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return (low + (high - low) * torch.rand(batch, *shape, generator=generator)).to(poses_body)

    lean = math.radians(max_lean_deg)
    body = euler_to_matrix(torch.stack([uniform(-math.pi, math.pi), uniform(-lean, lean),
                                        uniform(-max_roll, max_roll)], -1), "yxz")
    zero = torch.zeros(batch, dtype=poses_body.dtype, device=poses_body.device)
    low_deg, high_deg = elevation_deg
    camera = euler_to_matrix(torch.stack([zero, uniform(math.radians(low_deg), math.radians(high_deg)), zero], -1),
                             "yxz")
    rotation = camera @ body  # turn the body first, then look at it from the camera's elevation
    pose = (poses_body - poses_body[:, :1]) @ rotation.transpose(-1, -2)
    low, high = pose[..., :2].amin(dim=1), pose[..., :2].amax(dim=1)  # (B, 2)
    extent = (high - low).amax(dim=-1) + EXTENT_MARGIN_M               # (B,)
    depth = focal * extent / (CROP_FILL * image_size) * torch.exp(uniform(-depth_jitter, depth_jitter))
    centre = (low + high) / 2 + extent[:, None] * uniform(-shift_jitter, shift_jitter, 2)
    root = torch.cat([-centre, depth[:, None]], dim=-1)
    return pose + root[:, None]


__all__ = ["sample_views", "CROP_FILL", "CAMERA_ELEVATION_DEG", "BODY_LEAN_DEG"]
