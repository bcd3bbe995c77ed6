"""Losses on sampled unpaired poses: imitation (recover a painted pose) and lifting (recover dropped depths)."""

from __future__ import annotations

import torch

from posesynth.skeleton import FLIP_PERMUTATION, mirror_interpretation


def imitation_loss(pred2d: torch.Tensor, pred_pose: torch.Tensor, true2d: torch.Tensor, true_pose: torch.Tensor,
                   crop_size: float, side_open: bool | torch.Tensor = False, eps: float = 1e-8) -> torch.Tensor:
    """2D error in crop-side units plus root-relative 3D error in metres, mean over joints and samples.

        L_b = mean_j ‖(p̂_bj − p_bj) / S‖ + mean_j ‖(X̂_bj − X̂_b0) − (X_bj − X_b0)‖,   L = mean_b L_b

    Both are distances (not squared) so that a few joints the painting hides do not dominate;
    ``sqrt(|d|² + eps)`` keeps the gradient finite at zero error. The two parts have similar
    sizes at the start (about 0.05 crop sides, 0.1 m), so they are simply added.

    With ``side_open`` each sample scores the better of the truth and its *mirror reading*, the
    same 2D skeleton seen with the other facing: every joint takes its mirror partner's name (2D
    and 3D) and the root-relative depths change sign (exact under weak perspective). A painting
    whose front and back look alike (a flat painting shows the source's front whatever the
    sampled heading) then asks for one consistent labelling instead of the average of both, which
    a soft-argmax reads between the left and right limbs. A painting that does show its side (a
    face drawn for the sampled heading, :mod:`posesynth.render.face`) is scored against its truth
    alone: ``side_open`` may say so per sample.

    Args:
        pred2d, true2d: (B, J, 2) crop pixels.
        pred_pose, true_pose: (B, J, 3) crop camera frame, metres (made root-relative here).
        crop_size: S, pixels.
        side_open: score each sample against the better of the truth and its mirror reading; a
            (B,) bool tensor says it per sample.
    Returns:
        scalar ≥ 0.
    """
    if pred2d.shape != true2d.shape or pred_pose.shape != true_pose.shape:
        raise ValueError(f"imitation_loss: shapes differ: {tuple(pred2d.shape)} vs {tuple(true2d.shape)}, "
                         f"{tuple(pred_pose.shape)} vs {tuple(true_pose.shape)}")
    pred_rel, true_rel = pred_pose - pred_pose[:, :1], true_pose - true_pose[:, :1]

    def per_sample(target2d: torch.Tensor, target_rel: torch.Tensor) -> torch.Tensor:
        error2d = (((pred2d - target2d) / crop_size).pow(2).sum(-1) + eps).sqrt().mean(-1)
        error3d = ((pred_rel - target_rel).pow(2).sum(-1) + eps).sqrt().mean(-1)
        return error2d + error3d   # (B,)

    loss = per_sample(true2d, true_rel)
    if isinstance(side_open, torch.Tensor) or side_open:
        mirrored2d, mirrored_depth = mirror_interpretation(true2d, true_rel[..., 2])
        mirrored_rel = torch.cat([true_rel[:, list(FLIP_PERMUTATION), :2], mirrored_depth[..., None]], dim=-1)
        either = torch.minimum(loss, per_sample(mirrored2d, mirrored_rel))
        loss = torch.where(side_open, either, loss) if isinstance(side_open, torch.Tensor) else either
    return loss.mean()


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
