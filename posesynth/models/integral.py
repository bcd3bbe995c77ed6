"""Integral read-out of heatmaps: soft-argmax for 2D, the same weights for per-joint maps.

Integral regression (Sun et al., ECCV 2018): a joint's position is the expectation of pixel
coordinates under the softmax of its heatmap, Σ_p softmax(h)_p · p, which is differentiable
everywhere, unlike an argmax, and sub-pixel accurate. Any other per-joint map (a depth map, as
in the 2D-heatmaps-plus-depth design of Zhou et al., ICCV 2017) is read out with the same
weights, so "where the joint is" also decides "which depth is meant".
"""

from __future__ import annotations

import torch
from einops import rearrange


def heatmap_grid(height: int, width: int, image_size: int, *, dtype: torch.dtype = torch.float32,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """Crop-pixel coordinates of the centres of a heatmap's cells.

    A heatmap of ``height × width`` cells covers the whole ``image_size`` crop; cell (i, j) has
    its centre at ((j + ½)·S/W − ½, (i + ½)·S/H − ½) in pixels whose centres are integers.

    Returns:
        (H, W, 2) pixels, (u, v) = (x, y).
    """
    ys = (torch.arange(height, dtype=dtype, device=device) + 0.5) * (image_size / height) - 0.5
    xs = (torch.arange(width, dtype=dtype, device=device) + 0.5) * (image_size / width) - 0.5
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1)


def soft_argmax(logits: torch.Tensor, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected pixel position of each heatmap (Sun et al. 2018, eq. 3).

    Args:
        logits: (B, J, H, W) unnormalised heatmaps over the whole crop.
        image_size: crop side S, pixels.
    Returns:
        ``coords`` (B, J, 2) crop pixels (x, y); ``weights`` (B, J, H, W) the softmax, summing to 1
        over each heatmap.
    """
    b, j, h, w = logits.shape
    weights = rearrange(torch.softmax(rearrange(logits, "b j h w -> b j (h w)"), dim=-1),
                        "b j (h w) -> b j h w", h=h, w=w)
    grid = heatmap_grid(h, w, image_size, dtype=logits.dtype, device=logits.device)
    coords = torch.einsum("bjhw,hwc->bjc", weights, grid)
    return coords, weights


def integrate(maps: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Read one value per joint out of per-joint maps with soft-argmax weights.

    Args:
        maps: (B, J, H, W) any per-pixel quantity (e.g. root-relative depth, metres).
        weights: (B, J, H, W) from :func:`soft_argmax`.
    Returns:
        (B, J), the weighted average of each map, in the maps' units.
    """
    return (maps * weights).sum(dim=(-2, -1))


def gaussian_logits(centres: torch.Tensor, height: int, width: int, image_size: int, sigma_cells: float
                    ) -> torch.Tensor:
    """Log of isotropic Gaussians (up to a constant) centred at given pixels: a heatmap prior.

    Args:
        centres: (J, 2) crop pixels.
        height, width: heatmap cells. image_size: crop side S, pixels.
        sigma_cells: standard deviation in heatmap cells.
    Returns:
        (J, H, W) logits −d²/(2σ²), d the distance to the centre in cells.
    """
    grid = heatmap_grid(height, width, image_size, dtype=centres.dtype, device=centres.device)
    cell = image_size / width
    d2 = ((grid[None] - centres[:, None, None]) / cell).pow(2).sum(-1)
    return -d2 / (2 * sigma_cells ** 2)
