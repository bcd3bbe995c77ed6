"""Tests for the unpaired 3D pose loaders (posesynth.data.poses3d) and the BVH reader (data.bvh)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from posesynth import skeleton as sk
from posesynth.data import bvh as B
from posesynth.data import poses3d as P
from posesynth.errors import UntrustedPickleError
from posesynth.geometry import euler_to_matrix

# A 3-joint chain: root A (6 channels, X-Y-Z rotation order), joint B (Y-X-Z order), an end site.
CHAIN = """HIERARCHY
ROOT A
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation
  JOINT B
  {
    OFFSET 0 1 0
    CHANNELS 3 Yrotation Xrotation Zrotation
    End Site
    {
      OFFSET 2 0 0
    }
  }
}
MOTION
Frames: {frames}
Frame Time: 0.1
{rows}
"""
ROWS = [
    "1 2 3 0 0 0 0 0 0",    # rest pose, moved by (1, 2, 3)
    "0 0 0 90 90 0 0 0 0",  # root Rx(90)·Ry(90)
    "0 0 0 0 0 90 90 0 0",  # root Rz(90), B Ry(90)
    "0 0 0 0 0 0 90 90 0",  # B Ry(90)·Rx(90): the order matters here
]
# Worked by hand with Rx90: (x,y,z)→(x,−z,y), Ry90: →(z,y,−x), Rz90: →(−y,x,z).
EXPECTED = np.array([
    [[1, 2, 3], [1, 3, 3], [3, 3, 3]],
    [[0, 0, 0], [0, 0, 1], [0, 2, 1]],
    [[0, 0, 0], [-1, 0, 0], [-1, 0, -2]],
    [[0, 0, 0], [0, 1, 0], [0, 1, -2]],
], dtype=np.float64)


def chain_text(rows: list[str] = ROWS, frames: int | None = None) -> str:
    return CHAIN.replace("{frames}", str(len(rows) if frames is None else frames)).replace("{rows}", "\n".join(rows))


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_bvh_chain_matches_closed_form_positions():
    bvh = B.parse_bvh(chain_text())
    assert bvh.names == ("A", "B", "B_End")
    assert bvh.parents == (-1, 0, 1)
    assert bvh.channels[1] == ("Yrotation", "Xrotation", "Zrotation")
    assert bvh.motion.shape == (4, 9) and bvh.fps == pytest.approx(10.0)
    np.testing.assert_allclose(B.bvh_joint_positions(bvh), EXPECTED, atol=1e-12)
    np.testing.assert_allclose(B.bvh_joint_positions(bvh, frame_step=2), EXPECTED[::2], atol=1e-12)


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_bvh_euler_orders_agree_with_matrix_products(order):
    rng = np.random.default_rng(0)
    angles = rng.uniform(-180, 180, size=(5, 3))
    text = (f"HIERARCHY\nROOT A\n{{\nOFFSET 0 0 0\nCHANNELS 3 {' '.join(a + 'rotation' for a in order)}\n"
            f"End Site\n{{\nOFFSET 0.3 -1.2 0.7\n}}\n}}\nMOTION\nFrames: 5\nFrame Time: 0.01\n"
            + "\n".join(" ".join(f"{v:.10f}" for v in row) for row in angles) + "\n")
    got = B.bvh_joint_positions(B.parse_bvh(text))[:, 1]
    R = euler_to_matrix(torch.deg2rad(torch.as_tensor(angles)), order.lower()).numpy()  # R_a·R_b·R_c
    np.testing.assert_allclose(got, R @ np.array([0.3, -1.2, 0.7]), atol=1e-9)


def test_bvh_accepts_braces_on_the_same_line_and_names_with_spaces():
    text = ("HIERARCHY\nROOT Hips {\n OFFSET 0 0 0\n CHANNELS 3 Zrotation Xrotation Yrotation\n"
            " JOINT Left Up Leg {\n  OFFSET 1 0 0\n  CHANNELS 0\n  End Site { OFFSET 0 -1 0 }\n }\n}\n"
            "MOTION\nFrames: 1\nFrame Time: 0.5\n0 0 0\n")
    bvh = B.parse_bvh(text)
    assert bvh.names == ("Hips", "Left Up Leg", "Left Up Leg_End")
    np.testing.assert_allclose(B.bvh_joint_positions(bvh)[0, 2], [1, -1, 0])


@pytest.mark.parametrize("text, message", [
    (chain_text().split("MOTION")[0], "no MOTION section"),
    (chain_text(ROWS[:1] + ["0 0 0 0 0 0 0 0"]), r"line 20\): 8 values, but the hierarchy declares 9 channels"),
    (chain_text(ROWS[:1] + ["0 0 0 0 zero 0 0 0 0"]), "non-numeric value 'zero'"),
    (chain_text(frames=7), "header says 7 frames but 4 motion lines follow"),
    (chain_text().replace("Yrotation Xrotation", "Yrotation Wrotation"), "unknown channel"),
    (chain_text().replace("OFFSET 0 1 0", "OFFSET 0 one 0"), r"line 8\): expected a number, found 'one'"),
    (chain_text().replace("Frame Time: 0.1", ""), "Frame Time"),
    (chain_text().replace("ROOT A", "BONE A"), "expected 'ROOT'"),
])
def test_malformed_bvh_errors_name_the_file_and_the_problem(tmp_path, text, message):
    path = write(tmp_path / "broken.bvh", text)
    with pytest.raises(B.BVHError, match=message) as info:
        B.read_bvh(path)
    assert "broken.bvh" in str(info.value)
    with pytest.raises(ValueError, match="broken.bvh"):  # BVHError is a ValueError; so is the loader's
        P.load_poses3d(path)


def test_npy_round_trip_units_and_shape_errors(tmp_path):
    pose = sk.canonical_tpose(torch.float64).numpy() + np.array([0.2, -0.1, 4.0])  # not root-relative
    poses = np.stack([pose, pose * 1.1])
    np.save(tmp_path / "m.npy", poses)
    got = P.load_poses3d(tmp_path / "m.npy")
    assert got.shape == (2, 17, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, poses - poses[:, :1], atol=1e-6)
    np.save(tmp_path / "mm.npy", poses * 1000.0)
    with pytest.raises(ValueError, match=r"mm.npy.*looks like mm — pass unit='mm'"):
        P.load_poses3d(tmp_path / "mm.npy")
    np.testing.assert_allclose(P.load_poses3d(tmp_path / "mm.npy", unit="mm"), got, atol=1e-5)
    np.save(tmp_path / "bad.npy", np.zeros((3, 16, 3)))
    with pytest.raises(ValueError, match=r"bad.npy: array has shape \(3, 16, 3\), expected \(N, 17, 3\)"):
        P.load_poses3d(tmp_path / "bad.npy")
    with pytest.raises(ValueError, match="unit must be one of"):
        P.load_poses3d(tmp_path / "m.npy", unit="inch")


def fake_videopose3d(path: Path) -> np.ndarray:
    """Write a tiny data_3d_h36m.npz: the T-pose in Human3.6M's z-up world at the 17 kept joints.

    Returns the expected loaded pose (17, 3): the T-pose, root-relative, y down.
    """
    tpose = sk.canonical_tpose(torch.float64).numpy()  # y down
    # y-down body frame (x, y, z) ↔ z-up world (x, z, −y), placed somewhere in the room
    world17 = np.stack([tpose[:, 0], tpose[:, 2], -tpose[:, 1]], -1) + np.array([1.0, 2.0, 0.9])
    raw = np.random.default_rng(0).normal(size=(32, 3))  # the 15 dropped joints: junk
    raw[list(sk.H36M32_TO_17)] = world17
    table = {"S1": {"Walking": np.repeat(raw[None], 10, 0).astype(np.float32),
                    "Eating 2": np.repeat(raw[None], 6, 0).astype(np.float32)},
             "S9": {"Walking": np.repeat(raw[None], 4, 0).astype(np.float32)}}
    np.savez(path, positions_3d=table)
    return tpose


def test_videopose3d_npz_subjects_frame_step_and_axes(tmp_path):
    expected = fake_videopose3d(tmp_path / "data_3d_h36m.npz")
    everything = P.load_poses3d(tmp_path / "data_3d_h36m.npz", trust_pickle=True)
    assert everything.shape == (20, 17, 3)
    np.testing.assert_allclose(everything, np.broadcast_to(expected, (20, 17, 3)), atol=1e-6)
    assert len(P.load_poses3d(tmp_path / "data_3d_h36m.npz", subjects=["S1"], trust_pickle=True)) == 16
    assert len(P.load_poses3d(tmp_path / "data_3d_h36m.npz", subjects=["S1"], frame_step=4, trust_pickle=True)) == 5
    with pytest.raises(ValueError, match=r"subjects \['S5'\] not in the file"):
        P.load_poses3d(tmp_path / "data_3d_h36m.npz", subjects=["S5"], trust_pickle=True)


def test_videopose3d_npz_is_a_pickle_read_only_when_trusted(tmp_path):
    fake_videopose3d(tmp_path / "data_3d_h36m.npz")
    with pytest.raises(UntrustedPickleError, match=r"data_3d_h36m\.npz: .*pickle.*--trust-pickle"):
        P.load_poses3d(tmp_path / "data_3d_h36m.npz")
    folder = tmp_path / "mocap"
    folder.mkdir()
    fake_videopose3d(folder / "a.npz")
    with pytest.raises(UntrustedPickleError, match=r"a\.npz"):  # also when found inside a folder
        P.load_poses3d(folder)


def test_degenerate_and_constant_poses(tmp_path, caplog):
    np.save(tmp_path / "zeros.npy", np.zeros((5, 17, 3)))
    with pytest.raises(ValueError, match=r"zeros\.npy: median bone length is 0 m: the poses are all zero"):
        P.load_poses3d(tmp_path / "zeros.npy")
    np.save(tmp_path / "same.npy", np.repeat(sk.canonical_tpose().numpy()[None], 4, 0))
    assert len(P.load_poses3d(tmp_path / "same.npy")) == 4
    assert "all 4 poses are identical" in caplog.text and "same.npy" in caplog.text


def test_npy_that_is_no_array_names_the_file(tmp_path):
    (tmp_path / "text.npy").write_text("1 2 3")
    with pytest.raises(ValueError, match=r"text\.npy: neither an \.npy nor an \.npz file"):
        P.load_poses3d(tmp_path / "text.npy")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"objects\.npy holds Python objects"):
        P.load_poses3d(tmp_path / "objects.npy")


def test_npz_without_pose_arrays_is_rejected(tmp_path):
    np.savez(tmp_path / "other.npz", positions_2d=np.zeros(3))
    with pytest.raises(ValueError, match=r"other.npz: no 'positions_3d' \(VideoPose3D\) or 'S' \(mmpose\)"):
        P.load_poses3d(tmp_path / "other.npz")


def test_folders_and_unknown_suffixes(tmp_path):
    fake_videopose3d(tmp_path / "a.npz")
    np.save(tmp_path / "b.npy", sk.canonical_tpose().numpy()[None])
    (tmp_path / "notes.txt").write_text("ignored inside a folder")
    assert len(P.load_poses3d(tmp_path, trust_pickle=True)) == 21
    assert len(P.load_poses3d([tmp_path / "a.npz", tmp_path / "b.npy"], trust_pickle=True)) == 21
    with pytest.raises(ValueError, match=r"notes.txt: unsupported pose file type '.txt'; supported: .npz, .npy, .bvh"):
        P.load_poses3d(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no supported pose files"):
        P.load_poses3d(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="missing.bvh"):
        P.load_poses3d(tmp_path / "missing.bvh")


def test_normalize_poses_numpy_and_torch():
    pose = sk.canonical_tpose(torch.float64) * 1.3 + 5.0
    out = P.normalize_poses(pose, scale=True)
    assert isinstance(out, torch.Tensor) and float(out[0].abs().max()) == 0.0
    torch.testing.assert_close(out, sk.canonical_tpose(torch.float64))  # size normalised back
    out_np = P.normalize_poses(pose.numpy()[None])
    assert isinstance(out_np, np.ndarray)
    np.testing.assert_allclose(out_np[0], (pose - pose[0]).numpy())
    assert pose[0, 0] == 5.0  # input untouched


def test_real_cmu_bvh_loads_with_plausible_geometry(realdata):
    path = realdata / "cmu_mocap" / "01_01.bvh"
    poses = P.load_poses3d(path, frame_step=4)
    assert poses.shape == (688, 17, 3) and poses.dtype == np.float32  # 2752 frames at 120 fps → 30 fps
    np.testing.assert_allclose(poses[:, 0], 0.0, atol=1e-6)  # root-relative
    lengths = P.bone_lengths(poses)
    # size from the canonical skeleton, proportions from the data
    assert lengths.mean(0).sum() == pytest.approx(sum(sk.BONE_LENGTHS_M), rel=1e-4)
    # ankle to head top (y is down): an adult's 1.5-1.9 m minus the foot height
    height = poses[:, [3, 6], 1].max(1) - poses[:, 10, 1]
    assert 1.45 < np.median(height) < 1.9 and 1.5 < height[0] < 1.9
    # left/right bones agree within a few per cent
    child = {c: b for b, (_, c) in enumerate(sk.BONES)}
    for left, right in zip(sk.LEFT_JOINTS, sk.RIGHT_JOINTS):
        l, r = lengths[:, child[left]].mean(), lengths[:, child[right]].mean()
        assert abs(l - r) / (l + r) * 2 < 0.06, (sk.JOINT_NAMES[left], l, r)
    # y down: head above the pelvis, feet below it, in (almost) every frame — it is a jump, not a flip
    assert (poses[:, 10, 1] < -0.4).mean() > 0.99
    assert (poses[:, [3, 6], 1] > 0.5).all(-1).mean() > 0.95
    # the subject's left joints on +x at the first (T-pose) frame, as in skeleton.canonical_tpose
    assert all(poses[0, j, 0] > 0 for j in sk.LEFT_JOINTS) and all(poses[0, j, 0] < 0 for j in sk.RIGHT_JOINTS)
    # the recorded size instead: CMU units are (1/0.45) inch = 5.644 cm
    recorded = P.load_poses3d(path, frame_step=40, bvh_scale=0.0254 / 0.45)
    assert 1.45 < float(recorded[0, [3, 6], 1].max() - recorded[0, 10, 1]) < 1.9
    # the folder also holds .asf skeleton files: they are skipped, the .bvh is loaded
    assert P.load_poses3d(path.parent, frame_step=40).shape == (69, 17, 3)


def test_bvh_mapping_can_be_replaced_and_is_checked(realdata):
    path = realdata / "cmu_mocap" / "01_01.bvh"
    mapping = dict(P.CMU_TO_H36M17, pelvis="Hips", thorax=("Neck", "Neck1"))
    assert P.load_poses3d(path, frame_step=100, bvh_mapping=mapping).shape == (28, 17, 3)
    with pytest.raises(ValueError, match=r"01_01.bvh: BVH has no joints \['Chest'\].*its joints are \['Hips'"):
        P.load_poses3d(path, bvh_mapping=dict(P.CMU_TO_H36M17, spine="Chest"))
    incomplete = {k: v for k, v in P.CMU_TO_H36M17.items() if k != "head"}
    with pytest.raises(ValueError, match=r"lacks posesynth joints \['head'\]"):
        P.load_poses3d(path, bvh_mapping=incomplete)


def test_real_mmpose_npz_keeps_camera_frame_poses(realdata):
    path = realdata / "mmpose" / "h36m" / "test_h36m_body3d.npz"
    S = np.load(path)["S"][..., :3]
    poses = P.load_poses3d(path)
    np.testing.assert_allclose(poses, S - S[:, :1], atol=1e-6)
    assert len(P.load_poses3d(path, subjects=["S1", "S7"])) == 2
    # and a real subject's bone lengths are close to the canonical ones (they were derived from them)
    assert np.abs(P.bone_lengths(poses).mean(0) - np.array(sk.BONE_LENGTHS_M)).max() < 0.05
