"""Equivariance of the 2D joints under a similarity warp of the frame (no label needed).

    L = mean_bj ‖(p̂'_bj − A_b(p̂_bj)) / S‖

where p̂ are the joints found in a frame, p̂' those found in the same frame with its person moved
by the similarity A_b (:func:`posesynth.render.warp.warp_person`). Thewlis et al. (ICCV 2017)
learn landmarks from this alone; here it joins the reconstruction and imitation terms. Both sides
get the gradient: the two predictions are pulled towards agreement, and a prediction that ignores
the image cannot satisfy it for every A.
"""

from __future__ import annotations

import torch

from posesynth.render.warp import transform_points


def equivariance_loss(warped2d: torch.Tensor, joints2d: torch.Tensor, affine: torch.Tensor, crop_size: float,
                      eps: float = 1e-8) -> torch.Tensor:
    """Distance between the joints found in the warped frame and the warped joints of the frame.

    A distance (not squared), like :func:`~posesynth.losses.imitation.imitation_loss`, in crop-side
    units; ``sqrt(|d|² + eps)`` keeps the gradient finite at zero.

    Args:
        warped2d: (B, J, 2) joints predicted in the warped frames, crop pixels.
        joints2d: (B, J, 2) joints predicted in the original frames, crop pixels.
        affine: (B, 2, 3) the warps, crop pixels → crop pixels.
        crop_size: S, pixels.
    Returns:
        scalar ≥ 0, crop sides.
    """
    if warped2d.shape != joints2d.shape or affine.shape != (joints2d.shape[0], 2, 3):
        raise ValueError(f"equivariance_loss: shapes {tuple(warped2d.shape)}, {tuple(joints2d.shape)}, "
                         f"{tuple(affine.shape)}; expected (B, J, 2) twice and (B, 2, 3)")
    expected = transform_points(joints2d, affine)
    return (((warped2d - expected) / crop_size).pow(2).sum(-1) + eps).sqrt().mean()


__all__ = ["equivariance_loss"]
