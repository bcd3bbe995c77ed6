"""Per-frame 3D pose labels for training videos (3D supervision and semi-supervised fine-tuning).

A label file is an ``.npz`` beside the video's name in a labels folder — ``posesynth synth``'s
``labels/`` folder is one, ``posesynth h36m-labels`` writes one for Human3.6M training subjects —
holding ``joints3d`` (F, 17, 3) camera frame, metres, Human3.6M-17 order, and optionally ``K``
(3, 3) the video's intrinsics in pixels (used to rotate the label into the crop camera). Rows of
NaN mark unlabelled frames.

Matching: a video ``.../S1/Videos/Walking.54138969.mp4`` takes the label file of the same stem
(``Walking.54138969.npz``) anywhere under the labels folder; when several share the stem, the one
whose parent folders agree with the video's longest wins (``S1/Videos/...`` over ``S5/Videos/...``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from posesynth.data.arrays import open_archive
from posesynth.skeleton import BONES, NUM_JOINTS

log = logging.getLogger(__name__)


class LabelsError(ValueError):
    """A malformed or ambiguous 3D label file; the message names the file and what to do."""


def label_index(folder: str | os.PathLike) -> dict[str, list[Path]]:
    """Every ``.npz`` under ``folder`` by stem.  Raises LabelsError if the folder does not exist."""
    root = Path(folder)
    if not root.is_dir():
        raise LabelsError(f"data.labels3d={root} is not a folder; point it at a folder of <video stem>.npz label "
                          f"files (e.g. the labels/ folder of `posesynth synth`, or `posesynth h36m-labels` output)")
    index: dict[str, list[Path]] = {}
    for path in sorted(root.rglob("*.npz")):
        index.setdefault(path.stem, []).append(path)
    return index


def find_labels(video: str | os.PathLike, index: dict[str, list[Path]]) -> Path | None:
    """The label file of ``video`` (see the module docstring for the rule), or None."""
    video = Path(video)
    candidates = index.get(video.stem, [])
    if len(candidates) <= 1:
        return candidates[0] if candidates else None

    def shared_parents(path: Path) -> int:
        count = 0
        for a, b in zip(reversed(path.parent.parts), reversed(video.parent.parts)):
            if a != b:
                break
            count += 1
        return count

    scores = [shared_parents(p) for p in candidates]
    best = max(scores)
    if scores.count(best) > 1:
        tied = [str(p) for p, s in zip(candidates, scores) if s == best]
        raise LabelsError(f"{video}: several label files match it equally well ({', '.join(tied)}); mirror the "
                          f"videos' folder structure in the labels folder so each video has one")
    return candidates[scores.index(best)]


def read_labels3d(path: str | os.PathLike, frames: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Read and check one label file for a video of ``frames`` frames.

    Label rows beyond the video are dropped and missing rows become NaN (Human3.6M videos run a
    few frames past their mocap), with a warning.

    Returns:
        ``joints3d`` (frames, 17, 3) float32, camera frame, metres, NaN where unlabelled;
        ``K`` (3, 3) float64 pixels, or None.
    Raises:
        LabelsError naming the file for a missing key, a wrong shape or values in millimetres.
    """
    path = Path(path)
    try:
        with open_archive(path, "a label file: joints3d (F, 17, 3) metres, optionally K") as data:
            if "joints3d" not in data:
                raise LabelsError(f"{path}: no 'joints3d' array (found {sorted(data.files)}); a label file holds "
                                  f"joints3d (F, 17, 3) camera frame, metres")
            joints = np.asarray(data["joints3d"], np.float32)
            K = np.asarray(data["K"], np.float64) if "K" in data else None
    except (OSError, ValueError) as error:
        if isinstance(error, LabelsError):
            raise
        raise LabelsError(f"{path}: not a readable .npz label file ({error})") from error
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise LabelsError(f"{path}: joints3d has shape {joints.shape}, expected (F, {NUM_JOINTS}, 3) in the "
                          f"Human3.6M-17 joint order")
    if K is not None and K.shape != (3, 3):
        raise LabelsError(f"{path}: K has shape {K.shape}, expected (3, 3)")
    parents, children = zip(*BONES)
    lengths = np.linalg.norm(joints[:, list(children)] - joints[:, list(parents)], axis=-1)
    median = float(np.nanmedian(lengths)) if np.isfinite(lengths).any() else 0.0
    if median > 5.0:
        raise LabelsError(f"{path}: the median bone is {median:.0f} units long, so joints3d looks like millimetres; "
                          f"label files are in metres (divide by 1000)")
    if len(joints) != frames:
        log.warning("%s: %d label frames for a %d-frame video; %s", path, len(joints), frames,
                    "extra labels are ignored" if len(joints) > frames else "the frames without one are unlabelled")
        padded = np.full((frames, NUM_JOINTS, 3), np.nan, np.float32)
        padded[:min(frames, len(joints))] = joints[:frames]
        joints = padded
    return joints, K


def labelled_subset(frames: np.ndarray, fraction: float, seed: int) -> list[np.ndarray]:
    """Which frames keep their label when only ``fraction`` of them may be used (e.g. 0.01, 0.05, 1).

    The subset is a fixed random draw over all frames of all videos, a pure function of
    (frame counts, fraction, seed), so every process and every resume agrees on it.

    Args:
        frames: (V,) frame counts.
    Returns:
        V boolean masks, mask v of shape (frames[v],).
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"data.labels_fraction must be in [0, 1], got {fraction}")
    total = int(np.sum(frames))
    keep = np.zeros(total, bool)
    keep[np.random.default_rng(seed).permutation(total)[:int(round(fraction * total))]] = True
    return np.split(keep, np.cumsum(frames)[:-1])


__all__ = ["LabelsError", "label_index", "find_labels", "read_labels3d", "labelled_subset"]
