"""Static-camera backgrounds: the per-pixel median over frames sampled from a window.

A person who moves covers any one pixel in only a minority of frames, so the per-pixel median
over frames spread across a window is the empty scene (Kundu et al. 2020 use the same B_t).

A long video is split into *segments* of about ``window`` frames; every frame of a segment
shares one background, the median of ``samples`` frames spread evenly over the segment. Tying
the background to a fixed segment (rather than a window sliding with each frame) is what lets
a background be computed once and reused by every frame of its segment — both when reading raw
videos (per worker, lazily) and when writing the cache — and makes the two paths agree exactly.
Clips no longer than ``window`` frames are one segment: the whole clip.

The median fails when the person stays in place for most of a segment: the "background" then
holds a ghost of the person, which a synthesis decoder learns to copy instead of using the pose.
A static camera can usually also record the empty scene; such a *background plate* next to the
video (``clip.background.png``, ``.jpg`` or ``.npy``, full resolution) replaces the median.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage.io import imread

from posesynth.video.index import file_beside
from posesynth.video.readers import FrameReader

PLATE_SUFFIXES: tuple[str, ...] = (".background.png", ".background.jpg", ".background.npy")


class BackgroundPlateError(ValueError):
    """A background plate that does not fit its video; the message names the file."""


def find_plate(video: str | Path) -> Path | None:
    """The background plate next to ``video`` (first of :data:`PLATE_SUFFIXES` that exists), or None."""
    return file_beside(video, PLATE_SUFFIXES)


def read_plate(path: str | Path, width: int, height: int) -> np.ndarray:
    """Read a background plate and check it matches the video.

    Args:
        path: a PNG/JPEG image or an .npy array of the empty scene.
        width, height: the video's frame size, pixels.
    Returns:
        (H, W, 3) uint8 RGB.
    Raises:
        BackgroundPlateError naming the file when it is unreadable or the wrong size.
    """
    path = Path(path)
    try:
        plate = np.load(path, allow_pickle=False) if path.suffix == ".npy" else imread(path)
    except (OSError, ValueError) as error:
        raise BackgroundPlateError(f"{path}: cannot read the background plate ({error})") from error
    if plate.ndim == 2:
        plate = np.repeat(plate[..., None], 3, axis=-1)
    plate = plate[..., :3]
    if plate.shape != (height, width, 3) or plate.dtype != np.uint8:
        raise BackgroundPlateError(f"{path}: background plate is {plate.shape} {plate.dtype}, expected "
                                   f"({height}, {width}, 3) uint8 like the video's frames; fix or remove it")
    return np.ascontiguousarray(plate)

# Rows per median chunk: np.median partitions a copy of its input, so chunking the rows bounds
# the temporary memory to ``samples × ROWS × W × 3`` bytes however large the frames are.
_MEDIAN_ROWS = 128


def segment_bounds(frames: int, window: int) -> np.ndarray:
    """Split ``frames`` frames into background segments of about ``window`` frames.

    Args:
        frames: number of frames in the video (≥ 1).
        window: wanted segment length in frames (≥ 1); a trailing remainder is spread over the
            segments rather than left as a short segment with a poorly sampled median.
    Returns:
        (n + 1,) int64 increasing frame boundaries; segment k is frames ``[b[k], b[k + 1])``.
    """
    if frames < 1 or window < 1:
        raise ValueError(f"need frames ≥ 1 and window ≥ 1, got frames={frames}, window={window}")
    count = max(1, int(round(frames / window)))
    return np.linspace(0, frames, count + 1).round().astype(np.int64)


def segment_of(index: int, bounds: np.ndarray) -> int:
    """The segment holding frame ``index``, given (n + 1,) ``bounds`` from :func:`segment_bounds`."""
    if not bounds[0] <= index < bounds[-1]:
        raise IndexError(f"frame {index} outside [{bounds[0]}, {bounds[-1]})")
    return int(np.searchsorted(bounds, index, side="right") - 1)


def sample_indices(start: int, stop: int, count: int) -> np.ndarray:
    """``count`` frame indices spread evenly over ``[start, stop)`` (fewer if the range is short).

    Returns:
        (N,) int64 sorted unique frame indices, N = min(count, stop − start), each at the centre
        of its share of the range so the first and last frames are not over-weighted.
    """
    length = stop - start
    if length < 1 or count < 1:
        raise ValueError(f"need a non-empty range and count ≥ 1, got [{start}, {stop}) and count={count}")
    n = min(count, length)
    return np.unique(start + ((np.arange(n) + 0.5) * length / n).astype(np.int64))


def median_background(samples: np.ndarray) -> np.ndarray:
    """Per-pixel median of frames from a static camera.

    Args:
        samples: (N, H, W, 3) uint8 RGB frames, N ≥ 1.
    Returns:
        (H, W, 3) uint8 RGB background (the median rounded half-up for even N).
    """
    if samples.ndim != 4 or samples.shape[-1] != 3 or samples.dtype != np.uint8:
        raise ValueError(f"samples must be (N, H, W, 3) uint8, got {samples.shape} {samples.dtype}")
    out = np.empty(samples.shape[1:], np.uint8)
    for top in range(0, samples.shape[1], _MEDIAN_ROWS):
        rows = slice(top, top + _MEDIAN_ROWS)
        out[rows] = np.floor(np.median(samples[:, rows], axis=0) + 0.5).astype(np.uint8)
    return out


def read_background(reader: FrameReader, start: int, stop: int, samples: int) -> np.ndarray:
    """The median background of frames ``[start, stop)`` of an open video.

    Reads only the ``samples`` evenly spread frames (random access, a keyframe seek each), so the
    cost is bounded by ``samples`` however long the segment is.

    Returns:
        (H, W, 3) uint8 RGB background in the video's full resolution.
    """
    return median_background(reader.get(sample_indices(start, stop, samples)))


class SegmentBackgrounds:
    """The backgrounds of one open video's segments, computed on first use, the last few kept.

    Frames are mostly asked for segment by segment (sequential caching) or a few segments over
    and over (training on a clip), so a tiny most-recently-used store bounds memory at
    ``keep × H × W × 3`` bytes without recomputing in the common cases.
    """

    def __init__(self, reader: FrameReader, frames: int, *, window: int, samples: int, keep: int = 2,
                 plate: np.ndarray | None = None):
        self.reader, self.samples, self.keep, self.plate = reader, samples, keep, plate
        self.bounds = segment_bounds(frames, window)
        self._store: dict[int, np.ndarray] = {}

    def __call__(self, index: int) -> np.ndarray:
        """The background of frame ``index``: (H, W, 3) uint8 RGB, full resolution."""
        if self.plate is not None:  # a recorded empty scene beats any median
            return self.plate
        k = segment_of(index, self.bounds)
        if k not in self._store:
            self._store[k] = read_background(self.reader, int(self.bounds[k]), int(self.bounds[k + 1]), self.samples)
        self._store[k] = self._store.pop(k)  # mark most recently used (dicts keep insertion order)
        while len(self._store) > self.keep:
            del self._store[next(iter(self._store))]
        return self._store[k]


__all__ = ["segment_bounds", "segment_of", "sample_indices", "median_background", "read_background",
           "SegmentBackgrounds", "find_plate", "read_plate", "BackgroundPlateError", "PLATE_SUFFIXES"]
