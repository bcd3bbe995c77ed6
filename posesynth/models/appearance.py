"""The appearance encoder: one appearance vector per body part of the source frame.

Kundu et al. (CVPR 2020) disentangle *what a part looks like* from *where it is*: features of
the source frame are pooled inside each of the source's own part maps, so the vector of part p
describes p's appearance only; the decoder then paints it wherever the target pose puts p.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from posesynth.models.blocks import ResBlock, norm


def masked_average_pool(features: torch.Tensor, maps: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Average of ``features`` inside each soft map: a_p = Σ_x m_p(x) f(x) / Σ_x m_p(x).

    Args:
        features: (B, C, H, W).
        maps: (B, P, H', W') non-negative weights; resized to (H, W) by area averaging.
    Returns:
        (B, P, C).
    """
    if maps.shape[-2:] != features.shape[-2:]:
        maps = F.adaptive_avg_pool2d(maps, features.shape[-2:])
    total = torch.einsum("bphw,bchw->bpc", maps, features)
    return total / (maps.sum(dim=(2, 3)).unsqueeze(-1) + eps)


class AppearanceEncoder(nn.Module):
    """CNN features of the source frame pooled per part.

    Args:
        channels: appearance vector size C.
        width: channels of the first conv.
        downsample: the feature map is 1/2**downsample of the input (pooling over coarser
            features is cheaper and covers more context per pixel).
    """

    def __init__(self, channels: int = 64, width: int = 32, downsample: int = 1):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, 1, 1, bias=False), norm(width), nn.SiLU()]
        c = width
        for _ in range(downsample):
            layers.append(ResBlock(c, 2 * c, stride=2))
            c *= 2
        layers += [ResBlock(c, c), nn.Conv2d(c, channels, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, part_maps: torch.Tensor) -> torch.Tensor:
        """Per-part appearance of ``image``.

        Args:
            image: (B, 3, H, W) source RGB in [0, 1].
            part_maps: (B, P, H, W) the source's part maps (no background channel).
        Returns:
            (B, P, C) appearance vectors.
        """
        return masked_average_pool(self.net(image * 2 - 1), part_maps)
