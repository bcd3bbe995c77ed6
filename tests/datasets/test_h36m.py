"""Human3.6M readers: the three layouts written by the tests, the real mmpose sample and cameras."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from cdflib.cdfwrite import CDF
from conftest import write_mmpose_h36m, write_test_video

from posesynth import skeleton as sk
from posesynth.datasets.h36m.cameras import CAMERAS, H36MError
from posesynth.datasets.h36m.cameras import (PUBLISHED_SUBJECTS, project_to_image, published_camera, read_camera_pickle,
    world_to_camera_mm)
from posesynth.datasets.h36m.load import detect_format, load_h36m, read_view_frames, view_crop_boxes
from posesynth.datasets.h36m.types import ACTIONS, canonical_action
from posesynth.errors import UntrustedPickleError
from posesynth.video.readers import read_frames

F = 6  # mocap frames of every synthetic sequence
TWO = CAMERAS[:2]  # the synthetic trees have videos for two cameras only (keeps the tests fast)


# --- synthetic data -------------------------------------------------------------------------

def world_poses(frames: int = F, seed: int = 0) -> np.ndarray:
    """(frames, 32, 3) world mm, z up, a standing T-pose near the origin (as Human3.6M stores it)."""
    body = sk.canonical_tpose().double().numpy() * 1000.0  # (17, 3) y down, mm
    z_up = body @ np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]]).T + [0.0, 0.0, 950.0]
    rng = np.random.default_rng(seed)
    poses = np.repeat(z_up[None], frames, 0) + rng.normal(0, 20, (frames, 17, 3)) + [[[30.0 * seed, 0, 0]]]
    full = rng.normal(0, 50, (frames, 32, 3)) + poses[:, :1]  # the 15 unused joints: near the pelvis
    full[:, list(sk.H36M32_TO_17)] = poses
    return full


def write_cdf(path, pose: np.ndarray) -> None:
    """Human3.6M CDF: variable ``Pose`` of shape (1, F, 32·d), as the release stores it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = pose.reshape(1, len(pose), -1)
    cdf = CDF(str(path), delete=True)
    cdf.write_var({"Variable": "Pose", "Data_Type": CDF.CDF_DOUBLE, "Num_Elements": 1, "Rec_Vary": True,
                   "Dim_Sizes": list(flat.shape[1:])}, var_data=flat)
    cdf.close()


# subject → sequence → seed; S1 spells two actions its own way; "_ALL" is no action
ORIGINAL = {"S1": {"TakingPhoto 1": 1, "WalkingDog": 2, "Sitting 1": 3, "SittingDown": 4, "_ALL": 5},
            "S11": {"Directions": 6, "Walking 1": 7, "WalkTogether": 8}}


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """An original-release tree: world 3D for all, _mono and 2D for some views, tiny videos."""
    root = tmp_path_factory.mktemp("h36m_original")
    for subject, sequences in ORIGINAL.items():
        features = root / subject / "MyPoseFeatures"
        for name, seed in sequences.items():
            world = world_poses(seed=seed)
            write_cdf(features / "D3_Positions" / f"{name}.cdf", world)
            for camera in TWO:
                video = root / subject / "Videos" / f"{name}.{camera}.mp4"
                video.parent.mkdir(parents=True, exist_ok=True)
                frames = F + 3  # videos run longer than the mocap
                if (subject, name, camera) == ("S11", "WalkTogether", TWO[1]):
                    frames = F - 2  # ... except this one
                if (subject, name, camera) == ("S1", "SittingDown", TWO[1]):
                    continue  # missing video
                if (subject, name, camera) == ("S11", "Directions", TWO[0]):
                    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))  # corrupt, like the real one
                    continue
                write_test_video(video, frames=frames, width=32, height=24, seed=seed)
    cam = published_camera("S1", TWO[0])
    mono = world_to_camera_mm(world_poses(seed=3), cam) + 1.0  # offset: shows _mono is preferred
    write_cdf(root / "S1/MyPoseFeatures/D3_Positions_mono" / f"Sitting 1.{TWO[0]}.cdf", mono)
    pixels = project_to_image(world_to_camera_mm(world_poses(seed=1), cam), cam) + 2.0
    write_cdf(root / "S1/MyPoseFeatures/D2_Positions" / f"TakingPhoto 1.{TWO[0]}.cdf", pixels)
    return root


# --- names ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, action", [
    ("Walking 1", "Walking"), ("Walking", "Walking"), ("TakingPhoto", "Photo"), ("TakingPhoto 1", "Photo"),
    ("Photo 2", "Photo"), ("WalkingDog 1", "WalkDog"), ("WalkDog", "WalkDog"), ("SittingDown 2", "SittingDown"),
    ("SittingDown", "SittingDown"), ("Sitting 1", "Sitting"), ("WalkTogether 1", "WalkTogether"),
    ("Directions_1", "Directions"), ("walking 1", "Walking"), ("Phoning 3", "Phoning")])
def test_canonical_action(name, action):
    assert canonical_action(name) == action


@pytest.mark.parametrize("name", ["_ALL", "_ALL 1", "Sitting Down", "Walk", "", "Walking 1.54138969"])
def test_canonical_action_rejects(name):
    with pytest.raises(H36MError, match="not a Human3.6M sequence"):
        canonical_action(name)


def test_actions_are_the_fifteen():
    assert len(ACTIONS) == 15 and {canonical_action(a) for a in ACTIONS} == set(ACTIONS)


# --- cameras --------------------------------------------------------------------------------

def test_camera_closed_form():
    cam = published_camera("S9", "55011271")
    assert np.allclose(cam.R @ cam.R.T, np.eye(3)) and np.isclose(np.linalg.det(cam.R), 1.0)
    assert np.allclose(world_to_camera_mm(cam.center, cam), 0.0, atol=1e-9)
    assert np.allclose(cam.center, [1990.959716796875, -5123.810546875, 1568.8048095703125])
    assert np.allclose(cam.K(), [[cam.f[0], 0, cam.c[0]], [0, cam.f[1], cam.c[1]], [0, 0, 1]])
    assert (cam.width, cam.height) == (1000, 1000)
    # the camera looks at the capture area (world origin) from ~5.5 m: the origin is in front, in the image
    origin = world_to_camera_mm(np.zeros(3), cam)
    assert 4000 < origin[2] < 7000 and np.all(np.abs(project_to_image(origin, cam) - 500) < 300)
    with pytest.raises(H36MError, match="S2"):
        published_camera("S2", "55011271")
    with pytest.raises(H36MError, match="camera"):
        published_camera("S9", "123")


def test_distortion_is_opencv():
    cam = published_camera("S1", "54138969")
    points = np.array([[300.0, -200.0, 4000.0], [-500.0, 600.0, 5000.0], [0.0, 0.0, 3000.0]])
    x, y = points[:, 0] / points[:, 2], points[:, 1] / points[:, 2]
    (k1, k2, k3), (p1, p2), r2 = cam.k, cam.p, x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    expected = np.stack([xd, yd], 1) * cam.f + cam.c
    assert np.allclose(project_to_image(points, cam), expected, atol=1e-6)
    assert np.allclose(project_to_image(points, cam, distort=False), np.stack([x, y], 1) * cam.f + cam.c)


def test_published_cameras_match_mmpose_pickle(realdata):
    cameras = read_camera_pickle(realdata / "mmpose/h36m/cameras.pkl")
    for subject in PUBLISHED_SUBJECTS:
        for camera in CAMERAS:
            ours, theirs = published_camera(subject, camera), cameras[subject, camera]
            assert np.abs(ours.R - theirs.R).max() < 1e-6 and np.abs(ours.t - theirs.t).max() < 0.01  # mm
            for name in ("f", "c", "k", "p"):
                assert np.allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-6, atol=1e-4), name
            assert (ours.width, ours.height) == (theirs.width, theirs.height)


def _float64_runs(data: bytes, length: int) -> np.ndarray:
    """Every run of ``length`` little-endian float64 in a file, at any byte offset (HDF5 without h5py)."""
    runs = []
    for offset in range(8):
        values = np.frombuffer(data[offset:offset + (len(data) - offset) // 8 * 8], "<f8")
        runs.append(np.lib.stride_tricks.sliding_window_view(values, length))
    runs = np.concatenate(runs)
    return runs[np.isfinite(runs).all(1) & (np.abs(runs) < 1e5).all(1)]


def test_published_cameras_match_cameras_h5(realdata):
    """3d-pose-baseline's cameras.h5 stores R (camera→world, as 9 doubles), T (centre, mm), f, c, k, p."""
    data = (realdata / "motionet/cameras.h5").read_bytes()
    runs9, runs3, runs2 = _float64_runs(data, 9), _float64_runs(data, 3), _float64_runs(data, 2)
    for subject in PUBLISHED_SUBJECTS:
        for camera in CAMERAS:
            cam = published_camera(subject, camera)
            assert np.abs(runs9 - cam.R.T.reshape(9)).max(1).min() < 1e-6, (subject, camera)
            assert np.abs(runs3 - cam.center).max(1).min() < 0.01, (subject, camera)
            assert np.abs(runs3 - cam.k).max(1).min() < 1e-7, (subject, camera)
            for vector in (cam.f, cam.c, cam.p):
                assert np.abs(runs2 - vector).max(1).min() < 1e-4, (subject, camera)


# --- the real mmpose sample ------------------------------------------------------------------

REAL_SUBJECTS = ("S1", "S5", "S7", "S8")


def test_real_sample_cameras_project_3d_onto_2d(realdata):
    root = realdata / "mmpose/h36m"
    assert detect_format(root) == "mmpose"
    split = load_h36m(root, subjects=REAL_SUBJECTS, need_video=True)
    assert split.format == "mmpose" and split.missing == []
    assert [s.key for s in split.sequences] == ["S1|Directions 1|54138969", "S5|SittingDown|54138969",
                                                "S7|Greeting|55011271", "S8|WalkDog 1|55011271"]
    assert [s.action for s in split.sequences] == ["Directions", "SittingDown", "Greeting", "WalkDog"]
    assert [int(s.frames[0]) for s in split.sequences] == [0, 2060, 395, 25]  # image number − 1
    for seq in split.sequences:
        assert seq.joints3d.shape == (1, 17, 3) and 4000 < seq.joints3d[0, 0, 2] < 7000  # mm
        error = np.linalg.norm(project_to_image(seq.joints3d, seq.calibration) - seq.joints2d, axis=-1)
        assert error.max() < 0.5, seq.key  # distortion included; 2-3.5 px without it
        pinhole = project_to_image(seq.joints3d, seq.calibration, distort=False)
        assert np.linalg.norm(pinhole - seq.joints2d, axis=-1).max() < 4.0
        published = published_camera(seq.subject, seq.camera)
        assert np.abs(project_to_image(seq.joints3d, published) - seq.joints2d).max() < 0.5
        frame = read_view_frames(seq, seq.frames)
        # real frames are 1000 × 1000 or 1002 tall; the nominal size can differ (S7 55011271: 1002, not 1000)
        assert frame.shape[0] == 1 and frame.shape[1] in (1000, 1002) and frame.shape[2:] == (1000, 3)
        assert frame.dtype == np.uint8
        box = view_crop_boxes(seq.joints2d)[0]
        assert box[0] <= seq.joints2d[0, :, 0].min() and seq.joints2d[0, :, 0].max() <= box[2]
        assert box[1] <= seq.joints2d[0, :, 1].min() and seq.joints2d[0, :, 1].max() <= box[3]


def test_real_sample_world_to_camera(realdata):
    """h36m_coco.json holds the same 4 poses in world metres: our extrinsics map them onto ``S``."""
    root = realdata / "mmpose/h36m"
    annotations = json.loads((root / "h36m_coco.json").read_text())["annotations"]
    split = load_h36m(root, subjects=REAL_SUBJECTS)
    for seq, annotation in zip(split.sequences, annotations):
        world = np.asarray(annotation["keypoints_3d"]).reshape(17, 4)[:, :3] * 1000.0
        camera = world_to_camera_mm(world, published_camera(seq.subject, seq.camera))
        assert np.abs(camera - seq.joints3d[0]).max() < 1.0, seq.key  # mm
        assert world[[3, 6], 2].min() < 120  # z up, the floor at 0: a foot is on it


# --- (a) the original release ----------------------------------------------------------------

def test_original_layout(original):
    assert detect_format(original) == "original"
    split = load_h36m(original, subjects=("S1", "S11"), cameras=TWO)
    assert split.format == "original" and split.missing == []
    by_key = {s.key: s for s in split.sequences}
    names = {(s.subject, s.sequence) for s in split.sequences}
    assert names == {(subj, name) for subj, seqs in ORIGINAL.items() for name in seqs if name != "_ALL"}
    assert len(by_key) == 7 * 2
    s1_photo = by_key["S1|TakingPhoto 1|54138969"]
    assert s1_photo.action == "Photo" and by_key["S1|WalkingDog|55011271"].action == "WalkDog"
    assert by_key["S1|Sitting 1|54138969"].action == "Sitting"
    assert by_key["S1|SittingDown|54138969"].action == "SittingDown"
    for seq in split.sequences:
        assert seq.frames.tolist() == list(range(F)) and seq.num_mocap_frames == F
        assert seq.joints3d.shape == (F, 17, 3) and seq.joints3d.dtype == np.float32
        assert seq.joints2d.shape == (F, 17, 2) and seq.images is None
        assert (seq.video is None) == (seq.key == "S1|SittingDown|55011271")
        world = world_poses(seed=ORIGINAL[seq.subject][seq.sequence])[:, list(sk.H36M32_TO_17)]
        expected = world_to_camera_mm(world, published_camera(seq.subject, seq.camera))
        offset = 1.0 if seq.key == "S1|Sitting 1|54138969" else 0.0  # read from D3_Positions_mono
        assert np.allclose(seq.joints3d, expected + offset, atol=1e-2), seq.key
        pixels = project_to_image(expected + offset, seq.calibration) + (2.0 if seq is s1_photo else 0.0)  # D2
        assert np.allclose(seq.joints2d, pixels, atol=1e-2), seq.key
    # need_video=False never opens a video: the corrupt S11 one is still listed
    assert by_key["S11|Directions|54138969"].video.name == "Directions.54138969.mp4"
    assert by_key["S1|SittingDown|55011271"].video is None


def test_original_need_video(original, caplog):
    with caplog.at_level(logging.WARNING):
        split = load_h36m(original, subjects=("S1", "S11"), cameras=TWO, need_video=True)
    assert split.missing == ["S11|Directions|54138969", "S1|SittingDown|55011271"]
    assert "unreadable" in split.skipped["S11|Directions|54138969"]
    assert "video missing" in split.skipped["S1|SittingDown|55011271"]
    assert "S11|Directions|54138969" in caplog.text
    by_key = {s.key: s for s in split.sequences}
    assert len(by_key) == 12
    short = by_key["S11|WalkTogether|55011271"]  # video of F - 2 frames
    assert short.frames.tolist() == list(range(F - 2)) and len(short.joints3d) == F - 2
    assert short.num_mocap_frames == F
    walking = by_key["S11|Walking 1|54138969"]  # video of F + 3 frames: trimmed to the mocap
    assert len(walking.frames) == F
    frames = read_view_frames(walking, [0, F - 1])
    assert frames.shape == (2, 24, 32, 3)
    assert np.array_equal(frames, read_frames(walking.video, [0, F - 1]))
    with pytest.raises(H36MError, match="not among"):
        read_view_frames(walking, [F])  # a video frame past the mocap
    with pytest.raises(H36MError, match="not among"):
        read_view_frames(short, [F - 1])


def test_original_selection(original):
    sitting = load_h36m(original, subjects=["S1"], cameras=TWO[:1], actions=["Sitting"])
    assert [s.sequence for s in sitting.sequences] == ["Sitting 1"]  # never SittingDown
    walking = load_h36m(original, subjects=["S11"], actions=["Walking"])
    assert {s.sequence for s in walking.sequences} == {"Walking 1"}  # never WalkTogether/WalkDog
    assert {s.camera for s in walking.sequences} == set(CAMERAS)  # all cameras: 3D from the world file
    assert all(s.video is None for s in walking.sequences if s.camera not in TWO)
    photo = load_h36m(original, subjects="S1", cameras=TWO[:1], actions=("Photo", "WalkDog"))
    assert [s.sequence for s in photo.sequences] == ["TakingPhoto 1", "WalkingDog"]


def test_original_errors(original, tmp_path):
    with pytest.raises(H36MError, match="S9"):
        load_h36m(original)  # the default subjects, S9 and S11: no S9 here
    with pytest.raises(H36MError, match="cameras"):
        load_h36m(original, subjects=["S1"], cameras=["12345678"])
    with pytest.raises(H36MError, match="actions"):
        load_h36m(original, subjects=["S1"], actions=["TakingPhoto"])  # selection uses canonical names
    with pytest.raises(H36MError, match="format"):
        load_h36m(original, "h5", subjects=["S1"])
    with pytest.raises(H36MError, match="view left"):
        load_h36m(original, subjects=["S1"], actions=["Eating"])
    with pytest.raises(H36MError, match="not a Human3.6M layout"):
        detect_format(tmp_path)
    with pytest.raises(H36MError, match="no such"):
        detect_format(tmp_path / "absent")
    positions = tmp_path / "S9/MyPoseFeatures/D3_Positions"
    write_cdf(positions / "Eating.cdf", np.zeros((F, 17, 3)))  # 51 values per frame, not 96
    write_cdf(positions / "Posing.cdf", world_poses())
    split = load_h36m(tmp_path, subjects=["S9"], cameras=TWO[:1])
    assert [s.sequence for s in split.sequences] == ["Posing"] and split.missing == ["S9|Eating|54138969"]
    assert "Eating.cdf" in split.skipped["S9|Eating|54138969"] and "(1, 6, 51)" in split.skipped["S9|Eating|54138969"]


# --- (b) VideoPose3D --------------------------------------------------------------------------

def test_videopose3d_layout(tmp_path, original):
    positions = {"S9": {"Walking 1": world_poses(seed=1) / 1000, "WalkDog": world_poses(seed=2) / 1000,
                        "Sitting 2": world_poses(seed=3) / 1000},
                 "S11": {"Walking": world_poses(seed=5) / 1000},
                 "S1": {"Photo 1": world_poses(seed=4) / 1000}}
    positions = {s: {a: p.astype(np.float32) for a, p in seqs.items()} for s, seqs in positions.items()}
    np.savez(tmp_path / "data_3d_h36m.npz", positions_3d=positions)
    stored_2d = {"S9": {a: [np.full((F + 2, 17, 2), 10.0 * c, np.float32) for c in range(4)]
                        for a in positions["S9"]}}  # longer than the mocap: trimmed
    np.savez(tmp_path / "data_2d_h36m_gt.npz", positions_2d=stored_2d,
             metadata={"layout_name": "h36m", "num_joints": 17})
    # an original-release video tree beside it: S1's file says TakingPhoto where the npz says Photo
    (tmp_path / "S1/Videos").mkdir(parents=True)
    video = tmp_path / "S1/Videos/TakingPhoto 1.54138969.mp4"
    video.write_bytes((original / "S1/Videos/TakingPhoto 1.54138969.mp4").read_bytes())

    assert detect_format(tmp_path) == "videopose3d" == detect_format(tmp_path / "data_3d_h36m.npz")
    with pytest.raises(UntrustedPickleError, match=r"data_3d_h36m\.npz: VideoPose3D's .* pickle.*--trust-pickle"):
        load_h36m(tmp_path)
    split = load_h36m(tmp_path, trust_pickle=True)
    assert split.format == "videopose3d" and len(split.sequences) == 4 * 4
    for seq in split.sequences:
        world = positions[seq.subject][seq.sequence][:, list(sk.H36M32_TO_17)].astype(np.float64) * 1000
        expected = world_to_camera_mm(world, published_camera(seq.subject, seq.camera))
        assert np.allclose(seq.joints3d, expected, atol=1e-2)
        assert seq.frames.tolist() == list(range(F)) and seq.video is None and seq.joints2d.shape == (F, 17, 2)
        if seq.subject == "S9":  # from data_2d_h36m_gt.npz, camera by camera
            assert np.allclose(seq.joints2d, 10.0 * CAMERAS.index(seq.camera))
        else:  # not in it: projected
            assert np.allclose(seq.joints2d, project_to_image(expected, seq.calibration), atol=1e-2)
    assert {s.action for s in split.sequences} == {"Walking", "WalkDog", "Sitting"}

    s1 = load_h36m(tmp_path / "data_3d_h36m.npz", subjects=["S1"], cameras=CAMERAS[:2], need_video=True,
                   trust_pickle=True)
    assert [s.key for s in s1.sequences] == ["S1|Photo 1|54138969"] and s1.sequences[0].video == video
    assert s1.missing == ["S1|Photo 1|55011271"]
    seq = s1.sequences[0]
    assert seq.action == "Photo"
    assert np.allclose(seq.joints2d, project_to_image(seq.joints3d, seq.calibration), atol=1e-3)  # projected
    assert read_view_frames(seq, [1]).shape == (1, 24, 32, 3)
    with pytest.raises(H36MError, match="S5"):
        load_h36m(tmp_path, subjects=["S5"], trust_pickle=True)


# --- (c) mmpose -------------------------------------------------------------------------------

def test_mmpose_layout(tmp_path, caplog):
    root = tmp_path / "h36m"
    views = [("S9", "Sitting_1", "54138969", 3), ("S9", "SittingDown", "54138969", 2),
             ("S11", "Walking_1", "60457274", 3)]
    rows, S, part = write_mmpose_h36m(root, views, images=7, cameras_pkl=True)  # the last image is missing

    assert detect_format(root) == "mmpose"
    with caplog.at_level(logging.INFO):
        untrusted = load_h36m(root)
    assert "cameras.pkl not read (a Python pickle; pass --trust-pickle" in caplog.text
    assert np.allclose(untrusted.sequences[1].calibration.R, published_camera("S9", "54138969").R)
    split = load_h36m(root, trust_pickle=True)
    assert split.format == "mmpose"
    assert [s.key for s in split.sequences] == ["S11|Walking 1|60457274", "S9|Sitting 1|54138969",
                                                "S9|SittingDown|54138969"]
    assert [s.action for s in split.sequences] == ["Walking", "Sitting", "SittingDown"]
    walking, sitting, _ = split.sequences
    assert sitting.frames.tolist() == [0, 5, 10] and sitting.num_mocap_frames == 11
    assert np.allclose(sitting.joints3d, S[:3, :, :3] * 1000) and np.allclose(sitting.joints2d, part[:3, :, :2])
    assert np.allclose(sitting.calibration.R, published_camera("S9", "54138969").R, atol=1e-12)
    assert np.allclose(sitting.calibration.t, published_camera("S9", "54138969").t, atol=1e-6)
    assert read_view_frames(sitting, [5]).shape == (1, 10, 12, 3) and read_view_frames(sitting, [5])[0, 0, 0, 0] == 20
    with pytest.raises(H36MError, match="not among"):
        read_view_frames(sitting, [1])
    assert len(walking.images) == 3

    strict = load_h36m(root, need_video=True)
    walking = strict.sequences[0]
    assert walking.frames.tolist() == [0, 5] and len(walking.images) == 2 and len(walking.joints3d) == 2
    assert load_h36m(root, actions=["Sitting"]).sequences[0].sequence == "Sitting 1"
    assert [s.subject for s in load_h36m(root, subjects=["S11"]).sequences] == ["S11"]
    with pytest.raises(H36MError, match="view left"):
        load_h36m(root, subjects=["S1"])  # h36m_test.npz holds S9 and S11 only


# --- boxes ----------------------------------------------------------------------------------

def test_view_crop_boxes():
    joints = np.zeros((3, 17, 2))
    joints[:, :, 0] = np.linspace(10, 50, 17)
    joints[:, :, 1] = np.linspace(20, 100, 17)
    joints[2] = np.nan
    boxes = view_crop_boxes(joints, margin=1.25)
    assert boxes.shape == (3, 4) and np.isnan(boxes[2]).all()
    side = np.ceil(1.25 * 81)  # tight box 41 × 81 px (inclusive pixel extent)
    assert np.allclose(boxes[:2, 2] - boxes[:2, 0], side) and np.allclose(boxes[:2, 3] - boxes[:2, 1], side)
    assert np.allclose((boxes[0, 0] + boxes[0, 2]) / 2, 30.5, atol=0.5)
    assert np.allclose((boxes[0, 1] + boxes[0, 3]) / 2, 60.5, atol=0.5)
