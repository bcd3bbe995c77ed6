"""Synchronised multi-view training tuples: one instant seen by two calibrated cameras.

A *rig* is one synchronised recording: several videos of the same scene, each matched to a
calibrated camera. :class:`MultiViewDataset` draws an instant t and two views i ≠ j of a rig and
returns, for each view, what :class:`~posesynth.data.pairs.FramePairDataset` returns for the frame
pair (t, t') of that view (t' is the appearance frame, ``min_gap ≤ |t − t'| ≤ max_gap``), plus the
crop camera of that view and the rigid map between the two crop cameras (Li et al. AAAI 2020 use
this map for their transform re-projection loss).

Matching videos to cameras (case-insensitive): a video belongs to the camera whose name equals
its file stem (``cam01.mp4`` ↔ ``cam01``) or ends it after a separator ``.``, ``_``, ``-`` or a
space (``Walking 1.54138969.mp4`` ↔ ``54138969``, ``trial3_cam01.mp4`` ↔ ``cam01``); the longest
such name wins. Videos in the same folder whose stems agree once the camera name is removed form
one rig (``Walking 1`` above). A ``posesynth synth`` set is grouped by its ``scenes.json``.

Crop cameras. posesynth's model sees a crop through a fixed pinhole whose optical axis goes
through the crop centre. The matching *virtual* camera shares the real camera's centre, is turned
by ``R_crop`` (:func:`posesynth.geometry.crop_camera_rotation`) so that the ray through the crop
centre is its z axis, has its principal point at the crop centre, and has the crop's
magnification there as focal lengths (between s·f/cos θ and s·f/cos²θ; s = crop side / box side,
θ the angle of the centre ray). A rotated pinhole sees a homography of the original image whereas
the crop is a similarity of it, so this camera agrees with the crop's pixels exactly at the centre
and to first order around it (docs/multiview.md gives the measured error). ``crop_rotation=False``
is the plain *crop approximation*: R_crop = I and K_crop = crop_matrix · K, exact in pixels but
oriented like the real camera rather than like the model's view.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from posesynth.data.calibration import CalibrationError, Camera, load_calibration, relative_extrinsics
from posesynth.data.crops import crop_matrix, crop_rotations
from posesynth.data.pairs import FramePairDataset, pair_counts, sample_pair

SEPARATORS = "._- "
CALIBRATION_PATTERNS = ("*.qca.txt", "*.toml", "calibration*.json", "cameras*.json")
SIZE_TOLERANCE = 0.01  # relative: encoder padding (1080 vs 1088 px) is not a different camera


@dataclass(frozen=True)
class Rig:
    """One synchronised recording.  ``cameras`` and ``videos`` share keys, the camera names."""

    name: str
    cameras: dict[str, Camera]
    videos: dict[str, Path]


def camera_for(stem: str, names: Sequence[str]) -> str | None:
    """The camera name a video stem belongs to (rule in the module docstring), or None."""
    low = stem.lower()
    found = [n for n in names if low == n.lower() or any(low.endswith(sep + n.lower()) for sep in SEPARATORS)]
    if not found:
        return None
    found.sort(key=len, reverse=True)
    if len(found) > 1 and len(found[0]) == len(found[1]):
        raise CalibrationError(f"video {stem!r} matches cameras {found[0]!r} and {found[1]!r} equally; rename one")
    return found[0]


def match_videos(videos: Sequence[Path], cameras: Mapping[str, Camera], source: str = "") -> list[Rig]:
    """Group ``videos`` into rigs by camera name.

    Raises:
        CalibrationError naming the unmatched videos and the calibration's cameras when any video
        matches no camera, or when two videos of one rig match the same camera.
    """
    groups: dict[tuple[Path, str], dict[str, Path]] = {}
    unmatched = []
    for path in videos:
        name = camera_for(path.stem, list(cameras))
        if name is None:
            unmatched.append(path.name)
            continue
        key = (path.parent, path.stem[:len(path.stem) - len(name)].rstrip(SEPARATORS))
        if name in groups.setdefault(key, {}):
            raise CalibrationError(f"{groups[key][name]} and {path} both match camera {name!r} of {source}")
        groups[key][name] = path
    if unmatched:
        raise CalibrationError(f"video(s) {sorted(unmatched)} match no camera of {source or 'the calibration'} "
                               f"(cameras {sorted(cameras)}); a video's stem must equal a camera name or end with "
                               f"one after '.', '_', '-' or a space — rename the files or the cameras")
    return [Rig(str(folder / stem) if stem else str(folder), {n: cameras[n] for n in sorted(views)},
                dict(sorted(views.items()))) for (folder, stem), views in sorted(groups.items())]


def synthetic_rigs(scenes: Path, videos: Sequence[Path]) -> list[Rig]:
    """Rigs of a ``posesynth synth`` set, one per scene of its ``scenes.json``; cameras named by video stem."""
    index = json.loads(scenes.read_text(encoding="utf-8"))
    size = (int(index["size"]),) * 2
    by_path = {p.resolve(): p for p in videos}
    rigs = []
    for scene in index["scenes"]:
        cameras, found = {}, {}
        for view in scene["views"]:
            path, name = (scenes.parent / view["video"]).resolve(), Path(view["video"]).stem
            if path in by_path:  # views whose video was skipped as unusable drop out
                cameras[name] = Camera(name, view["K"], view["R"], view["t"], size=size, source=str(scenes))
                found[name] = by_path[path]
        rigs.append(Rig(scene["name"], cameras, found))
    return rigs


def find_calibration(folder: Path) -> Path | None:
    """The calibration of the videos in ``folder``, or None.

    Looked for, in order: one file matching ``CALIBRATION_PATTERNS`` in ``folder`` or in the
    sibling ``calibration/`` folder (Pose2Sim's trial layout), then a synth set's ``../scenes.json``.
    """
    for where in (folder, folder.parent / "calibration"):
        found = sorted({p for pattern in CALIBRATION_PATTERNS for p in where.glob(pattern) if p.is_file()})
        if len(found) > 1:
            raise CalibrationError(f"{where}: several calibration files {[p.name for p in found]}; pass calibration=")
        if found:
            return found[0]
    scenes = folder.parent / "scenes.json"
    return scenes if scenes.is_file() else None


def build_rigs(videos: Sequence[Path], calibration: str | os.PathLike | Mapping[str, Camera] | None,
               subject: str | None = None, trust_pickle: bool = False) -> list[Rig]:
    """Rigs from video paths and a calibration (a file, ``{name: Camera}``, or None to look for a file).

    ``trust_pickle`` allows a Human3.6M ``cameras.pkl`` (never looked for: it must be named).
    """
    if calibration is None:
        common = Path(os.path.commonpath([str(p.parent) for p in videos]))
        calibration = find_calibration(common)
        if calibration is None:
            raise CalibrationError(f"{common}: no calibration file found ({', '.join(CALIBRATION_PATTERNS)}); "
                                   f"pass calibration= (data.calibration)")
    if isinstance(calibration, Mapping):
        return match_videos(videos, calibration, "the given cameras")
    path = Path(calibration)
    if path.suffix == ".json" and path.is_file() and '"posesynth-synthetic/' in path.read_text(encoding="utf-8"):
        return synthetic_rigs(path, videos)
    return match_videos(videos, load_calibration(path, subject=subject, trust_pickle=trust_pickle), str(path))


def frame_intrinsics(camera: Camera, width: int, height: int) -> np.ndarray:
    """The camera's K for its video's decoded size (3, 3) float64, pixels.

    Equal sizes (within 1 %, e.g. 1080 decoded vs 1088 calibrated: encoder padding) keep K; a
    uniformly resized video (binning, downscaling) scales K; anything else is an error.
    """
    if camera.size is None:
        return camera.K
    sx, sy = width / camera.size[0], height / camera.size[1]
    if abs(sx - 1) <= SIZE_TOLERANCE and abs(sy - 1) <= SIZE_TOLERANCE:
        return camera.K
    if abs(sx / sy - 1) <= SIZE_TOLERANCE:
        scale = np.diag([sx, sy, 1.0])
        # pixel centres at integers: u' = s·(u + ½) − ½
        scale[:2, 2] = [(sx - 1) / 2, (sy - 1) / 2]
        return scale @ camera.K
    raise CalibrationError(f"{camera.source}: camera {camera.name!r} is calibrated for {camera.size[0]}×"
                           f"{camera.size[1]} but its video is {width}×{height} (not a uniform resize)")


def crop_camera(K: np.ndarray, box: np.ndarray, size: int, rotate: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The crop camera of a square crop box (see the module docstring).

    Args:
        K: (3, 3) full-frame intrinsics, pixels. box: (4,) x0, y0, x1, y1 pixels. size: crop side S.
        rotate: the virtual camera looking through the crop centre (else the crop approximation).
    Returns:
        K_crop (3, 3) crop pixels and R_crop (3, 3) with X_crop = R_crop · X_camera, float64.
    """
    A = crop_matrix(box, size)
    if not rotate:
        return A @ K, np.eye(3)
    R_crop = crop_rotations(np.asarray(K, np.float64), np.asarray(box, np.float64)[None])[0]
    # focal lengths: the crop's magnification at its centre along x and y, i.e. the diagonal of
    # the Jacobian of crop pixels w.r.t. the virtual camera's normalised coordinates (x, y):
    # J = s · ∂π/∂p · K · R_cropᵀ[:, :2] at the centre ray p = K · R_cropᵀ · e_z. Its off-diagonal
    # (a skew of about 1 %) is dropped: posesynth's pinhole has square axes and no skew.
    p = K @ R_crop[2]
    d_pi = np.array([[1 / p[2], 0.0, -p[0] / p[2] ** 2], [0.0, 1 / p[2], -p[1] / p[2] ** 2]])
    J = A[0, 0] * d_pi @ K @ R_crop[:2].T
    c = (size - 1) / 2
    return np.array([[J[0, 0], 0.0, c], [0.0, J[1, 1], c], [0.0, 0.0, 1.0]]), R_crop


class MultiViewDataset(Dataset):
    """Two synchronised, calibrated views of one instant, each with its own appearance frame.

    Args:
        videos, cache: as :class:`FramePairDataset` (exactly one): a folder of videos, or a
            ``posesynth prepare`` cache of it. Every video must belong to a calibrated camera.
        calibration: a calibration file (:func:`~posesynth.data.calibration.load_calibration`), a
            synth ``scenes.json``, ``{name: Camera}``, or None to find one beside the videos.
        subject: Human3.6M calibration files only, e.g. "S1".
        trust_pickle: allow a ``cameras.pkl`` calibration (a Python pickle; ``data.trust_pickle``).
        size, min_gap, max_gap, seed: as FramePairDataset; ``min_gap``/``max_gap`` bound |t − t'|.
        instants_per_epoch: ``len(dataset)``; default the total number of instants of all rigs.
        crop_rotation: virtual crop cameras looking through the crop centre (default) or the
            crop approximation (R_crop = I).
        **pair_options: other FramePairDataset arguments (margin, box_source, ...).
    Raises:
        CalibrationError (names the file, videos and cameras) when videos and calibration do not
        match or no rig has two usable views; the errors of FramePairDataset.
    """

    def __init__(self, videos: str | os.PathLike | None = None, cache: str | os.PathLike | None = None, *,
                 calibration: str | os.PathLike | Mapping[str, Camera] | None = None, subject: str | None = None,
                 trust_pickle: bool = False, size: int = 64, min_gap: int = 5, max_gap: int = 50,
                 instants_per_epoch: int | None = None, seed: int = 0, crop_rotation: bool = True, **pair_options):
        self.pairs = FramePairDataset(videos, cache, size=size, min_gap=min_gap, max_gap=max_gap, seed=seed,
                                      **pair_options)
        self.size, self.seed, self.crop_rotation = self.pairs.settings["size"], seed, crop_rotation
        self.min_gap, self.max_gap = min_gap, max_gap
        paths = [Path(v["path"]) for v in self.pairs.videos]
        index = {p.resolve(): k for k, p in enumerate(paths)}
        self.rigs: list[Rig] = []
        self.views: list[list[tuple[int, np.ndarray, Camera]]] = []  # per rig: (video index, frame K, camera)
        frames = []
        for rig in build_rigs(paths, calibration, subject, trust_pickle):
            if len(rig.videos) < 2:
                warnings.warn(f"rig {rig.name}: only {list(rig.videos)} usable, needs two views; skipped", stacklevel=2)
                continue
            views = []
            for name, path in rig.videos.items():
                k, cam = index[path.resolve()], rig.cameras[name]
                info = self.pairs.videos[k]
                views.append((k, frame_intrinsics(cam, int(info["width"]), int(info["height"])), cam))
            counts = [int(self.pairs.frames[k]) for k, *_ in views]
            if len(set(counts)) > 1:
                warnings.warn(f"rig {rig.name}: views have {dict(zip(rig.videos, counts))} frames; using the first "
                              f"{min(counts)} (assumes they start together)", stacklevel=2)
            self.rigs.append(rig)
            self.views.append(views)
            frames.append(min(counts))
        self.frames = np.asarray(frames, np.int64)
        counts = pair_counts(self.frames, min_gap, max_gap) if frames else np.zeros(0)
        if counts.sum() == 0:
            raise CalibrationError("no rig has two synchronised views with more than min_gap frames; check the "
                                   "videos and the calibration's camera names")
        self.weights = counts / counts.sum()
        self.length = int(instants_per_epoch) if instants_per_epoch is not None else int(self.frames.sum())

    def __len__(self) -> int:
        return self.length

    def sample(self, i: int) -> tuple[int, int, int, int, int]:
        """Item ``i``'s (rig, view i, view j, instant t, appearance instant t'): a pure function of (seed, i)."""
        if not 0 <= i < self.length:
            raise IndexError(f"item {i} out of range [0, {self.length})")
        rng = np.random.default_rng((self.seed, i))
        rig, t, t2 = sample_pair(rng, self.frames, self.weights, self.min_gap, self.max_gap)
        a, b = rng.choice(len(self.views[rig]), size=2, replace=False)
        return rig, int(a), int(b), t, t2

    def __getitem__(self, i: int) -> dict:
        return self.load(*self.sample(int(i)))

    def load(self, rig: int, view_i: int, view_j: int, t: int, t2: int) -> dict:
        """The tuple of views ``view_i`` and ``view_j`` of rig ``rig`` at instant ``t`` (appearance at ``t2``).

        Returns:
            ``view_i``, ``view_j``: dicts with FramePairDataset's keys for the pair (t, t2) of that
            view (``target`` is the frame at t, ``source`` the frame at t2), plus ``K`` (3, 3) the
            full-frame intrinsics, ``K_crop`` (3, 3) crop-camera intrinsics in crop pixels,
            ``R_crop`` (3, 3) real camera → crop camera, ``view`` int; ``R_ij`` (3, 3) and
            ``t_ij`` (3,) metres with X_j = R_ij·X_i + t_ij between the two crop cameras; ``rig``,
            ``instant``, ``other_instant`` ints. Tensors are float32.
        """
        items = []
        for view in (view_i, view_j):
            video, K, _ = self.views[rig][view]
            item = self.pairs.load_pair(video, t, t2)
            K_crop, R_crop = crop_camera(K, item["box"].numpy(), self.size, self.crop_rotation)
            item.update(K=K, K_crop=K_crop, R_crop=R_crop, view=view)
            items.append(item)
        R_ab, t_ab = relative_extrinsics(self.views[rig][view_i][2], self.views[rig][view_j][2])
        # real camera i → real camera j, seen from the crop cameras: X_cj = Rc_j·(R_ab·Rc_iᵀ·X_ci + t_ab)
        R_ij = items[1]["R_crop"] @ R_ab @ items[0]["R_crop"].T
        t_ij = items[1]["R_crop"] @ t_ab
        for item in items:
            for key in ("K", "K_crop", "R_crop"):
                item[key] = torch.as_tensor(item[key], dtype=torch.float32)
        return {"view_i": items[0], "view_j": items[1], "R_ij": torch.as_tensor(R_ij, dtype=torch.float32),
                "t_ij": torch.as_tensor(t_ij, dtype=torch.float32), "rig": rig, "instant": t, "other_instant": t2}


__all__ = ["MultiViewDataset", "Rig", "build_rigs", "camera_for", "crop_camera", "find_calibration",
           "frame_intrinsics", "match_videos", "synthetic_rigs"]
