"""Find the videos in a folder, probe them, and read their frames.

Real folders hold more than clean H.264: VP9 with audio, portrait phone clips, odd sizes,
MJPEG, names with spaces and non-ASCII characters — and also empty, truncated and mislabelled
files. :func:`index_videos` probes every candidate (it decodes the first and the last frame, which
is what catches truncation) and *reports* each unusable file with a reason instead of raising, so
that a long run is never killed hours in by one bad file.

Frames are read with decord (random access by keyframe seeking). decord 0.6 cannot decode some
streams (e.g. VP9 with more than two decoder threads, dmlc/decord#246, and some frame widths whose
row stride is padded); for those a PyAV reader with the same interface is used, seeking by
timestamp, so random access never decodes from the start of the file.
"""

from __future__ import annotations

import argparse
import bisect
import logging
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Protocol, Sequence

import av
import decord
import numpy as np

from posesynth.config import DataConfig

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


class VideoError(RuntimeError):
    """A video file that cannot be used; the message names the file and the reason."""


class NoUsableVideosError(ValueError):
    """A folder with no usable video at all."""


@dataclass(frozen=True)
class VideoInfo:
    """What the index knows about one usable video.

    Attributes:
        path: the file.
        frames: number of decodable frames.
        fps: average frame rate, frames per second.
        width, height: frame size in pixels (as decoded, RGB).
        backend: "decord" or "pyav", whichever decoded it during probing.
    """

    path: Path
    frames: int
    fps: float
    width: int
    height: int
    backend: str = "decord"

    def to_json(self) -> dict:
        return {"path": str(self.path), "frames": self.frames, "fps": self.fps,
                "width": self.width, "height": self.height}


@dataclass(frozen=True)
class SkippedVideo:
    """A candidate file left out of the index, with the reason a user can act on."""

    path: Path
    reason: str

    def to_json(self) -> dict:
        return {"path": str(self.path), "reason": self.reason}


@dataclass
class VideoIndex:
    """The usable videos under ``root`` and the skipped ones."""

    root: Path
    videos: list[VideoInfo] = field(default_factory=list)
    skipped: list[SkippedVideo] = field(default_factory=list)

    def report(self) -> dict:
        """``{"indexed": [...], "skipped": [...]}`` as written to ``report.json``."""
        return {"indexed": [v.to_json() for v in self.videos], "skipped": [s.to_json() for s in self.skipped]}

    def summary(self) -> str:
        """A few human-readable lines: counts, then every skipped file with its reason."""
        lines = [f"{len(self.videos)} usable video(s) under {self.root}, {len(self.skipped)} skipped"]
        lines += [f"  skipped {s.path}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)


def find_videos(root: str | os.PathLike) -> list[Path]:
    """Every file under ``root`` (recursively) with a video extension, case-insensitive, sorted.

    ``root`` may also be a single video file. Hidden files and folders are ignored. Symbolic
    links to folders are followed (a training split is often a folder of links to subjects),
    each real folder once, so a link loop cannot recurse forever.
    """
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise NoUsableVideosError(f"{root}: no such folder; pass a folder of videos (or a video file)")
    found, seen = [], set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / f for f in filenames
                  if not f.startswith(".") and Path(f).suffix.lower() in VIDEO_EXTENSIONS]
    return sorted(found)


def file_beside(video: str | os.PathLike, suffixes: Sequence[str]) -> Path | None:
    """The first existing ``<video stem><suffix>`` next to ``video`` (sidecars, plates), or None."""
    for suffix in suffixes:
        path = Path(video).with_suffix(suffix)
        if path.is_file():
            return path
    return None


# --- readers --------------------------------------------------------------------------------

class FrameReader(Protocol):
    """Random access to the RGB frames of one video."""

    frames: int
    fps: float
    width: int
    height: int

    def get(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` → (N, H, W, 3) uint8 RGB, in the order asked."""

    def close(self) -> None: ...


class DecordReader:
    """decord-backed reader. One decoder thread: decord's threaded VP9 path fails (decord#246)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._vr = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
        self.frames = len(self._vr)
        self.fps = float(self._vr.get_avg_fps())
        self.height, self.width = self._vr[0].shape[:2] if self.frames else (0, 0)
        self._vr.seek(0)

    def _checked(self, batch: np.ndarray) -> np.ndarray:
        # decord 0.6 mis-converts some frame widths (e.g. 16, 24, 48, 72 px: rows come back with
        # 4 or 6 "channels"); refuse them so open_video() falls back to PyAV
        if batch.ndim != 4 or batch.shape[1:] != (self.height, self.width, 3):
            raise VideoError(f"{self.path}: decord returned frames of shape {batch.shape[1:]}, "
                             f"expected {(self.height, self.width, 3)}")
        return batch

    def get(self, indices: Sequence[int]) -> np.ndarray:
        return self._checked(self._vr.get_batch(list(map(int, indices))).asnumpy())

    def close(self) -> None:
        del self._vr


class PyAVReader:
    """PyAV-backed reader for streams decord cannot decode.

    Frame ``i`` is the i-th decoded frame; a seek goes to the keyframe at or before the wanted
    timestamp and decodes forward, so reads cost O(GOP), not O(position). The presentation
    timestamps of all frames are read once from the packets (no decoding) to map indices to
    timestamps exactly, also for variable frame rate.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._container = av.open(str(path))
        if not self._container.streams.video:
            self._container.close()
            raise VideoError(f"{path}: the file has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        pts = sorted(p.pts for p in self._container.demux(self._stream) if p.pts is not None and p.size > 0)
        self._pts = pts
        self.frames = len(pts)
        rate = self._stream.average_rate or self._stream.guessed_rate or Fraction(25)
        self.fps = float(rate)
        self.width, self.height = self._stream.width, self._stream.height
        self._container.seek(0, stream=self._stream)

    def _decode_from(self, index: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (frame index, RGB frame) from the keyframe before ``index`` onwards."""
        self._container.seek(self._pts[index], stream=self._stream, backward=True, any_frame=False)
        for frame in self._container.decode(self._stream):
            if frame.pts is None:
                continue
            i = bisect.bisect_left(self._pts, frame.pts)
            yield i, frame.to_ndarray(format="rgb24")

    def get(self, indices: Sequence[int]) -> np.ndarray:
        wanted = sorted(set(int(i) for i in indices))
        for i in wanted:
            if not 0 <= i < self.frames:
                raise IndexError(f"{self.path}: frame {i} out of range [0, {self.frames})")
        got: dict[int, np.ndarray] = {}
        for i in wanted:
            if i in got:
                continue
            for j, rgb in self._decode_from(i):
                if j in wanted:
                    got[j] = rgb
                # stop once past the wanted frame and no later wanted frame is near (next seek is cheaper)
                if j >= i and (j + 1 not in wanted):
                    break
            if i not in got:
                raise VideoError(f"{self.path}: frame {i} could not be decoded (truncated or corrupt file)")
        return np.stack([got[int(i)] for i in indices])

    def close(self) -> None:
        self._container.close()


def open_video(path: str | os.PathLike, backend: str | None = None) -> FrameReader:
    """Open a video for random access: decord, or PyAV when decord cannot decode it.

    Args:
        path: the video file.
        backend: force "decord" or "pyav"; by default decord, falling back to PyAV.
    Raises:
        VideoError naming the file when neither backend can read it.
    """
    path = Path(path)
    if backend in (None, "decord"):
        try:
            reader = DecordReader(path)
            if reader.frames:
                reader.get([0])  # decord opens some streams it then fails to convert
            return reader
        except Exception as error:  # decord raises RuntimeError / DECORDError
            if backend == "decord":
                raise VideoError(f"{path}: decord cannot read it ({_short(error)})") from error
    try:
        return PyAVReader(path)
    except VideoError:
        raise
    except Exception as error:
        raise VideoError(f"{path}: {_short(error)}") from error


def iter_frames(path: str | os.PathLike, stride: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """Decode a video once, sequentially (the fast path for caching and prediction).

    Yields:
        (frame index, (H, W, 3) uint8 RGB) for every ``stride``-th frame.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for i, frame in enumerate(container.decode(stream)):
            if i % stride == 0:
                yield i, frame.to_ndarray(format="rgb24")


def read_frames(path: str | os.PathLike, indices: Sequence[int]) -> np.ndarray:
    """Frames ``indices`` of one video → (N, H, W, 3) uint8 RGB (opens and closes the file)."""
    reader = open_video(path)
    try:
        return reader.get(indices)
    finally:
        reader.close()


# --- index ----------------------------------------------------------------------------------

DEFAULT_MIN_GAP = DataConfig().min_gap  # training's default data.min_gap


def add_clip_length_arguments(parser: argparse.ArgumentParser) -> None:
    """``--min-gap`` / ``--min-frames`` of ``index`` and ``prepare``: which clips are too short to train on."""
    parser.add_argument("--min-gap", type=int, default=DEFAULT_MIN_GAP, metavar="G",
                        help=f"the data.min_gap you will train with: clips of at most G frames hold no frame pair "
                             f"G apart and are reported as too short (default {DEFAULT_MIN_GAP}, the default "
                             f"data.min_gap)")
    parser.add_argument("--min-frames", type=int, default=None, metavar="N",
                        help="skip clips with fewer than N frames instead (default: min-gap + 1)")


def clip_min_frames(args: argparse.Namespace) -> int:
    """The shortest usable clip for ``--min-gap`` / ``--min-frames`` (:func:`add_clip_length_arguments`)."""
    if args.min_gap < 1:
        raise ValueError(f"--min-gap must be >= 1, got {args.min_gap}")
    if args.min_frames is not None and args.min_frames < 1:
        raise ValueError(f"--min-frames must be >= 1, got {args.min_frames}")
    return args.min_gap + 1 if args.min_frames is None else args.min_frames

def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Open a video and decode its first and last frame.

    Raises:
        VideoError with the reason (empty file, not a video, no frames, truncated or corrupt).
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    try:
        reader = open_video(path)
    except VideoError as error:
        raise VideoError(f"{path}: not a readable video: {_short(error, path)} (a non-video file, an unknown "
                         f"container, or a file cut off before its index was written)") from error
    try:
        if reader.frames == 0:
            raise VideoError(f"{path}: the video stream has no frames")
        try:
            last = reader.get([reader.frames - 1])
        except Exception as error:
            raise VideoError(f"{path}: truncated or corrupt: frame {reader.frames - 1} of {reader.frames} "
                             f"cannot be decoded ({_short(error, path)})") from error
        height, width = last.shape[1:3]
        backend = "decord" if isinstance(reader, DecordReader) else "pyav"
        return VideoInfo(path, reader.frames, reader.fps, int(width), int(height), backend)
    finally:
        reader.close()


def index_videos(root: str | os.PathLike, min_frames: int = 2, progress: bool = False) -> VideoIndex:
    """Probe every video under ``root``; keep the usable ones, report the rest.

    Args:
        root: a folder (searched recursively) or one video file.
        min_frames: clips with fewer frames are skipped — pass ``min_gap + 1`` so every kept
            clip can yield a frame pair.
        progress: show a tqdm bar (for long folders).
    Returns:
        A :class:`VideoIndex`; never raises for a bad file.
    Raises:
        NoUsableVideosError when the folder holds no video files, or none is usable (the message
        lists why each was skipped).
    """
    root = Path(root)
    candidates = find_videos(root)
    if not candidates:
        raise NoUsableVideosError(
            f"{root}: no video files found (looked recursively for {', '.join(VIDEO_EXTENSIONS)})")
    index = VideoIndex(root)
    iterator: Sequence[Path] | Iterator[Path] = candidates
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(candidates, desc="indexing videos", unit="video", disable=len(candidates) < 8)
    for path in iterator:
        try:
            info = probe_video(path)
        except (VideoError, OSError) as error:
            index.skipped.append(SkippedVideo(path, _reason(error)))
            continue
        if info.frames < min_frames:
            index.skipped.append(SkippedVideo(
                path, f"too short: {info.frames} frame(s), needs at least {min_frames} for the configured "
                      f"frame gap (lower data.min_gap or drop the clip)"))
            continue
        index.videos.append(info)
    if index.skipped:
        log.warning("skipped %d of %d video file(s):\n%s", len(index.skipped), len(candidates),
                    "\n".join(f"  {s.path}: {s.reason}" for s in index.skipped))
    if not index.videos:
        raise NoUsableVideosError(f"{root}: none of the {len(candidates)} video file(s) is usable:\n"
                                  + "\n".join(f"  {s.path}: {s.reason}" for s in index.skipped))
    return index


def _short(error: BaseException, path: Path | None = None) -> str:
    """The last meaningful line of a (possibly multi-line C++) error message, without the path."""
    text = str(error)
    if path is not None:
        text = text.replace(f": '{path}'", "").replace(f"{path}: ", "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (lines[-1] if lines else type(error).__name__)[-200:]


def _reason(error: BaseException) -> str:
    """An error's message without the leading ``path: `` (the report stores the path apart)."""
    text = str(error)
    head, sep, tail = text.partition(": ")
    return tail if sep and Path(head).name and (os.sep in head or Path(head).suffix) else text


__all__ = ["VIDEO_EXTENSIONS", "VideoError", "NoUsableVideosError", "VideoInfo", "SkippedVideo", "VideoIndex",
           "find_videos", "file_beside", "open_video", "read_frames", "iter_frames", "probe_video", "index_videos",
           "DecordReader", "PyAVReader", "FrameReader", "add_clip_length_arguments", "clip_min_frames"]
