"""Unpaired real 3D poses for the adversarial pose prior.

Every loader returns one float32 array ``(N, 17, 3)``: metres, Human3.6M-17 joint order
(``skeleton.JOINT_NAMES``), root-relative (pelvis at the origin), in a body frame whose vertical
is posesynth's: y points **down** (camera convention, docs/architecture.md). The heading about
the vertical is whatever the source has.

Sources:
- VideoPose3D ``data_3d_h36m.npz`` (``positions_3d``: [subject][action] → (F, 32, 3) world
  metres, z up): 32 → 17 joints with ``skeleton.H36M32_TO_17``, z-up turned into y-down.
- mmpose ``h36m_*.npz`` annotations (``S``: (N, 17, 4) camera-frame metres + visibility), kept
  as they are (the camera frame already has y down).
- ``.npy`` (N, 17, 3) in posesynth's frame, unit given by ``unit``.
- ``.bvh`` motion capture (CMU by default): forward kinematics, a joint-name mapping onto the
  17 joints, y-up turned into y-down, and a scale from the canonical skeleton (see
  :func:`load_bvh_poses`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from posesynth import skeleton as sk
from posesynth.data.arrays import load_array, open_archive
from posesynth.data.bvh import bvh_joint_positions, read_bvh
from posesynth.errors import untrusted_pickle

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES: tuple[str, ...] = (".npz", ".npy", ".bvh")
UNITS: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001}  # metres per unit

# CMU mocap BVH joint names → the 17 posesynth joints; a tuple is the mean of its joints.
# Chosen against real Human3.6M geometry (realdata/mmpose/h36m): H36M's pelvis is exactly the
# hip midpoint; its thorax sits a few cm above the shoulder line, like CMU's Neck1 (CMU's Neck
# coincides with Spine1, below the shoulders); its neck/nose is ~0.1 m above the thorax and its
# head top ~0.1 m above that, like CMU's Head joint and the Head end site; its spine is about
# halfway from pelvis to thorax, like CMU's Spine. Checked on data: between CMU 01_01 frames and
# the 4 real Human3.6M poses, this mapping has a lower best-match PA-MPJPE (84 mm mean) than
# thorax = Neck or the shoulder midpoint, spine = Spine1 or LowerBack, or pelvis = Hips (86-93).
CMU_TO_H36M17: dict[str, str | tuple[str, ...]] = {
    "pelvis": ("LeftUpLeg", "RightUpLeg"),
    "rhip": "RightUpLeg", "rknee": "RightLeg", "rankle": "RightFoot",
    "lhip": "LeftUpLeg", "lknee": "LeftLeg", "lankle": "LeftFoot",
    "spine": "Spine",
    "thorax": "Neck1",
    "neck": "Head",
    "head": "Head_End",
    "lshoulder": "LeftArm", "lelbow": "LeftForeArm", "lwrist": "LeftHand",
    "rshoulder": "RightArm", "relbow": "RightForeArm", "rwrist": "RightHand",
}

# Proper rotations (det +1) into posesynth's y-down frame, applied as p @ R.T.
# BVH: y up, subject facing +z, subject's left on +x  → half-turn about x: (x, −y, −z).
_BVH_Y_UP_TO_Y_DOWN = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])
# Human3.6M world: z up (its cameras hang ~1.5 m up in z) → quarter-turn about x: (x, −z, y).
_Z_UP_TO_Y_DOWN = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

# A median bone longer than this cannot be metres (the longest human bone is ~0.5 m).
_MAX_MEDIAN_BONE_M = 2.0
# A median bone shorter than this (1 mm) is no skeleton: all-zero or collapsed poses.
_MIN_MEDIAN_BONE_M = 1e-3


def bone_lengths(poses: np.ndarray) -> np.ndarray:
    """(..., 17, 3) → (..., 16) lengths of ``skeleton.BONES``, in the input unit."""
    parents, children = zip(*sk.BONES)
    return np.linalg.norm(poses[..., list(children), :] - poses[..., list(parents), :], axis=-1)


def normalize_poses(poses: np.ndarray | torch.Tensor, *, root: int = sk.ROOT, scale: bool = False
                    ) -> np.ndarray | torch.Tensor:
    """Make poses root-relative and, optionally, of one size.

    With ``scale=True`` each pose is scaled so that the sum of its 16 bone lengths equals the
    canonical skeleton's (``skeleton.BONE_LENGTHS_M``), so it stays roughly in metres while
    differences in body size disappear.

    Args:
        poses: (..., 17, 3) numpy or torch, metres.
        root: joint moved to the origin.
        scale: also normalise the size per pose.
    Returns:
        (..., 17, 3) a new array/tensor of the same type.
    """
    centred = poses - poses[..., root:root + 1, :]
    if not scale:
        return centred
    parents, children = zip(*sk.BONES)
    diff = centred[..., list(children), :] - centred[..., list(parents), :]
    total = ((diff * diff).sum(-1) ** 0.5).sum(-1)[..., None, None]  # (..., 1, 1)
    return centred * (sum(sk.BONE_LENGTHS_M) / (total + 1e-12))


def _check_metres(poses: np.ndarray, source: str) -> None:
    if not np.isfinite(poses).all():
        raise ValueError(f"{source}: poses contain NaN or infinite values")
    median = float(np.median(bone_lengths(poses)))
    if median > _MAX_MEDIAN_BONE_M:
        guess = "mm" if median > 100 else "cm"
        raise ValueError(f"{source}: median bone length is {median:.1f}, too long for metres; the file looks "
                         f"like {guess} — pass unit={guess!r} (units: {sorted(UNITS)})")
    if median < _MIN_MEDIAN_BONE_M:
        raise ValueError(f"{source}: median bone length is {median:.2g} m: the poses are all zero or collapsed "
                         f"to a point, not skeletons; check the file (N, 17, 3 metres, Human3.6M-17 order)")


def _warn_if_constant(poses: np.ndarray, source: str) -> None:
    """Warn when every pose is the same: the adversarial prior then learns a single pose."""
    if len(poses) > 1 and float(np.abs(poses - poses[:1]).max()) < 1e-6:
        log.warning("%s: all %d poses are identical (zero variance): the pose prior will only accept that one "
                    "pose; use real motion capture with varied poses", source, len(poses))


def _finish(poses: np.ndarray, source: str) -> np.ndarray:
    """Root-relative float32 (N, 17, 3) after a units sanity check."""
    if len(poses) == 0:
        raise ValueError(f"{source}: no poses selected")
    poses = normalize_poses(np.asarray(poses, dtype=np.float64))
    _check_metres(poses, source)
    _warn_if_constant(poses, source)
    return poses.astype(np.float32)


def load_npz_poses(path: str | Path, *, subjects: Sequence[str] | None = None, frame_step: int = 1,
                   trust_pickle: bool = False) -> np.ndarray:
    """Poses from a VideoPose3D ``data_3d_h36m.npz`` or an mmpose ``h36m_*.npz`` annotation file.

    VideoPose3D files hold a *pickled* dict: unpickling can run arbitrary code, so they are read
    only with ``trust_pickle=True`` (``data.trust_pickle=true``). mmpose files are plain arrays.

    Args:
        path: the ``.npz`` file.
        subjects: keep only these subjects (e.g. ``["S1", "S5"]``); None keeps all.
        frame_step: keep every ``frame_step``-th frame of each sequence (of the rows for mmpose).
        trust_pickle: allow reading a VideoPose3D file (a pickle).
    Returns:
        (N, 17, 3) float32 metres, root-relative, y down.
    Raises:
        UntrustedPickleError naming the file for a VideoPose3D file without ``trust_pickle``.
    """
    path = Path(path)
    with open_archive(path, "a VideoPose3D or mmpose Human3.6M .npz") as data:
        keys = set(data.files)
        if "S" in keys and "positions_3d" not in keys:
            names = data["imgname"] if "imgname" in keys else None
            return _from_mmpose(data["S"], names, path, subjects, frame_step)
    if "positions_3d" not in keys:
        raise ValueError(f"{path}: no 'positions_3d' (VideoPose3D) or 'S' (mmpose) array; found keys {sorted(keys)}")
    if not trust_pickle:
        raise untrusted_pickle(path, "a VideoPose3D poses file (positions_3d)")
    with np.load(path, allow_pickle=True) as data:
        table = data["positions_3d"].item()
    if not isinstance(table, dict):
        raise ValueError(f"{path}: positions_3d should be a dict [subject][action] → (F, 32, 3)")
    return _from_videopose3d(table, path, subjects, frame_step)


def _from_videopose3d(table: dict, path: Path, subjects: Sequence[str] | None, frame_step: int) -> np.ndarray:
    missing = sorted(set(subjects or ()) - set(table))
    if missing:
        raise ValueError(f"{path}: subjects {missing} not in the file (it has {sorted(table)})")
    chunks = []
    for subject in sorted(table):
        if subjects is not None and subject not in subjects:
            continue
        for action, frames in sorted(table[subject].items()):
            frames = np.asarray(frames)
            if frames.ndim != 3 or frames.shape[1:] != (32, 3):
                raise ValueError(f"{path}: positions_3d[{subject!r}][{action!r}] has shape {frames.shape}, "
                                 f"expected (F, 32, 3)")
            chunks.append(frames[::frame_step][:, list(sk.H36M32_TO_17)])
    if not chunks:
        raise ValueError(f"{path}: no poses selected (subjects={subjects})")
    return _finish(np.concatenate(chunks) @ _Z_UP_TO_Y_DOWN.T, str(path))


def _from_mmpose(S: np.ndarray, names: np.ndarray | None, path: Path, subjects: Sequence[str] | None,
                 frame_step: int) -> np.ndarray:
    if S.ndim != 3 or S.shape[1] != 17 or S.shape[2] not in (3, 4):
        raise ValueError(f"{path}: 'S' has shape {S.shape}, expected (N, 17, 3) or (N, 17, 4)")
    keep = np.ones(len(S), dtype=bool)
    if subjects is not None:
        if names is None:
            raise ValueError(f"{path}: cannot filter by subject without an 'imgname' array")
        keep = np.array([str(n).split("/")[0] in subjects for n in names])
    return _finish(S[keep][::frame_step, :, :3], str(path))


def load_npy_poses(path: str | Path, *, unit: str = "m", frame_step: int = 1) -> np.ndarray:
    """Poses from a ``.npy`` array (N, 17, 3), Human3.6M-17 order, already in posesynth's frame.

    Args:
        path: the ``.npy`` file.
        unit: "m", "cm" or "mm"; a file that looks like mm/cm while ``unit="m"`` is an error.
        frame_step: keep every ``frame_step``-th row.
    Returns:
        (N, 17, 3) float32 metres, root-relative.
    """
    path = Path(path)
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {sorted(UNITS)}, got {unit!r}")
    poses = load_array(path, "an (N, 17, 3) array of poses")
    if poses.ndim != 3 or poses.shape[1:] != (17, 3):
        raise ValueError(f"{path}: array has shape {poses.shape}, expected (N, 17, 3) in Human3.6M-17 order")
    return _finish(poses[::frame_step] * UNITS[unit], str(path))


def load_bvh_poses(path: str | Path, *, frame_step: int = 1,
                   mapping: Mapping[str, str | Sequence[str]] | None = None, scale: float | None = None
                   ) -> np.ndarray:
    """Poses from a BVH file: forward kinematics, then a joint-name mapping onto the 17 joints.

    Scale: with ``scale=None`` the whole file is scaled by one factor so that its mean bone
    lengths sum to the canonical skeleton's (``skeleton.BONE_LENGTHS_M``): the *size* comes from
    the canonical skeleton, the *proportions* from the data. Pass ``scale`` (metres per file
    unit) to keep the recorded size instead.

    Args:
        path: the ``.bvh`` file (y up, as BVH files conventionally are).
        frame_step: keep every ``frame_step``-th frame (CMU is 120 fps: 4 gives 30 fps).
        mapping: posesynth joint name → BVH joint name, or a sequence of names whose mean is
            taken; end sites are named ``<parent>_End``. Default :data:`CMU_TO_H36M17`.
        scale: metres per file unit, or None for the canonical-skeleton scale.
    Returns:
        (N, 17, 3) float32 metres, root-relative, y down.
    """
    path = Path(path)
    bvh = read_bvh(path)
    mapping = CMU_TO_H36M17 if mapping is None else mapping
    missing_targets = [name for name in sk.JOINT_NAMES if name not in mapping]
    if missing_targets:
        raise ValueError(f"{path}: BVH mapping lacks posesynth joints {missing_targets} (needs all of {list(sk.JOINT_NAMES)})")
    index = {name: i for i, name in enumerate(bvh.names)}
    sources = [[mapping[name]] if isinstance(mapping[name], str) else list(mapping[name])
               for name in sk.JOINT_NAMES]
    unknown = sorted({s for group in sources for s in group if s not in index})
    if unknown:
        hint = " (the default mapping is for the CMU skeleton; pass mapping=...)" if mapping is CMU_TO_H36M17 else ""
        raise ValueError(f"{path}: BVH has no joints {unknown}{hint}; its joints are {list(bvh.names)}")
    positions = bvh_joint_positions(bvh, frame_step)  # (F, J_bvh, 3) file units, y up
    poses = np.stack([positions[:, [index[s] for s in group]].mean(1) for group in sources], 1)
    poses = normalize_poses(poses) @ _BVH_Y_UP_TO_Y_DOWN.T
    if scale is None:
        mean_lengths = bone_lengths(poses).mean(0)
        scale = sum(sk.BONE_LENGTHS_M) / max(float(mean_lengths.sum()), 1e-12)
    return _finish(poses * scale, str(path))


def _expand(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Files to load: folders expand to their supported files (recursively, sorted)."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
            if not found:
                raise ValueError(f"{item}: folder holds no supported pose files ({', '.join(SUPPORTED_SUFFIXES)})")
            files.extend(found)
        elif not item.exists():
            raise FileNotFoundError(f"{item}: no such file or folder")
        else:
            files.append(item)
    return files


def load_poses3d(paths: str | Path | Iterable[str | Path], *, frame_step: int = 1,
                 subjects: Sequence[str] | None = None, unit: str = "m",
                 bvh_mapping: Mapping[str, str | Sequence[str]] | None = None, bvh_scale: float | None = None,
                 trust_pickle: bool = False) -> np.ndarray:
    """Load unpaired 3D poses from files and/or folders into one array.

    Dispatches on the suffix (``.npz``, ``.npy``, ``.bvh``); a folder loads every supported
    file inside it (recursively, other files ignored).

    Args:
        paths: a file, a folder, or several of them.
        frame_step: keep every ``frame_step``-th frame of every sequence.
        subjects: Human3.6M subjects to keep (npz files only), e.g. ``["S1", "S5", "S6", "S7", "S8"]``.
        unit: unit of ``.npy`` files ("m", "cm", "mm").
        bvh_mapping, bvh_scale: see :func:`load_bvh_poses`.
        trust_pickle: allow VideoPose3D npz files (pickles; see :func:`load_npz_poses`).
    Returns:
        (N, 17, 3) float32 metres, root-relative, y down, Human3.6M-17 order.
    """
    if frame_step < 1:
        raise ValueError(f"frame_step must be >= 1, got {frame_step}")
    loaders: dict[str, Callable[[Path], np.ndarray]] = {
        ".npz": lambda p: load_npz_poses(p, subjects=subjects, frame_step=frame_step, trust_pickle=trust_pickle),
        ".npy": lambda p: load_npy_poses(p, unit=unit, frame_step=frame_step),
        ".bvh": lambda p: load_bvh_poses(p, frame_step=frame_step, mapping=bvh_mapping, scale=bvh_scale),
    }
    files = _expand(paths)
    if not files:
        raise ValueError("no pose files given")
    arrays = []
    for file in files:
        loader = loaders.get(file.suffix.lower())
        if loader is None:
            raise ValueError(f"{file}: unsupported pose file type {file.suffix!r}; supported: "
                             f"{', '.join(SUPPORTED_SUFFIXES)}")
        arrays.append(loader(file))
    return np.concatenate(arrays)
