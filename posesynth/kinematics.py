"""Forward kinematics from parent-relative bone directions (Kundu et al., AAAI 2020 / CVPR 2020), and back.

The 2.5D pose encoder predicts joints; the model derives each bone's unit direction in a
*local frame* attached to its parent bone from them (:func:`global_to_local_directions`), the
parametrisation the articulation priors read. Forward kinematics builds poses from directions at
given bone lengths: the mean unpaired pose, fixed-length motion export, ``scale_bones``; with the
canonical lengths, bone-length ratios and left/right symmetry hold by construction.

Local-frame rule. Every bone b has a rest direction e_b: its direction in the canonical T-pose
(``skeleton.canonical_tpose``; body frame x = the subject's left, y down, z away from a camera
the subject faces). The local frame of a bone whose parent bone has (root-frame) direction u is

    F(u) = align(e_parent, u),   the smallest rotation taking e_parent onto u,

and for the three bones leaving the pelvis (hips, spine) it is the root frame itself. In words:
a bone's local direction is the direction it would have if its parent bone were turned back to
rest by the shortest path. The T-pose therefore has local = global = rest directions.

Why it is well defined: align(a, u) (``geometry.rotation_between``, Rodrigues in rational form)
is a rational function of a and u, smooth everywhere except at u = −a. Because e_parent is the parent's *rest* direction, the only bad
set is "parent bone pointing exactly opposite to its rest direction in the pelvis frame": a
thigh pointing straight up, a spine pointing down, a T-pose upper arm pointing through the chest,
a clavicle reversed — all anatomically impossible. (A fixed axis such as "down" for every bone
would put the singularity at arms raised overhead, a common pose.) Twist about the parent bone
is fixed by the minimal-rotation rule, so 3 numbers per bone (a unit vector, 2 DoF) suffice.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from posesynth import skeleton
from posesynth.geometry import rotation_between as align

_EPS = 1e-8

# the bone (index into skeleton.BONES) ending at each bone's parent joint; −1: parent is the root
_PARENT_BONE: tuple[int, ...] = tuple(p - 1 if p != skeleton.ROOT else -1 for p, _ in skeleton.BONES)


def _bone_depths() -> tuple[int, ...]:
    depth: list[int] = []
    for parent in _PARENT_BONE:  # parents precede children in skeleton.BONES
        depth.append(0 if parent < 0 else depth[parent] + 1)
    return tuple(depth)


_BONE_DEPTH = _bone_depths()
# bones grouped by chain depth: local → global is a recursion, one vectorised step per level (5)
_LEVELS: tuple[tuple[int, ...], ...] = tuple(
    tuple(b for b, d in enumerate(_BONE_DEPTH) if d == level) for level in range(max(_BONE_DEPTH) + 1))


def _rest_directions_float64() -> torch.Tensor:
    pose = skeleton.canonical_tpose(torch.float64)
    parents, children = zip(*skeleton.BONES)
    return F.normalize(pose[list(children)] - pose[list(parents)], dim=-1)


_REST = _rest_directions_float64()


def _ancestor_matrix() -> torch.Tensor:
    """A (17, 16): A[j, b] = 1 when bone b lies on the chain from the root to joint j."""
    A = torch.zeros(skeleton.NUM_JOINTS, skeleton.NUM_BONES, dtype=torch.float64)
    for j in range(skeleton.NUM_JOINTS):
        k = j
        while k != skeleton.ROOT:
            A[j, k - 1] = 1.0  # bone k − 1 ends at joint k
            k = skeleton.PARENTS[k]
    return A


_ANCESTORS = _ancestor_matrix()


def rest_directions(dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    """Unit bone directions of the canonical T-pose, ordered like ``skeleton.BONES``.

    They are the T-pose's local *and* global directions (its local frames are all identities), so
    they make a natural initial output for a pose encoder.

    Returns:
        (16, 3) unit vectors, body frame (x the subject's left, y down, z away from the camera).
    """
    return _REST.to(dtype=dtype, device=device)


def ancestor_matrix(dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    """The (17, 16) 0/1 matrix with pose = A @ (lengths · directions): row j marks the bones from
    the root to joint j (row 0, the root, is all zeros)."""
    return _ANCESTORS.to(dtype=dtype, device=device)


def _check_directions(x: torch.Tensor, name: str) -> None:
    if x.ndim != 3 or x.shape[1:] != (skeleton.NUM_BONES, 3):
        raise ValueError(f"{name} must have shape (B, {skeleton.NUM_BONES}, 3), got {tuple(x.shape)}")


def _check_root(root_rotation: torch.Tensor | None, batch: int) -> None:
    if root_rotation is not None and root_rotation.shape != (batch, 3, 3):
        raise ValueError(f"root_rotation must have shape ({batch}, 3, 3), got {tuple(root_rotation.shape)}")


def local_to_global_directions(local: torch.Tensor, root_rotation: torch.Tensor | None = None) -> torch.Tensor:
    """Turn parent-relative bone directions into global ones (parent-relative directions → FK input).

    Level by level down the tree (5 levels, each vectorised over its bones and the batch):
    g_b = align(e_parent(b), g_parent(b)) · l_b in the root frame, then rotated by the root.

    Args:
        local: (B, 16, 3) directions in each bone's local frame, ordered like ``skeleton.BONES``;
            need not be unit length (normalised here).
        root_rotation: (B, 3, 3) root (pelvis) frame → output frame, e.g. body → camera; None for
            the identity.
    Returns:
        (B, 16, 3) unit directions in the output frame.
    """
    _check_directions(local, "local")
    _check_root(root_rotation, local.shape[0])
    local = F.normalize(local, dim=-1, eps=_EPS)
    rest = _REST.to(local)
    body = torch.zeros_like(local)
    for level in _LEVELS:
        bones = torch.tensor(level, device=local.device)
        if _BONE_DEPTH[level[0]] == 0:  # bones leaving the pelvis: the root frame is their frame
            new = local[:, bones]
        else:
            parents = torch.tensor([_PARENT_BONE[b] for b in level], device=local.device)
            frames = align(rest[parents], body[:, parents])  # (B, n, 3, 3)
            new = (frames @ local[:, bones].unsqueeze(-1)).squeeze(-1)
        body = body.index_copy(1, bones, new)  # out of place: autograd sees every level
    if root_rotation is None:
        return body
    return body @ root_rotation.transpose(-1, -2)


def global_to_local_directions(directions: torch.Tensor, root_rotation: torch.Tensor | None = None) -> torch.Tensor:
    """Inverse of :func:`local_to_global_directions` (no recursion: all parents are known).

    Args:
        directions: (B, 16, 3) bone directions in the output frame; need not be unit length.
        root_rotation: (B, 3, 3) as in :func:`local_to_global_directions`; None for the identity.
    Returns:
        (B, 16, 3) unit directions in each bone's local frame.
    """
    _check_directions(directions, "directions")
    _check_root(root_rotation, directions.shape[0])
    body = F.normalize(directions, dim=-1, eps=_EPS)
    if root_rotation is not None:
        body = body @ root_rotation  # Rᵀ·g for every bone, as row vectors
    rest = _REST.to(body)
    parents = torch.tensor([max(p, 0) for p in _PARENT_BONE], device=body.device)
    frames = align(rest[parents], body[:, parents])  # (B, 16, 3, 3); root children fixed below
    local = (frames.transpose(-1, -2) @ body.unsqueeze(-1)).squeeze(-1)
    from_root = torch.tensor([p < 0 for p in _PARENT_BONE], device=body.device)
    return torch.where(from_root[:, None], body, local)


def forward_kinematics(directions: torch.Tensor, bone_lengths: torch.Tensor | None = None,
                       scale: torch.Tensor | float | None = None) -> torch.Tensor:
    """Joint positions from global bone directions: p(j) = p(parent(j)) + len(j)·v(j), p(root) = 0.

    Kundu et al. (AAAI 2020, CVPR 2020) fix the bone-length ratios to a canonical skeleton; the
    whole recursion is one matmul with the ancestor matrix, pose = A · (len ⊙ v). Directions are
    normalised here, so every bone has exactly its given length.

    Args:
        directions: (B, 16, 3) bone directions, ordered like ``skeleton.BONES``, any frame.
        bone_lengths: (16,) or (B, 16) metres; default ``skeleton.bone_lengths_tensor()``, whose
            left and right bones are equal, so the output is bilaterally symmetric in length.
        scale: optional (B,) or scalar factor on every bone (a per-sample body size that keeps the
            ratios, hence the symmetry).
    Returns:
        (B, 17, 3) joints, the directions' frame, metres, pelvis at the origin.
    """
    _check_directions(directions, "directions")
    if bone_lengths is None:
        bone_lengths = skeleton.bone_lengths_tensor()
    lengths = bone_lengths.to(directions).expand(directions.shape[0], skeleton.NUM_BONES)
    if scale is not None:
        lengths = lengths * torch.as_tensor(scale).to(directions).reshape(-1, 1)
    bones = lengths.unsqueeze(-1) * F.normalize(directions, dim=-1, eps=_EPS)
    return _ANCESTORS.to(directions) @ bones


def pose_to_directions(pose3d: torch.Tensor, eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor]:
    """Bone directions and lengths of a pose (inverse of :func:`forward_kinematics`).

    Args:
        pose3d: (B, 17, 3) joints, any frame, metres.
        eps: floor on a bone's length when normalising (a zero-length bone gives a zero vector).
    Returns:
        directions (B, 16, 3) unit vectors, ordered like ``skeleton.BONES``, and lengths (B, 16)
        metres; ``forward_kinematics(directions, lengths)`` is the pose with its pelvis at 0.
    """
    if pose3d.ndim != 3 or pose3d.shape[1:] != (skeleton.NUM_JOINTS, 3):
        raise ValueError(f"pose3d must have shape (B, {skeleton.NUM_JOINTS}, 3), got {tuple(pose3d.shape)}")
    parents, children = zip(*skeleton.BONES)
    bones = pose3d[:, list(children)] - pose3d[:, list(parents)]
    lengths = bones.norm(dim=-1)
    return bones / lengths.clamp(min=eps).unsqueeze(-1), lengths
