"""``posesynth keypoints VIDEO_OR_DIR [--out DIR]``: 2D keypoint sidecars from the bundled detector.

Every frame of every video goes through MediaPipe Pose (:mod:`posesynth.detect.mediapipe_pose`,
tracking from frame to frame) and its 33 landmarks are mapped onto the Human3.6M 17 joints with
the joint-definition correction of :mod:`posesynth.detect.mapping`. The result is the project's
keypoint sidecar (:mod:`posesynth.data.keypoints2d`, docs/data.md), so boxes, the reprojection and
relative-depth losses and multi-view training read it like any other:

``<stem>.keypoints.npz`` (beside the video, or in ``--out DIR``)
    ``keypoints`` (F, 17, 2) float32 pixels (u, v), ``scores`` (F, 17) float32 in [0, 1],
    ``layout`` "h36m17", ``detector`` (what made it). F is the video's frame count.

A folder of images gives one ``keypoints.npz`` (in the folder, or in ``--out DIR``) with
``names`` (N,) the image paths relative to the folder, ``keypoints`` (N, 17, 2) and ``scores``
(N, 17), each image detected on its own.

A frame or image without a person has all scores 0 and keypoints 0 (never a guess); the command
warns with the count. Existing sidecars are kept unless ``--force``.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Iterable, Sequence

import numpy as np
from skimage.io import imread
from tqdm.auto import tqdm

from posesynth import skeleton
from posesynth.detect.mapping import blazepose_to_h36m
from posesynth.detect.mediapipe_pose import Landmarks, PoseDetector
from posesynth.video.index import VIDEO_EXTENSIONS, NoUsableVideosError, VideoInfo, find_videos, index_videos
from posesynth.video.readers import iter_frames

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".keypoints.npz"
IMAGES_FILE = "keypoints.npz"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
DETECTOR = "mediapipe 0.10.21 pose_landmark_full (model_complexity 1), mapped and corrected to Human3.6M-17"

# opens a detector: video=True tracks over consecutive frames; it returns None for "nobody"
DetectorFactory = Callable[[bool], ContextManager[Callable[[np.ndarray], "Landmarks | None"]]]


@dataclass(frozen=True)
class Detections:
    """Human3.6M-17 keypoints of a sequence of frames or images.

    Attributes:
        keypoints: (N, 17, 2) float32 pixels (u, v); 0 where nobody was found.
        scores: (N, 17) float32 in [0, 1]; all 0 where nobody was found.
    """

    keypoints: np.ndarray
    scores: np.ndarray

    @property
    def found(self) -> np.ndarray:
        """(N,) bool: a person was detected."""
        return self.scores.max(axis=1) > 0

    def __len__(self) -> int:
        return len(self.keypoints)


def detect_frames(frames: Iterable[np.ndarray], detector: Callable[[np.ndarray], Landmarks | None]) -> Detections:
    """Run ``detector`` on each (H, W, 3) uint8 RGB frame and map its landmarks to Human3.6M-17."""
    found: list[Landmarks | None] = [detector(frame) for frame in frames]
    keypoints = np.zeros((len(found), skeleton.NUM_JOINTS, 2), np.float32)
    scores = np.zeros((len(found), skeleton.NUM_JOINTS), np.float32)
    people = [i for i, landmarks in enumerate(found) if landmarks is not None]
    if people:
        stack = lambda field: np.stack([getattr(found[i], field) for i in people])  # noqa: E731
        keypoints[people], scores[people] = blazepose_to_h36m(stack("image"), stack("world"), stack("visibility"))
    return Detections(keypoints, scores)


def detect_video(info: VideoInfo, detector: DetectorFactory = PoseDetector, progress: bool = False) -> Detections:
    """Keypoints of every frame of one video (exactly ``info.frames`` rows: undecodable tail frames
    count as frames without a person)."""
    with detector(True) as detect:
        frames = (frame for i, frame in iter_frames(info.path) if i < info.frames)
        bar = tqdm(frames, total=info.frames, desc=info.path.name[-30:], unit="frame", disable=None if progress else True)
        detections = detect_frames(bar, detect)
    missing = info.frames - len(detections)
    if missing > 0:
        pad = lambda a: np.concatenate([a, np.zeros((missing,) + a.shape[1:], a.dtype)])  # noqa: E731
        detections = Detections(pad(detections.keypoints), pad(detections.scores))
    return detections


def write_keypoints(path: Path, detections: Detections, **extra: np.ndarray) -> Path:
    """Write a keypoint file atomically (module docstring's format; ``extra`` arrays are added)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    with open(temp, "wb") as handle:
        np.savez(handle, keypoints=detections.keypoints, scores=detections.scores, layout=np.array("h36m17"),
                 detector=np.array(DETECTOR), **extra)
    os.replace(temp, path)
    return path


def report_missing(source: Path, detections: Detections) -> None:
    """Warn when frames (or images) have no person: their scores are 0."""
    missing = int((~detections.found).sum())
    if missing:
        log.warning("%s: no person found in %d of %d %s; their keypoints have score 0 (no keypoint loss; boxes "
                    "there come from the background)", source, missing, len(detections),
                    "frames" if len(detections) != 1 else "frame")


def sidecar_path(video: Path, out: Path | None) -> Path:
    """Where a video's sidecar goes: ``<out>/<stem>.keypoints.npz``, or beside the video."""
    return (out / video.name if out is not None else video).with_suffix(SIDECAR_SUFFIX)


def detect_videos(videos: Sequence[VideoInfo], out: Path | None = None, *, force: bool = False,
                  detector: DetectorFactory = PoseDetector, progress: bool = False) -> list[Path]:
    """Write the keypoint sidecar of each video (kept when it exists, unless ``force``).

    Args:
        videos: indexed videos.
        out: a folder for all sidecars (file names must then be unique), or None: beside each video.
    Returns:
        The sidecar paths, one per video.
    Raises:
        ValueError when two videos would share a sidecar in ``out``.
    """
    targets = [sidecar_path(info.path, out) for info in videos]
    clashes = {t for t in targets if targets.count(t) > 1}
    if clashes:
        same = [str(info.path) for info, t in zip(videos, targets) if t in clashes]
        raise ValueError(f"--out {out}: {', '.join(same[:4])} would share a keypoint file there (sidecars are "
                         f"named by the video's file name); rename them or write beside the videos (no --out)")
    for info, target in zip(videos, targets):
        if target.is_file() and not force:
            log.info("%s: kept the existing %s (--force to detect again)", info.path, target)
            continue
        detections = detect_video(info, detector, progress)
        report_missing(info.path, detections)
        write_keypoints(target, detections)
    return targets


def find_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively, hidden ones skipped), sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def detect_images(folder: Path, images: Sequence[Path], out: Path | None = None,
                  detector: DetectorFactory = PoseDetector) -> Path:
    """Detect each image on its own; write ``<out or folder>/keypoints.npz`` with ``names``. Returns its path."""
    names = [image.relative_to(folder).as_posix() for image in images]
    with detector(False) as detect:
        detections = detect_frames((_rgb(image) for image in images), detect)
    report_missing(folder, detections)
    return write_keypoints((out or folder) / IMAGES_FILE, detections, names=np.array(names))


def _rgb(path: Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB (grey and alpha images converted)."""
    image = imread(path)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.dtype != np.uint8:
        raise ValueError(f"{path}: {image.dtype} pixels; expected an 8-bit image")
    return image[..., :3]


# --- command line ---------------------------------------------------------------------------

def add_keypoints_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``posesynth keypoints``."""
    parser.add_argument("source", type=Path, help="a video, or a folder of videos and/or images (recursive)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the keypoint files (default: each video's sidecar beside it; a folder's "
                             "images give FOLDER/keypoints.npz)")
    parser.add_argument("--force", action="store_true", help="detect again where a keypoint file exists")


def run_keypoints(args: argparse.Namespace) -> int:
    """Run ``posesynth keypoints``; errors go to the command's error boundary (``posesynth.cli.main``)."""
    started = time.perf_counter()
    source: Path = args.source
    if not source.exists():
        raise NoUsableVideosError(f"{source}: no such file or folder; pass a video, or a folder of videos or images")
    if source.is_file() and source.suffix.lower() in IMAGE_EXTENSIONS:
        images, has_videos, source = [source], False, source.parent
    else:
        images = find_images(source) if source.is_dir() else []
        has_videos = bool(find_videos(source))
    if not images and not has_videos:
        raise NoUsableVideosError(f"{source}: no video ({', '.join(e[1:] for e in sorted(VIDEO_EXTENSIONS))}) or "
                                  f"image ({', '.join(e[1:] for e in IMAGE_EXTENSIONS)}) found there")
    written: list[Path] = []
    frames = 0
    if has_videos:
        index = index_videos(source, min_frames=1)
        for skipped in index.skipped:
            log.warning("skipped %s: %s", skipped.path, skipped.reason)
        written += detect_videos(index.videos, args.out, force=args.force, progress=True)
        frames += sum(v.frames for v in index.videos)
    if images:
        written.append(detect_images(source, images, args.out))
        frames += len(images)
    seconds = time.perf_counter() - started
    print(f"keypoints of {frames} frames/images in {seconds:.1f} s: " + ", ".join(str(p) for p in written[:5])
          + (f" and {len(written) - 5} more" if len(written) > 5 else ""))
    return 0


__all__ = ["SIDECAR_SUFFIX", "IMAGES_FILE", "DETECTOR", "Detections", "detect_frames", "detect_video",
           "write_keypoints", "report_missing", "sidecar_path", "detect_videos", "find_images", "detect_images",
           "add_keypoints_arguments", "run_keypoints"]
