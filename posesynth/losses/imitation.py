"""Losses on sampled unpaired poses: imitation (recover a painted pose) and lifting (recover dropped depths)."""

from __future__ import annotations

import torch


def imitation_loss(pred2d: torch.Tensor, pred_pose: torch.Tensor, true2d: torch.Tensor, true_pose: torch.Tensor,
                   crop_size: float, eps: float = 1e-8) -> torch.Tensor:
    """2D error in crop-side units plus root-relative 3D error in metres, mean over joints and samples.

        L = mean_bj ‖(p̂_bj − p_bj) / S‖ + mean_bj ‖(X̂_bj − X̂_b0) − (X_bj − X_b0)‖

    Both are distances (not squared) so that a few joints the painting hides do not dominate;
    ``sqrt(|d|² + eps)`` keeps the gradient finite at zero error. The two parts have similar
    sizes at the start (about 0.05 crop sides, 0.1 m), so they are simply added.

    Args:
        pred2d, true2d: (B, J, 2) crop pixels.
        pred_pose, true_pose: (B, J, 3) crop camera frame, metres (made root-relative here).
        crop_size: S, pixels.
    Returns:
        scalar ≥ 0.
    """
    if pred2d.shape != true2d.shape or pred_pose.shape != true_pose.shape:
        raise ValueError(f"imitation_loss: shapes differ: {tuple(pred2d.shape)} vs {tuple(true2d.shape)}, "
                         f"{tuple(pred_pose.shape)} vs {tuple(true_pose.shape)}")
    error2d = (((pred2d - true2d) / crop_size).pow(2).sum(-1) + eps).sqrt().mean()
    pred_rel, true_rel = pred_pose - pred_pose[:, :1], true_pose - true_pose[:, :1]
    error3d = ((pred_rel - true_rel).pow(2).sum(-1) + eps).sqrt().mean()
    return error2d + error3d


def lifting_loss(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of lifted depths (Martinez et al. 2017 use L2; L1 is kinder to rare poses).

    Args:
        pred, true: (B, J) root-relative depths in units of the 2D scale
            (:func:`posesynth.models.lifter.relative_depth_units`).
    Returns:
        scalar ≥ 0, in those units.
    """
    if pred.shape != true.shape:
        raise ValueError(f"lifting_loss: shapes differ: {tuple(pred.shape)} vs {tuple(true.shape)}")
    return (pred - true).abs().mean()


__all__ = ["imitation_loss", "lifting_loss"]
