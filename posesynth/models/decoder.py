"""The decoder: target part maps + source part appearance + background → synthesised target.

Kundu et al. (AAAI 2020, CVPR 2020): the source's per-part appearance is spread over the
*target's* part maps, a U-Net renders the person, and the background is fused near the end.
Here the network also predicts a soft foreground mask and composites the person over the
background frame, so it never has to re-synthesise the (static) background itself. The mask is
multiplied by the puppet's own coverage: the decoder may carve the silhouette inside the puppet
but cannot paint the person where the puppet is not, so a limb the pose misses shows background
and its reconstruction error pulls the pose towards it. Without this the decoder learns to paint
a generic person at the crop centre and the pose gets almost no gradient.
"""

from __future__ import annotations

import torch
from torch import nn

from posesynth.models.blocks import ResBlock, UpBlock, norm


def spread_appearance(part_maps: torch.Tensor, appearance: torch.Tensor) -> torch.Tensor:
    """Paint each part's appearance vector where its map is: g(x) = Σ_p m_p(x) a_p.

    Args:
        part_maps: (B, P, H, W) soft part maps (no background channel).
        appearance: (B, P, C).
    Returns:
        (B, C, H, W).
    """
    return torch.einsum("bphw,bpc->bchw", part_maps, appearance)


class Decoder(nn.Module):
    """U-Net generator with foreground-mask compositing.

    Args:
        num_parts: P, the part maps' channels without the background.
        appearance_channels: C of the appearance vectors.
        width: channels at full resolution; doubled per level.
        levels: number of downsamplings (input side divisible by 2**levels).
    """

    def __init__(self, num_parts: int, appearance_channels: int = 64, width: int = 32, levels: int = 3):
        super().__init__()
        c_in = appearance_channels + num_parts + 1
        self.stem = nn.Sequential(nn.Conv2d(c_in, width, 3, 1, 1, bias=False), norm(width), nn.SiLU())
        self.down = nn.ModuleList()
        channels = [width]
        for _ in range(levels):
            self.down.append(ResBlock(channels[-1], 2 * channels[-1], stride=2))
            channels.append(2 * channels[-1])
        self.middle = ResBlock(channels[-1], channels[-1])
        self.up = nn.ModuleList(UpBlock(channels[i + 1], channels[i], channels[i]) for i in reversed(range(levels)))
        # the background joins only at full resolution, just before the output (as in the paper)
        self.fuse = ResBlock(width + 3, width)
        self.out = nn.Conv2d(width, 4, 1)

    def forward(self, part_maps: torch.Tensor, appearance: torch.Tensor, background: torch.Tensor,
                coverage: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Synthesise the target frame.

        Args:
            part_maps: (B, P+1, H, W) target part maps, background channel last.
            appearance: (B, P, C) source part appearance.
            background: (B, 3, H, W) the target's background crop, RGB in [0, 1].
            coverage: (B, 1, H, W) in [0, 1], where the person may appear (the puppet's
                foreground); None for anywhere.
        Returns:
            ``image`` (B, 3, H, W) in [0, 1], the composite; ``foreground`` (B, 3, H, W) the
            rendered person; ``mask`` (B, 1, H, W) in [0, 1], the person's soft mask.
        """
        spread = spread_appearance(part_maps[:, :-1], appearance)
        h = self.stem(torch.cat([spread, part_maps], dim=1))
        skips = [h]
        for block in self.down:
            h = block(h)
            skips.append(h)
        h = self.middle(skips.pop())
        for block in self.up:
            h = block(h, skips.pop())
        h = self.fuse(torch.cat([h, background * 2 - 1], dim=1))
        out = self.out(h)
        foreground = torch.sigmoid(out[:, :3])
        mask = torch.sigmoid(out[:, 3:4])
        if coverage is not None:
            mask = mask * coverage
        return {"image": mask * foreground + (1 - mask) * background, "foreground": foreground, "mask": mask}
