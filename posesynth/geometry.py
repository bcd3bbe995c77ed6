"""Camera geometry and rotations, batched torch.

Conventions (docs/architecture.md): camera frame x right, y down, z forward (metres); pixel
(u, v) with (0, 0) the centre of the top-left pixel. Extrinsics ``(R, t)`` map world to camera:
``X_cam = R @ X_world + t``. Rotations use kornia's conversions where it has them
(axis-angle, quaternion w-x-y-z); the 6D representation (Zhou et al., CVPR 2019) is ours.
"""

from __future__ import annotations

import math

import kornia.geometry.camera as kcam
import kornia.geometry.conversions as kconv
import torch
import torch.nn.functional as F


def intrinsics(focal: float | torch.Tensor, cx: float | torch.Tensor, cy: float | torch.Tensor,
               fy: float | torch.Tensor | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Build a pinhole intrinsic matrix.

    Args:
        focal: fx in pixels (scalar or (B,)).
        cx, cy: principal point in pixels.
        fy: fy in pixels; defaults to ``focal`` (square pixels).
    Returns:
        (3, 3) or (B, 3, 3) intrinsics.
    """
    fx = torch.as_tensor(focal, dtype=dtype)
    fy_ = fx if fy is None else torch.as_tensor(fy, dtype=dtype)
    cx_, cy_ = torch.as_tensor(cx, dtype=dtype), torch.as_tensor(cy, dtype=dtype)
    fx, fy_, cx_, cy_ = torch.broadcast_tensors(fx, fy_, cx_, cy_)
    zero, one = torch.zeros_like(fx), torch.ones_like(fx)
    rows = [torch.stack([fx, zero, cx_], -1), torch.stack([zero, fy_, cy_], -1), torch.stack([zero, zero, one], -1)]
    return torch.stack(rows, -2)


def project(points: torch.Tensor, K: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Perspective projection of camera-frame points to pixels: u = fx·x/z + cx, v = fy·y/z + cy.

    Depth is clamped to ``eps`` from below so points behind the camera stay finite.

    Args:
        points: (..., N, 3) camera frame, metres.
        K: (..., 3, 3) intrinsics, broadcastable against ``points``'s batch dimensions.
    Returns:
        (..., N, 2) pixels.
    """
    z = points[..., 2:3].clamp(min=eps)
    safe = torch.cat([points[..., :2], z], dim=-1)
    return kcam.project_points(safe, K.unsqueeze(-3))


def unproject(pixels: torch.Tensor, depth: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Back-project pixels with known depth into the camera frame (inverse of :func:`project`).

    Args:
        pixels: (..., N, 2) pixels.
        depth: (..., N) z in metres.
        K: (..., 3, 3) intrinsics.
    Returns:
        (..., N, 3) camera frame, metres.
    """
    return kcam.unproject_points(pixels, depth.unsqueeze(-1), K.unsqueeze(-3))


def world_to_camera(points: torch.Tensor, R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """X_cam = R·X_world + t.

    Args:
        points: (..., N, 3) world frame, metres.
        R: (..., 3, 3) world→camera rotation.
        t: (..., 3) world→camera translation, metres.
    Returns:
        (..., N, 3) camera frame, metres.
    """
    return points @ R.transpose(-1, -2) + t.unsqueeze(-2)


def camera_to_world(points: torch.Tensor, R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """X_world = Rᵀ·(X_cam − t), the inverse of :func:`world_to_camera`.

    Args:
        points: (..., N, 3) camera frame, metres.
        R: (..., 3, 3) world→camera rotation.
        t: (..., 3) world→camera translation, metres.
    Returns:
        (..., N, 3) world frame, metres.
    """
    return (points - t.unsqueeze(-2)) @ R


def camera_center(R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Camera centre in world coordinates, C = −Rᵀt.  R: (..., 3, 3), t: (..., 3) → (..., 3) metres."""
    return -(R.transpose(-1, -2) @ t.unsqueeze(-1)).squeeze(-1)


def relative_transform(R1: torch.Tensor, t1: torch.Tensor, R2: torch.Tensor, t2: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Extrinsics taking camera-1 coordinates to camera-2 coordinates.

    X2 = R12·X1 + t12 with R12 = R2·R1ᵀ and t12 = t2 − R12·t1 (the camera model above; Li et al.
    AAAI 2020 print the same transform in camera-centre form).

    Args:
        R1, R2: (..., 3, 3) world→camera rotations; t1, t2: (..., 3) translations, metres.
    Returns:
        R12 (..., 3, 3) and t12 (..., 3).
    """
    R12 = R2 @ R1.transpose(-1, -2)
    t12 = t2 - (R12 @ t1.unsqueeze(-1)).squeeze(-1)
    return R12, t12


def look_at(eye: torch.Tensor, target: torch.Tensor, down: torch.Tensor | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """World→camera extrinsics of a camera at ``eye`` looking at ``target``.

    The camera's y axis points along the projection of ``down`` (world gravity) so images are
    upright.

    Args:
        eye, target: (..., 3) world, metres.
        down: (3,) world "down" direction; default +y.
    Returns:
        R (..., 3, 3) and t (..., 3) world→camera.
    """
    if down is None:
        down = torch.tensor([0.0, 1.0, 0.0], dtype=eye.dtype, device=eye.device)
    z = F.normalize(target - eye, dim=-1)
    x = F.normalize(torch.cross(down.expand_as(z), z, dim=-1), dim=-1)
    y = torch.cross(z, x, dim=-1)
    R = torch.stack([x, y, z], dim=-2)
    t = -(R @ eye.unsqueeze(-1)).squeeze(-1)
    return R, t


# --- rotations -----------------------------------------------------------------------------

def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula (kornia).  (..., 3) radians·axis → (..., 3, 3)."""
    shape = axis_angle.shape[:-1]
    return kconv.axis_angle_to_rotation_matrix(axis_angle.reshape(-1, 3)).reshape(*shape, 3, 3)


def matrix_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`axis_angle_to_matrix` (kornia).  (..., 3, 3) → (..., 3), angle in [0, π]."""
    shape = R.shape[:-2]
    return kconv.rotation_matrix_to_axis_angle(R.reshape(-1, 3, 3).contiguous()).reshape(*shape, 3)


def quaternion_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """Unit quaternion (w, x, y, z) → rotation (kornia).  (..., 4) → (..., 3, 3)."""
    shape = q.shape[:-1]
    return kconv.quaternion_to_rotation_matrix(F.normalize(q.reshape(-1, 4), dim=-1)).reshape(*shape, 3, 3)


def matrix_to_quaternion(R: torch.Tensor) -> torch.Tensor:
    """Rotation → unit quaternion (w, x, y, z) (kornia).  (..., 3, 3) → (..., 4)."""
    shape = R.shape[:-2]
    return kconv.rotation_matrix_to_quaternion(R.reshape(-1, 3, 3).contiguous()).reshape(*shape, 4)


def rotation_6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """Continuous 6D rotation (first two columns, Gram-Schmidt; Zhou et al. CVPR 2019).

    Args:
        d6: (..., 6) two 3-vectors a1, a2 (need not be orthonormal).
    Returns:
        (..., 3, 3) rotation whose first two columns are the orthonormalised a1, a2.
    """
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rotation_6d(R: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rotation_6d_to_matrix`.  (..., 3, 3) → (..., 6)."""
    return torch.cat([R[..., :, 0], R[..., :, 1]], dim=-1)


def euler_to_matrix(angles: torch.Tensor, order: str = "yxz") -> torch.Tensor:
    """Intrinsic Euler angles → rotation, R = R_a(θ0)·R_b(θ1)·R_c(θ2) for ``order = "abc"``.

    Used for camera azimuth (about y, the vertical), elevation (about x) and roll (about z).

    Args:
        angles: (..., 3) radians, one per axis in ``order``.
        order: three letters from "xyz".
    Returns:
        (..., 3, 3).
    """
    out = None
    for i, axis in enumerate(order):
        R = elementary_rotation(angles[..., i], axis)
        out = R if out is None else out @ R
    return out


def elementary_rotation(theta: torch.Tensor, axis: str) -> torch.Tensor:
    """Rotation by ``theta`` (..., radians) about one coordinate axis ("x", "y" or "z") → (..., 3, 3)."""
    c, s = torch.cos(theta), torch.sin(theta)
    one, zero = torch.ones_like(theta), torch.zeros_like(theta)
    if axis == "x":
        rows = [(one, zero, zero), (zero, c, -s), (zero, s, c)]
    elif axis == "y":
        rows = [(c, zero, s), (zero, one, zero), (-s, zero, c)]
    elif axis == "z":
        rows = [(c, -s, zero), (s, c, zero), (zero, zero, one)]
    else:
        raise ValueError(f"axis must be 'x', 'y' or 'z', got {axis!r}")
    return torch.stack([torch.stack(r, -1) for r in rows], -2)


def rotation_between(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Smallest rotation taking unit vector ``a`` onto unit vector ``b`` (Rodrigues, rational form).

    With v = a × b and c = a · b:  R = c·I + [v]× + v·vᵀ / (1 + c). Unlike the axis–angle route
    this has no arccos or division by |v|, so it is smooth with the right gradient at a = b (the
    rest pose of the kinematic chain). For b = −a (1 + c < ``eps``) there is no unique answer and
    a half-turn about an axis perpendicular to ``a`` is returned (R = 2·p·pᵀ − I).

    Args:
        a, b: (..., 3) directions (broadcastable; normalised here).
    Returns:
        (..., 3, 3) rotations with R·â = b̂.
    """
    a, b = torch.broadcast_tensors(F.normalize(a, dim=-1), F.normalize(b, dim=-1))
    v = torch.cross(a, b, dim=-1)
    c = (a * b).sum(-1)
    zero = torch.zeros_like(c)
    skew = torch.stack([torch.stack([zero, -v[..., 2], v[..., 1]], -1),
                        torch.stack([v[..., 2], zero, -v[..., 0]], -1),
                        torch.stack([-v[..., 1], v[..., 0], zero], -1)], -2)
    eye = torch.eye(3, dtype=a.dtype, device=a.device)
    outer = v.unsqueeze(-1) * v.unsqueeze(-2) / (1.0 + c).clamp(min=eps)[..., None, None]
    general = c[..., None, None] * eye + skew + outer
    # opposite vectors: a half-turn about any axis perpendicular to a (no NaN in either branch)
    helper = torch.where(a[..., :1].abs() < 0.9, torch.tensor([1.0, 0.0, 0.0], dtype=a.dtype, device=a.device),
                         torch.tensor([0.0, 1.0, 0.0], dtype=a.dtype, device=a.device))
    p = F.normalize(torch.cross(a, helper, dim=-1), dim=-1)
    half_turn = 2 * p.unsqueeze(-1) * p.unsqueeze(-2) - eye
    return torch.where((1.0 + c > eps)[..., None, None], general, half_turn)


def crop_camera_rotation(K: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """Rotation from a camera's frame into the virtual camera that looks through a crop's centre.

    posesynth's model sees a crop through a pinhole whose optical axis passes through the crop
    centre. That camera shares the real camera's centre but is turned so the ray through pixel
    ``centre`` becomes its z axis: X_crop = R · X_cam. Ignoring R (the "crop approximation") is an
    error of about the ray's angle, several degrees for people near the image border.

    Args:
        K: (..., 3, 3) intrinsics of the full frame, pixels.
        centre: (..., 2) the crop centre in the full frame, pixels.
    Returns:
        (..., 3, 3) rotations R with R · ray(centre) ∥ (0, 0, 1).
    """
    ray = unproject(centre[..., None, :], torch.ones_like(centre[..., :1]), K)[..., 0, :]
    z = torch.zeros_like(ray)
    z[..., 2] = 1.0
    return rotation_between(ray, z)


def fov_to_focal(fov_deg: float, size_px: int) -> float:
    """Focal length in pixels of a camera with horizontal field of view ``fov_deg`` over ``size_px``."""
    return 0.5 * size_px / math.tan(math.radians(fov_deg) / 2)
