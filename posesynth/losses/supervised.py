"""3D supervision where labels exist: the MPJPE loss of semi- and fully supervised training."""

from __future__ import annotations

import torch


def pose3d_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Mean per-joint position error over the labelled samples of a batch (Protocol #1 as a loss).

    Both poses are made root-relative first, as the evaluation does, so the loss asks nothing of
    the root translation the model cannot know from a crop. ``sqrt(|d|² + eps)`` keeps the
    gradient finite for a perfect joint.

    Args:
        pred: (B, 17, 3) predicted joints, crop-camera frame, metres.
        target: (B, 17, 3) labels in the same frame, metres (any values where not valid).
        valid: (B,) 1 for labelled samples, 0 otherwise.
    Returns:
        scalar, metres: mean over valid samples and joints; 0 (still connected to ``pred``) when
        the batch has no label.
    """
    pred = pred - pred[:, :1]
    target = torch.where(valid[:, None, None] > 0, target - target[:, :1], pred.detach())
    errors = ((pred - target).pow(2).sum(-1) + eps).sqrt().mean(-1)  # (B,)
    weight = valid.to(errors)
    return (errors * weight).sum() / weight.sum().clamp(min=1.0)


__all__ = ["pose3d_loss"]
