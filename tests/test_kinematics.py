import pytest
import torch
from torch.autograd import gradcheck

from posesynth import geometry as g
from posesynth import skeleton as sk
from posesynth import kinematics as k


def _random_rotation(n: int) -> torch.Tensor:
    return g.axis_angle_to_matrix(torch.randn(n, 3, dtype=torch.float64))


def _plausible_local(n: int) -> torch.Tensor:
    """Local directions near the rest pose (parents never near their singular direction)."""
    return k.rest_directions(torch.float64) + 0.6 * torch.randn(n, sk.NUM_BONES, 3, dtype=torch.float64)


def test_shapes_and_tables():
    A = k.ancestor_matrix()
    assert A.shape == (17, 16) and A[0].sum() == 0
    # row j counts the bones between joint j and the pelvis (wrist: spine, thorax, shoulder, upper arm, forearm)
    assert A[13].sum() == 5 and A[3].sum() == 3
    assert k.rest_directions().shape == (16, 3)
    d = k.local_to_global_directions(torch.randn(2, 16, 3))
    assert d.shape == (2, 16, 3)
    assert k.forward_kinematics(d).shape == (2, 17, 3)
    dirs, lengths = k.pose_to_directions(torch.randn(2, 17, 3))
    assert dirs.shape == (2, 16, 3) and lengths.shape == (2, 16)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="local must have shape"):
        k.local_to_global_directions(torch.randn(2, 17, 3))
    with pytest.raises(ValueError, match="root_rotation"):
        k.local_to_global_directions(torch.randn(2, 16, 3), torch.eye(3))
    with pytest.raises(ValueError, match="pose3d"):
        k.pose_to_directions(torch.randn(2, 16, 3))


def test_align_closed_form():
    a = torch.nn.functional.normalize(torch.randn(50, 3, dtype=torch.float64), dim=-1)
    b = torch.nn.functional.normalize(torch.randn(50, 3, dtype=torch.float64), dim=-1)
    R = k.align(a, b)
    torch.testing.assert_close((R @ a.unsqueeze(-1)).squeeze(-1), b)
    torch.testing.assert_close(R @ R.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(50, 3, 3))
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(50, dtype=torch.float64))
    # identical vectors: the identity, with finite gradients (the rest pose)
    torch.testing.assert_close(k.align(a, a), torch.eye(3, dtype=torch.float64).expand(50, 3, 3))


def test_tpose_is_rest_in_both_frames():
    dirs, lengths = k.pose_to_directions(sk.canonical_tpose(torch.float64)[None])
    torch.testing.assert_close(dirs[0], k.rest_directions(torch.float64))
    torch.testing.assert_close(k.global_to_local_directions(dirs)[0], k.rest_directions(torch.float64))
    torch.testing.assert_close(lengths[0], sk.bone_lengths_tensor(torch.float64))


def test_fk_reproduces_canonical_tpose():
    pose = k.forward_kinematics(k.rest_directions(torch.float64)[None], sk.bone_lengths_tensor(torch.float64))
    torch.testing.assert_close(pose[0], sk.canonical_tpose(torch.float64))


def test_fk_bone_lengths_equal_given_lengths():
    torch.manual_seed(0)
    dirs = torch.randn(4, 16, 3, dtype=torch.float64)  # not unit: FK normalises
    lengths = torch.rand(4, 16, dtype=torch.float64) + 0.1
    pose = k.forward_kinematics(dirs, lengths)
    torch.testing.assert_close(pose[:, 0], torch.zeros(4, 3, dtype=torch.float64))
    _, measured = k.pose_to_directions(pose)
    torch.testing.assert_close(measured, lengths)
    # default canonical lengths, and a per-sample scale keeps the ratios
    scale = torch.tensor([1.0, 0.5, 2.0, 1.5], dtype=torch.float64)
    _, measured = k.pose_to_directions(k.forward_kinematics(dirs, scale=scale))
    torch.testing.assert_close(measured, scale[:, None] * sk.bone_lengths_tensor(torch.float64))


def test_fk_inverts_pose_to_directions():
    torch.manual_seed(1)
    pose = torch.randn(3, 17, 3, dtype=torch.float64)
    pose = pose - pose[:, :1]
    torch.testing.assert_close(k.forward_kinematics(*k.pose_to_directions(pose)), pose)


def test_symmetry_holds_by_construction():
    torch.manual_seed(2)
    pose = k.forward_kinematics(torch.randn(5, 16, 3), scale=torch.rand(5) + 0.5)
    _, lengths = k.pose_to_directions(pose)
    for left, right in zip(sk.LEFT_JOINTS, sk.RIGHT_JOINTS):
        torch.testing.assert_close(lengths[:, left - 1], lengths[:, right - 1])


def test_local_global_round_trip():
    torch.manual_seed(3)
    local = torch.nn.functional.normalize(_plausible_local(6), dim=-1)
    R = _random_rotation(6)
    for root in (None, R):
        glob = k.local_to_global_directions(local, root)
        torch.testing.assert_close(glob.norm(dim=-1), torch.ones(6, 16, dtype=torch.float64))
        torch.testing.assert_close(k.global_to_local_directions(glob, root), local)
    # and the other way round, starting from a pose
    glob, _ = k.pose_to_directions(torch.randn(6, 17, 3, dtype=torch.float64))
    torch.testing.assert_close(k.local_to_global_directions(k.global_to_local_directions(glob, R), R), glob)


def test_local_directions_are_root_invariant():
    """Rotating the root rotates the whole body and leaves the local description unchanged."""
    torch.manual_seed(4)
    local, R = _plausible_local(2), _random_rotation(2)
    body = k.local_to_global_directions(local)
    torch.testing.assert_close(k.local_to_global_directions(local, R), body @ R.transpose(-1, -2))


def test_local_frame_follows_parent():
    """Bending the upper arm carries the forearm with it: the elbow angle is a local quantity."""
    local = k.rest_directions(torch.float64).clone()[None]
    upper, fore = 11, 12  # bones ending at lelbow, lwrist
    local[0, upper] = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)  # arm hangs down
    glob = k.local_to_global_directions(local)
    # forearm (local rest = straight on from the parent) continues the upper arm
    torch.testing.assert_close(glob[0, fore], glob[0, upper])


def test_gradcheck_fk_and_local_to_global():
    torch.manual_seed(5)
    local = _plausible_local(2).requires_grad_()
    R = _random_rotation(2).requires_grad_()
    assert gradcheck(k.local_to_global_directions, (local, R))
    assert gradcheck(k.global_to_local_directions, (local, R))
    lengths = (torch.rand(2, 16, dtype=torch.float64) + 0.1).requires_grad_()
    assert gradcheck(k.forward_kinematics, (local, lengths))
    # exactly at the rest pose too (where an axis–angle construction loses its gradient)
    rest = k.rest_directions(torch.float64)[None].clone().requires_grad_()
    assert gradcheck(k.local_to_global_directions, (rest,))
