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


def refined_targets(pose_camera: torch.Tensor, clean2d: torch.Tensor, noisy2d: torch.Tensor,
                    focal: float) -> torch.Tensor:
    """A refining lifter's training target for a noisy 2D input: the clean pose in the input's units.

    Args:
        pose_camera: (B, J, 3) joints in the camera frame, metres. clean2d: (B, J, 2) their
            projections, pixels. noisy2d: (B, J, 2) the lifter's input (clean + noise), pixels.
        focal: pixels.
    Returns:
        (B, J, 3) unitless: the clean 2D joints relative to their root and the root-relative
        depths (:func:`relative_depth_units`), both in units of the *noisy* input's 2D scale.
    """
    _, scale = normalise_2d(noisy2d)
    xy = (clean2d - clean2d[:, :1]) / scale[:, None, None]
    return torch.cat([xy, relative_depth_units(pose_camera, noisy2d, focal)[..., None]], dim=-1)


def refined_pose(units: torch.Tensor, joints2d: torch.Tensor, root_depth: torch.Tensor,
                 focal: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A refining lifter's output back in pixels and metres.

    Args:
        units: (B, J, 3) the lifter's root-relative x, y and depth in units of the input's 2D scale.
        joints2d: (B, J, 2) its input, pixels (the root stays where it was).
        root_depth: (B,) metres. focal: pixels.
    Returns:
        the refined 2D joints (B, J, 2) px and depths (B, J) m.
    """
    _, scale = normalise_2d(joints2d)
    joints = joints2d[:, :1] + units[..., :2] * scale[:, None, None]
    depth = root_depth[:, None] + units[..., 2] * (scale * root_depth / focal)[:, None]
    return joints, depth


class DepthLifter(nn.Module):
    """MLP from a normalised 2D pose to root-relative depths in units of its 2D scale.

    With ``refine_2d`` it also returns the 2D pose it believes in: trained on noisy projections of
    unpaired poses (``loss.refining``) to give back the clean ones, it is a denoiser that knows
    what bodies look like (``model.refiner``). Measured (BENCHMARKS.md, "The lifter as a 2D denoiser"): from true
    2D joints plus 2 px of noise in a 64 px crop a depth-only lifter reaches 173 mm PA-MPJPE, a
    refining one trained with 2 px of noise 45 mm.

    Args:
        width: hidden units of each of the ``layers`` hidden layers.
        num_joints: J.
        refine_2d: return (B, J, 3), root-relative x, y and depth, instead of (B, J) depths.
    """

    def __init__(self, width: int = 512, layers: int = 3, num_joints: int = NUM_JOINTS, refine_2d: bool = False):
        super().__init__()
        self.refine_2d = refine_2d
        blocks: list[nn.Module] = []
        c = 2 * num_joints
        for _ in range(layers):
            blocks += [nn.Linear(c, width), nn.SiLU()]
            c = width
        self.net = nn.Sequential(*blocks, nn.Linear(c, num_joints * (3 if refine_2d else 1)))

    def forward(self, joints2d: torch.Tensor) -> torch.Tensor:
        """(B, J, 2) pixels → (B, J) root-relative depth in units of the 2D scale (× s·Z_root/f for metres).

        With ``refine_2d``: (B, J, 3), root-relative x, y (pixels / the 2D scale) and depth.
        """
        shape, _ = normalise_2d(joints2d)
        out = self.net(rearrange(shape, "b j c -> b (j c)"))
        if self.refine_2d:
            out = rearrange(out, "b (j c) -> b j c", c=3)
        return out - out[:, :1]
