"""The Human3.6M 17-joint skeleton every part of posesynth speaks.

Joint order, parents and the 32→17 map are the ones every Human3.6M evaluation uses
(REFERENCE.md, "Skeleton"). Canonical bone lengths are the mean over the four real
Human3.6M subjects (S1, S5, S7, S8) in mmpose's test sample
(``realdata/mmpose/h36m/test_h36m_body3d.npz``), symmetrised left/right, in metres.
"""

from __future__ import annotations

import torch

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "rhip", "rknee", "rankle", "lhip", "lknee", "lankle", "spine",
    "thorax", "neck", "head", "lshoulder", "lelbow", "lwrist", "rshoulder", "relbow", "rwrist",
)
NUM_JOINTS = 17
ROOT = 0

# parent of each joint; -1 for the root (pelvis)
PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)

# one bone per non-root joint, (parent, child), ordered by child index
BONES: tuple[tuple[int, int], ...] = tuple((PARENTS[j], j) for j in range(1, NUM_JOINTS))
NUM_BONES = len(BONES)

LEFT_JOINTS: tuple[int, ...] = (4, 5, 6, 11, 12, 13)
RIGHT_JOINTS: tuple[int, ...] = (1, 2, 3, 14, 15, 16)

# joint index after a left/right mirror (x → −x needs this permutation too)
FLIP_PERMUTATION: tuple[int, ...] = (0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13)

# the 17 of Human3.6M's 32 raw mocap joints that the 17-joint layout keeps
H36M32_TO_17: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)

# canonical length of the bone ending at each joint (index = child joint), metres
_CHILD_LENGTH_M: dict[int, float] = {
    1: 0.1337, 4: 0.1337,   # pelvis → hip
    2: 0.4430, 5: 0.4430,   # hip → knee (thigh)
    3: 0.4433, 6: 0.4433,   # knee → ankle (shin)
    7: 0.2363,              # pelvis → spine
    8: 0.2544,              # spine → thorax
    9: 0.1165,              # thorax → neck/nose
    10: 0.1150,             # neck → head
    11: 0.1508, 14: 0.1508,  # thorax → shoulder
    12: 0.2772, 15: 0.2772,  # shoulder → elbow (upper arm)
    13: 0.2480, 16: 0.2480,  # elbow → wrist (forearm)
}
BONE_LENGTHS_M: tuple[float, ...] = tuple(_CHILD_LENGTH_M[c] for _, c in BONES)

# bone groups whose lengths should agree left/right (Zhou et al. ICCV 2017 use such groups)
BONE_GROUPS: dict[str, tuple[int, ...]] = {
    # indices into BONES
    "legs": (1, 2, 4, 5),
    "arms": (11, 12, 14, 15),
    "hips": (0, 3),
    "shoulders": (10, 13),
}


def bone_lengths_tensor(dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    """Canonical bone lengths as a tensor.

    Returns:
        (NUM_BONES,) metres, ordered like ``BONES``.
    """
    return torch.tensor(BONE_LENGTHS_M, dtype=dtype, device=device)


def parents_tensor(device: torch.device | str | None = None) -> torch.Tensor:
    """``PARENTS`` as a long tensor (17,), root's parent = −1."""
    return torch.tensor(PARENTS, dtype=torch.long, device=device)


def canonical_tpose(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A standing pose with arms out to the sides, pelvis at the origin.

    Camera-style body frame, the subject facing a camera that looks along +z: x image-right
    (the subject's left side has +x), y down, z away from the camera.

    Returns:
        (17, 3) metres.
    """
    down, up = torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0.0, -1.0, 0.0])
    left, right = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([-1.0, 0.0, 0.0])
    direction = {1: right, 4: left, 2: down, 3: down, 5: down, 6: down, 7: up, 8: up, 9: up,
                 10: up, 11: left, 12: left, 13: left, 14: right, 15: right, 16: right}
    pose = torch.zeros(NUM_JOINTS, 3)
    for j in range(1, NUM_JOINTS):  # parents precede children, so one pass suffices
        pose[j] = pose[PARENTS[j]] + _CHILD_LENGTH_M[j] * direction[j]
    return pose.to(dtype)


def flip_pose(pose: torch.Tensor) -> torch.Tensor:
    """Mirror poses left↔right: negate x and swap left/right joints.

    Args:
        pose: (..., 17, 3) any frame whose x axis is the mirror normal.
    Returns:
        (..., 17, 3) the mirrored pose (a new tensor).
    """
    flipped = pose[..., list(FLIP_PERMUTATION), :].clone()
    flipped[..., 0] = -flipped[..., 0]
    return flipped


def mirror_interpretation(joints2d: torch.Tensor, depth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The other body with the same 2D skeleton: left↔right names swapped, depths reflected about the root.

    The same image points seen with the other facing (exact for the 2D; for the depths, under weak
    perspective).

    Args:
        joints2d: (N, 17, 2) crop pixels. depth: (N, 17) camera depth (or root-relative depth), metres.
    Returns:
        (N, 17, 2) the same points under their mirror names, (N, 17) metres.
    """
    perm = list(FLIP_PERMUTATION)
    return joints2d[:, perm], (2 * depth[:, :1] - depth)[:, perm]


SIDE_PAIRS: tuple[tuple[int, int], ...] = ((1, 4), (14, 11))  # (right, left) hips and shoulders


def facing_side(joints2d: torch.Tensor) -> torch.Tensor:
    """Σ (x_right − x_left) over hips and shoulders: < 0 faces the camera, > 0 faces away.

    Seen from the front a person's right side is on the image's left; seen from the back, on its right.

    Args:
        joints2d: (B, 17, 2) image pixels (x to the right), Human3.6M-17 order.
    Returns:
        (B,) pixels.
    """
    return sum(joints2d[:, right, 0] - joints2d[:, left, 0] for right, left in SIDE_PAIRS)


def swap_sides(values: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """Give each joint its mirror joint's name (left↔right) in the rows ``where`` says, in place in the image.

    A person seen from the back is the frontal labelling with left and right swapped: every
    joint keeps its position and depth and takes the other side's name. Unlike
    :func:`flip_pose`, nothing is mirrored.

    Args:
        values: (B, 17, ...) per-joint values (2D joints in pixels, depths in metres, ...).
        where: (B,) bool, the rows to relabel.
    Returns:
        (B, 17, ...) a new tensor.
    """
    mask = where.reshape(where.shape + (1,) * (values.dim() - 1))
    return torch.where(mask, values[:, list(FLIP_PERMUTATION)], values)
