"""The decode-once frame cache's format and its reader, :class:`FrameCache`
(``posesynth prepare``, :mod:`posesynth.data.prepare`, writes it).

Decoding compressed video is the slow part of reading training pairs, and random access makes
it worse (every read decodes from a keyframe). ``prepare`` decodes each video once,
sequentially, crops every frame around the person and stores uint8 arrays that training then
reads by index through memory maps. Layout (docs/data.md)::

    CACHE/index.json                       settings + one entry per cached video
    CACHE/report.json                      {"indexed": [...], "skipped": [...]}
    CACHE/videos/<name>/frames.npy         (F, S, S, 3) uint8 RGB person crops
    CACHE/videos/<name>/backgrounds.npy    (F, S, S, 3) uint8 RGB background, same crop
    CACHE/videos/<name>/boxes.npy          (F, 4) int64 crop boxes x0, y0, x1, y1, full-frame pixels
    CACHE/videos/<name>/meta.json          source, frame count, settings (written last)

An entry folder with ``meta.json`` is complete by construction (the writer renames it into place
last); the reader still checks every array's header against the index when it opens the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from posesynth.data.crops import BOX_SOURCES

CACHE_VERSION = 1
KEYPOINTS_FOLDER = "keypoints"  # CACHE/keypoints/<stem>.keypoints.npz from `prepare --keypoints`


class CacheError(ValueError):
    """A folder that is not a (complete) posesynth frame cache."""


def entry_name(relative: str) -> str:
    """A file-system-safe, unique folder name for a video's relative path.

    ASCII letters, digits, ``._-`` are kept (readable), the rest become ``_``; a hash of the full
    path keeps names with spaces or non-ASCII characters (``my clip.mp4`` vs ``my_clip.mp4``) apart.
    """
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", relative)[-60:].strip("._") or "video"
    return f"{readable}-{hashlib.sha1(relative.encode('utf-8')).hexdigest()[:10]}"


def crop_settings(*, size: int = 64, margin: float = 1.25, box_source: str = "auto", background_window: int = 200,
                  background_samples: int = 20, smooth_radius: int = 2, threshold: float = 25.0) -> dict:
    """The settings that determine a cache entry's pixels (stored, and compared on re-runs)."""
    if box_source not in BOX_SOURCES:
        raise ValueError(f"box_source must be one of {BOX_SOURCES}, got {box_source!r}")
    for name, value, least in (("size", size, 8), ("background_window", background_window, 1),
                               ("background_samples", background_samples, 1), ("smooth_radius", smooth_radius, 0)):
        if value < least:
            raise ValueError(f"{name} must be >= {least}, got {value}")
    if not margin > 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    return {"version": CACHE_VERSION, "size": int(size), "margin": float(margin), "box_source": box_source,
            "background_window": int(background_window), "background_samples": int(background_samples),
            "smooth_radius": int(smooth_radius), "threshold": float(threshold)}


def entry_problem(entry: Path, frames: int, size: int) -> str | None:
    """What is wrong with a cache entry's arrays for ``frames`` frames of ``size`` px crops, or None.

    Reads only the ``.npy`` headers (memory maps): a file cut short, missing, of another shape
    or type is found without reading its pixels.
    """
    crops = ((frames, size, size, 3), np.uint8)
    expected = {"frames.npy": crops, "backgrounds.npy": crops, "boxes.npy": ((frames, 4), np.int64)}
    for name, (shape, dtype) in expected.items():
        path = entry / name
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            return f"{path} is missing"
        except (OSError, ValueError, EOFError) as error:
            return f"{path} is damaged ({str(error).splitlines()[0]})"
        if array.shape[0] < shape[0] or array.shape[1:] != shape[1:] or array.dtype != dtype:
            return f"{path} holds {array.shape} {array.dtype}, the index expects {shape} {np.dtype(dtype)}"
    return None



# --- reading --------------------------------------------------------------------------------

class FrameCache:
    """Read a prepared cache: metadata now, the arrays memory-mapped on first use.

    Attributes:
        root: the cache folder.
        settings: the crop settings it was made with (``size``, ``margin``, ...).
        videos: one dict per video: ``name``, ``source``, ``frames``, ``fps``, ``width``, ``height``.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        path = self.root / "index.json"
        if not path.is_file():
            raise CacheError(f"{self.root}: not a posesynth frame cache (no index.json); run "
                             f"`posesynth prepare VIDEO_DIR --out {self.root}` first")
        try:
            index = json.loads(path.read_text(encoding="utf-8"))
            self.settings, self.videos = index["settings"], index["videos"]
        except (ValueError, KeyError) as error:
            raise CacheError(f"{path}: unreadable cache index ({error}); re-run `posesynth prepare`") from error
        if self.settings.get("version") != CACHE_VERSION:
            raise CacheError(f"{self.root}: cache format {self.settings.get('version')} but this posesynth reads "
                             f"{CACHE_VERSION}; re-run `posesynth prepare`")
        for video in self.videos:  # headers only: a damaged entry fails here, not in a DataLoader worker
            self._check(video)
        self._open: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _check(self, video: dict) -> None:
        """Raise CacheError naming the file when ``video``'s entry does not match the index."""
        problem = entry_problem(self.root / "videos" / video["name"], int(video["frames"]), self.size)
        if problem is not None:
            raise CacheError(f"{problem}: the cache entry of {video['source']} is damaged; re-run `posesynth "
                             f"prepare` with the same --out (it rebuilds damaged entries)")

    @property
    def size(self) -> int:
        """Crop side S in pixels."""
        return int(self.settings["size"])

    def arrays(self, video: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Video ``video``'s (F, S, S, 3) uint8 frames and backgrounds (memory maps), (F, 4) int64 boxes."""
        if video not in self._open:
            folder = self.root / "videos" / self.videos[video]["name"]
            frames = self.videos[video]["frames"]
            self._check(self.videos[video])  # the files may have changed since the cache was opened
            self._open[video] = (np.load(folder / "frames.npy", mmap_mode="r", allow_pickle=False)[:frames],
                                 np.load(folder / "backgrounds.npy", mmap_mode="r", allow_pickle=False)[:frames],
                                 np.load(folder / "boxes.npy", allow_pickle=False)[:frames])
        return self._open[video]

    def __getstate__(self) -> dict:
        # memory maps pickle as copies of the whole array: let each worker map its own
        return {**self.__dict__, "_open": {}}


__all__ = ["CACHE_VERSION", "KEYPOINTS_FOLDER", "CacheError", "FrameCache", "entry_name", "crop_settings",
           "entry_problem"]
