"""The pose discriminator of the unpaired-3D-pose prior (Kundu et al., CVPR 2020).

It tells real 3D poses (mocap, unpaired with the videos) from predicted ones. It sees the pose
through view-independent features — bone directions in a body-centred frame plus the cosines of
the angles at each joint — so it judges articulation, not where the camera stood.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from posesynth.skeleton import BONES, NUM_BONES, PARENTS

# (bone, parent bone) index pairs for the angle at each non-root joint
_CHILD_TO_BONE = {c: i for i, (_, c) in enumerate(BONES)}
BONE_PAIRS: tuple[tuple[int, int], ...] = tuple(
    (i, _CHILD_TO_BONE[p]) for i, (p, _) in enumerate(BONES) if PARENTS[p] >= 0)


def body_frame(pose3d: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """A rotation from the camera frame to a frame fixed to the body.

    x: right hip → left hip; y: from the thorax down towards the pelvis, made orthogonal to x;
    z = x × y. Removing it makes pose features independent of the global orientation.

    Args:
        pose3d: (B, 17, 3) metres.
    Returns:
        (B, 3, 3) rows are the body axes expressed in the input frame.
    """
    x = F.normalize(pose3d[:, 4] - pose3d[:, 1], dim=-1, eps=eps)
    down = pose3d[:, 0] - pose3d[:, 8]
    y = F.normalize(down - (down * x).sum(-1, keepdim=True) * x, dim=-1, eps=eps)
    z = torch.cross(x, y, dim=-1)
    return torch.stack([x, y, z], dim=-2)


def pose_features(pose3d: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """View- and scale-independent features of a pose.

    Args:
        pose3d: (B, 17, 3) any units.
    Returns:
        (B, 16·3 + len(BONE_PAIRS)): unit bone directions in the body frame, then the cosine of
        the angle between each bone and its parent bone.
    """
    parents = torch.tensor([p for p, _ in BONES], device=pose3d.device)
    children = torch.tensor([c for _, c in BONES], device=pose3d.device)
    bones = F.normalize(pose3d[:, children] - pose3d[:, parents], dim=-1, eps=eps)  # (B, 16, 3)
    local = bones @ body_frame(pose3d, eps).transpose(-1, -2)
    a = torch.tensor([i for i, _ in BONE_PAIRS], device=pose3d.device)
    b = torch.tensor([j for _, j in BONE_PAIRS], device=pose3d.device)
    cosines = (bones[:, a] * bones[:, b]).sum(-1)
    return torch.cat([rearrange(local, "b j c -> b (j c)"), cosines], dim=-1)


class PoseDiscriminator(nn.Module):
    """MLP on :func:`pose_features` → one realness logit per pose.

    Spectral normalisation (Miyato et al. 2018) keeps it Lipschitz, which keeps the adversarial
    prior's gradients bounded for the pose encoder.
    """

    def __init__(self, hidden: int = 256, depth: int = 3):
        super().__init__()
        features = NUM_BONES * 3 + len(BONE_PAIRS)
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.utils.parametrizations.spectral_norm(nn.Linear(features if i == 0 else hidden, hidden)),
                       nn.LeakyReLU(0.2)]
        layers.append(nn.utils.parametrizations.spectral_norm(nn.Linear(hidden, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, pose3d: torch.Tensor) -> torch.Tensor:
        """pose3d: (B, 17, 3) → (B,) logits (high = looks like a real pose)."""
        return self.net(pose_features(pose3d)).squeeze(-1)
