"""Forward kinematics of the 17-joint skeleton from named joint angles.

Body frame (the subject's own, before the root yaw): x towards the subject's left, y down,
z backwards, i.e. the subject faces −z — the same frame as ``skeleton.canonical_tpose``.
World frame: y down (gravity), the floor is the plane y = 0, so a standing body has y < 0.

Each joint j carries a local rotation L_j that turns the bones hanging *below* it, so
G_j = G_parent(j) · L_j and p_j = p_parent(j) + G_parent(j) · offset_j. The rest pose stands
with the arms hanging. Hinges (knees, elbows) rotate about their segment's local x axis only,
and every angle is clipped to ``ANGLE_LIMITS_DEG``, so knees and elbows bend one way only.
"""

from __future__ import annotations

import numpy as np
import torch

from posesynth import skeleton
from posesynth.geometry import elementary_rotation

# every angle a motion can drive, radians in the tracks, degrees in the limits below.
# flex: forward swing (hips, shoulders), forward lean (spine, chest, neck); abd: away from the
# midline (mirrored left/right, so the same value lifts both arms outwards); knee/elbow: hinge
# flexion; bend: lateral lean to the subject's left; twist/turn: about the vertical, to the left.
ANGLE_LIMITS_DEG: dict[str, tuple[float, float]] = {
    "pelvis_tilt": (-20.0, 45.0),
    "spine_flex": (-20.0, 60.0), "spine_bend": (-25.0, 25.0), "spine_twist": (-35.0, 35.0),
    "chest_flex": (-10.0, 30.0), "chest_twist": (-20.0, 20.0),
    "neck_flex": (-40.0, 50.0), "neck_turn": (-70.0, 70.0),
    "lhip_flex": (-30.0, 125.0), "rhip_flex": (-30.0, 125.0),
    "lhip_abd": (-10.0, 45.0), "rhip_abd": (-10.0, 45.0),
    "lknee": (0.0, 150.0), "rknee": (0.0, 150.0),
    "lankle": (-30.0, 40.0), "rankle": (-30.0, 40.0),
    "lshoulder_flex": (-50.0, 175.0), "rshoulder_flex": (-50.0, 175.0),
    "lshoulder_abd": (-5.0, 170.0), "rshoulder_abd": (-5.0, 170.0),
    "lelbow": (0.0, 150.0), "relbow": (0.0, 150.0),
}
ANGLE_NAMES: tuple[str, ...] = tuple(ANGLE_LIMITS_DEG)
ANGLE_INDEX: dict[str, int] = {name: i for i, name in enumerate(ANGLE_NAMES)}

# rest direction of the bone ending at each joint, body frame (unnormalised)
_REST_DIRECTION: dict[int, tuple[float, float, float]] = {
    1: (-1.0, 0.15, 0.0), 4: (1.0, 0.15, 0.0),            # hips sit a little below the pelvis
    2: (0.0, 1.0, 0.0), 5: (0.0, 1.0, 0.0),               # thighs
    3: (0.0, 1.0, 0.0), 6: (0.0, 1.0, 0.0),               # shins
    7: (0.0, -1.0, 0.0), 8: (0.0, -1.0, 0.0),             # spine, thorax
    9: (0.0, -1.0, -0.35), 10: (0.0, -1.0, 0.1),          # nose is in front of the neck line
    11: (1.0, 0.1, 0.0), 14: (-1.0, 0.1, 0.0),            # shoulders
    12: (0.0, 1.0, 0.0), 15: (0.0, 1.0, 0.0),             # upper arms hang
    13: (0.0, 1.0, 0.0), 16: (0.0, 1.0, 0.0),             # forearms
}


def rest_offsets(bone_lengths: np.ndarray) -> torch.Tensor:
    """Offsets of each joint from its parent in the rest pose.

    Args:
        bone_lengths: (16,) metres, ordered like ``skeleton.BONES``.
    Returns:
        (17, 3) float64 body frame, metres; row 0 (root) is zero.
    """
    offsets = torch.zeros(skeleton.NUM_JOINTS, 3, dtype=torch.float64)
    for b, (_, child) in enumerate(skeleton.BONES):
        direction = torch.tensor(_REST_DIRECTION[child], dtype=torch.float64)
        offsets[child] = float(bone_lengths[b]) * direction / direction.norm()
    return offsets


def clip_angles(angles: np.ndarray) -> np.ndarray:
    """Clip angle tracks to the human limits.  (F, A) radians → (F, A) radians."""
    low = np.radians([ANGLE_LIMITS_DEG[n][0] for n in ANGLE_NAMES])
    high = np.radians([ANGLE_LIMITS_DEG[n][1] for n in ANGLE_NAMES])
    return np.clip(angles, low, high)


def _rot(theta: torch.Tensor, axis: str) -> torch.Tensor:
    return elementary_rotation(theta, axis)


def angle_rotations(angles: torch.Tensor, yaw: torch.Tensor) -> torch.Tensor:
    """Per-joint local rotations from angle tracks.

    Mirror symmetry: reflecting x → −x keeps rotations about x and flips those about y and z,
    so left and right share flexion signs and have opposite abduction signs.

    Args:
        angles: (F, A) radians, columns ordered like ``ANGLE_NAMES``.
        yaw: (F,) radians, root heading about the world's vertical (y) axis.
    Returns:
        (F, 17, 3, 3) float64.
    """
    a = {name: angles[:, i] for i, name in enumerate(ANGLE_NAMES)}
    frames = angles.shape[0]
    local = torch.eye(3, dtype=torch.float64).expand(frames, skeleton.NUM_JOINTS, 3, 3).clone()
    local[:, 0] = _rot(yaw, "y") @ _rot(a["pelvis_tilt"], "x")
    # hips (joints 1, 4) turn the thighs; flexion brings the knee forward (−z), i.e. −θ about x
    local[:, 1] = _rot(a["rhip_abd"], "z") @ _rot(-a["rhip_flex"], "x")
    local[:, 4] = _rot(-a["lhip_abd"], "z") @ _rot(-a["lhip_flex"], "x")
    # knees turn the shins backwards (+θ about the thigh's x): the only way a knee bends
    local[:, 2] = _rot(a["rknee"], "x")
    local[:, 5] = _rot(a["lknee"], "x")
    # ankles only orient the feet (no child joint), see body.py
    local[:, 3] = _rot(-a["rankle"], "x")
    local[:, 6] = _rot(-a["lankle"], "x")
    local[:, 7] = _rot(a["spine_flex"], "x") @ _rot(-a["spine_bend"], "z") @ _rot(a["spine_twist"], "y")
    local[:, 8] = _rot(a["chest_flex"], "x") @ _rot(a["chest_twist"], "y")
    local[:, 9] = _rot(a["neck_flex"], "x") @ _rot(a["neck_turn"], "y")
    local[:, 11] = _rot(-a["lshoulder_abd"], "z") @ _rot(-a["lshoulder_flex"], "x")
    local[:, 14] = _rot(a["rshoulder_abd"], "z") @ _rot(-a["rshoulder_flex"], "x")
    # elbows bring the forearm forward/up (−θ about the upper arm's x)
    local[:, 12] = _rot(-a["lelbow"], "x")
    local[:, 15] = _rot(-a["relbow"], "x")
    return local


def angles_to_joints(angles: torch.Tensor, yaw: torch.Tensor, root: torch.Tensor, offsets: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Joint positions and global joint frames.

    Args:
        angles: (F, A) radians, ordered like ``ANGLE_NAMES``.
        yaw: (F,) radians, root heading.
        root: (F, 3) pelvis position, world frame, metres.
        offsets: (17, 3) rest offsets from :func:`rest_offsets`, metres.
    Returns:
        joints (F, 17, 3) world frame, metres, and global frames G (F, 17, 3, 3) float64; the
        columns of G_j are the segment-below-j's x (left), y (down), z (back) axes in the world.
    """
    local = angle_rotations(angles, yaw)
    glob = [local[:, 0]]
    joints = [root]
    for j in range(1, skeleton.NUM_JOINTS):  # parents precede children
        p = skeleton.PARENTS[j]
        joints.append(joints[p] + glob[p] @ offsets[j])
        glob.append(glob[p] @ local[:, j])
    return torch.stack(joints, 1), torch.stack(glob, 1)
