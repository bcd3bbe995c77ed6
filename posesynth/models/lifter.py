"""A 2D→depth lifter learned from unpaired 3D poses alone.

Given 2D joints, the missing coordinate is depth; a small MLP (Martinez et al., ICCV 2017, use
one for the whole lifting) learns it from *projections of unpaired 3D poses*: an unpaired pose is
turned to a random heading, placed in the crop camera (:func:`posesynth.training.imitation_views.sample_views`),
projected, and the lifter is trained to return the depths it dropped. No image and no label of
the training videos is involved, so it has no domain gap to cross: measured on the held-out
synthetic people with their true 2D joints, a lifter trained this way reaches 24 mm PA-MPJPE
where the mean pose scores 59 mm (BENCHMARKS.md, "Does it learn?").

The 2D pose is normalised before lifting (root at the origin, unit mean distance to the root), so
the lifter sees shape, not position or size; its output is depth in the same unit, which becomes
metres through the root depth: under perspective a 2D scale of s pixels at root depth Z is
s·Z/f metres (f the focal length in pixels).
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from posesynth.skeleton import NUM_JOINTS


def normalise_2d(joints2d: torch.Tensor, eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """Root-centred 2D pose at unit scale.

    Args:
        joints2d: (B, J, 2) pixels, joint 0 the root.
    Returns:
        ``shape`` (B, J, 2) unitless, mean distance to the root 1; ``scale`` (B,) pixels.
    """
    centred = joints2d - joints2d[:, :1]
    scale = centred.norm(dim=-1).mean(dim=-1).clamp(min=eps)
    return centred / scale[:, None, None], scale


def relative_depth_units(pose_camera: torch.Tensor, joints2d: torch.Tensor, focal: float) -> torch.Tensor:
    """The lifter's training target: root-relative depth in units of the 2D scale, s·Z_root/f metres.

    Args:
        pose_camera: (B, J, 3) joints in the camera frame, metres (z > 0).
        joints2d: (B, J, 2) their projections, pixels. focal: pixels.
    Returns:
        (B, J) unitless.
    """
    _, scale = normalise_2d(joints2d)
    unit = scale * pose_camera[:, 0, 2] / focal
    return (pose_camera[..., 2] - pose_camera[:, :1, 2]) / unit[:, None]


class DepthLifter(nn.Module):
    """MLP from a normalised 2D pose to root-relative depths in units of its 2D scale.

    Args:
        width: hidden units of each of the ``layers`` hidden layers.
        num_joints: J.
    """

    def __init__(self, width: int = 512, layers: int = 3, num_joints: int = NUM_JOINTS):
        super().__init__()
        blocks: list[nn.Module] = []
        c = 2 * num_joints
        for _ in range(layers):
            blocks += [nn.Linear(c, width), nn.SiLU()]
            c = width
        self.net = nn.Sequential(*blocks, nn.Linear(c, num_joints))

    def forward(self, joints2d: torch.Tensor) -> torch.Tensor:
        """(B, J, 2) pixels → (B, J) root-relative depth in units of the 2D scale (× s·Z_root/f for metres)."""
        shape, _ = normalise_2d(joints2d)
        depth = self.net(rearrange(shape, "b j c -> b (j c)"))
        return depth - depth[:, :1]
