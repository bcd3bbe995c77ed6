"""Write a pose sequence as a BVH of the Human3.6M 17-joint skeleton, joint rotations included.

Axes and units: BVH's convention, y up, a subject facing the camera faces +z, centimetres. From
posesynth's camera frame (x right, y down, z forward, metres): ``(x, −y, −z) × 100``.

The rest pose (the OFFSETs) stands upright with the arms out to the sides (as
:func:`posesynth.skeleton.canonical_tpose`), bones at the motion's fixed lengths. Every joint's
rotation turns its bone from the rest direction to the predicted one (the smallest such turn
relative to its parent); the pelvis and the thorax carry the body's and the chest's orientation,
built from the spine (neck) and the hip (shoulder) line. The pelvis has three child bones and the
thorax three, but one rotation can aim only one of them exactly, so each of the side bones (hips,
shoulders) hangs from a zero-length ``<joint>_link`` joint with its own rotation, as the CMU files'
``LHipJoint`` does. Forward kinematics of the file (:func:`posesynth.data.bvh.bvh_joint_positions`)
then gives back the motion's joints exactly (to the printed precision).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from posesynth import skeleton

CM_PER_M = 100.0
TO_BVH = np.diag([1.0, -1.0, -1.0])  # camera frame (y down, z forward) → BVH (y up, facing +z); its own inverse
ROTATION_CHANNELS = "Zrotation Xrotation Yrotation"  # R = Rz · Rx · Ry (the reader's order)
END_SITE_CM = 5.0  # end sites continue the last bone of a chain by this much

_J = {name: i for i, name in enumerate(skeleton.JOINT_NAMES)}
_UP, _DOWN, _LEFT, _RIGHT = np.array([0.0, 1, 0]), np.array([0.0, -1, 0]), np.array([1.0, 0, 0]), np.array([-1.0, 0, 0])
# rest direction of the bone ending at each joint, BVH axes (a facing subject's left is +x)
REST_DIRECTION: dict[str, np.ndarray] = {
    "rhip": _RIGHT, "rknee": _DOWN, "rankle": _DOWN, "lhip": _LEFT, "lknee": _DOWN, "lankle": _DOWN,
    "spine": _UP, "thorax": _UP, "neck": _UP, "head": _UP,
    "lshoulder": _LEFT, "lelbow": _LEFT, "lwrist": _LEFT, "rshoulder": _RIGHT, "relbow": _RIGHT, "rwrist": _RIGHT,
}
LINKED = ("rhip", "lhip", "lshoulder", "rshoulder")  # side bones of the pelvis and thorax: a link joint each


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)


def smallest_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotations taking unit vectors ``a`` to ``b`` about ``a × b`` (a half turn when opposite).

    Args:
        a: (3,) or (F, 3); b: (F, 3) (zero vectors give the identity).
    Returns:
        (F, 3, 3).
    """
    b = _unit(b)
    a = np.broadcast_to(_unit(np.asarray(a, np.float64)), b.shape)
    v, c = np.cross(a, b), np.einsum("fi,fi->f", a, b)
    cross = np.zeros(b.shape[:1] + (3, 3))
    cross[:, 0, 1], cross[:, 0, 2], cross[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    cross -= cross.transpose(0, 2, 1)
    opposite = c < -1 + 1e-9
    factor = np.divide(1.0, 1.0 + c, out=np.zeros_like(c), where=~opposite)
    R = np.eye(3) + cross + cross @ cross * factor[:, None, None]
    if opposite.any():  # a half turn about any axis perpendicular to a
        axis = _unit(np.cross(a[opposite], np.where(np.abs(a[opposite, :1]) < 0.9, [[1.0, 0, 0]], [[0.0, 1, 0]])))
        R[opposite] = 2 * axis[:, :, None] * axis[:, None, :] - np.eye(3)
    return R


def frame_rotation(primary: np.ndarray, secondary: np.ndarray, rest_primary: np.ndarray,
                   rest_secondary: np.ndarray) -> np.ndarray:
    """Rotations taking ``rest_primary`` exactly onto ``primary`` and ``rest_secondary`` as near
    ``secondary`` as that allows (Gram–Schmidt). primary, secondary: (F, 3) → (F, 3, 3)."""
    def basis(p: np.ndarray, s: np.ndarray) -> np.ndarray:
        p = _unit(p)
        s = _unit(s - np.einsum("fi,fi->f", s, p)[:, None] * p)
        return np.stack([p, s, np.cross(p, s)], axis=-1)  # columns

    F = len(primary)
    rest = basis(np.broadcast_to(rest_primary, (F, 3)), np.broadcast_to(rest_secondary, (F, 3)))
    return basis(primary, secondary) @ rest.transpose(0, 2, 1)


def bvh_joints() -> list[tuple[str, str | None, str | None]]:
    """The file's joints in hierarchy order: (name, parent name, H36M joint whose bone it carries
    — its OFFSET is that bone — or None for the root and the zero-length links)."""
    order: list[tuple[str, str | None, str | None]] = [("pelvis", None, None)]

    def add(joint: str, parent: str) -> None:
        if joint in LINKED:
            order.append((f"{joint}_link", parent, None))
            parent = f"{joint}_link"
        order.append((joint, parent, joint))
        for child in (skeleton.JOINT_NAMES[c] for c in range(skeleton.NUM_JOINTS) if skeleton.PARENTS[c] == _J[joint]):
            add(child, joint)

    for child in ("rhip", "lhip", "spine"):
        add(child, "pelvis")
    return order


def local_rotations(poses: np.ndarray) -> dict[str, np.ndarray]:
    """Each BVH joint's rotation relative to its parent, for poses in BVH axes.

    Args:
        poses: (F, 17, 3) root-relative, BVH axes (any unit).
    Returns:
        name → (F, 3, 3), for every joint of :func:`bvh_joints`.
    """
    F = len(poses)
    bone = lambda child: poses[:, _J[child]] - poses[:, skeleton.PARENTS[_J[child]]]  # noqa: E731
    world = {"pelvis": frame_rotation(bone("spine"), bone("lhip") - bone("rhip"), _UP, _LEFT)}
    local = {"pelvis": world["pelvis"]}
    for name, parent, carries in bvh_joints()[1:]:
        if name.endswith("_link"):  # aims its H36M joint's bone from the parent joint's frame
            child = name[: -len("_link")]
            target = np.einsum("fji,fj->fi", world[parent], bone(child))
            local[name] = smallest_rotation(REST_DIRECTION[child], target)
        elif carries == "thorax":  # the chest: the neck exactly, the shoulder line as near as that allows
            chest = frame_rotation(bone("neck"), bone("lshoulder") - bone("rshoulder"), _UP, _LEFT)
            local[name] = world[parent].transpose(0, 2, 1) @ chest
        else:
            children = [skeleton.JOINT_NAMES[c] for c in range(skeleton.NUM_JOINTS)
                        if skeleton.PARENTS[c] == _J[carries] and skeleton.JOINT_NAMES[c] not in LINKED]
            if children:  # aims its one child bone
                target = np.einsum("fji,fj->fi", world[parent], bone(children[0]))
                local[name] = smallest_rotation(REST_DIRECTION[children[0]], target)
            else:
                local[name] = np.broadcast_to(np.eye(3), (F, 3, 3))
        world[name] = world[parent] @ local[name]
    return local


def write_bvh(path: str | os.PathLike, joints: np.ndarray, fps: float, lengths: np.ndarray) -> Path:
    """Write a motion as a BVH file.

    Args:
        path: the ``.bvh`` file to write.
        joints: (F, 17, 3) camera frame (x right, y down, z forward), metres, root included; every
            bone must have its length in ``lengths`` (:func:`posesynth.export.motion.with_bone_lengths`).
        fps: frames per second.
        lengths: (16,) bone lengths in metres, ordered like ``skeleton.BONES``.
    Returns:
        The path.
    """
    bvh = np.asarray(joints, np.float64) @ TO_BVH * CM_PER_M
    root = bvh[:, 0]
    rotations = local_rotations(bvh - root[:, None])
    length_of = {skeleton.JOINT_NAMES[c]: lengths[b] * CM_PER_M for b, (_, c) in enumerate(skeleton.BONES)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # gimbal lock: scipy still returns angles that rebuild R
        angles = {name: Rotation.from_matrix(R).as_euler("ZXY", degrees=True) for name, R in rotations.items()}
    lines, columns = ["HIERARCHY"], [root]
    depth_of: dict[str, int] = {}
    joints_list = bvh_joints()
    for i, (name, parent, carries) in enumerate(joints_list):
        depth = 0 if parent is None else depth_of[parent] + 1
        depth_of[name] = depth
        pad = "  " * depth
        offset = np.zeros(3) if carries is None else REST_DIRECTION[carries] * length_of[carries]
        lines += [f"{pad}{'ROOT' if parent is None else 'JOINT'} {name}", f"{pad}{{",
                  f"{pad}  OFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}",
                  f"{pad}  CHANNELS {6 if parent is None else 3} "
                  + ("Xposition Yposition Zposition " if parent is None else "") + ROTATION_CHANNELS]
        columns.append(angles[name])
        has_child = any(p == name for _, p, _ in joints_list)
        if not has_child:
            tip = REST_DIRECTION[carries] * END_SITE_CM
            lines += [f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {tip[0]:.6f} {tip[1]:.6f} {tip[2]:.6f}",
                      f"{pad}  }}"]
        following = joints_list[i + 1][1] if i + 1 < len(joints_list) else None
        closing = depth - (0 if following is None else depth_of[following] + 1) + 1
        lines += [f"{'  ' * (depth - k)}}}" for k in range(closing)]
    motion = np.concatenate(columns, axis=1)
    lines += ["MOTION", f"Frames: {len(motion)}", f"Frame Time: {1.0 / fps:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in motion]
    path = Path(path)
    temp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    temp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(temp, path)
    return path


def read_bvh_joints(path: str | os.PathLike) -> np.ndarray:
    """The 17 joints of a BVH written by :func:`write_bvh`, read back through posesynth's BVH reader.

    Returns:
        (F, 17, 3) camera frame, metres.
    """
    from posesynth.data.bvh import bvh_joint_positions, read_bvh

    bvh = read_bvh(path)
    positions = bvh_joint_positions(bvh)
    index = [bvh.names.index(name) for name in skeleton.JOINT_NAMES]
    return positions[:, index] / CM_PER_M @ TO_BVH


__all__ = ["CM_PER_M", "TO_BVH", "REST_DIRECTION", "LINKED", "smallest_rotation", "frame_rotation", "bvh_joints",
           "local_rotations", "write_bvh", "read_bvh_joints"]
