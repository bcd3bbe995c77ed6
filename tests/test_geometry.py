import math

import pytest
import torch
from torch.autograd import gradcheck

from posesynth import geometry as g


def _random_rotation(n: int, dtype=torch.float64) -> torch.Tensor:
    return g.axis_angle_to_matrix(torch.randn(n, 3, dtype=dtype))


def test_intrinsics_closed_form():
    K = g.intrinsics(500.0, 32.0, 24.0)
    assert K.shape == (3, 3)
    torch.testing.assert_close(K, torch.tensor([[500.0, 0, 32], [0, 500, 24], [0, 0, 1]]))
    assert g.intrinsics(torch.tensor([1.0, 2.0]), 0.0, 0.0).shape == (2, 3, 3)


def test_project_closed_form_and_shapes():
    K = g.intrinsics(100.0, 50.0, 40.0)
    points = torch.tensor([[[0.0, 0.0, 2.0], [1.0, -0.5, 2.0]]])
    uv = g.project(points, K)
    assert uv.shape == (1, 2, 2)
    torch.testing.assert_close(uv, torch.tensor([[[50.0, 40.0], [100.0, 15.0]]]))
    # batched intrinsics broadcast over joints
    assert g.project(torch.rand(3, 17, 3) + 1, K.expand(3, 3, 3)).shape == (3, 17, 2)


def test_project_unproject_round_trip():
    torch.manual_seed(0)
    K = g.intrinsics(300.0, 64.0, 60.0, dtype=torch.float64)
    points = torch.randn(2, 17, 3, dtype=torch.float64) * 0.5 + torch.tensor([0, 0, 4.0], dtype=torch.float64)
    back = g.unproject(g.project(points, K), points[..., 2], K)
    torch.testing.assert_close(back, points)


def test_behind_camera_stays_finite():
    uv = g.project(torch.tensor([[0.1, 0.1, -1.0]]), g.intrinsics(100.0, 0.0, 0.0))
    assert torch.isfinite(uv).all()


def test_world_camera_round_trip_and_center():
    torch.manual_seed(1)
    R, t = _random_rotation(4), torch.randn(4, 3, dtype=torch.float64)
    points = torch.randn(4, 17, 3, dtype=torch.float64)
    torch.testing.assert_close(g.camera_to_world(g.world_to_camera(points, R, t), R, t), points)
    center = g.camera_center(R, t)
    torch.testing.assert_close(g.world_to_camera(center[:, None], R, t)[:, 0], torch.zeros(4, 3, dtype=torch.float64))


def test_relative_transform_maps_camera1_to_camera2():
    torch.manual_seed(2)
    R1, R2 = _random_rotation(3), _random_rotation(3)
    t1, t2 = torch.randn(3, 3, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64)
    world = torch.randn(3, 17, 3, dtype=torch.float64)
    R12, t12 = g.relative_transform(R1, t1, R2, t2)
    in2 = g.world_to_camera(g.world_to_camera(world, R1, t1), R12, t12)
    torch.testing.assert_close(in2, g.world_to_camera(world, R2, t2))


def test_look_at_points_camera_at_target_upright():
    eye = torch.tensor([3.0, -1.5, -4.0], dtype=torch.float64)
    R, t = g.look_at(eye, torch.zeros(3, dtype=torch.float64))
    torch.testing.assert_close(R @ R.T, torch.eye(3, dtype=torch.float64))
    assert torch.det(R) == pytest.approx(1.0)
    target_cam = g.world_to_camera(torch.zeros(1, 3, dtype=torch.float64), R, t)[0]
    torch.testing.assert_close(target_cam[:2], torch.zeros(2, dtype=torch.float64), atol=1e-9, rtol=0)
    assert target_cam[2] == pytest.approx(float(eye.norm()))
    # a point below the target (world +y is down) appears lower in the image (camera +y)
    below = g.world_to_camera(torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64), R, t)[0]
    assert below[1] > 0


def test_rotation_conversions_round_trip():
    torch.manual_seed(3)
    R = _random_rotation(8)
    torch.testing.assert_close(g.axis_angle_to_matrix(g.matrix_to_axis_angle(R)), R)
    torch.testing.assert_close(g.quaternion_to_matrix(g.matrix_to_quaternion(R)), R)
    torch.testing.assert_close(g.rotation_6d_to_matrix(g.matrix_to_rotation_6d(R)), R)
    d6 = torch.randn(5, 6, dtype=torch.float64)
    M = g.rotation_6d_to_matrix(d6)
    torch.testing.assert_close(M @ M.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(5, 3, 3))
    torch.testing.assert_close(torch.det(M), torch.ones(5, dtype=torch.float64))


def test_elementary_and_euler_closed_form():
    quarter = torch.tensor(math.pi / 2, dtype=torch.float64)
    Rz = g.elementary_rotation(quarter, "z")
    torch.testing.assert_close(Rz @ torch.tensor([1.0, 0, 0], dtype=torch.float64),
                               torch.tensor([0.0, 1, 0], dtype=torch.float64))
    angles = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
    expected = g.elementary_rotation(angles[0], "y") @ g.elementary_rotation(angles[1], "x") @ g.elementary_rotation(angles[2], "z")
    torch.testing.assert_close(g.euler_to_matrix(angles, "yxz"), expected)
    with pytest.raises(ValueError, match="axis"):
        g.elementary_rotation(quarter, "w")


def test_rotation_between_aligns_vectors_including_opposite():
    torch.manual_seed(4)
    a, b = torch.randn(6, 3, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    b[0] = -a[0]  # the degenerate, opposite case
    R = g.rotation_between(a, b)
    rotated = (R @ torch.nn.functional.normalize(a, dim=-1).unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(rotated, torch.nn.functional.normalize(b, dim=-1))


def test_fov_to_focal():
    assert g.fov_to_focal(90.0, 200) == pytest.approx(100.0)


# --- float64 gradchecks on tiny inputs --------------------------------------------------------

def test_gradcheck_project():
    points = (torch.rand(1, 3, 3, dtype=torch.float64) + torch.tensor([0, 0, 2.0], dtype=torch.float64)).requires_grad_()
    K = g.intrinsics(50.0, 8.0, 8.0, dtype=torch.float64).requires_grad_()
    assert gradcheck(g.project, (points, K))


def test_gradcheck_world_to_camera():
    points = torch.randn(1, 3, 3, dtype=torch.float64, requires_grad=True)
    R = _random_rotation(1).requires_grad_()
    t = torch.randn(1, 3, dtype=torch.float64, requires_grad=True)
    assert gradcheck(g.world_to_camera, (points, R, t))
    assert gradcheck(g.camera_to_world, (points, R, t))


def test_gradcheck_rotations():
    aa = (torch.randn(2, 3, dtype=torch.float64) * 0.5).requires_grad_()
    assert gradcheck(g.axis_angle_to_matrix, (aa,))
    d6 = torch.randn(2, 6, dtype=torch.float64, requires_grad=True)
    assert gradcheck(g.rotation_6d_to_matrix, (d6,))
    q = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    assert gradcheck(g.quaternion_to_matrix, (q,))
    angles = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert gradcheck(g.euler_to_matrix, (angles,))


def test_rotation_between_has_the_right_gradient_at_identity():
    """At a = b the rotation is I and its derivative w.r.t. b is finite (the rest pose of FK)."""
    a = torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64)
    b = a.clone().requires_grad_()
    assert gradcheck(lambda x: g.rotation_between(a, x), (b,))
    torch.testing.assert_close(g.rotation_between(a, a), torch.eye(3, dtype=torch.float64)[None])
