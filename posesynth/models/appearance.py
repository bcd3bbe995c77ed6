"""The appearance encoder: one appearance vector per body part of the source frame.

Kundu et al. (CVPR 2020) disentangle *what a part looks like* from *where it is*: features of
the source frame are pooled inside each of the source's own part maps, so the vector of part p
describes p's appearance only; the decoder then paints it wherever the target pose puts p.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn



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
    """Local colour/texture features of the source frame, pooled per part.

    The features deliberately see only a 3×3 neighbourhood (one 3×3 conv, then 1×1 convs, no
    normalisation over the image). With a wide receptive field the pooled vectors can encode
    the source's silhouette, and since source and target are frames of one clip the decoder then
    rebuilds the target's shape from them and stops needing the pose — observed in training:
    part maps collapsed to the initial pose while the synthesis still showed the person. Local
    features can describe what a part looks like, not where the body is.

    Args:
        channels: appearance vector size C.
        width: hidden channels.
    """

    def __init__(self, channels: int = 64, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1), nn.SiLU(), nn.Conv2d(width, width, 1), nn.SiLU(),
                                 nn.Conv2d(width, channels, 1))

    def forward(self, image: torch.Tensor, part_maps: torch.Tensor) -> torch.Tensor:
        """Per-part appearance of ``image``.

        Args:
            image: (B, 3, H, W) source RGB in [0, 1].
            part_maps: (B, P, H, W) the source's part maps (no background channel).
        Returns:
            (B, P, C) appearance vectors.
        """
        return masked_average_pool(self.net(image * 2 - 1), part_maps)
