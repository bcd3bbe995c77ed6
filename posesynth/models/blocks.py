"""Small convolutional building blocks shared by the encoders and the decoder."""

from __future__ import annotations

import torch
from torch import nn


def norm(channels: int) -> nn.GroupNorm:
    """GroupNorm: unlike BatchNorm it behaves the same at batch size 2 on a CPU and 64 on a GPU,
    and needs no running statistics (exact resume, identical eval and train behaviour)."""
    return nn.GroupNorm(min(8, channels), channels)


class ResBlock(nn.Module):
    """A ResNet basic block (He et al. 2016): two 3×3 convs with a skip; ``stride`` 2 halves H, W.

    x: (B, C_in, H, W) → (B, C_out, H / stride, W / stride).
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.norm1 = norm(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.norm2 = norm(c_out)
        self.skip = (nn.Identity() if stride == 1 and c_in == c_out
                     else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), norm(c_out)))
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.norm1(self.conv1(x)))
        h = self.norm2(self.conv2(h))
        return self.act(h + self.skip(x))


class UpBlock(nn.Module):
    """Upsample ×2 (nearest, then conv: no checkerboard artefacts), concatenate a skip, refine.

    x: (B, C_in, H, W), skip: (B, C_skip, 2H, 2W) → (B, C_out, 2H, 2W).
    """

    def __init__(self, c_in: int, c_skip: int, c_out: int):
        super().__init__()
        self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1))
        self.block = ResBlock(c_out + c_skip, c_out)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.block(torch.cat([self.up(x), skip], dim=1))
