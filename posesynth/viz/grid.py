"""Image grids: rows of examples, columns of views (source | target | part maps | synthesis).

Shared by the trainer's sample grids and ``posesynth visualize``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from einops import rearrange
from skimage.io import imsave


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) float in [0, 1] → (B, H, W, 3) uint8."""
    array = images.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu()
    return rearrange(array, "b c h w -> b h w c").numpy()


def make_grid(columns: Sequence[torch.Tensor], pad: int = 2, upscale: int = 1) -> np.ndarray:
    """Tile images: one row per example, one column per entry of ``columns``.

    Args:
        columns: each (B, 3, H, W) in [0, 1]; all the same shape.
        pad: white pixels between tiles.
        upscale: nearest-neighbour magnification (small crops are hard to see).
    Returns:
        (B·(H·upscale + pad) + pad, C·(W·upscale + pad) + pad, 3) uint8.
    """
    tiles = np.stack([to_uint8(c) for c in columns], axis=1)               # (B, C, H, W, 3)
    if upscale > 1:
        tiles = tiles.repeat(upscale, axis=2).repeat(upscale, axis=3)
    tiles = np.pad(tiles, ((0, 0), (0, 0), (pad, 0), (pad, 0), (0, 0)), constant_values=255)
    grid = rearrange(tiles, "b c h w rgb -> (b h) (c w) rgb")
    return np.pad(grid, ((0, pad), (0, pad), (0, 0)), constant_values=255)


def save_png(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Write an (H, W, 3) uint8 image as PNG atomically (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    imsave(tmp, image, check_contrast=False)
    os.replace(tmp, path)
    return path
