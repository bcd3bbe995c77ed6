"""Pose priors: the adversarial prior on unpaired real 3D poses, and articulation constraints.

Kundu et al. (CVPR 2020) regularise the self-supervised pose with (i) a discriminator that
tells predicted poses from real mocap poses that are *not* paired with the video, and (ii)
human articulation constraints. The GAN losses are least-squares (Mao et al. 2017), which give
non-vanishing gradients to poses the discriminator confidently rejects.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from posesynth.models.discriminator import body_frame


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """LSGAN discriminator loss: ½·mean((D(real) − 1)²) + ½·mean(D(fake)²).  (B,), (B,) → scalar."""
    return 0.5 * ((real_logits - 1).pow(2).mean() + fake_logits.pow(2).mean())


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """LSGAN loss of the pose encoder: ½·mean((D(pred) − 1)²).  (B,) → scalar."""
    return 0.5 * (fake_logits - 1).pow(2).mean()


# (upper joint, middle joint, lower joint) of each hinge
KNEES: tuple[tuple[int, int, int], ...] = ((1, 2, 3), (4, 5, 6))
ELBOWS: tuple[tuple[int, int, int], ...] = ((11, 12, 13), (14, 15, 16))


def hinge_violation(pose3d: torch.Tensor, chains: tuple[tuple[int, int, int], ...], bend: torch.Tensor,
                    margin: float = 0.1, eps: float = 1e-6) -> torch.Tensor:
    """How far each hinge bends the wrong way.

    A knee flexes backwards and an elbow forwards: the part of the lower limb perpendicular to
    the upper limb must point along ``bend`` (a body-frame direction). The violation is the
    negative part of that component beyond a small ``margin`` (hips and shoulders rotate, which
    tilts the hinge plane a little).

    Args:
        pose3d: (B, 17, 3) any frame, metres.
        chains: (upper, middle, lower) joint triples.
        bend: (B, 3) the allowed bending direction in the pose's frame (unit).
    Returns:
        (B, len(chains)) ≥ 0, in units of the lower limb's length.
    """
    idx = torch.tensor(chains, device=pose3d.device)
    upper = F.normalize(pose3d[:, idx[:, 1]] - pose3d[:, idx[:, 0]], dim=-1, eps=eps)
    lower = F.normalize(pose3d[:, idx[:, 2]] - pose3d[:, idx[:, 1]], dim=-1, eps=eps)
    perpendicular = lower - (lower * upper).sum(-1, keepdim=True) * upper
    along_bend = (perpendicular * bend[:, None]).sum(-1)
    return F.relu(-along_bend - margin)


def flexion_angle(pose3d: torch.Tensor, chains: tuple[tuple[int, int, int], ...], eps: float = 1e-6) -> torch.Tensor:
    """Angle between upper and lower limb directions (0 = straight), radians.  → (B, len(chains))."""
    idx = torch.tensor(chains, device=pose3d.device)
    upper = F.normalize(pose3d[:, idx[:, 1]] - pose3d[:, idx[:, 0]], dim=-1, eps=eps)
    lower = F.normalize(pose3d[:, idx[:, 2]] - pose3d[:, idx[:, 1]], dim=-1, eps=eps)
    return torch.acos((upper * lower).sum(-1).clamp(-1 + 1e-6, 1 - 1e-6))


def articulation_loss(pose3d: torch.Tensor, max_flexion_deg: float = 155.0, margin: float = 0.1,
                      max_hip_extension_deg: float = 35.0) -> torch.Tensor:
    """Human articulation constraints on a batch of poses.

    Terms (each a mean squared violation): knees bend backwards and elbows forwards
    (:func:`hinge_violation` in the body frame of :func:`~posesynth.models.discriminator.body_frame`,
    whose z axis points out of the subject's back); knee/elbow flexion at most ``max_flexion_deg``;
    thighs do not swing further back than ``max_hip_extension_deg`` (hip hyperextension).

    Args:
        pose3d: (B, 17, 3) metres, any rigid frame.
    Returns:
        scalar ≥ 0, zero for anatomically valid poses.
    """
    frame = body_frame(pose3d)                       # rows: left, down, backward
    backward, forward = frame[:, 2], -frame[:, 2]
    knees = hinge_violation(pose3d, KNEES, backward, margin)
    elbows = hinge_violation(pose3d, ELBOWS, forward, margin)
    limit = math.radians(max_flexion_deg)
    over_flexed = F.relu(flexion_angle(pose3d, KNEES + ELBOWS) - limit)
    thighs = F.normalize(pose3d[:, [2, 5]] - pose3d[:, [1, 4]], dim=-1, eps=1e-6)
    # sin of the backward swing of the thigh, against the allowed extension
    hip_extension = F.relu((thighs * backward[:, None]).sum(-1) - math.sin(math.radians(max_hip_extension_deg)))
    return knees.pow(2).mean() + elbows.pow(2).mean() + over_flexed.pow(2).mean() + hip_extension.pow(2).mean()
