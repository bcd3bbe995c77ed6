"""The pose encoder: target crop → per-bone directions and camera parameters.

Follows the kinematic parametrisation of Kundu et al. (AAAI 2020, CVPR 2020): the network
predicts one unit vector per bone in its parent's local frame, plus the camera (a rotation and a
translation), and forward kinematics with *fixed* canonical bone-length ratios turns them into a
3D pose. A ResNet-style CNN of our own (no torchvision) stands in for the paper's ResNet-50.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from posesynth.geometry import rotation_6d_to_matrix
from posesynth.models.blocks import ResBlock, norm
from posesynth.skeleton import NUM_BONES

IDENTITY_6D = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
SPATIAL_GRID = 4        # the spatial head's feature grid side (cells), whatever the crop size
SPATIAL_CHANNELS = 32   # channels per cell after the 1×1 squeeze


class PoseEncoder(nn.Module):
    """CNN from an RGB crop to bone directions and camera.

    Args:
        width: channels of the first stage; doubled at each of the ``stages`` downsamplings.
        stages: number of stride-2 residual stages after the stem (a 64 px crop with 4 stages
            ends at 4×4 before global pooling).
        num_bones: bones predicted (16 for the Human3.6M 17-joint skeleton).
        bone_scaling: also predict a per-sample length factor per bone (relaxes the fixed ratios;
            pair it with the bone-ratio loss of Zhou et al. 2017).
        spatial_head: feed the heads a 4×4 grid of features (pooled to 4×4, squeezed to
            ``SPATIAL_CHANNELS`` by a 1×1 conv, flattened) instead of their global average. The
            average keeps *what* is in the crop but discards *where*, and joint positions are
            mostly "where". Measured (BENCHMARKS.md, "Does it learn?"): with 3D labels it fits
            the training subjects much faster but did not generalise better to new ones within
            3,000 steps, and it did not help the self-supervised run; so it is off by default.
    """

    def __init__(self, width: int = 32, stages: int = 4, num_bones: int = NUM_BONES, bone_scaling: bool = False,
                 spatial_head: bool = False):
        super().__init__()
        self.num_bones = num_bones
        self.stem = nn.Sequential(nn.Conv2d(3, width, 5, 1, 2, bias=False), norm(width), nn.SiLU())
        blocks, c = [], width
        for _ in range(stages):
            blocks += [ResBlock(c, 2 * c, stride=2), ResBlock(2 * c, 2 * c)]
            c *= 2
        self.body = nn.Sequential(*blocks)
        self.features = c
        self.grid = (nn.Sequential(nn.AdaptiveAvgPool2d(SPATIAL_GRID), nn.Conv2d(c, SPATIAL_CHANNELS, 1), nn.SiLU())
                     if spatial_head else None)
        head_in = SPATIAL_CHANNELS * SPATIAL_GRID ** 2 if spatial_head else c
        self.pose_head = nn.Sequential(nn.Linear(head_in, c), nn.SiLU(), nn.Linear(c, num_bones * 3))
        # camera: 6D rotation (Zhou et al. 2019: continuous, unlike Euler angles), log-depth
        # factor, and a 2D offset of the root in units of the crop half-size
        self.camera_head = nn.Sequential(nn.Linear(head_in, c // 2), nn.SiLU(), nn.Linear(c // 2, 6 + 1 + 2))
        self.bone_head = nn.Linear(head_in, num_bones) if bone_scaling else None
        self.reset_heads()

    def reset_heads(self, local_directions: torch.Tensor | None = None) -> None:
        """Start from a given pose and the identity camera: tiny last-layer weights, bias = target.

        Args:
            local_directions: (num_bones, 3) parent-relative unit bone directions of the starting
                pose (e.g. the mean unpaired pose); default: the bias stays as initialised.
        """
        last = self.pose_head[-1]
        nn.init.normal_(last.weight, std=1e-3)
        if local_directions is not None:
            with torch.no_grad():
                last.bias.copy_(rearrange(local_directions.to(last.bias), "j c -> (j c)"))
        if self.bone_head is not None:  # start at the canonical lengths
            nn.init.normal_(self.bone_head.weight, std=1e-3)
            nn.init.zeros_(self.bone_head.bias)
        cam = self.camera_head[-1]
        nn.init.normal_(cam.weight, std=1e-3)
        with torch.no_grad():
            cam.bias.zero_()
            cam.bias[:6] = torch.tensor(IDENTITY_6D)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encode a batch of crops.

        Args:
            image: (B, 3, H, W) RGB in [0, 1].
        Returns:
            ``local_directions`` (B, num_bones, 3) unit vectors in parent-relative frames;
            ``rotation`` (B, 3, 3) body→camera rotation; ``log_depth`` (B,) log of the root depth
            relative to the nominal one; ``offset`` (B, 2) root offset in crop half-sizes; with
            bone scaling ``bone_scale`` (B, num_bones) length factors in [e^-0.25, e^0.25].
        """
        h = self.body(self.stem(image * 2 - 1))
        h = rearrange(self.grid(h), "b c y x -> b (c y x)") if self.grid is not None else h.mean(dim=(2, 3))
        raw = rearrange(self.pose_head(h), "b (j c) -> b j c", c=3)
        cam = self.camera_head(h)
        out = {
            "local_directions": F.normalize(raw, dim=-1, eps=1e-6),
            "rotation": rotation_6d_to_matrix(cam[:, :6]),
            "log_depth": cam[:, 6],
            "offset": torch.tanh(cam[:, 7:9]),
        }
        if self.bone_head is not None:
            # bounded: ±25 % in log space covers adult proportions without letting a bone vanish
            out["bone_scale"] = torch.exp(0.25 * torch.tanh(self.bone_head(h)))
        return out
