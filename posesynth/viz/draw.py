"""Drawing on images with skimage.draw: skeletons, part-map overlays, 3D skeleton views.

Shared by the trainer's sample grids, ``posesynth visualize`` and ``posesynth predict``.
Points are pixels (u, v) with (0, 0) the centre of the top-left pixel (docs/architecture.md);
bone p is drawn in the colour of puppet part p (:data:`posesynth.render.puppet.PART_COLORS`:
the subject's left warm, right cool, trunk grey), so skeletons and part maps read alike.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from einops import rearrange, repeat
from skimage.draw import disk, polygon

from posesynth import skeleton
from posesynth.render.puppet import PART_COLORS, colorize_part_maps
from posesynth.viz.grid import make_grid, to_uint8

BONE_COLORS: np.ndarray = (np.asarray(PART_COLORS[:-1]) * 255).round().astype(np.uint8)  # (16, 3), bone order
VIEWS: tuple[str, ...] = ("front", "side", "top")


# --- 2D skeletons -----------------------------------------------------------------------------

def draw_segment(image: np.ndarray, start: np.ndarray, end: np.ndarray, color: np.ndarray, thickness: float) -> None:
    """Draw a filled bar from ``start`` to ``end`` in place (a quad around the segment, clipped).

    Args:
        image: (H, W, 3) uint8, changed in place.
        start, end: (2,) pixels (u, v).
        color: (3,) uint8 RGB.
        thickness: bar width, pixels.
    """
    d = np.asarray(end, np.float64) - np.asarray(start, np.float64)
    length = math.hypot(*d)
    if not np.isfinite(length):
        return
    normal = np.array([-d[1], d[0]]) / length * thickness / 2 if length > 0 else np.zeros(2)
    corners = np.stack([start + normal, end + normal, end - normal, start - normal])  # (4, 2) u, v
    rows, cols = polygon(corners[:, 1], corners[:, 0], shape=image.shape[:2])
    image[rows, cols] = color


def draw_skeleton(image: np.ndarray, joints2d: np.ndarray, thickness: float = 2.0,
                  joint_color: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Draw the 17-joint skeleton on a copy of ``image``: coloured bones, then joint dots.

    Args:
        image: (H, W, 3) uint8 RGB.
        joints2d: (17, 2) pixels (u, v); joints off the image are clipped, NaN joints skipped.
        thickness: bone width in pixels; joint dots have the same diameter plus one.
        joint_color: RGB of the joint dots.
    Returns:
        (H, W, 3) uint8, a new array.
    """
    out = np.ascontiguousarray(image).copy()
    points = np.asarray(joints2d, np.float64)
    for p, (a, b) in enumerate(skeleton.BONES):
        if np.isfinite(points[[a, b]]).all():
            draw_segment(out, points[a], points[b], BONE_COLORS[p], thickness)
    for u, v in points:
        if np.isfinite(u) and np.isfinite(v):
            rows, cols = disk((v, u), (thickness + 1) / 2 + 0.5, shape=out.shape[:2])
            out[rows, cols] = joint_color
    return out


def upscale_points(points: torch.Tensor | np.ndarray, factor: int):
    """Pixel points after a nearest-neighbour upscale by ``factor``: u' = f·(u + ½) − ½ (edges map to edges)."""
    return factor * (points + 0.5) - 0.5


def upscale(images: torch.Tensor, factor: int) -> torch.Tensor:
    """Nearest-neighbour upscale.  (B, C, H, W) → (B, C, H·f, W·f)."""
    if factor == 1:
        return images
    return repeat(images, "b c h w -> b c (h f1) (w f2)", f1=factor, f2=factor)


def with_skeletons(images: torch.Tensor, joints2d: torch.Tensor, thickness: float | None = None) -> torch.Tensor:
    """Skeletons drawn over a batch of images.

    Args:
        images: (B, 3, H, W) RGB in [0, 1].
        joints2d: (B, 17, 2) pixels in those images.
        thickness: bone width, pixels; default H / 40 (at least 1).
    Returns:
        (B, 3, H, W) float32 RGB in [0, 1] (quantised to 8 bits), on the CPU.
    """
    thickness = thickness or max(1.0, images.shape[-2] / 40)
    points = joints2d.detach().float().cpu().numpy()
    drawn = np.stack([draw_skeleton(im, p, thickness) for im, p in zip(to_uint8(images), points)])
    return rearrange(torch.from_numpy(drawn), "b h w c -> b c h w").float() / 255


# --- part maps ----------------------------------------------------------------------------------

def overlay_part_maps(images: torch.Tensor, maps: torch.Tensor, alpha: float = 0.6) -> torch.Tensor:
    """Part maps painted over images, opacity ``alpha`` × the puppet's soft foreground.

    ``colorize_part_maps`` is already Σ_p map_p · colour_p (black background), so the blend is
    image · (1 − α·foreground) + α · colours.

    Args:
        images: (B, 3, H, W) RGB in [0, 1].
        maps: (B, P+1, H, W) part maps, background channel last.
    Returns:
        (B, 3, H, W) RGB in [0, 1].
    """
    maps = maps.float()
    foreground = 1.0 - maps[:, -1:]
    return (images.float() * (1 - alpha * foreground) + alpha * colorize_part_maps(maps)).clamp(0, 1)


# --- 3D skeletons -------------------------------------------------------------------------------

def view_coordinates(pose3d: np.ndarray, view: str) -> np.ndarray:
    """Orthographic 2D coordinates of a camera-frame pose seen from the front, side or top.

    Camera frame: x right, y down, z away from the camera. "front" is the camera's own view
    (x, y); "side" looks from the camera's right, so depth runs left→right (z, y); "top" looks
    down with the far side up (x, −z).

    Args:
        pose3d: (J, 3) metres.
    Returns:
        (J, 2) metres (horizontal, vertical-down).
    """
    x, y, z = np.asarray(pose3d, np.float64).T
    if view == "front":
        return np.stack([x, y], -1)
    if view == "side":
        return np.stack([z, y], -1)
    if view == "top":
        return np.stack([x, -z], -1)
    raise ValueError(f"view must be one of {VIEWS}, got {view!r}")


def skeleton_view(pose3d: np.ndarray, view: str, size: int = 160, extent_m: float = 2.2,
                  background: tuple[int, int, int] = (250, 250, 250)) -> np.ndarray:
    """One orthographic view of a root-relative 3D pose on a plain square canvas.

    Args:
        pose3d: (17, 3) root-relative, camera frame, metres.
        view: "front", "side" or "top" (see :func:`view_coordinates`).
        size: canvas side, pixels.
        extent_m: metres across the canvas (the root at the centre).
    Returns:
        (size, size, 3) uint8 RGB, with a faint cross through the root.
    """
    canvas = np.empty((size, size, 3), np.uint8)
    canvas[:] = background
    centre = (size - 1) / 2
    canvas[int(round(centre)), :] = canvas[:, int(round(centre))] = (215, 215, 215)
    points = view_coordinates(pose3d, view) * (size / extent_m) + centre
    return draw_skeleton(canvas, points, thickness=max(2.0, size / 60), joint_color=(40, 40, 40))


def skeleton_views(pose3d: np.ndarray, size: int = 160, views: tuple[str, ...] = VIEWS, pad: int = 2) -> np.ndarray:
    """Several views of one pose side by side: (size, len(views)·(size + pad) − pad, 3) uint8."""
    tiles = [skeleton_view(pose3d, v, size) for v in views]
    gap = np.full((size, pad, 3), 255, np.uint8)
    return np.concatenate([t for tile in tiles for t in (tile, gap)][:-1], axis=1)


# --- the trainer's sample grid ---------------------------------------------------------------

def sample_grid(batch: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor], rows: int = 4,
                min_side: int = 128) -> np.ndarray:
    """Training sample grid: source | target + predicted skeleton | target part maps | synthesis.

    When the step ran the imitation cycle, a fifth column shows the decoder's painting of the
    sampled unpaired pose with the skeleton the encoder read back from it.

    Args:
        batch: holds ``source`` and ``target`` (B, 3, S, S) in [0, 1].
        outputs: :class:`~posesynth.models.model.PoseSynthModel` outputs: ``joints2d`` (B, 17, 2)
            crop pixels, ``target_maps`` (B, P+1, S, S), ``synthesis`` (B, 3, S, S); optionally
            ``imitation_image`` (B, 3, S, S) and ``imitation_joints2d`` (B, 17, 2).
        rows: examples shown (at most B).
        min_side: crops are upscaled (nearest) by a whole factor to at least this many pixels.
    Returns:
        (rows·(S·f + 2) + 2, C·(S·f + 2) + 2, 3) uint8 image, f the upscale factor, C 4 or 5 columns.
    """
    n = min(rows, batch["target"].shape[0])
    side = batch["target"].shape[-1]
    factor = max(1, math.ceil(min_side / side))
    big = [upscale(t[:n].detach().float().cpu(), factor) for t in
           (batch["source"], batch["target"], outputs["target_maps"], outputs["synthesis"])]
    source, target, maps, synthesis = big
    target = with_skeletons(target, upscale_points(outputs["joints2d"][:n].detach().float().cpu(), factor))
    columns = [source, target, colorize_part_maps(maps), synthesis]
    if "imitation_image" in outputs:
        painted = upscale(outputs["imitation_image"][:n].detach().float().cpu(), factor)
        columns.append(with_skeletons(painted, upscale_points(outputs["imitation_joints2d"][:n].detach().float().cpu(),
                                                              factor)))
    return make_grid(columns)


__all__ = ["BONE_COLORS", "VIEWS", "draw_segment", "draw_skeleton", "upscale_points", "upscale", "with_skeletons",
           "overlay_part_maps", "view_coordinates", "skeleton_view", "skeleton_views", "sample_grid"]
