"""Calibration loaders: real Qualisys / Pose2Sim / Human3.6M files, the JSON round trip, bad files."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from posesynth.data.calibration import (
    CalibrationError, Camera, camera_from_h36m, h36m_cameras_from_tree, load_calibration,
    relative_extrinsics, write_calibration,
)
from posesynth.datasets.h36m.cameras import published_camera
from posesynth.errors import UntrustedPickleError
from posesynth.synth.dataset import generate_dataset, load_labels


def _round_trip(cameras: dict[str, Camera]) -> None:
    """i → j → i is the identity and X_j = R_ij·X_i + t_ij agrees with each camera's own extrinsics."""
    points = np.random.default_rng(0).normal(size=(5, 3))
    names = sorted(cameras)
    for a in names:
        for b in names:
            R_ab, t_ab = relative_extrinsics(cameras[a], cameras[b])
            R_ba, t_ba = relative_extrinsics(cameras[b], cameras[a])
            np.testing.assert_allclose(R_ba @ R_ab, np.eye(3), atol=1e-12)
            np.testing.assert_allclose(R_ba @ t_ab + t_ba, np.zeros(3), atol=1e-12)
            in_a = points @ cameras[a].R.T + cameras[a].t
            np.testing.assert_allclose(in_a @ R_ab.T + t_ab, points @ cameras[b].R.T + cameras[b].t, atol=1e-12)


# --- Qualisys (Pose2Sim demo) ---------------------------------------------------------------------

def test_qualisys_conversion_follows_pose2sim(realdata):
    cameras = load_calibration(realdata / "pose2sim_multiview" / "Calib.qca.txt")
    assert sorted(cameras) == ["cam01", "cam02", "cam03", "cam04"]
    cam = cameras["cam01"]
    # sensor units / 64 → pixels; window 0..1087 × 0..1919 → 1088 × 1920; position mm → m
    np.testing.assert_allclose(cam.K, [[107599.671875 / 64, 0, 34110.316406 / 64],
                                       [0, 107588.828125 / 64, 60680.792969 / 64], [0, 0, 1]])
    assert cam.size == (1088, 1920)
    np.testing.assert_allclose(cam.center, [1.4602323709212087, -1.9091590482454608, 1.8965058524092062])
    np.testing.assert_allclose(cam.distortion, np.array([-0.046183, 0.139983, 0.000608, 0.00069]) / 64)
    _round_trip(cameras)


def test_qualisys_cameras_triangulate_a_point_seen_by_all_four(realdata):
    """The subject's cap and standing foot, clicked by hand in frame 50 of each video, triangulate
    to one point each (z up, metres) whose reprojections land within a few tens of pixels."""
    cameras = load_calibration(realdata / "pose2sim_multiview" / "Calib.qca.txt")
    clicks = {"cap": [(760, 560), (700, 540), (280, 600), (220, 640)],
              "foot": [(420, 1160), (552, 1100), (520, 1200), (632, 1220)]}
    heights = {}
    for part, pixels in clicks.items():
        rows = []
        for name, (u, v) in zip(sorted(cameras), pixels):
            P = cameras[name].K @ np.c_[cameras[name].R, cameras[name].t]
            rows += [u * P[2] - P[0], v * P[2] - P[1]]
        X = np.linalg.svd(np.array(rows))[2][-1]
        X = X[:3] / X[3]
        errors = [np.linalg.norm(cameras[n].project(X[None])[0] - p) for n, p in zip(sorted(cameras), pixels)]
        assert max(errors) < 30.0, (part, errors)
        heights[part] = X[2]
    assert heights["foot"] < 0.2 and 1.2 < heights["cap"] < 1.9


# --- Pose2Sim / Sports2D TOML ---------------------------------------------------------------------

def test_sports2d_toml(realdata):
    cameras = load_calibration(realdata / "sports2d" / "Calib_demo.toml")
    cam = cameras["demo"]
    assert cam.size == (1768, 994)
    np.testing.assert_allclose(cam.K[0], [2520.0897058227038, 0.0, 884.0])
    np.testing.assert_allclose(cam.t, [-3.510103521992233, 1.7079310029359385, 10.0])
    # Rodrigues: the rotation by |r| about r/|r| keeps r fixed
    r = np.array([1.2082126924727719, 1.2098328575850605, -1.2082126924727719])
    np.testing.assert_allclose(cam.R @ r, r, atol=1e-12)
    np.testing.assert_allclose(np.trace(cam.R), 1 + 2 * np.cos(np.linalg.norm(r)), atol=1e-12)


def test_pose2sim_toml_with_several_cameras(tmp_path):
    text = ""
    for k, rotation in enumerate(([0.0, 0.0, 0.0], [0.0, np.pi / 2, 0.0]), start=1):
        text += (f'[cam_{k}]\nname = "cam0{k}"\nsize = [ 640.0, 480.0,]\n'
                 f'matrix = [ [ 500.0, 0.0, 319.5,], [ 0.0, 500.0, 239.5,], [ 0.0, 0.0, 1.0,],]\n'
                 f'distortions = [ 0.01, 0.0, 0.0, 0.0,]\nrotation = {rotation}\ntranslation = [ 0.0, 0.0, 3.0,]\n'
                 f'fisheye = false\n\n')
    path = tmp_path / "Calib.toml"
    path.write_text(text + "[metadata]\nadjusted = false\nerror = 0.0\n")
    cameras = load_calibration(path)
    assert sorted(cameras) == ["cam01", "cam02"] and cameras["cam01"].size == (640, 480)
    np.testing.assert_allclose(cameras["cam02"].R @ [1.0, 0, 0], [0, 0, -1.0], atol=1e-12)   # quarter turn about y
    _round_trip(cameras)


# --- Human3.6M --------------------------------------------------------------------------------------

def _published(name: str = "54138969", subject: str = "S1"):
    """The published calibration (VideoPose3D's table, posesynth.datasets.h36m.cameras) as a Camera."""
    return camera_from_h36m(published_camera(subject, name))


def test_h36m_mmpose_cameras_match_the_published_numbers_and_the_mocap(realdata):
    cameras = load_calibration(realdata / "mmpose" / "h36m" / "cameras.pkl", subject="S1", trust_pickle=True)
    assert sorted(cameras) == ["54138969", "55011271", "58860488", "60457274"]
    published = _published()
    cam = cameras["54138969"]
    np.testing.assert_allclose(cam.R, published.R, atol=1e-6)
    np.testing.assert_allclose(cam.t, published.t, atol=1e-5)
    np.testing.assert_allclose(cam.K, published.K, atol=1e-3)
    assert cam.size == published.size == (1000, 1002)
    _round_trip(cameras)
    # the camera-frame mocap of mmpose's samples, taken to the world, lies between floor and 2 m (z up)
    data = np.load(realdata / "mmpose" / "h36m" / "test_h36m_body3d.npz")
    for name, joints in zip(data["imgname"], data["S"]):        # S1/S1_Directions_1.54138969/..._000001.jpg
        subject, camera = name.split("/")[0], name.split("/")[-1].split(".")[1].split("_")[0]
        cam = load_calibration(realdata / "mmpose" / "h36m" / "cameras.pkl", subject=subject,
                               trust_pickle=True)[camera]
        world = (joints[:, :3] - cam.t) @ cam.R                # X_world = Rᵀ(X_cam − t)
        assert -0.1 < world[:, 2].min() < 0.2 and world[:, 2].max() < 2.0, name   # S5 lies on the floor


def test_h36m_h5_layout_from_a_tree(realdata):
    """3d-pose-baseline's layout (R camera→world, T in mm, Name as character codes) gives the same cameras."""
    with open(realdata / "mmpose" / "h36m" / "cameras.pkl", "rb") as handle:
        raw = pickle.load(handle)
    tree = {"subject1": {f"camera{k}": {"R": np.asarray(raw[("S1", cam)]["R"]),
                                        "T": 1000 * np.asarray(raw[("S1", cam)]["T"]),
                                        **{key: np.asarray(raw[("S1", cam)][key]) for key in "fckp"},
                                        "Name": np.frombuffer(cam.encode(), np.uint8).astype(np.int64)}
                         for k, cam in enumerate(["54138969", "55011271", "58860488", "60457274"], start=1)}}
    from_tree = h36m_cameras_from_tree(tree, "tree")["S1"]
    from_pkl = load_calibration(realdata / "mmpose" / "h36m" / "cameras.pkl", subject="S1", trust_pickle=True)
    assert sorted(from_tree) == sorted(from_pkl)
    for name in from_pkl:
        np.testing.assert_allclose(from_tree[name].R, from_pkl[name].R, atol=1e-12)
        np.testing.assert_allclose(from_tree[name].t, from_pkl[name].t, atol=1e-9)


def test_h36m_cameras_h5(realdata):
    path = realdata / "motionet" / "cameras.h5"
    try:
        import h5py  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(CalibrationError, match=r"cameras\.h5.*h5py"):
            load_calibration(path, subject="S1")
        pytest.skip("h5py not installed: checked the error message only")
    cameras = load_calibration(path, subject="S1")
    published = _published()
    np.testing.assert_allclose(cameras["54138969"].R, published.R, atol=1e-6)
    np.testing.assert_allclose(cameras["54138969"].t, published.t, atol=1e-5)
    _round_trip(cameras)


# --- posesynth JSON and synthetic sets ----------------------------------------------------------------

@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth3")
    return root, generate_dataset(root, videos=1, frames=4, size=32, seed=2, views=3, progress=False)


def test_synthetic_labels_project_through_the_json_round_trip(synthetic, tmp_path):
    root, paths = synthetic
    labels = {p.stem: load_labels(p) for p in paths}
    cameras = {name: Camera(name, lab["K"], lab["R"], lab["t"], size=(32, 32)) for name, lab in labels.items()}
    loaded = load_calibration(write_calibration(tmp_path / "calibration.json", cameras))
    assert sorted(loaded) == sorted(labels)
    for name, lab in labels.items():
        np.testing.assert_allclose(loaded[name].project(lab["joints3d_world"]), lab["joints2d"], atol=2e-3)
    _round_trip(loaded)
    with pytest.raises(CalibrationError, match=r"scenes\.json: a `posesynth synth` scene index.*MultiViewDataset"):
        load_calibration(root / "scenes.json")


# --- bad files ------------------------------------------------------------------------------------------

def _json(tmp_path, cameras, name="calib.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"cameras": cameras}))
    return str(path)


GOOD = {"K": [[500, 0, 320], [0, 500, 240], [0, 0, 1]], "R": np.eye(3).tolist(), "t": [0, 0, 3], "size": [640, 480]}


@pytest.mark.parametrize("change, message", [
    ({"K": None}, r"camera 'c1'.*missing field 'K'"),
    ({"R": [[1, 0, 0], [0, 2, 0], [0, 0, 1]]}, r"camera 'c1'.*R is not a rotation"),
    ({"R": [[1, 0, 0], [0, 1, 0], [0, 0, -1]]}, r"camera 'c1'.*R is not a rotation"),      # a reflection
    ({"t": [0, 0]}, r"camera 'c1'.*t: expected shape \(3,\)"),
    ({"K": [[500, 0, 320], [0, 500, 240]]}, r"camera 'c1'.*K: expected shape \(3, 3\)"),
    ({"K": [[-5, 0, 320], [0, 500, 240], [0, 0, 1]]}, r"camera 'c1'.*fx, fy > 0"),
    ({"t": [0, 0, "far"]}, r"camera 'c1'.*t: not numeric"),
    ({"size": [640]}, r"camera 'c1'.*size must be \[width, height\]"),
])
def test_bad_cameras_name_the_file_camera_and_field(tmp_path, change, message):
    entry = {key: value for key, value in {**GOOD, **change}.items() if value is not None}
    path = _json(tmp_path, {"c1": entry})
    with pytest.raises(CalibrationError, match=message) as error:
        load_calibration(path)
    assert str(tmp_path / "calib.json") in str(error.value)


@pytest.mark.parametrize("name, text, message", [
    ("calib.json", "{not json", r"not valid JSON"),
    ("calib.json", '{"cams": {}}', r"missing field 'cameras'"),
    ("calib.json", '{"units": "mm", "cameras": {}}', r"'units' is 'mm'"),
    ("Calib.toml", "[cam_1\nname = 1", r"not valid TOML"),
    ("Calib.toml", '[cam_1]\nname = "a"\nmatrix = [[1,0,0],[0,1,0],[0,0,1]]\ntranslation = [0,0,1]\n',
     r"\[cam_1\]: missing field 'rotation'"),
    ("Calib.qca.txt", "<calibration><cameras><camera serial='c7'><transform/>", r"not a readable Qualisys"),
    ("Calib.qca.txt", "<calibration><cameras><camera serial='c7'><transform/></camera></cameras></calibration>",
     r"camera 'c7': missing <intrinsic>"),
    ("Calib.qca.txt", "<calibration><cameras/></calibration>", r"no camera found"),
    ("notes.txt", "hello", r"unknown calibration format"),
    ("cameras.pkl", "not a pickle", r"not a readable pickle"),
])
def test_bad_files_name_the_file(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(CalibrationError, match=message) as error:
        load_calibration(path, trust_pickle=True)
    assert str(path) in str(error.value)


def test_a_camera_pickle_is_read_only_when_trusted(tmp_path):
    (tmp_path / "cameras.pkl").write_bytes(b"anything")
    with pytest.raises(UntrustedPickleError, match=r"cameras\.pkl: .*pickle.*--trust-pickle"):
        load_calibration(tmp_path / "cameras.pkl")


def test_missing_file_and_missing_subject(tmp_path, realdata):
    with pytest.raises(CalibrationError, match="not found"):
        load_calibration(tmp_path / "nothing.json")
    with pytest.raises(CalibrationError, match=r"cameras\.pkl: holds the cameras of subjects .*'S1'.*pass subject="):
        load_calibration(realdata / "mmpose" / "h36m" / "cameras.pkl", trust_pickle=True)


def test_nearly_orthonormal_rotations_are_cleaned():
    R = np.round(np.array([[0.36, 0.48, -0.8], [-0.8, 0.6, 0.0], [0.48, 0.64, 0.6]]) + 1e-5, 5)
    cam = Camera("c", GOOD["K"], R, [0, 0, 1])
    np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(cam.R, R, atol=1e-4)
