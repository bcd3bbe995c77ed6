"""Human3.6M for evaluation: one API over the original release, VideoPose3D's and mmpose's files.

``load_h36m(root)`` detects the layout (see ``docs/h36m.md``) and returns one
:class:`H36MSequence` per (subject, sequence, camera) view, always in the same units:
``joints3d`` camera frame, millimetres, Human3.6M-17 order (``posesynth.skeleton``);
``joints2d`` pixels of that camera's image; the frame indices are mocap (= video) frames at
50 fps. The readers live in :mod:`posesynth.datasets.h36m.formats` (original release, VideoPose3D)
and :mod:`posesynth.datasets.h36m.mmpose`, the camera calibration in :mod:`posesynth.datasets.h36m.cameras`.

Naming quirks handled (REFERENCE.md, "The original release"): S1 calls two actions
``TakingPhoto``/``WalkingDog`` (``Photo``/``WalkDog`` elsewhere); trials are ``Action`` or
``Action 1``/``2``/``3`` (``Action_1`` in mmpose's image names); an action is matched on the
whole name, so ``Sitting`` never takes ``SittingDown`` nor ``Walking`` ``WalkDog``/``WalkTogether``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import skimage.io

from posesynth.video import index as videos
from posesynth.data.crops import keypoint_boxes, square_boxes
from posesynth.datasets.h36m.cameras import CAMERAS, H36MCamera, H36MError

__all__ = ["FORMATS", "TRAIN_SUBJECTS", "TEST_SUBJECTS", "CAMERAS", "ACTIONS", "H36MError", "H36MCamera",
           "H36MSequence", "H36MSplit", "canonical_action", "detect_format", "load_h36m", "read_frames",
           "person_boxes"]

log = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("original", "videopose3d", "mmpose")
TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")
ACTIONS: tuple[str, ...] = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing",
                            "Purchases", "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking",
                            "WalkTogether")

# whole-name lookup, case-insensitive; S1's two spellings as aliases
_ACTION_BY_NAME: dict[str, str] = {a.lower(): a for a in ACTIONS} | {"takingphoto": "Photo",
                                                                     "walkingdog": "WalkDog"}
_SEQUENCE = re.compile(r"^(?P<action>[A-Za-z]+)(?:[ _](?P<trial>\d+))?$")


def canonical_action(sequence: str) -> str:
    """The canonical action (one of ``ACTIONS``) of an on-disk sequence name.

    "Walking 1" → "Walking", "TakingPhoto" → "Photo", "WalkingDog 1" → "WalkDog",
    "SittingDown 2" → "SittingDown" (never "Sitting"), "WalkTogether 1" → "WalkTogether",
    "Directions_1" (mmpose) → "Directions".

    Raises:
        H36MError for a name that is not an action with an optional trial number (e.g. "_ALL").
    """
    match = _SEQUENCE.match(sequence.strip())
    action = _ACTION_BY_NAME.get(match["action"].lower()) if match else None
    if action is None:
        raise H36MError(f"{sequence!r} is not a Human3.6M sequence name: expected one of {ACTIONS} (or S1's "
                        f"'TakingPhoto'/'WalkingDog'), optionally followed by a trial number such as ' 1'")
    return action


@dataclass
class H36MSequence:
    """One camera view of one recorded sequence.

    Attributes:
        subject: e.g. "S9".
        sequence: the name as the layout stores it, e.g. "Walking 1" (S1 keeps "TakingPhoto" in
            the original release and mmpose; VideoPose3D's files already say "Photo").
        action: canonical action, one of ``ACTIONS``.
        camera: camera id, one of ``CAMERAS``.
        frames: (F,) int64 mocap frame indices held, increasing (``arange(F)`` for the original
            release and VideoPose3D, shorter when the video is; the npz's rows for mmpose).
        joints3d: (F, 17, 3) float32 camera frame, millimetres, Human3.6M-17 order.
        joints2d: (F, 17, 2) float32 pixels of the camera image, or None.
        calibration: the camera, or None.
        video: the original release's ``.mp4`` (may hold more frames than the mocap), or None.
        images: mmpose's frame images, one per entry of ``frames``, or None.
        num_mocap_frames: frames of the whole mocap sequence (for mmpose, which does not store
            it: the last held frame + 1).
    """

    subject: str
    sequence: str
    action: str
    camera: str
    frames: np.ndarray
    joints3d: np.ndarray
    joints2d: np.ndarray | None
    calibration: H36MCamera | None
    video: Path | None
    images: list[Path] | None
    num_mocap_frames: int

    @property
    def key(self) -> str:
        """``"subject|sequence|camera"``, e.g. ``"S9|Walking 1|54138969"``."""
        return view_key(self.subject, self.sequence, self.camera)


@dataclass
class H36MSplit:
    """The views :func:`load_h36m` kept, and those it had to skip.

    Attributes:
        sequences: the usable views, sorted by key.
        missing: keys of the skipped views (e.g. "S11|Directions|54138969").
        skipped: key → human-readable reason.
        format: the layout read, one of ``FORMATS``.
    """

    sequences: list[H36MSequence]
    missing: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    format: str = ""


def view_key(subject: str, sequence: str, camera: str) -> str:
    """The key of one view: ``"subject|sequence|camera"``."""
    return f"{subject}|{sequence}|{camera}"


def detect_format(root: str | os.PathLike) -> str:
    """Which layout ``root`` holds: "original", "videopose3d" or "mmpose".

    - original: a folder with ``S<n>/MyPoseFeatures/`` subfolders;
    - videopose3d: ``data_3d_h36m.npz`` (or any npz with ``positions_3d``), or a folder holding it;
    - mmpose: an npz with ``imgname`` and ``S`` (17 joints), or a folder holding ``h36m_*.npz``
      directly, in ``fps<k>/`` or in ``annotation_body3d/fps<k>/``.

    Raises:
        H36MError when ``root`` does not exist or matches none of them.
    """
    from posesynth.datasets.h36m import formats as h36m_formats, mmpose as h36m_mmpose  # they build this module's types: imported on use

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
    from posesynth.datasets.h36m import formats as h36m_formats, mmpose as h36m_mmpose  # they build this module's types: imported on use

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


def read_frames(seq: H36MSequence, indices: np.ndarray | Sequence[int]) -> np.ndarray:
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
        return videos.read_frames(seq.video, indices.tolist())
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


def person_boxes(joints2d: np.ndarray, margin: float = 1.25) -> np.ndarray:
    """Square person crop boxes around the 2D ground truth joints.

    The tight box of the 17 joints (``crops.keypoint_boxes`` without padding: head top to
    ankles, wrists) is made square with side ``margin`` × its longer side (``crops.square_boxes``).

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
