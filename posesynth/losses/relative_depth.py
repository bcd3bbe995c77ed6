"""Ordinal (relative) depth loss on keypoint pairs (Pavlakos et al. CVPR 2018; WSP, Qiu et al. 2023).

Labels come from :mod:`posesynth.data.depth_labels` as dense (J, J) matrices per person.

Sign convention. ``relation[b, i, j] = r_ij`` with

    r_ij = +1   joint i is closer to the camera than joint j   (z_i < z_j),
    r_ij = −1   joint i is farther than joint j                (z_i > z_j),
    r_ij =  0   i and j are at about the same depth (when its confidence is > 0),

z the camera-frame depth (metres, z forward). The matrix is antisymmetric (r_ji = −r_ij), so
only the pairs i < j are used. Per pair, with d = (z_i − z_j) / scale:

    ordered pairs:  log(1 + exp(r_ij · d))   (small when d has the sign −r_ij says it has)
    equal pairs:    d²

and the loss is the confidence-weighted mean over labelled pairs. ``scale`` sets the depth
difference that counts as "one unit": the ranking term's slope is ½ at d = 0 and it saturates
for |d| ≫ 1, so in metres (scale = 1) a 10 cm ordering barely registers; 0.1 m makes a
limb-sized difference matter and matches the "equal" zone of the labeller.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def relative_depth_loss(depth: torch.Tensor, relation: torch.Tensor, confidence: torch.Tensor,
                        scale: float = 0.1) -> torch.Tensor:
    """Confidence-weighted pairwise ranking / equality loss on predicted joint depths.

    Args:
        depth: (B, J) predicted camera-frame depth z of each joint, metres (any offset: only
            differences matter).
        relation: (B, J, J) in {−1, 0, +1}, the sign convention of the module docstring.
        confidence: (B, J, J) ≥ 0; 0 means "no label for this pair".
        scale: metres per unit of depth difference (see the module docstring).
    Returns:
        scalar ≥ 0; 0 (with a zero gradient) when no pair is labelled.
    """
    batch, joints = depth.shape
    if relation.shape != (batch, joints, joints) or confidence.shape != relation.shape:
        raise ValueError(f"relation {tuple(relation.shape)} and confidence {tuple(confidence.shape)} must be "
                         f"(B, J, J) = {(batch, joints, joints)} for depth {tuple(depth.shape)}")
    i, j = torch.triu_indices(joints, joints, offset=1, device=depth.device)
    d = (depth[:, i] - depth[:, j]) / scale                   # (B, P) pairs i < j
    r = relation[:, i, j].to(depth.dtype)
    weight = confidence[:, i, j].to(depth.dtype).clamp(min=0)
    # softplus(x) = log(1 + exp(x)), computed without overflow
    per_pair = torch.where(r != 0, F.softplus(r * d), d.pow(2))
    return (weight * per_pair).sum() / weight.sum().clamp(min=1e-8)
