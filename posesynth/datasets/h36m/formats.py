"""Readers of the original Human3.6M release and of VideoPose3D's files (mmpose's: ``h36m_mmpose``).

Each reader returns ``(views, skipped)``: :class:`~posesynth.datasets.h36m.types.H36MSequence` views in the
units of every layout (``joints3d`` camera frame, millimetres, 17 joints; ``joints2d`` pixels),
and ``skipped`` mapping a view's key to the reason it could not be used. A problem that concerns
the whole dataset (a missing subject, a file of the wrong structure) raises :class:`H36MError`
instead. See ``docs/h36m.md``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import cdflib
import numpy as np

from posesynth.datasets.h36m.cameras import (CAMERAS, PUBLISHED_SUBJECTS, H36MCamera, H36MError, project_to_image,
    published_camera, world_to_camera_mm)
from posesynth.datasets.h36m.types import H36MSequence, canonical_action, view_key
from posesynth.errors import untrusted_pickle
from posesynth.skeleton import H36M32_TO_17
from posesynth.video.index import probe_video
from posesynth.video.readers import VideoError

log = logging.getLogger(__name__)

Views = tuple[list[H36MSequence], dict[str, str]]


# --- shared ---------------------------------------------------------------------------------

def action_or_none(name: str) -> str | None:
    """Canonical action, or None for files that are no action (the release's ``_ALL`` sequences)."""
    try:
        return canonical_action(name)
    except H36MError:
        log.debug("ignoring %r: not a Human3.6M action", name)
        return None


def _fit_rows(array: np.ndarray, frames: int, source: object) -> np.ndarray:
    """Trim ``array`` (F', ...) to ``frames`` rows, or pad it with NaN rows (and say so)."""
    if len(array) >= frames:
        return array[:frames]
    log.warning("%s: %d frames where the 3D ground truth has %d; the rest are NaN", source, len(array), frames)
    pad = np.full((frames - len(array), *array.shape[1:]), np.nan, array.dtype)
    return np.concatenate([array, pad])


def _video_view(path: Path, mocap_frames: int, need_video: bool) -> tuple[Path | None, int]:
    """The video of a view (None when absent) and how many mocap frames it can show.

    Videos often run longer than the mocap (their tail is dropped); with ``need_video`` a shorter
    video shortens the view. Raises H36MError (the view is skipped) when ``need_video`` and the
    video is missing or unreadable.
    """
    if not path.is_file():
        if need_video:
            raise H36MError(f"video missing: {path}")
        return None, mocap_frames
    if not need_video:
        return path, mocap_frames
    try:
        info = probe_video(path)
    except (VideoError, OSError) as error:
        raise H36MError(f"video unreadable: {error}") from error
    if info.frames < mocap_frames:
        log.warning("%s: %d video frames for %d mocap frames; keeping the first %d", path, info.frames,
                    mocap_frames, info.frames)
    return path, min(info.frames, mocap_frames)


def _view(subject: str, name: str, action: str, camera: str, joints3d: np.ndarray, joints2d: np.ndarray | None,
          calibration: H36MCamera | None, video: Path | None, usable: int) -> H36MSequence:
    """A view of the first ``usable`` of ``len(joints3d)`` mocap frames."""
    if joints2d is None and calibration is not None:
        joints2d = project_to_image(joints3d, calibration)
    return H36MSequence(subject, name, action, camera, np.arange(usable, dtype=np.int64),
                        joints3d[:usable].astype(np.float32),
                        None if joints2d is None else joints2d[:usable].astype(np.float32),
                        calibration, video, None, len(joints3d))


# --- (a) the original release ---------------------------------------------------------------

def original_subjects(root: Path) -> list[Path]:
    """The subject folders (``S<n>/MyPoseFeatures``) directly under ``root``."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("S*") if re.fullmatch(r"S\d+", p.name) and (p / "MyPoseFeatures").is_dir())


def read_cdf_pose(path: Path, dims: int) -> np.ndarray:
    """The ``Pose`` variable of a Human3.6M CDF file as 17 joints.

    Args:
        path: a ``D3_Positions[_mono]`` (dims=3, mm) or ``D2_Positions`` (dims=2, px) file,
            ``Pose`` of shape (1, F, 32·dims).
    Returns:
        (F, 17, dims) float64, Human3.6M-17 order.
    """
    try:
        pose = np.asarray(cdflib.CDF(str(path)).varget("Pose"), np.float64)
    except Exception as error:  # cdflib raises bare Exceptions/OSErrors for bad files
        raise H36MError(f"{path}: cannot read the CDF variable 'Pose' ({type(error).__name__}: {error}); "
                        f"re-extract the file from the Human3.6M archive") from error
    if pose.size == 0 or pose.shape[-1] != 32 * dims:
        raise H36MError(f"{path}: 'Pose' has shape {pose.shape}, expected (1, F, {32 * dims})")
    return pose.reshape(-1, 32, dims)[:, list(H36M32_TO_17)]


def _original_names(features: Path) -> list[str]:
    """Sequence names with mocap: ``D3_Positions/<name>.cdf`` and ``D3_Positions_mono/<name>.<camera>.cdf``."""
    names = {p.stem for p in (features / "D3_Positions").glob("*.cdf")}
    for path in (features / "D3_Positions_mono").glob("*.cdf"):
        name, _, camera = path.stem.rpartition(".")
        if camera in CAMERAS:
            names.add(name)
    return sorted(names)


def load_original(root: Path, *, subjects: Sequence[str], cameras: Sequence[str], actions: Sequence[str],
                  need_video: bool) -> Views:
    """Views of the original release: ``S<n>/{Videos, MyPoseFeatures}`` (see the module docstring).

    3D from ``D3_Positions_mono/<seq>.<camera>.cdf`` (camera frame, mm) when present, else
    ``D3_Positions/<seq>.cdf`` (world, mm) through the published calibration; 2D from
    ``D2_Positions/<seq>.<camera>.cdf``, else projected.
    """
    found = [p.name for p in original_subjects(root)]
    views, skipped = [], {}
    for subject in subjects:
        if subject not in found:
            raise H36MError(f"{root / subject / 'MyPoseFeatures'}: missing; {root} has subjects {found} — "
                            f"extract that subject's poses there or change the subject selection")
        folder = root / subject
        features = folder / "MyPoseFeatures"
        for name in _original_names(features):
            action = action_or_none(name)
            if action not in actions:
                continue
            world: list[np.ndarray] = []  # read once per sequence, only if a camera lacks _mono
            for camera in cameras:
                key = view_key(subject, name, camera)
                try:
                    views.append(_original_view(folder, subject, name, action, camera, world, need_video))
                except H36MError as error:
                    skipped[key] = str(error)
    return views, skipped


def _original_view(folder: Path, subject: str, name: str, action: str, camera: str, world: list[np.ndarray],
                   need_video: bool) -> H36MSequence:
    features = folder / "MyPoseFeatures"
    calibration = published_camera(subject, camera) if subject in PUBLISHED_SUBJECTS else None
    mono = features / "D3_Positions_mono" / f"{name}.{camera}.cdf"
    world_file = features / "D3_Positions" / f"{name}.cdf"
    if mono.is_file():
        joints3d = read_cdf_pose(mono, 3)
    elif not world_file.is_file():
        raise H36MError(f"no 3D ground truth: neither {mono} nor {world_file} exists")
    elif calibration is None:
        raise H36MError(f"{world_file} is in world coordinates and {subject} has no published calibration; "
                        f"add {mono.name} to D3_Positions_mono")
    else:
        if not world:
            world.append(read_cdf_pose(world_file, 3))
        joints3d = world_to_camera_mm(world[0], calibration)
    d2 = features / "D2_Positions" / f"{name}.{camera}.cdf"
    joints2d = _fit_rows(read_cdf_pose(d2, 2), len(joints3d), d2) if d2.is_file() else None
    video, usable = _video_view(folder / "Videos" / f"{name}.{camera}.mp4", len(joints3d), need_video)
    return _view(subject, name, action, camera, joints3d, joints2d, calibration, video, usable)


# --- (b) VideoPose3D ------------------------------------------------------------------------

def npz_keys(path: Path) -> set[str]:
    """The array names of an npz without loading (or unpickling) anything; empty if unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return set(data.files)
    except (OSError, ValueError):
        return set()


def videopose3d_file(root: Path) -> Path | None:
    """``data_3d_h36m.npz`` (or another npz with ``positions_3d``): ``root`` itself or inside it."""
    if root.is_file():
        return root if "positions_3d" in npz_keys(root) else None
    if (root / "data_3d_h36m.npz").is_file():
        return root / "data_3d_h36m.npz"
    return next((p for p in sorted(root.glob("*.npz")) if "positions_3d" in npz_keys(p)), None)


def _pickled_table(path: Path, key: str) -> dict:
    """``np.load(path, allow_pickle=True)[key].item()``: a pickle, so call it on trusted files only."""
    try:
        with np.load(path, allow_pickle=True) as data:
            table = data[key].item()
    except (OSError, KeyError, ValueError) as error:
        raise H36MError(f"{path}: cannot read {key!r} ({error}); expected VideoPose3D's format "
                        f"(a pickled dict [subject][action])") from error
    if not isinstance(table, dict):
        raise H36MError(f"{path}: {key!r} is a {type(table).__name__}, expected a dict [subject][action]")
    return table


def _gt_2d(path: Path) -> dict | None:
    """``data_2d_h36m_gt.npz`` beside the 3D file: [subject][action] → 4 arrays (F, 17, 2) px.

    A pickle like the 3D file: read only once the 3D file is trusted (``trust_pickle``).
    """
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=True) as data:
        joints = data["metadata"].item().get("num_joints", 17) if "metadata" in data.files else 17
    if joints != 17:
        raise H36MError(f"{path}: metadata says {joints} joints; posesynth reads 17-joint 2D (Human3.6M layout)")
    return _pickled_table(path, "positions_2d")


def load_videopose3d(root: Path, *, subjects: Sequence[str], cameras: Sequence[str], actions: Sequence[str],
                     need_video: bool, trust_pickle: bool = False) -> Views:
    """Views from VideoPose3D's ``data_3d_h36m.npz`` (world, metres, 32 joints).

    2D from ``data_2d_h36m_gt.npz`` beside it when present, else projected with the published
    cameras (detections, ``data_2d_h36m_<detector>.npz``, are not ground truth and are not read).
    Videos are picked up from an original-release tree beside the file (``S<n>/Videos/``).
    Both npz files are pickles: they are read only with ``trust_pickle`` (``--trust-pickle``).

    Raises:
        UntrustedPickleError naming the file without ``trust_pickle``.
    """
    path = videopose3d_file(root)
    if path is None:
        raise H36MError(f"{root}: no data_3d_h36m.npz (an npz with 'positions_3d'); run VideoPose3D's "
                        f"prepare_data_h36m.py or pass the file")
    if not trust_pickle:
        raise untrusted_pickle(path, "VideoPose3D's Human3.6M file", "--trust-pickle")
    positions = _pickled_table(path, "positions_3d")
    positions_2d = _gt_2d(path.with_name("data_2d_h36m_gt.npz"))
    views, skipped = [], {}
    for subject in subjects:
        if subject not in positions:
            raise H36MError(f"{path}: positions_3d has no subject {subject!r} (it has {sorted(positions)})")
        for name, world in sorted(positions[subject].items()):
            action = action_or_none(name)
            if action not in actions:
                continue
            world = np.asarray(world, np.float64)
            if world.ndim != 3 or world.shape[1:] != (32, 3):
                raise H36MError(f"{path}: positions_3d[{subject!r}][{name!r}] has shape {world.shape}, "
                                f"expected (F, 32, 3) metres")
            world_mm = world[:, list(H36M32_TO_17)] * 1000.0
            for camera in cameras:
                calibration = published_camera(subject, camera)
                joints3d = world_to_camera_mm(world_mm, calibration)
                joints2d = None
                if positions_2d is not None and name in positions_2d.get(subject, {}):
                    per_camera = positions_2d[subject][name]
                    source = f"data_2d_h36m_gt.npz[{subject!r}][{name!r}]"
                    if len(per_camera) != len(CAMERAS):
                        raise H36MError(f"{source}: {len(per_camera)} arrays, expected one per camera {CAMERAS}")
                    joints2d = _fit_rows(np.asarray(per_camera[CAMERAS.index(camera)]), len(joints3d), source)
                try:
                    video, usable = _video_view(_vp3d_video(path.parent, subject, name, camera), len(joints3d),
                                                need_video)
                except H36MError as error:
                    skipped[view_key(subject, name, camera)] = str(error)
                    continue
                views.append(_view(subject, name, action, camera, joints3d, joints2d, calibration, video, usable))
    return views, skipped


def _vp3d_video(folder: Path, subject: str, name: str, camera: str) -> Path:
    """The original video of a VideoPose3D sequence: its names are canonical ("Photo 1"), S1's files
    are not ("TakingPhoto 1")."""
    spellings = [name, re.sub(r"^Photo\b", "TakingPhoto", name), re.sub(r"^WalkDog\b", "WalkingDog", name)]
    candidates = [folder / subject / "Videos" / f"{n}.{camera}.mp4" for n in spellings]
    return next((p for p in candidates if p.is_file()), candidates[0])
