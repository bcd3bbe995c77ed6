"""A predicted pose sequence as a motion: fixed bone lengths, smoothing that keeps them, the root track.

A pose encoder predicts each frame on its own, so its poses jitter and (the 2.5D encoder's bone
lengths are free) their bones change length from frame to frame. A motion for animation or
analysis needs one skeleton: :func:`fixed_lengths` takes each bone's median length over the
video, :func:`with_bone_lengths` rebuilds every pose from its bone directions with those lengths,
and :func:`smooth_motion` smooths the bone *directions* over time (a Gaussian, then
renormalised), so smoothing never shortens a bone.

:func:`root_translation` places the pose in the camera: the translation that best projects the
metric root-relative pose (canonical bone lengths) onto its 2D joints through the camera K — a
linear least-squares problem (each joint gives two equations linear in the translation).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from posesynth import skeleton

_PARENTS = np.array([p for p, _ in skeleton.BONES])
_CHILDREN = np.array([c for _, c in skeleton.BONES])


def bone_vectors(poses: np.ndarray) -> np.ndarray:
    """(F, 17, 3) poses → (F, 16, 3) child − parent of each bone, ordered like ``skeleton.BONES``."""
    return poses[:, _CHILDREN] - poses[:, _PARENTS]


def fixed_lengths(poses: np.ndarray) -> np.ndarray:
    """Each bone's median length over the frames: (F, 17, 3) metres → (16,) metres."""
    return np.median(np.linalg.norm(bone_vectors(poses), axis=-1), axis=0)


def with_bone_lengths(directions: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Root-relative poses from bone directions and lengths (forward kinematics down the tree).

    Args:
        directions: (F, 16, 3) bone vectors of any length (normalised here; a zero vector stays 0).
        lengths: (16,) metres.
    Returns:
        (F, 17, 3) metres, root at 0.
    """
    norm = np.linalg.norm(directions, axis=-1, keepdims=True)
    units = np.divide(directions, norm, out=np.zeros_like(directions), where=norm > 0)
    poses = np.zeros((len(directions), skeleton.NUM_JOINTS, 3))
    for bone, (parent, child) in enumerate(skeleton.BONES):  # parents come before their children
        poses[:, child] = poses[:, parent] + units[:, bone] * lengths[bone]
    return poses


def smooth_motion(poses: np.ndarray, sigma: float, lengths: np.ndarray | None = None) -> np.ndarray:
    """Temporal Gaussian smoothing of the bone directions, bone lengths held fixed.

    Args:
        poses: (F, 17, 3) root-relative, any one frame for all poses (e.g. the camera's), metres.
        sigma: standard deviation in frames (0: no smoothing, only the fixed lengths).
        lengths: (16,) metres; default :func:`fixed_lengths` of ``poses``.
    Returns:
        (F, 17, 3) metres: every bone has its fixed length in every frame.
    """
    lengths = fixed_lengths(poses) if lengths is None else lengths
    directions = bone_vectors(np.asarray(poses, np.float64))
    norm = np.linalg.norm(directions, axis=-1, keepdims=True)
    directions = np.divide(directions, norm, out=np.zeros_like(directions), where=norm > 0)
    if sigma > 0:
        directions = gaussian_filter1d(directions, sigma, axis=0, mode="nearest")
    return with_bone_lengths(directions, lengths)


def smooth_track(track: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of any (F, ...) array over frames (edges repeat the end frames); 0: a copy."""
    track = np.asarray(track, np.float64)
    return gaussian_filter1d(track, sigma, axis=0, mode="nearest") if sigma > 0 else track.copy()


def root_translation(poses: np.ndarray, joints2d: np.ndarray, K: np.ndarray,
                     weights: np.ndarray | None = None) -> np.ndarray:
    """The camera-frame translation of each root-relative pose that best explains its 2D joints.

    For normalised image coordinates x = (u − cx)/fx, y = (v − cy)/fy and a joint P (root-relative),
    the projection of P + T matches (x, y) when ``T_x − x·T_z = x·P_z − P_x`` and
    ``T_y − y·T_z = y·P_z − P_y``: 2J equations linear in T, solved by weighted least squares.
    Exact when the 2D joints are a perspective projection of the pose.

    Args:
        poses: (F, J, 3) root-relative, camera frame (x right, y down, z forward), metres.
        joints2d: (F, J, 2) pixels; K: (3, 3) the camera's intrinsics in the same pixels.
        weights: (F, J) per-joint weights (default 1).
    Returns:
        (F, 3) metres, the root (pelvis) position in the camera frame.
    """
    poses, joints2d = np.asarray(poses, np.float64), np.asarray(joints2d, np.float64)
    x = (joints2d[..., 0] - K[0, 2]) / K[0, 0]
    y = (joints2d[..., 1] - K[1, 2]) / K[1, 1]
    w = np.ones(x.shape) if weights is None else np.asarray(weights, np.float64)
    zeros, ones = np.zeros_like(x), np.ones_like(x)
    rows = np.concatenate([np.stack([ones, zeros, -x], -1), np.stack([zeros, ones, -y], -1)], axis=1)  # (F, 2J, 3)
    rhs = np.concatenate([x * poses[..., 2] - poses[..., 0], y * poses[..., 2] - poses[..., 1]], axis=1)
    sw = np.concatenate([w, w], axis=1)[..., None]
    normal = np.einsum("fji,fjk->fik", rows * sw, rows)
    return np.linalg.solve(normal + 1e-12 * np.eye(3), np.einsum("fji,fj->fi", rows * sw, rhs)[..., None])[..., 0]


def canonical_size(poses: np.ndarray) -> np.ndarray:
    """Poses rescaled so their summed bone length is the canonical skeleton's (the metric prior).

    Args:
        poses: (F, 17, 3) root-relative, any scale.
    Returns:
        (F, 17, 3) metres.
    """
    total = np.linalg.norm(bone_vectors(poses), axis=-1).sum(axis=1)
    scale = np.divide(sum(skeleton.BONE_LENGTHS_M), total, out=np.ones_like(total), where=total > 0)
    return poses * scale[:, None, None]


__all__ = ["bone_vectors", "fixed_lengths", "with_bone_lengths", "smooth_motion", "smooth_track",
           "root_translation", "canonical_size"]
