"""Find the videos in a folder and probe them (the frames are read by :mod:`posesynth.video.readers`).

Real folders hold more than clean H.264: VP9 with audio, portrait phone clips, odd sizes,
MJPEG, names with spaces and non-ASCII characters — and also empty, truncated and mislabelled
files. :func:`index_videos` probes every candidate (it decodes the first and the last frame, which
is what catches truncation) and *reports* each unusable file with a reason instead of raising, so
that a long run is never killed hours in by one bad file.
"""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence


from posesynth.config import DataConfig
from posesynth.video.readers import DecordReader, VideoError, open_video, short_message

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


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
        raise VideoError(f"{path}: not a readable video: {short_message(error, path)} (a non-video file, an unknown "
                         f"container, or a file cut off before its index was written)") from error
    try:
        if reader.frames == 0:
            raise VideoError(f"{path}: the video stream has no frames")
        try:
            last = reader.get([reader.frames - 1])
        except Exception as error:
            raise VideoError(f"{path}: truncated or corrupt: frame {reader.frames - 1} of {reader.frames} "
                             f"cannot be decoded ({short_message(error, path)})") from error
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


def _reason(error: BaseException) -> str:
    """An error's message without the leading ``path: `` (the report stores the path apart)."""
    text = str(error)
    head, sep, tail = text.partition(": ")
    return tail if sep and Path(head).name and (os.sep in head or Path(head).suffix) else text


__all__ = ["VIDEO_EXTENSIONS", "NoUsableVideosError", "VideoInfo", "SkippedVideo", "VideoIndex", "find_videos",
           "file_beside", "probe_video", "index_videos", "add_clip_length_arguments", "clip_min_frames"]
