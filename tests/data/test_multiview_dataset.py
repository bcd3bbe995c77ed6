"""Multi-view tuples: matching videos to cameras, crop cameras, exact geometry on synthetic views, real clips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_test_video
from torch.utils.data import DataLoader

from posesynth.data.cache import crop_settings
from posesynth.data.prepare import prepare_cache
from posesynth.data.calibration import CalibrationError, Camera, load_calibration, write_calibration
from posesynth.data.crops import crop_matrix
from posesynth.data.multiview_dataset import MultiViewDataset, camera_for, crop_camera, frame_intrinsics, match_videos
from posesynth.geometry import project, unproject
from posesynth.synth.dataset import generate_dataset, load_labels
from posesynth.video.index import index_videos

K640 = np.array([[500.0, 0.0, 319.5], [0.0, 500.0, 239.5], [0.0, 0.0, 1.0]])


def _camera(name: str, size=(640, 480), K=K640, angle: float = 0.0) -> Camera:
    c, s = np.cos(angle), np.sin(angle)
    return Camera(name, K, [[c, 0, s], [0, 1, 0], [-s, 0, c]], [0.0, 0.0, 3.0], size=size)


def test_camera_for_rule():
    names = ["cam01", "cam02", "54138969"]
    assert camera_for("cam01", names) == "cam01"
    assert camera_for("Walking 1.54138969", names) == "54138969"
    assert camera_for("trial3_CAM02", names) == "cam02"            # case-insensitive, "_" separator
    assert camera_for("cam011", names) is None                     # no separator before the name
    assert camera_for("x_cam_1", ["1", "cam_1"]) == "cam_1"        # the longest match wins
    with pytest.raises(CalibrationError, match="equally"):
        camera_for("a", ["A", "a"])


def test_match_videos_groups_rigs_and_names_mismatches(tmp_path):
    cameras = {n: _camera(n) for n in ("54138969", "55011271")}
    paths = [tmp_path / f"{action}.{cam}.mp4" for action in ("Walking 1", "Eating") for cam in cameras]
    rigs = match_videos(paths, cameras, "cams.json")
    assert [Path(r.name).name for r in rigs] == ["Eating", "Walking 1"]
    assert all(sorted(r.videos) == sorted(cameras) for r in rigs)
    assert rigs[1].videos["55011271"] == tmp_path / "Walking 1.55011271.mp4"
    with pytest.raises(CalibrationError, match=r"\['cam1\.mp4', 'cam2\.mp4'\] match no camera of cams\.json.*"
                                               r"'54138969', '55011271'"):
        match_videos([tmp_path / "cam1.mp4", tmp_path / "cam2.mp4"], cameras, "cams.json")
    with pytest.raises(CalibrationError, match="both match camera '54138969'"):
        match_videos([tmp_path / "a.54138969.mp4", tmp_path / "a_54138969.mp4"], cameras, "cams.json")


def test_frame_intrinsics_follow_the_decoded_size():
    cam = _camera("c", size=(1088, 1920), K=np.array([[1680.0, 0, 533.0], [0, 1680.0, 948.0], [0, 0, 1]]))
    np.testing.assert_array_equal(frame_intrinsics(cam, 1088, 1920), cam.K)
    np.testing.assert_array_equal(frame_intrinsics(cam, 1080, 1920), cam.K)      # encoder padding, same camera
    half = frame_intrinsics(cam, 544, 960)
    point = np.array([[0.3, -0.2, 2.5]])
    full_px = (point @ cam.K.T)[0, :2] / point[0, 2]
    half_px = (point @ half.T)[0, :2] / point[0, 2]
    np.testing.assert_allclose(half_px, (full_px + 0.5) / 2 - 0.5)               # pixel centres at integers
    with pytest.raises(CalibrationError, match=r"camera 'c' is calibrated for 1088×1920 but its video is 1920×1080"):
        frame_intrinsics(cam, 1920, 1080)


def test_crop_camera_looks_through_the_crop_centre():
    box, size = np.array([400, 100, 600, 300]), 32                  # off-centre: 90 px right, 40 px up
    K_exact, identity = crop_camera(K640, box, size, rotate=False)
    np.testing.assert_allclose(K_exact, crop_matrix(box, size) @ K640)
    np.testing.assert_array_equal(identity, np.eye(3))
    K_crop, R_crop = crop_camera(K640, box, size)
    np.testing.assert_allclose(R_crop @ R_crop.T, np.eye(3), atol=1e-12)
    assert K_crop[0, 2] == K_crop[1, 2] == (size - 1) / 2
    s, cos = size / 200, 500 / np.hypot(np.hypot(180.0, 40.0), 500)       # crop scale, cos of the centre ray's angle
    assert s * 500 / cos <= K_crop[0, 0] <= s * 500 / cos**2 and s * 500 / cos <= K_crop[1, 1] <= s * 500 / cos**2

    def crop_pixels(full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = unproject(torch.tensor(full)[None], torch.full((1, len(full)), 3.0, dtype=torch.float64),
                      torch.tensor(K640))[0]
        virtual = project((X @ torch.tensor(R_crop).T)[None], torch.tensor(K_crop))[0].numpy()
        return virtual, full @ crop_matrix(box, size)[:2, :2].T + crop_matrix(box, size)[:2, 2]

    # exact at the centre; around it the magnification along each axis is right to first order and
    # the dropped skew moves a 0.8 px step by under 2 % of it sideways
    virtual, exact = crop_pixels(np.array([[499.5, 199.5], [504.5, 199.5], [499.5, 194.5]]))
    np.testing.assert_allclose(virtual[0], [(size - 1) / 2] * 2, atol=1e-9)
    assert abs(virtual[1, 0] - exact[1, 0]) < 3e-3 and abs(virtual[2, 1] - exact[2, 1]) < 3e-3
    assert abs(virtual[1, 1] - exact[1, 1]) < 0.02 * 0.8 and abs(virtual[2, 0] - exact[2, 0]) < 0.02 * 0.8
    virtual, exact = crop_pixels(np.array([[450.0, 150.0], [550.0, 250.0], [450.0, 250.0]]))
    assert np.abs(virtual - exact).max() < 0.02 * size
    # a box centred on the principal point needs no rotation
    _, R_centre = crop_camera(K640, np.array([220, 140, 420, 340]), size)
    np.testing.assert_allclose(R_centre, np.eye(3), atol=1e-12)


# --- synthetic multi-view sets ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("multiview")
    generate_dataset(root, videos=2, frames=8, size=64, seed=1, views=3, progress=False)
    return root


def _labels(root: Path, dataset: MultiViewDataset, rig: int, view: int) -> dict:
    return load_labels(root / "labels" / f"{list(dataset.rigs[rig].videos)[view]}.npz")


@pytest.mark.parametrize("crop_rotation, pixel_tolerance", [(True, 0.1), (False, 1e-3)])
def test_synthetic_tuples_have_exact_geometry(synthetic, crop_rotation, pixel_tolerance):
    dataset = MultiViewDataset(synthetic / "videos", size=32, min_gap=2, max_gap=6, crop_rotation=crop_rotation)
    assert [len(r.videos) for r in dataset.rigs] == [3, 3] and len(dataset) == 16
    for i in range(0, len(dataset), 3):
        rig, a, b, t, t2 = dataset.sample(i)
        item = dataset[i]
        assert a != b and 2 <= abs(t - t2) <= 6 and (item["instant"], item["other_instant"]) == (t, t2)
        crop_points = {}
        for key, view in (("view_i", a), ("view_j", b)):
            labels, v = _labels(synthetic, dataset, rig, view), item[key]
            assert v["target"].shape == v["source"].shape == v["background"].shape == (3, 32, 32)
            assert v["target_index"] == t and v["source_index"] == t2 and v["view"] == view
            crop_points[key] = torch.tensor(labels["joints3d"][t], dtype=torch.float64) @ v["R_crop"].double().T
            A = v["crop_matrix"].double()
            exact = torch.tensor(labels["joints2d"][t], dtype=torch.float64) @ A[:2, :2].T + A[:2, 2]
            assert (project(crop_points[key], v["K_crop"].double()) - exact).abs().max() < pixel_tolerance
        moved = crop_points["view_i"] @ item["R_ij"].double().T + item["t_ij"].double()
        torch.testing.assert_close(moved, crop_points["view_j"], atol=1e-5, rtol=0)


def test_items_are_a_pure_function_of_seed_and_index(synthetic):
    first = MultiViewDataset(synthetic / "videos", size=32, min_gap=2, max_gap=6, seed=3)
    again = MultiViewDataset(synthetic / "videos", size=32, min_gap=2, max_gap=6, seed=3)
    other = MultiViewDataset(synthetic / "videos", size=32, min_gap=2, max_gap=6, seed=4)
    samples = [first.sample(i) for i in range(len(first))]
    assert samples == [again.sample(i) for i in range(len(again))] != [other.sample(i) for i in range(len(other))]
    for i in (5, 0):
        a, b = first[i], again[i]
        assert torch.equal(a["view_j"]["target"], b["view_j"]["target"]) and torch.equal(a["R_ij"], b["R_ij"])
    batch = next(iter(DataLoader(first, batch_size=2)))
    assert batch["view_i"]["target"].shape == (2, 3, 32, 32) and batch["R_ij"].shape == (2, 3, 3)
    assert batch["view_j"]["K_crop"].shape == (2, 3, 3) and batch["t_ij"].shape == (2, 3)
    with pytest.raises(IndexError):
        first.sample(len(first))


def test_cache_gives_the_same_tuples(synthetic, tmp_path):
    settings = crop_settings(size=32)
    prepare_cache(index_videos(synthetic / "videos"), tmp_path / "cache", settings, progress=False)
    raw = MultiViewDataset(synthetic / "videos", size=32, min_gap=2, max_gap=6)
    cached = MultiViewDataset(cache=tmp_path / "cache", size=32, min_gap=2, max_gap=6)
    assert [sorted(r.videos) for r in cached.rigs] == [sorted(r.videos) for r in raw.rigs]
    a, b = raw[3], cached[3]
    for key in ("view_i", "view_j"):
        assert torch.equal(a[key]["box"], b[key]["box"])
        torch.testing.assert_close(a[key]["K_crop"], b[key]["K_crop"])
        assert (a[key]["target"] - b[key]["target"]).abs().mean() < 0.02
    torch.testing.assert_close(a["R_ij"], b["R_ij"])


# --- folders of synchronised videos ---------------------------------------------------------------------

def test_unequal_lengths_use_the_common_prefix_and_names_must_match(tmp_path):
    write_test_video(tmp_path / "camA.mp4", frames=12, width=64, height=48)
    write_test_video(tmp_path / "camB.mp4", frames=10, width=64, height=48, seed=1)
    K = np.array([[60.0, 0.0, 31.5], [0.0, 60.0, 23.5], [0.0, 0.0, 1.0]])
    write_calibration(tmp_path / "calibration.json",
                      {n: _camera(n, (64, 48), K, angle) for n, angle in (("camA", 0.0), ("camB", 0.5))})
    with pytest.warns(UserWarning, match=r"'camA': 12, 'camB': 10.*using the first 10"):
        dataset = MultiViewDataset(tmp_path, size=32, min_gap=2, max_gap=4)   # finds calibration.json itself
    assert dataset.frames.tolist() == [10]
    item = dataset[0]
    assert max(item["instant"], item["other_instant"]) < 10
    np.testing.assert_allclose(item["view_i"]["K"].numpy(), K, rtol=1e-6)
    bad = tmp_path / "other" / "cameras.json"
    bad.parent.mkdir()
    write_calibration(bad, {n: _camera(n, (64, 48), K) for n in ("cam01", "cam02")})
    with pytest.raises(CalibrationError, match=r"\['camA\.mp4', 'camB\.mp4'\] match no camera of .*cameras\.json "
                                               r"\(cameras \['cam01', 'cam02'\]\)"):
        MultiViewDataset(tmp_path, calibration=bad, size=32, min_gap=2, max_gap=4)
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    write_test_video(lonely / "camA.mp4", frames=6, width=64, height=48)
    with pytest.raises(CalibrationError, match="no calibration file found"):
        MultiViewDataset(lonely, size=32, min_gap=2, max_gap=4)


def test_pose2sim_demo_as_view_tuples(realdata):
    folder = realdata / "pose2sim_multiview"
    dataset = MultiViewDataset(folder, size=32, min_gap=2, max_gap=10, background_samples=3, smooth_radius=0)
    assert len(dataset.rigs) == 1 and sorted(dataset.rigs[0].videos) == ["cam01", "cam02", "cam03", "cam04"]
    assert dataset.frames.tolist() == [100]
    cameras = load_calibration(folder / "Calib.qca.txt")
    rig, a, b, _, _ = dataset.sample(0)
    item = dataset[0]
    names = list(dataset.rigs[rig].videos)
    assert item["view_i"]["target"].shape == (3, 32, 32) and item["view_j"]["background"].shape == (3, 32, 32)
    np.testing.assert_allclose(item["view_i"]["K"].numpy(), cameras[names[a]].K, rtol=1e-6)  # 1080 px ≈ 1088 px
    R = item["R_ij"].double()
    torch.testing.assert_close(R @ R.T, torch.eye(3, dtype=torch.float64), atol=1e-5, rtol=0)
    # crop cameras share their real camera's centre: |t_ij| is the distance between the two cameras
    distance = np.linalg.norm(cameras[names[a]].center - cameras[names[b]].center)
    assert float(item["t_ij"].norm()) == pytest.approx(distance, rel=1e-5)
    json.dumps(dataset.sample(1))  # plain ints: loggable
