"""Where Human3.6M puts the joints MediaPipe has no landmark for, fitted on Human3.6M motion capture.

The joint-definition correction of :mod:`posesynth.detect.mapping` needs a few numbers that no
bone length gives: how far Human3.6M's thorax sits above the middle of its shoulder joints, how
far its head joint sits from its neck/nose joint, how wide its shoulders are. They are fitted
here on Human3.6M's own motion capture, never on images: the exponential-map recordings of
subject S1 in the motion-prediction format (``realdata/dmgnn/S1_walking_1.txt`` and
``S1_directions_1.txt``, Martinez et al.'s standard 32-joint offset table), put through forward
kinematics. Nothing comes from the four Human3.6M test frames (``realdata/mmpose/h36m``): their
S1 frame is frame 1 of Directions 1, and :data:`FIT_SOURCES` starts that recording 250 frames
(5 s) later; the other three are subjects S5, S7 and S8, who are not in the fit at all.

Every offset is expressed in the *torso frame* of :func:`posesynth.detect.mapping.torso_frame`
(left, up, forward, built from the mid-hips, mid-shoulders and the hip and shoulder lines), in
units of the reference person's size (shins and forearms), so that the mapping can rebuild it on
any person from MediaPipe's world landmarks. ``scripts/fit_keypoint_correction.py`` prints the
fitted numbers; :data:`posesynth.detect.mapping.FITTED` holds them, and a test checks the two agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posesynth.detect.mapping import torso_frame

# the fit data: (file under realdata/dmgnn, first row used). 50 frames/s, one row per frame.
FIT_SOURCES: tuple[tuple[str, int], ...] = (("S1_walking_1.txt", 0), ("S1_directions_1.txt", 250))
# the four test frames (realdata/mmpose/h36m) the fit must never see: (subject, recording, frame)
EVALUATION_FRAMES: tuple[tuple[str, str, int], ...] = (
    ("S1", "Directions 1", 1), ("S5", "SittingDown", 2061), ("S7", "Greeting", 396), ("S8", "WalkDog 1", 26))

# Human3.6M's 32-joint kinematic tree and offsets (mm) as used by the motion-prediction literature
# (Martinez et al. 2017, human-motion-prediction/src/forward_kinematics.py)
PARENTS32 = np.array([0, 1, 2, 3, 4, 5, 1, 7, 8, 9, 10, 1, 12, 13, 14, 15, 13,
                      17, 18, 19, 20, 21, 20, 23, 13, 25, 26, 27, 28, 29, 28, 31]) - 1
OFFSETS32_MM = np.array([
    0, 0, 0, -132.948591, 0, 0, 0, -442.894612, 0, 0, -454.206447, 0, 0, 0, 162.767078, 0, 0, 74.999437,
    132.948826, 0, 0, 0, -442.894413, 0, 0, -454.206590, 0, 0, 0, 162.767426, 0, 0, 74.999948, 0, 0.1, 0,
    0, 233.383263, 0, 0, 257.077681, 0, 0, 121.134938, 0, 0, 115.002227, 0, 0, 257.077681, 0, 0, 151.034226,
    0, 0, 278.882773, 0, 0, 251.733451, 0, 0, 0, 0, 0, 0, 99.999627, 0, 100.000188, 0, 0, 0, 0, 0,
    257.077681, 0, 0, 151.031437, 0, 0, 278.892924, 0, 0, 251.728680, 0, 0, 0, 0, 0, 0, 99.999888, 0,
    137.499922, 0, 0, 0, 0]).reshape(32, 3)
# the 32-joint indices used here
PELVIS, RHIP, RKNEE, RANKLE, LHIP, LKNEE, LANKLE = 0, 1, 2, 3, 6, 7, 8
SPINE, THORAX, NECK_NOSE, HEAD = 12, 13, 14, 15
LSHOULDER, LELBOW, LWRIST, RSHOULDER, RELBOW, RWRIST = 17, 18, 19, 25, 26, 27


def expmap_to_matrix(r: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle vectors → (..., 3, 3) rotation matrices (Rodrigues)."""
    angle = np.linalg.norm(r, axis=-1)[..., None, None]
    axis = r / np.maximum(np.linalg.norm(r, axis=-1, keepdims=True), 1e-12)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    K = np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], -2)
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def expmap_poses(channels: np.ndarray) -> np.ndarray:
    """Forward kinematics of motion-prediction exp-map rows, (F, 99) → (F, 32, 3) metres.

    The global translation and rotation (the first 6 columns) are ignored: every pose is in its
    root's frame, which is all the torso-frame offsets need.
    """
    rotations = expmap_to_matrix(channels[:, 3:].reshape(len(channels), 32, 3))
    rotations[:, 0] = np.eye(3)
    xyz = np.zeros((len(channels), 32, 3))
    world = np.zeros_like(rotations)
    for j in range(32):
        parent = PARENTS32[j]
        if parent < 0:
            xyz[:, j], world[:, j] = OFFSETS32_MM[j], rotations[:, j]
        else:
            xyz[:, j] = np.einsum("i,fij->fj", OFFSETS32_MM[j], world[:, parent]) + xyz[:, parent]
            world[:, j] = rotations[:, j] @ world[:, parent]
    return xyz / 1000.0


def load_fit_poses(dmgnn: Path) -> np.ndarray:
    """The poses of :data:`FIT_SOURCES` from the ``realdata/dmgnn`` folder, (F, 32, 3) metres."""
    return np.concatenate([expmap_poses(np.loadtxt(Path(dmgnn) / name, delimiter=",")[first:])
                           for name, first in FIT_SOURCES])


def person_size(poses: np.ndarray) -> np.ndarray:
    """(F,) sum of the shins and forearms, metres: the size :func:`mapping.person_scale` compares."""
    pairs = ((RKNEE, RANKLE), (LKNEE, LANKLE), (LELBOW, LWRIST), (RELBOW, RWRIST))
    return sum(np.linalg.norm(poses[:, a] - poses[:, b], axis=-1) for a, b in pairs)


def fit_correction(poses: np.ndarray) -> dict[str, object]:
    """The numbers :data:`posesynth.detect.mapping.FITTED` holds, from (F, 32, 3) Human3.6M poses.

    Lengths are in units of the reference person (metres of a person whose shins + forearms sum to
    ``scale_bones_m``); offsets are (left, up, forward) in :func:`~posesynth.detect.mapping.torso_frame`.
    """
    distance = lambda a, b: np.linalg.norm(poses[:, a] - poses[:, b], axis=-1)  # noqa: E731
    size = person_size(poses)
    unit = size.mean() / size  # every length below in units of the mean reference person
    mid_shoulder = (poses[:, LSHOULDER] + poses[:, RSHOULDER]) / 2
    frame = torso_frame(poses[:, LHIP], poses[:, RHIP], poses[:, LSHOULDER], poses[:, RSHOULDER])
    in_frame = lambda v: np.einsum("fij,fj->fi", frame, v) * unit[:, None]  # noqa: E731
    pelvis_to_thorax = poses[:, THORAX] - poses[:, PELVIS]
    spine_fraction = (np.einsum("fi,fi->f", poses[:, SPINE] - poses[:, PELVIS], pelvis_to_thorax)
                      / np.einsum("fi,fi->f", pelvis_to_thorax, pelvis_to_thorax))
    thigh = (distance(RHIP, RKNEE) + distance(LHIP, LKNEE)) / 2
    r = lambda x: round(float(x), 4)  # noqa: E731
    # left/right symmetric by definition: the mean sideways offset (a few mm) is the subject's, dropped
    symmetric = lambda v: (0.0, r(v[1]), r(v[2]))  # noqa: E731
    return {
        "frames": int(len(poses)),
        "shin_m": r(((distance(RKNEE, RANKLE) + distance(LKNEE, LANKLE)) / 2 * unit).mean()),
        "forearm_m": r(((distance(LELBOW, LWRIST) + distance(RELBOW, RWRIST)) / 2 * unit).mean()),
        "half_hips_m": r((distance(LHIP, RHIP) / 2 * unit).mean()),
        "half_shoulders_m": r((distance(LSHOULDER, RSHOULDER) / 2 * unit).mean()),
        "torso_to_thigh": r((distance(THORAX, PELVIS) / thigh).mean()),
        "spine_fraction": r(spine_fraction.mean()),
        "thorax_from_mid_shoulders_m": symmetric(in_frame(poses[:, THORAX] - mid_shoulder).mean(0)),
        "head_from_neck_m": symmetric(in_frame(poses[:, HEAD] - poses[:, NECK_NOSE]).mean(0)),
    }


__all__ = ["FIT_SOURCES", "EVALUATION_FRAMES", "expmap_to_matrix", "expmap_poses", "load_fit_poses", "person_size",
           "fit_correction"]
