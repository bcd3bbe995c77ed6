"""The 2D keypoint loss: projected joints against detected or annotated 2D keypoints.

The reprojection term of the weakly supervised literature (e.g. Li et al., AAAI 2020:
Σ_i w_i‖X_i − ρ(Y_i)‖², w_i the detector's confidence), normalised two ways so its weight does
not depend on the data: distances are divided by the crop side (resolution independent), and the
confidence-weighted sum is divided by the total confidence (independent of how many joints and
people a batch has labelled).
"""

from __future__ import annotations

import torch


def keypoint_loss(pred2d: torch.Tensor, target2d: torch.Tensor, confidence: torch.Tensor,
                  crop_size: float) -> torch.Tensor:
    """Confidence-weighted mean squared 2D distance in crop-side units.

        L = Σ_bj c_bj ‖(p_bj − t_bj) / S‖² / Σ_bj c_bj

    Args:
        pred2d: (B, J, 2) projected joints, crop pixels.
        target2d: (B, J, 2) 2D keypoints, crop pixels (any value where the confidence is 0).
        confidence: (B, J) ≥ 0 per-joint weights (0: missing joint).
        crop_size: S, the crop side in pixels.
    Returns:
        scalar ≥ 0; 0 (with a zero gradient) when no joint has any confidence.
    """
    if pred2d.shape != target2d.shape or pred2d.shape[:-1] != confidence.shape:
        raise ValueError(f"pred2d {tuple(pred2d.shape)}, target2d {tuple(target2d.shape)} and confidence "
                         f"{tuple(confidence.shape)} must be (B, J, 2), (B, J, 2), (B, J)")
    # where the confidence is 0 the target may be anything (even NaN): select, do not multiply
    known = confidence > 0
    error = torch.where(known[..., None], pred2d - target2d, torch.zeros_like(pred2d)) / crop_size
    weight = torch.where(known, confidence, torch.zeros_like(confidence))
    return (weight * error.pow(2).sum(-1)).sum() / weight.sum().clamp(min=1e-8)
