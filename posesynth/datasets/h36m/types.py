"""Human3.6M's types, below every reader: the subjects, actions and formats, a view (:class:`H36MSequence`),
the result of a load (:class:`H36MSplit`), and the action-name rules.

Naming quirks handled (REFERENCE.md, "The original release"): S1 calls two actions
``TakingPhoto``/``WalkingDog`` (``Photo``/``WalkDog`` elsewhere); trials are ``Action`` or
``Action 1``/``2``/``3`` (``Action_1`` in mmpose's image names); an action is matched on the
whole name, so ``Sitting`` never takes ``SittingDown`` nor ``Walking`` ``WalkDog``/``WalkTogether``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posesynth.datasets.h36m.cameras import H36MCamera, H36MError

__all__ = ["FORMATS", "TRAIN_SUBJECTS", "TEST_SUBJECTS", "ACTIONS", "H36MSequence", "H36MSplit", "canonical_action",
           "view_key"]

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
