"""Human3.6M for evaluation: one API over the original release, VideoPose3D's and mmpose's files.

``load_h36m(root)`` detects the layout (see ``docs/h36m.md``) and returns one
:class:`H36MSequence` per (subject, sequence, camera) view, always in the same units:
``joints3d`` camera frame, millimetres, Human3.6M-17 order (``posesynth.skeleton``);
``joints2d`` pixels of that camera's image; the frame indices are mocap (= video) frames at
50 fps. The readers live in :mod:`posesynth.datasets.h36m.formats` (original release, VideoPose3D)
and :mod:`posesynth.datasets.h36m.mmpose`, the camera calibration in :mod:`posesynth.datasets.h36m.cameras`.
The types all of them build live in :mod:`posesynth.datasets.h36m.types`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import skimage.io

from posesynth.datasets.h36m import formats as h36m_formats, mmpose as h36m_mmpose
from posesynth.datasets.h36m.cameras import CAMERAS, H36MError
from posesynth.datasets.h36m.types import FORMATS, TEST_SUBJECTS, ACTIONS, H36MSequence, H36MSplit
from posesynth.video.boxes import keypoint_boxes, square_boxes
from posesynth.video.readers import read_frames

__all__ = ["detect_format", "load_h36m", "read_view_frames", "view_crop_boxes"]

log = logging.getLogger(__name__)

def detect_format(root: str | os.PathLike) -> str:
    """Which layout ``root`` holds: "original", "videopose3d" or "mmpose".

    - original: a folder with ``S<n>/MyPoseFeatures/`` subfolders;
    - videopose3d: ``data_3d_h36m.npz`` (or any npz with ``positions_3d``), or a folder holding it;
    - mmpose: an npz with ``imgname`` and ``S`` (17 joints), or a folder holding ``h36m_*.npz``
      directly, in ``fps<k>/`` or in ``annotation_body3d/fps<k>/``.

    Raises:
        H36MError when ``root`` does not exist or matches none of them.
    """

    root = Path(root)
    if not root.exists():
        raise H36MError(f"{root}: no such file or folder; pass the Human3.6M root (the folder with S1, S5, ...), "
                        f"VideoPose3D's data_3d_h36m.npz, or mmpose's data/h36m folder")
    if h36m_formats.original_subjects(root):
        return "original"
    if h36m_formats.videopose3d_file(root) is not None:
        return "videopose3d"
    if h36m_mmpose.mmpose_files(root):
        return "mmpose"
    raise H36MError(f"{root}: not a Human3.6M layout posesynth knows; expected S<n>/MyPoseFeatures/ folders "
                    f"(original release), data_3d_h36m.npz (VideoPose3D) or h36m_*.npz with imgname and S "
                    f"(mmpose) — see docs/h36m.md")


def _check_choice(name: str, chosen: Sequence[str], valid: Sequence[str]) -> tuple[str, ...]:
    if isinstance(chosen, str):
        chosen = (chosen,)
    unknown = [c for c in chosen if c not in valid]
    if unknown:
        raise H36MError(f"{name}: unknown {unknown}; choose from {tuple(valid)}")
    return tuple(chosen)


def load_h36m(root: str | os.PathLike, format: str | None = None, *, subjects: Sequence[str] = TEST_SUBJECTS,
              cameras: Sequence[str] = CAMERAS, actions: Sequence[str] | None = None,
              need_video: bool = False, trust_pickle: bool = False) -> H36MSplit:
    """Load the selected Human3.6M views with their ground truth.

    Args:
        root: the dataset (a folder, or for VideoPose3D/mmpose also the npz file).
        format: one of ``FORMATS``; None detects it (:func:`detect_format`).
        subjects: e.g. ``TEST_SUBJECTS`` (S9, S11, the default) or ``TRAIN_SUBJECTS``.
        cameras: camera ids, a subset of ``CAMERAS``.
        actions: canonical actions (subset of ``ACTIONS``); None keeps all 15.
        need_video: skip views whose frames cannot be read (video or images missing or
            unreadable — e.g. S11 Directions 54138969 in the real release), and shorten a view
            whose video is shorter than its mocap. Videos are probed (first and last frame), so
            this is slower.
        trust_pickle: read the layouts' pickles (VideoPose3D's npz files, mmpose's
            ``cameras.pkl``); without it a VideoPose3D file is an error and ``cameras.pkl`` is
            left unread (unpickling can run code).
    Returns:
        An :class:`H36MSplit`; skipped views are listed in ``missing``/``skipped`` and logged.
    Raises:
        H36MError for an unknown format, subject, camera or action, unreadable files, or when
        no view is left.
    """

    if isinstance(subjects, str):
        subjects = (subjects,)
    bad = [s for s in subjects if not re.fullmatch(r"S\d+", s)]
    if bad:
        raise H36MError(f"subjects: {bad} are not Human3.6M subject names like 'S9'")
    cameras = _check_choice("cameras", cameras, CAMERAS)
    actions = ACTIONS if actions is None else _check_choice("actions", actions, ACTIONS)
    format = detect_format(root) if format is None else format
    readers = {"original": h36m_formats.load_original,
               "videopose3d": partial(h36m_formats.load_videopose3d, trust_pickle=trust_pickle),
               "mmpose": partial(h36m_mmpose.load_mmpose, trust_pickle=trust_pickle)}
    if format not in readers:
        raise H36MError(f"format must be one of {FORMATS} or None (detect), got {format!r}")
    sequences, skipped = readers[format](Path(root), subjects=tuple(subjects), cameras=cameras,
                                         actions=actions, need_video=need_video)
    sequences.sort(key=lambda s: s.key)
    if skipped:
        log.warning("Human3.6M (%s): skipped %d view(s):\n%s", root, len(skipped),
                    "\n".join(f"  {key}: {why}" for key, why in sorted(skipped.items())))
    if not sequences:
        raise H36MError(f"{root}: no Human3.6M view left for subjects={list(subjects)}, cameras={list(cameras)}, "
                        f"actions={list(actions)} ({len(skipped)} skipped); check the selection and the files")
    return H36MSplit(sequences, sorted(skipped), dict(sorted(skipped.items())), format)


def read_view_frames(seq: H36MSequence, indices: np.ndarray | Sequence[int]) -> np.ndarray:
    """Frames of one view at mocap frame indices.

    Args:
        seq: a view from :func:`load_h36m`.
        indices: (N,) mocap frame indices, N ≥ 1, each one of ``seq.frames``.
    Returns:
        (N, H, W, 3) uint8 RGB.
    Raises:
        H36MError when an index is not held, or the view has no video/images.
    """
    indices = np.asarray(indices, np.int64).reshape(-1)
    if len(indices) == 0:
        raise H36MError(f"{seq.key}: no frame indices given; pass at least one of seq.frames")
    position = np.searchsorted(seq.frames, indices)
    held = position < len(seq.frames)
    held[held] = seq.frames[position[held]] == indices[held]
    if not held.all():
        raise H36MError(f"{seq.key}: frames {indices[~held][:5].tolist()} are not among the view's "
                        f"{len(seq.frames)} frames; pick indices from seq.frames")
    if seq.video is not None:
        return read_frames(seq.video, indices.tolist())
    if seq.images is not None:
        return np.stack([_read_image(seq.images[i]) for i in position])
    raise H36MError(f"{seq.key}: no video or images for this view; load with need_video=True to keep only "
                    f"views whose frames exist, or add the videos/images to the dataset folder")


def _read_image(path: Path) -> np.ndarray:
    try:
        image = skimage.io.imread(path)
    except (OSError, ValueError) as error:
        raise H36MError(f"{path}: cannot read the frame image ({error})") from error
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return np.ascontiguousarray(image[..., :3]).astype(np.uint8, copy=False)


def view_crop_boxes(joints2d: np.ndarray, margin: float = 1.25) -> np.ndarray:
    """Square person crop boxes around the 2D ground truth joints.

    The tight box of the 17 joints (``boxes.keypoint_boxes`` without padding: head top to
    ankles, wrists) is made square with side ``margin`` × its longer side (``boxes.square_boxes``).

    Args:
        joints2d: (F, 17, 2) pixels; NaN for a missing joint.
        margin: crop side over the tight box's longer side.
    Returns:
        (F, 4) float64 integer-valued x0, y0, x1, y1 pixels (x1 - x0 = y1 - y0); NaN rows where
        fewer than two joints are finite.
    """
    tight = keypoint_boxes(np.asarray(joints2d, np.float64), pad=0.0)
    boxes = np.full(tight.shape, np.nan)
    found = np.isfinite(tight).all(axis=1)
    if found.any():
        boxes[found] = square_boxes(tight[found], margin)
    return boxes
