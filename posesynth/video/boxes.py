"""Person boxes as numbers: tight boxes around 2D points, smoothed over time, squared into crop boxes.

Boxes are ``x0, y0, x1, y1`` pixel-index extents (x1/y1 exclusive); tight boxes are float with
NaN rows for "no box in this frame", crop boxes square, integer, possibly reaching outside the
frame (see :mod:`posesynth.data.crops` for the conventions and the crops themselves).
"""

from __future__ import annotations

import warnings

import numpy as np


def keypoint_boxes(keypoints: np.ndarray, scores: np.ndarray | None = None, *, min_score: float = 0.3,
                   pad: float = 0.1) -> np.ndarray:
    """Tight person boxes around the confident 2D keypoints of each frame.

    Joints are centres, while the body reaches past them (head top, hands, feet), so the extents
    are padded by ``pad`` × the longer extent on every side.

    Args:
        keypoints: (F, J, 2) pixels (u, v); NaN for a missing joint.
        scores: (F, J) confidences; a joint counts when its score ≥ ``min_score``. None: all count.
    Returns:
        (F, 4) float64 x0, y0, x1, y1 pixels; NaN rows where fewer than 2 joints are confident.
    """
    ok = np.isfinite(keypoints).all(axis=-1)
    if scores is not None:
        ok &= scores >= min_score
    points = np.where(ok[..., None], keypoints, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames are expected: they stay NaN
        lo, hi = np.nanmin(points, axis=1), np.nanmax(points, axis=1)
    extent = np.max(hi - lo, axis=1, keepdims=True)
    boxes = np.concatenate([lo - pad * extent, hi + 1 + pad * extent], axis=1)
    boxes[ok.sum(axis=1) < 2] = np.nan
    return boxes


def smooth_boxes(boxes: np.ndarray, radius: int) -> np.ndarray:
    """Temporal median of boxes over a centred window of ``radius`` frames each side, ignoring NaN.

    A centred median follows a steadily moving person without lag and removes single-frame
    outliers. Near the ends the window shrinks symmetrically (a one-sided window would drag the
    first and last boxes towards the middle); gaps are filled from the whole window. Box i depends only
    on rows i ± radius, so a window read around one frame gives the same box as the whole video
    (what keeps raw reads and the cache equal).

    Args:
        boxes: (F, 4) float x0, y0, x1, y1 pixels, NaN rows missing.
    Returns:
        (F, 4) float64, NaN rows where the whole window is missing.
    """
    frames = len(boxes)
    padded = np.pad(np.asarray(boxes, np.float64), ((radius, radius), (0, 0)), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * radius + 1, axis=0)  # (F, 4, 2r+1)
    reach = np.minimum(radius, np.minimum(np.arange(frames), frames - 1 - np.arange(frames)))  # (F,)
    outside = np.abs(np.arange(-radius, radius + 1))[None, :] > reach[:, None]  # (F, 2r+1)
    centred = np.where(outside[:, None, :], np.nan, windows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN window stays NaN
        smooth = np.nanmedian(centred, axis=-1)
        gaps = np.isnan(smooth).any(axis=1)  # e.g. a missing first box: borrow from the one-sided window
        smooth[gaps] = np.nanmedian(windows[gaps], axis=-1)
    return smooth


def square_boxes(boxes: np.ndarray, margin: float) -> np.ndarray:
    """Square integer crop boxes centred on tight boxes, side ``margin`` × the longer side.

    Args:
        boxes: (N, 4) float x0, y0, x1, y1 pixels, no NaN.
        margin: crop side over the box's longer side (≥ 1 keeps the whole box).
    Returns:
        (N, 4) int64 x0, y0, x0 + side, y0 + side pixels; may extend outside the frame.
    """
    boxes = np.asarray(boxes, np.float64)
    side = np.maximum(2, np.ceil(margin * np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])))
    x0 = np.floor((boxes[:, 0] + boxes[:, 2] - side) / 2 + 0.5)
    y0 = np.floor((boxes[:, 1] + boxes[:, 3] - side) / 2 + 0.5)
    return np.stack([x0, y0, x0 + side, y0 + side], axis=1).astype(np.int64)


def center_box(width: int, height: int) -> np.ndarray:
    """The fallback crop: the largest centred square, (4,) int64 x0, y0, x1, y1 pixels."""
    side = min(width, height)
    x0, y0 = (width - side) // 2, (height - side) // 2
    return np.array([x0, y0, x0 + side, y0 + side], np.int64)


def person_boxes(tight: np.ndarray, width: int, height: int, *, margin: float, radius: int) -> np.ndarray:
    """Crop boxes from tight per-frame boxes: smooth, square with margin, centred crop where none.

    Args:
        tight: (F, 4) float x0, y0, x1, y1 pixels, NaN rows missing.
        width, height: frame size in pixels.
    Returns:
        (F, 4) int64 square crop boxes, pixels.
    """
    smooth = smooth_boxes(tight, radius)
    found = ~np.isnan(smooth).any(axis=1)
    out = np.broadcast_to(center_box(width, height), smooth.shape).copy()
    if found.any():
        out[found] = square_boxes(smooth[found], margin)
    return out


__all__ = ["keypoint_boxes", "smooth_boxes", "square_boxes", "center_box", "person_boxes"]
