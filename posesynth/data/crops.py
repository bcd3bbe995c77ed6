"""Person boxes and square crops: from the foreground, from sidecar files, or centred.

Conventions
-----------
* Points are pixels (u, v) with (0, 0) the *centre* of the top-left pixel (docs/architecture.md).
* Boxes are ``x0, y0, x1, y1`` pixel-index extents: the box holds pixel columns ``x0 ≤ u < x1``
  and rows ``y0 ≤ v < y1`` (x1/y1 exclusive), so its edges lie at ``x0 − ½`` and ``x1 − ½`` in
  point coordinates. Tight person boxes are float with NaN rows for "no box in this frame";
  crop boxes are square, integer, and may reach outside the frame (the crop is padded).
* Cropping box ``(x0, y0, x0 + side, y0 + side)`` and resizing to ``S × S`` pixels is the
  similarity ``u' = s·(u − x0 + ½) − ½`` with ``s = S / side`` (edges map to edges), so the crop's
  intrinsics are ``K_crop = A · K`` with ``A = [[s, 0, s(½ − x0) − ½], [0, s, s(½ − y0) − ½],
  [0, 0, 1]]`` (:func:`crop_matrix`). This is ``[[s, 0, −s·x̃0], …]`` with ``x̃0 = x0 − ½ + ½/s``,
  the point the centre of crop pixel 0 samples.

Sidecars next to ``clip.mp4`` (docs/data.md): ``clip.boxes.json`` (a list with one
``[x0, y0, x1, y1]`` or ``null`` per frame), ``clip.boxes.npy`` ((F, 4) float, NaN rows missing),
``clip.keypoints.npz`` / ``clip.keypoints.json`` (any joint count; read by
:func:`posesynth.data.keypoints2d.read_keypoint_arrays`, formats documented there).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from skimage.measure import label
from skimage.morphology import disk, opening

from posesynth.data.arrays import load_array
from posesynth.data.keypoints2d import KEYPOINT_SUFFIXES, KeypointsError, find_keypoints, read_keypoint_arrays
from posesynth.geometry import crop_camera_rotation
from posesynth.video.boxes import keypoint_boxes
from posesynth.video.index import file_beside

BOX_SUFFIXES: tuple[str, ...] = (".boxes.json", ".boxes.npy")
SIDECAR_SUFFIXES: tuple[str, ...] = BOX_SUFFIXES + KEYPOINT_SUFFIXES
BOX_SOURCES: tuple[str, ...] = ("auto", "foreground", "sidecar", "center")


class SidecarError(ValueError):
    """A box or keypoint sidecar file that does not match its video; the message names the file."""


# --- boxes from the foreground ----------------------------------------------------------------

def foreground_box(frame: np.ndarray, background: np.ndarray, *, threshold: float = 25.0, max_side: int = 160,
                   min_fraction: float = 0.002, max_fraction: float = 0.6, trim: float = 0.005) -> np.ndarray | None:
    """The tight box of what moves in ``frame`` against a static ``background``.

    The absolute difference is block-averaged down to at most ``max_side`` cells a side (cheap on
    1080p frames, and averaging suppresses compression noise), thresholded, opened with a disk to
    drop speckle, and components far smaller than the largest are dropped (shadows, noise).

    Args:
        frame, background: (H, W, 3) uint8 RGB.
        threshold: a cell is foreground when its largest channel difference exceeds this (0–255).
        max_side: the mask's longer side in cells.
        min_fraction, max_fraction: a mask covering less (nothing moves: the person stands still
            or left) or more (lighting change, camera moved) of the frame is rejected.
        trim: fraction of foreground cells ignored at each extreme of x and y (robust extents).
    Returns:
        (4,) float64 tight box x0, y0, x1, y1 in pixels, or None when the foreground is rejected.
    """
    height, width = frame.shape[:2]
    f = max(1, math.ceil(max(height, width) / max_side))
    h, w = height // f, width // f
    # torch: ~4x faster than numpy for the full-resolution difference (numpy's max over an axis of 3 is slow)
    pixels, empty = (torch.from_numpy(x[:h * f, :w * f]).to(torch.int16) for x in (frame, background))
    diff = (pixels - empty).abs().amax(dim=-1).float()
    cells = F.avg_pool2d(rearrange(diff, "h w -> 1 1 h w"), f) if f > 1 else rearrange(diff, "h w -> 1 1 h w")
    mask = opening(cells[0, 0].numpy() > threshold, disk(1))
    if not min_fraction <= mask.mean() <= max_fraction:
        return None
    labels = label(mask)
    areas = np.bincount(labels.ravel())[1:]
    mask = np.isin(labels, 1 + np.flatnonzero(areas >= 0.1 * areas.max()))
    ys, xs = np.nonzero(mask)
    x0, x1 = np.quantile(xs, [trim, 1 - trim])
    y0, y1 = np.quantile(ys, [trim, 1 - trim])
    box = np.array([math.floor(x0), math.floor(y0), math.floor(x1) + 1, math.floor(y1) + 1], np.float64) * f
    return np.minimum(box, [width, height, width, height])


# --- boxes from sidecar files -------------------------------------------------------------------

def find_sidecar(video: str | Path, keypoints: str | Path | None = None) -> Path | None:
    """The box source file of ``video``, or None: a box sidecar beside it, else its keypoint file
    (in the folder ``keypoints`` when given, e.g. ``data.keypoints2d``, else beside it); suffixes
    in the order of :data:`SIDECAR_SUFFIXES`."""
    return file_beside(video, BOX_SUFFIXES) or find_keypoints(video, keypoints)


def read_sidecar_boxes(path: str | Path, frames: int, *, min_score: float = 0.3, pad: float = 0.1) -> np.ndarray:
    """Tight person boxes from a sidecar file (format by suffix, see module docstring).

    Args:
        path: a ``.boxes.json``, ``.boxes.npy``, ``.keypoints.npz`` or ``.keypoints.json`` file.
        frames: the video's frame count; the sidecar must hold exactly one entry per frame.
        min_score, pad: keypoint sidecars only, see :func:`keypoint_boxes`.
    Returns:
        (F, 4) float64 x0, y0, x1, y1 pixels, NaN rows for missing boxes.
    Raises:
        SidecarError naming the file and what was expected.
    """
    path = Path(path)
    name = path.name
    try:
        if name.endswith(".boxes.json"):
            boxes = _boxes_from_json(path)
        elif name.endswith(".boxes.npy"):
            boxes = np.asarray(load_array(path, "an (F, 4) array of boxes"), np.float64)
            if boxes.ndim != 2 or boxes.shape[1] != 4:
                raise SidecarError(f"{path}: expected an (F, 4) array of x0, y0, x1, y1 per frame, "
                                   f"got shape {boxes.shape}")
        elif name.endswith((".keypoints.npz", ".keypoints.json")):
            boxes = _boxes_from_keypoints_file(path, min_score, pad)
        else:
            raise SidecarError(f"{path}: unknown sidecar type; expected one of {', '.join(SIDECAR_SUFFIXES)}")
    except SidecarError:
        raise
    except (OSError, ValueError) as error:  # unreadable file, bad JSON, bad .npy/.npz
        raise SidecarError(f"{path}: cannot read it as a {name.split('.', 1)[-1]} sidecar ({error})") from error
    if len(boxes) != frames:
        raise SidecarError(f"{path}: has {len(boxes)} entries but the video has {frames} frames; expected "
                           f"exactly one box (or null / NaN for a missing one) per frame")
    given = ~np.isnan(boxes).any(axis=1)
    bad = given & ~((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]) & np.isfinite(boxes).all(axis=1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SidecarError(f"{path}: box of frame {i} is {boxes[i].tolist()}; expected x0 < x1 and y0 < y1 "
                           f"(pixels, x0, y0, x1, y1)")
    boxes[~given] = np.nan
    return boxes


def _boxes_from_json(path: Path) -> np.ndarray:
    """(F, 4) boxes from a JSON list of ``[x0, y0, x1, y1]`` or ``null``."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise SidecarError(f"{path}: expected a JSON list with one [x0, y0, x1, y1] or null per frame, "
                           f"got a {type(entries).__name__}")
    boxes = np.full((len(entries), 4), np.nan)
    for i, entry in enumerate(entries):
        if entry is None:
            continue
        if not (isinstance(entry, list) and len(entry) == 4
                and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in entry)):
            raise SidecarError(f"{path}: entry {i} is {entry!r}; expected [x0, y0, x1, y1] numbers or null")
        boxes[i] = entry
    return boxes


def _boxes_from_keypoints_file(path: Path, min_score: float, pad: float) -> np.ndarray:
    """(F, 4) boxes from a keypoint sidecar (any joint count, no skeleton mapping needed)."""
    try:
        keypoints, scores, _ = read_keypoint_arrays(path)
    except KeypointsError as error:
        raise SidecarError(str(error)) from error
    return keypoint_boxes(keypoints, scores, min_score=min_score, pad=pad)


def initial_boxes(video: str | Path, frames: int, box_source: str,
                  keypoints: str | Path | None = None) -> tuple[str, np.ndarray]:
    """Decide where a video's person boxes come from, and load them when they come from a file.

    Args:
        video: the video file (sidecars are looked up next to it).
        frames: its frame count.
        box_source: "auto" (a sidecar if there is one, else the foreground), "foreground",
            "sidecar" (one must exist) or "center" (always the centred crop).
        keypoints: a folder of keypoint files to look in first (``data.keypoints2d``), or None.
    Returns:
        (mode, tight): mode is "foreground" (``tight`` is all NaN, to be filled from the frames),
        "sidecar:<file name>" or "center"; tight is (F, 4) float64 pixels, NaN rows missing.
        :func:`foreground_frames` says which rows the foreground fills.
    Raises:
        SidecarError for a malformed sidecar, or box_source="sidecar" without one.
    """
    if box_source not in BOX_SOURCES:
        raise ValueError(f"box_source must be one of {BOX_SOURCES}, got {box_source!r}")
    empty = np.full((frames, 4), np.nan)
    if box_source == "center":
        return "center", empty
    sidecar = find_sidecar(video, keypoints) if box_source in ("auto", "sidecar") else None
    if sidecar is not None:
        return f"sidecar:{sidecar.name}", read_sidecar_boxes(sidecar, frames)
    if box_source == "sidecar":
        stem = Path(video).with_suffix("")
        raise SidecarError(f"{video}: box_source is 'sidecar' but there is no sidecar file; expected one of "
                           + ", ".join(f"{stem.name}{suffix}" for suffix in SIDECAR_SUFFIXES) + " next to it")
    return "foreground", empty


def foreground_frames(mode: str, tight: np.ndarray) -> np.ndarray:
    """Which frames' tight boxes come from the foreground (against the median background).

    Every frame in "foreground" mode; with a keypoint sidecar, the frames whose keypoints give no
    box (nobody detected there: the keypoints come first, the background fills their gaps); none
    with a box sidecar (its missing boxes are a choice, e.g. for a moving camera) or "center".

    Args:
        mode, tight: from :func:`initial_boxes`; tight (F, 4).
    Returns:
        (F,) bool.
    """
    if mode == "foreground":
        return np.ones(len(tight), bool)
    if mode.startswith("sidecar:") and mode.endswith(KEYPOINT_SUFFIXES):
        return np.isnan(tight).any(axis=1)
    return np.zeros(len(tight), bool)


# --- cropping and its intrinsics --------------------------------------------------------------

def crop_and_resize(image: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """Cut a square box out of an image (zero padding outside it) and resize it to ``size``.

    The resize is antialiased bilinear with edges mapped to edges, which is exactly the
    similarity of :func:`crop_matrix`.

    Args:
        image: (H, W, 3) uint8 RGB.
        box: (4,) int x0, y0, x1, y1 pixels, square, may reach outside the image.
        size: output side S in pixels.
    Returns:
        (S, S, 3) uint8 RGB.
    """
    x0, y0, x1, y1 = (int(v) for v in box)
    height, width = image.shape[:2]
    window = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    ix0, iy0, ix1, iy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if ix1 > ix0 and iy1 > iy0:
        window[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0] = image[iy0:iy1, ix0:ix1]
    if window.shape[:2] == (size, size):
        return window
    tensor = rearrange(torch.from_numpy(window).float(), "h w c -> 1 c h w")
    resized = F.interpolate(tensor, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return rearrange(resized.round().clamp(0, 255).to(torch.uint8), "1 c h w -> h w c").numpy()


def crop_matrix(box: np.ndarray, size: int) -> np.ndarray:
    """The 3×3 map A from full-frame pixels to crop pixels, ``K_crop = A @ K``.

    Args:
        box: (4,) x0, y0, x1, y1 pixels of a square crop box (pixel-index extents).
        size: crop side S after resizing, pixels.
    Returns:
        (3, 3) float64 ``[[s, 0, s(½ − x0) − ½], [0, s, s(½ − y0) − ½], [0, 0, 1]]``, s = S / side;
        pixel (0, 0) is the centre of the top-left pixel in both frames.
    """
    x0, y0, x1, _ = (float(v) for v in box)
    s = size / (x1 - x0)
    return np.array([[s, 0.0, s * (0.5 - x0) - 0.5], [0.0, s, s * (0.5 - y0) - 0.5], [0.0, 0.0, 1.0]])


def crop_to_frame(points, box, size: int):
    """Crop pixels back to the video's pixels: the inverse of :func:`crop_matrix`.

    Works on numpy arrays and torch tensors alike (batched boxes broadcast over the joints).

    Args:
        points: (..., 2) pixels in an S × S crop; it may have more axes than ``box`` (e.g.
            (B, J, 2) joints with (B, 4) boxes, or (J, 2) with one (4,) box).
        box: (..., 4) square crop boxes x0, y0, x1, y1, video pixels.
        size: crop side S.
    Returns:
        video pixels, ``points``' shape (broadcast with the boxes): u = (u' + ½)·side/S + x0 − ½.
    """
    origin, side = box[..., :2], (box[..., 2] - box[..., 0])[..., None]
    for _ in range(points.ndim - box.ndim):  # one box per frame, broadcast over its joints
        origin, side = origin[..., None, :], side[..., None, :]
    return (points + 0.5) * side / size + origin - 0.5


def crop_intrinsics(K: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """Intrinsics of a crop: (3, 3) or (..., 3, 3) ``K`` in full-frame pixels → ``crop_matrix @ K``."""
    return crop_matrix(box, size) @ np.asarray(K, np.float64)


def crop_rotations(K: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Each crop's X_crop = R·X_cam rotation (:func:`posesynth.geometry.crop_camera_rotation`).

    Args:
        K: (3, 3) full-frame intrinsics, pixels.
        boxes: (N, 4) square crop boxes x0, y0, x1, y1 in pixels (NaN rows: the centred crop, no turn).
    Returns:
        (N, 3, 3) float64.
    """
    centre = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2 - 0.5, (boxes[:, 1] + boxes[:, 3]) / 2 - 0.5], -1)
    centre = np.where(np.isfinite(centre), centre, K[:2, 2])
    return crop_camera_rotation(torch.as_tensor(K, dtype=torch.float64).expand(len(boxes), 3, 3),
                                torch.as_tensor(centre, dtype=torch.float64)).numpy()


def to_crop_frame(pose: np.ndarray, K: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The inverse of :func:`posesynth.evaluation.model_eval.to_camera_frame`: camera-frame poses (N, 17, 3) → each crop's frame, X_crop = R·X_cam."""
    return np.einsum("nij,nkj->nki", crop_rotations(K, boxes), pose)


__all__ = ["BOX_SUFFIXES", "SIDECAR_SUFFIXES", "BOX_SOURCES", "SidecarError", "foreground_box", "find_sidecar",
           "read_sidecar_boxes", "initial_boxes", "foreground_frames", "crop_and_resize",
           "crop_matrix", "crop_intrinsics", "crop_rotations", "to_crop_frame"]
