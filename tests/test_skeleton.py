import torch

from posesynth import skeleton as sk


def test_layout_is_consistent():
    assert len(sk.JOINT_NAMES) == len(sk.PARENTS) == sk.NUM_JOINTS == 17
    assert sk.PARENTS[sk.ROOT] == -1
    # parents precede children, so one forward pass of forward kinematics suffices
    assert all(p < j for j, p in enumerate(sk.PARENTS) if p >= 0)
    assert len(sk.BONES) == sk.NUM_BONES == 16 == len(sk.BONE_LENGTHS_M)
    assert len(sk.H36M32_TO_17) == 17 and sk.H36M32_TO_17[0] == 0
    assert set(sk.LEFT_JOINTS).isdisjoint(sk.RIGHT_JOINTS)


def test_left_right_bones_have_equal_length():
    lengths = dict(zip((c for _, c in sk.BONES), sk.BONE_LENGTHS_M))
    for left, right in zip(sk.LEFT_JOINTS, sk.RIGHT_JOINTS):
        assert lengths[left] == lengths[right], (sk.JOINT_NAMES[left], sk.JOINT_NAMES[right])
    for group in sk.BONE_GROUPS.values():
        assert all(0 <= b < sk.NUM_BONES for b in group)


def test_tpose_has_canonical_bone_lengths_and_plausible_height():
    pose = sk.canonical_tpose(torch.float64)
    lengths = torch.stack([(pose[c] - pose[p]).norm() for p, c in sk.BONES])
    torch.testing.assert_close(lengths, sk.bone_lengths_tensor(torch.float64))
    height = pose[:, 1].max() - pose[:, 1].min()
    assert 1.5 < float(height) < 1.8  # ankle to head top of an average adult, metres
    # the subject's left side is on +x
    assert all(pose[j, 0] > 0 for j in sk.LEFT_JOINTS)


def test_flip_is_an_involution_and_swaps_sides():
    pose = torch.randn(4, 17, 3)
    flipped = sk.flip_pose(pose)
    torch.testing.assert_close(sk.flip_pose(flipped), pose)
    torch.testing.assert_close(flipped[:, 4, 0], -pose[:, 1, 0])
    tpose = sk.canonical_tpose()
    torch.testing.assert_close(sk.flip_pose(tpose), tpose)  # the T-pose is symmetric


def test_swap_sides_renames_only_the_chosen_rows():
    joints2d, depth = torch.randn(3, 17, 2), torch.randn(3, 17)
    where = torch.tensor([False, True, False])
    swapped = sk.swap_sides(joints2d, where)
    torch.testing.assert_close(swapped[[0, 2]], joints2d[[0, 2]])
    torch.testing.assert_close(swapped[1, 4], joints2d[1, 1])     # left hip ← right hip, not mirrored
    torch.testing.assert_close(swapped[1, 0], joints2d[1, 0])     # the pelvis keeps its name
    torch.testing.assert_close(sk.swap_sides(swapped, where), joints2d)  # an involution
    torch.testing.assert_close(sk.swap_sides(depth, where)[1, 11], depth[1, 14])  # any trailing shape
