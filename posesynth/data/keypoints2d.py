"""2D keypoints with per-joint confidence: video sidecars and COCO-style annotation files.

Everything is returned in the Human3.6M 17-joint order of :mod:`posesynth.skeleton`. COCO-17
keypoints (what person detectors and the COCO dataset give) are mapped where the joints
correspond; the five H36M joints COCO lacks are built from the others and flagged in a boolean
``derived (17,)`` mask (the mapping many 2D→3D lifting works use):

    pelvis = mid-hips,  thorax = mid-shoulders,  spine = mid pelvis–thorax,
    neck/nose = the nose,  head = mid-eyes.

Pelvis, thorax and spine land where H36M puts them; the face stand-ins (:data:`FACE_STAND_INS`)
do not: the nose is in front of H36M's neck/nose joint and the eyes are ~8 cm below its head
top, so their bone lengths disagree with the canonical skeleton. A derived joint's score is
the smallest score of the joints it is built from.

Missing joints have score 0 and coordinates 0 (never NaN: losses multiply by the score, and
0·NaN is NaN). Confidence is the third number of COCO's (x, y, v) triplets clipped to [0, 1]:
COCO's visibility flags 1 (labelled, occluded) and 2 (visible) both give 1, 0 (unlabelled)
gives 0, and a detector's score in [0, 1] passes through.

Per-video sidecars, found next to ``clip.mp4`` (:func:`find_keypoints`):

``clip.keypoints.npz``
    ``keypoints`` (F, J, 2) pixels (u, v); optional ``scores`` (F, J) (default: 1 where the
    point is finite); optional ``layout`` (a string: "coco17" or "h36m17").
``clip.keypoints.json``
    either a list with one entry per frame, or ``{"layout": "coco17" | "h36m17", "frames": [...]}``.
    A frame entry is one of
      - ``null`` or ``[]``: nobody in that frame (all scores 0);
      - ``[x1, y1, c1, …, xJ, yJ, cJ]``: COCO's flat keypoint list;
      - ``[[x, y], …]`` or ``[[x, y, c], …]``: one point per joint (no c: confidence 1);
      - ``{"keypoints": <either of the two above>, …}``: a COCO annotation / detector result;
      - ``[{"keypoints": …}, …]``: several people; the one with the largest summed
        confidence is kept.

The layout defaults to COCO-17; pass ``layout=`` (or store it in the file) for H36M-17 files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posesynth import skeleton
from posesynth.data.arrays import open_archive
from posesynth.video.index import file_beside

COCO17_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)
LAYOUTS: tuple[str, ...] = ("coco17", "h36m17")
KEYPOINT_SUFFIXES: tuple[str, ...] = (".keypoints.npz", ".keypoints.json")

# H36M joint ← the COCO joints averaged to make it (one joint: a direct correspondence)
COCO_TO_H36M: tuple[tuple[int, ...], ...] = (
    (11, 12),        # 0 pelvis = mid-hips
    (12,), (14,), (16,),   # 1-3 right hip, knee, ankle
    (11,), (13,), (15,),   # 4-6 left hip, knee, ankle
    (),              # 7 spine = mid pelvis–thorax (filled after 0 and 8)
    (5, 6),          # 8 thorax = mid-shoulders
    (0,),            # 9 neck/nose = nose
    (1, 2),          # 10 head = mid-eyes
    (5,), (7,), (9,),      # 11-13 left shoulder, elbow, wrist
    (6,), (8,), (10,),     # 14-16 right shoulder, elbow, wrist
)
DERIVED_FROM_COCO: tuple[int, ...] = (0, 7, 8, 9, 10)
# derived joints that are *not* the H36M joint's anatomical point (see the module docstring)
FACE_STAND_INS: tuple[int, ...] = (9, 10)


class KeypointsError(ValueError):
    """A keypoint file that cannot be used; the message names the file and what is expected."""


@dataclass(frozen=True)
class Keypoints2D:
    """2D keypoints of one video (or of a set of people), Human3.6M-17 order.

    Attributes:
        keypoints: (F, 17, 2) float32 pixels (u, v); 0 where the score is 0.
        scores: (F, 17) float32 confidences in [0, 1].
        derived: (17,) bool, joints built from others (:data:`DERIVED_FROM_COCO` for COCO input).
        source: the file they came from, or None.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    derived: np.ndarray
    source: Path | None = None

    def __len__(self) -> int:
        return len(self.keypoints)


def coco_to_h36m(keypoints: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map COCO-17 keypoints onto the Human3.6M-17 skeleton (table :data:`COCO_TO_H36M`).

    Args:
        keypoints: (..., 17, 2) pixels, COCO order.
        scores: (..., 17) confidences in [0, 1].
    Returns:
        keypoints (..., 17, 2) and scores (..., 17) in H36M order (float32; a derived joint's
        score is the minimum over its sources), and ``derived`` (17,) bool.
    """
    keypoints, scores = np.asarray(keypoints, np.float64), np.asarray(scores, np.float64)
    out = np.zeros(keypoints.shape, np.float64)
    out_scores = np.zeros(scores.shape, np.float64)
    for joint, sources in enumerate(COCO_TO_H36M):
        if sources:
            out[..., joint, :] = keypoints[..., list(sources), :].mean(axis=-2)
            out_scores[..., joint] = scores[..., list(sources)].min(axis=-1)
    out[..., 7, :] = 0.5 * (out[..., 0, :] + out[..., 8, :])
    out_scores[..., 7] = np.minimum(out_scores[..., 0], out_scores[..., 8])
    derived = np.zeros(skeleton.NUM_JOINTS, bool)
    derived[list(DERIVED_FROM_COCO)] = True
    out[out_scores <= 0] = 0.0
    return out.astype(np.float32), out_scores.astype(np.float32), derived


def to_h36m(keypoints: np.ndarray, scores: np.ndarray, layout: str, source: Path | None = None) -> Keypoints2D:
    """Clean raw keypoints (NaN → score 0, scores clipped to [0, 1]) and map them to H36M-17.

    Args:
        keypoints: (F, 17, 2) pixels; scores: (F, 17); layout: one of :data:`LAYOUTS`.
    """
    if layout not in LAYOUTS:
        raise KeypointsError(f"{source or 'keypoints'}: layout must be one of {LAYOUTS}, got {layout!r}")
    if keypoints.shape[1] != skeleton.NUM_JOINTS:
        raise KeypointsError(f"{source or 'keypoints'}: {layout} needs 17 joints per frame, got {keypoints.shape[1]}")
    finite = np.isfinite(keypoints).all(axis=-1)
    scores = np.where(finite & np.isfinite(scores), np.clip(scores, 0.0, 1.0), 0.0)
    keypoints = np.where(finite[..., None], keypoints, 0.0)
    if layout == "coco17":
        points, confidence, derived = coco_to_h36m(keypoints, scores)
    else:
        points, confidence = keypoints.astype(np.float32), scores.astype(np.float32)
        derived = np.zeros(skeleton.NUM_JOINTS, bool)
        points[confidence <= 0] = 0.0
    return Keypoints2D(points, confidence, derived, source)


# --- reading files ------------------------------------------------------------------------------

def read_keypoint_arrays(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """The raw arrays of a keypoint sidecar, any number of joints, as stored (no mapping).

    Args:
        path: a ``.keypoints.npz`` or ``.keypoints.json`` file (formats in the module docstring).
    Returns:
        keypoints (F, J, 2) float64 pixels (NaN where the file has none), scores (F, J) float64
        or None (an npz without ``scores``), and the layout the file names (or None).
    Raises:
        KeypointsError naming the file for anything malformed.
    """
    path = Path(path)
    try:
        if path.name.endswith(".npz"):
            return _read_npz(path)
        if path.name.endswith(".json"):
            return _read_json(path)
    except KeypointsError:
        raise
    except (OSError, ValueError, TypeError) as error:  # unreadable file, bad JSON, bad npz
        raise KeypointsError(f"{path}: cannot read it as a keypoint file ({error})") from error
    raise KeypointsError(f"{path}: unknown keypoint file type; expected one of {', '.join(KEYPOINT_SUFFIXES)}")


def read_keypoints(path: str | os.PathLike, frames: int | None = None, layout: str | None = None) -> Keypoints2D:
    """A keypoint sidecar in H36M-17 order.

    Args:
        path: ``.keypoints.npz`` or ``.keypoints.json``.
        frames: the video's frame count; the file must have exactly one entry per frame.
        layout: "coco17" or "h36m17"; default: the file's own, else "coco17".
    Raises:
        KeypointsError naming the file (wrong frame count, wrong shapes, not 17 joints, …).
    """
    path = Path(path)
    keypoints, scores, stored = read_keypoint_arrays(path)
    if frames is not None and len(keypoints) != frames:
        raise KeypointsError(f"{path}: has keypoints for {len(keypoints)} frames but the video has {frames}; "
                             f"expected exactly one entry per frame (null / score 0 for a frame without a person)")
    if scores is None:
        scores = np.isfinite(keypoints).all(axis=-1).astype(np.float64)
    return to_h36m(keypoints, scores, layout or stored or "coco17", path)


def find_keypoints(video: str | os.PathLike, folder: str | os.PathLike | None = None) -> Path | None:
    """The keypoint sidecar of a video: ``<folder>/<stem>.keypoints.{npz,json}`` (when ``folder``
    is given, e.g. config ``data.keypoints2d``), else ``<stem>.keypoints.{npz,json}`` beside it."""
    if folder is not None:
        found = file_beside(Path(folder) / Path(video).name, KEYPOINT_SUFFIXES)
        if found is not None:
            return found
    return file_beside(video, KEYPOINT_SUFFIXES)


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    with open_archive(path, "a keypoint file: keypoints (F, J, 2) pixels, optionally scores (F, J)") as data:
        if "keypoints" not in data:
            raise KeypointsError(f"{path}: no 'keypoints' array; expected keypoints (F, J, 2) pixels and "
                                 f"optionally scores (F, J), found {sorted(data.files)}")
        keypoints = np.asarray(data["keypoints"], np.float64)
        scores = np.asarray(data["scores"], np.float64) if "scores" in data else None
        layout = str(data["layout"]) if "layout" in data else None
    if keypoints.ndim != 3 or keypoints.shape[2] != 2:
        raise KeypointsError(f"{path}: keypoints must be (F, J, 2) pixels, got shape {keypoints.shape}")
    if scores is not None and scores.shape != keypoints.shape[:2]:
        raise KeypointsError(f"{path}: scores must be (F, J) = {keypoints.shape[:2]} to match keypoints, "
                             f"got shape {scores.shape}")
    return keypoints, scores, layout


def _read_json(path: Path) -> tuple[np.ndarray, np.ndarray, str | None]:
    data = json.loads(path.read_text(encoding="utf-8"))
    layout = None
    if isinstance(data, dict):
        if "frames" not in data:
            raise KeypointsError(f"{path}: a JSON object needs a 'frames' list (and optionally 'layout'); "
                                 f"found keys {sorted(data)}")
        layout, data = data.get("layout"), data["frames"]
    if not isinstance(data, list):
        raise KeypointsError(f"{path}: expected a JSON list with one keypoint entry per frame, "
                             f"got a {type(data).__name__}")
    people = [_frame_points(path, i, entry) for i, entry in enumerate(data)]
    joints = {len(p) for p in people if p is not None}
    if len(joints) > 1:
        raise KeypointsError(f"{path}: frames have different joint counts {sorted(joints)}; "
                             f"expected the same J in every frame")
    count = joints.pop() if joints else skeleton.NUM_JOINTS
    table = np.full((len(people), count, 3), np.nan)
    for i, person in enumerate(people):
        if person is not None:
            table[i] = person
    scores = np.where(np.isnan(table[..., 2]), 0.0, table[..., 2])
    return table[..., :2], scores, layout


def _frame_points(path: Path, frame: int, entry) -> np.ndarray | None:
    """One frame's entry → (J, 3) x, y, confidence, or None for nobody (formats: module docstring)."""
    if entry is None or entry == []:
        return None
    if isinstance(entry, dict):
        if "keypoints" not in entry:
            raise KeypointsError(f"{path}: frame {frame} is an object without 'keypoints'; found keys {sorted(entry)}")
        return _frame_points(path, frame, entry["keypoints"])
    if isinstance(entry, list) and all(isinstance(e, dict) for e in entry):
        people = [_frame_points(path, frame, e) for e in entry]
        people = [p for p in people if p is not None]
        return max(people, key=lambda p: np.nansum(p[:, 2])) if people else None
    points = _as_numbers(entry)
    if points is not None and points.ndim == 1 and len(points) % 3 == 0:
        return points.reshape(-1, 3)
    if points is not None and points.ndim == 2 and points.shape[1] in (2, 3):
        return points if points.shape[1] == 3 else np.concatenate([points, np.ones((len(points), 1))], axis=1)
    raise KeypointsError(f"{path}: frame {frame} is {str(entry)[:80]}; expected null, [x1, y1, c1, ...] (3 numbers per "
                         f"joint), [[x, y(, c)], ...], an object with 'keypoints', or a list of such objects")


def _as_numbers(entry) -> np.ndarray | None:
    """A list (of lists) of numbers (null → NaN) as a float array, or None if it is anything else."""
    def ok(x):
        return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool))
    if isinstance(entry, list) and all(ok(x) for x in entry):
        return np.array([np.nan if x is None else x for x in entry], np.float64)
    if isinstance(entry, list) and all(isinstance(row, list) and all(ok(x) for x in row) for row in entry):
        if len({len(row) for row in entry}) == 1:
            return np.array([[np.nan if x is None else x for x in row] for row in entry], np.float64)
    return None


# --- COCO-style annotation files ----------------------------------------------------------------

@dataclass(frozen=True)
class AnnotatedPeople:
    """The people of a COCO-style keypoint annotation file, one row per annotation.

    Attributes:
        keypoints: :class:`Keypoints2D` with F = N people (image pixels, H36M order).
        images: (N,) file names relative to the image folder.
        image_ids, annotation_ids: (N,) int64.
        boxes: (N, 4) float64 x0, y0, x1, y1 pixels from COCO's ``bbox`` (NaN when absent).
    """

    keypoints: Keypoints2D
    images: tuple[str, ...]
    image_ids: np.ndarray
    annotation_ids: np.ndarray
    boxes: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def load_coco_keypoints(path: str | os.PathLike, layout: str | None = None, min_keypoints: int = 1) -> AnnotatedPeople:
    """People with keypoints from a COCO-style annotation file (``images``, ``annotations``).

    Crowd annotations and people with fewer than ``min_keypoints`` labelled joints are skipped.
    The layout is ``layout`` if given, else read from the person category's keypoint names
    (COCO's 17 names → coco17; 17 names starting with a root/pelvis → h36m17; none → coco17).

    Raises:
        KeypointsError naming the file (and the annotation id) for malformed content.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise KeypointsError(f"{path}: cannot read it as a COCO-style JSON file ({error})") from error
    if not isinstance(data, dict) or not {"images", "annotations"} <= set(data):
        raise KeypointsError(f"{path}: expected a COCO-style object with 'images' and 'annotations' lists")
    layout = layout or _coco_layout(path, data.get("categories") or [])
    files = {image["id"]: image["file_name"] for image in data["images"] if "id" in image and "file_name" in image}
    rows, images, image_ids, ids, boxes = [], [], [], [], []
    for annotation in data["annotations"]:
        if annotation.get("iscrowd", 0) or "keypoints" not in annotation:
            continue
        points = np.asarray(annotation["keypoints"], np.float64)
        if points.shape != (3 * skeleton.NUM_JOINTS,):
            raise KeypointsError(f"{path}: annotation {annotation.get('id')} has {points.size} keypoint numbers; "
                                 f"expected 51 (x, y, v for 17 joints)")
        if (points[2::3] > 0).sum() < min_keypoints:
            continue
        if annotation.get("image_id") not in files:
            raise KeypointsError(f"{path}: annotation {annotation.get('id')} refers to image_id "
                                 f"{annotation.get('image_id')} which is not in 'images'")
        rows.append(points.reshape(-1, 3))
        images.append(files[annotation["image_id"]])
        image_ids.append(annotation["image_id"])
        ids.append(annotation.get("id", -1))
        x, y, w, h = annotation.get("bbox") or (np.nan,) * 4
        boxes.append((x, y, x + w, y + h))
    table = np.asarray(rows, np.float64).reshape(-1, skeleton.NUM_JOINTS, 3)
    keypoints = to_h36m(table[..., :2], table[..., 2], layout, path)
    return AnnotatedPeople(keypoints, tuple(images), np.asarray(image_ids, np.int64), np.asarray(ids, np.int64),
                           np.asarray(boxes, np.float64).reshape(-1, 4))


def _coco_layout(path: Path, categories: list) -> str:
    names = next((tuple(c["keypoints"]) for c in categories if isinstance(c, dict) and c.get("keypoints")), None)
    if names is None or names == COCO17_NAMES:
        return "coco17"
    if len(names) == skeleton.NUM_JOINTS and any(word in names[0].lower() for word in ("root", "pelvis")):
        return "h36m17"
    raise KeypointsError(f"{path}: unknown keypoint layout {list(names)[:5]}...; pass layout='coco17' or 'h36m17'")
