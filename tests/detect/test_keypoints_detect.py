"""The bundled 2D detector: the landmark mapping in closed form, frames without a person, the
missing-extra message, and (with ``posesynth[detect]`` installed) the real detector on real frames."""

from __future__ import annotations

import contextlib
import logging
import sys
import types

import numpy as np
import pytest
from conftest import REALDATA, write_test_video

from posesynth import skeleton
from posesynth.cli import main
from posesynth.data.keypoints2d import read_keypoints
from posesynth.detect import mapping, reference
from posesynth.detect.keypoints import detect_frames, detect_images, detect_videos
from posesynth.detect.mediapipe_pose import DetectorUnavailableError, Landmarks, import_mediapipe
from posesynth.video.index import probe_video

J = {name: i for i, name in enumerate(skeleton.JOINT_NAMES)}
FIT = mapping.FITTED
SHIN, FOREARM = float(FIT["shin_m"]), float(FIT["forearm_m"])


def standing_landmarks(torso: float = 0.52, thigh: float = 0.38, pixels_per_m: float = 100.0,
                       turn_deg: float = 0.0) -> Landmarks:
    """A hand-made MediaPipe person: world metres (y down) and an orthographic image of it.

    Mid-hips at the origin, hips ±0.1 m (narrower than Human3.6M's), mid-shoulders ``torso`` above
    with shoulders ±0.2 m (wider), knees straight below the *corrected* hips ``thigh`` down, shins
    and forearms of the reference lengths (person scale 1), facing the camera (−z) and then turned
    ``turn_deg`` about the vertical axis. Hands and feet vary in z; the image drops z.
    """
    world = np.zeros((33, 3))
    unused = [1, 2, 3, 4, 5, 6, 9, 10, 17, 18, 19, 20, 21, 22, 29, 30, 31, 32]
    world[unused, 2] = np.linspace(-0.1, 0.1, len(unused))  # depth spread for the camera fit
    hip = mapping.HALF_HIPS_M
    world[mapping.LEFT_HIP, :2], world[mapping.RIGHT_HIP, :2] = (0.1, 0.0), (-0.1, 0.0)
    world[mapping.LEFT_KNEE, :2], world[mapping.RIGHT_KNEE, :2] = (hip, thigh), (-hip, thigh)
    world[mapping.LEFT_ANKLE, :2], world[mapping.RIGHT_ANKLE, :2] = (hip, thigh + SHIN), (-hip, thigh + SHIN)
    world[mapping.LEFT_SHOULDER, :2], world[mapping.RIGHT_SHOULDER, :2] = (0.2, -torso), (-0.2, -torso)
    world[mapping.LEFT_ELBOW, :2], world[mapping.RIGHT_ELBOW, :2] = (0.45, -torso), (-0.45, -torso)
    world[mapping.LEFT_WRIST, :2] = (0.45 + FOREARM, -torso)
    world[mapping.RIGHT_WRIST, :2] = (-0.45 - FOREARM, -torso)
    world[mapping.NOSE] = (0.0, -torso - 0.2, -0.1)
    world[mapping.LEFT_EAR, :2], world[mapping.RIGHT_EAR, :2] = (0.07, -torso - 0.22), (-0.07, -torso - 0.22)
    world = world @ turn(turn_deg).T
    image = pixels_per_m * world[:, :2] + [500.0, 400.0]
    visibility = np.full(33, 0.9)
    visibility[mapping.LEFT_KNEE] = 0.4
    return Landmarks(image, world, visibility)


def turn(degrees: float) -> np.ndarray:
    """(3, 3) rotation about the (y-down) vertical axis."""
    a = np.radians(degrees)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def pelvis_rise(thorax_height: float, thorax_forward: float, thigh: float) -> float:
    """Closed form of step 3 for :func:`standing_landmarks`: the δ along mid-hips → thorax with
    (D − δ) / |hip → knee| = torso_to_thigh, D = |mid-hips → thorax|; the knees are straight below
    the hips, which move by δ·(up, forward)/D, so |hip → knee|² = (thigh + δ·h/D)² + (δ·f/D)²."""
    R, D = mapping.TORSO_TO_THIGH, np.hypot(thorax_height, thorax_forward)
    # (D − δ)² = R²·(thigh² + 2·thigh·δ·h/D + δ²)  →  a·δ² + b·δ + c = 0
    a, b, c = 1 - R**2, -2 * D - 2 * R**2 * thigh * thorax_height / D, D**2 - R**2 * thigh**2
    roots = np.roots([a, b, c]).real
    return float(roots[np.abs(roots) < mapping.MAX_PELVIS_SHIFT_M][0])


@pytest.mark.parametrize("turn_deg", [0.0, 60.0])
def test_mapping_closed_form_on_hand_made_landmarks(turn_deg):
    torso, thigh, ppm = 0.52, 0.38, 100.0
    person = standing_landmarks(torso, thigh, ppm, turn_deg)
    keypoints, scores = mapping.blazepose_to_h36m(person.image[None], person.world[None], person.visibility[None])
    keypoints, scores = keypoints[0], scores[0]
    rotation = turn(turn_deg)
    # body axes of the hand-made person in its own world (y down, facing −z), then turned
    left, up, forward = rotation @ [1.0, 0, 0], rotation @ [0, -1.0, 0], rotation @ [0, 0, -1.0]
    # a point (left, up, forward) metres from the mid-hips (the world origin) → pixels
    body = lambda l, u, f: np.array([500.0, 400.0]) + ppm * (l * left + u * up + f * forward)[:2]  # noqa: E731
    _, thorax_up, thorax_forward = FIT["thorax_from_mid_shoulders_m"]
    _, head_up, head_forward = FIT["head_from_neck_m"]
    delta = pelvis_rise(torso + thorax_up, thorax_forward, thigh)
    along = delta / np.hypot(torso + thorax_up, thorax_forward)  # the pelvis moves along mid-hips → thorax
    pelvis = body(0, along * (torso + thorax_up), along * thorax_forward)
    thorax = body(0, torso + thorax_up, thorax_forward)
    expected = {
        "pelvis": pelvis,
        "lhip": pelvis + body(mapping.HALF_HIPS_M, 0, 0) - body(0, 0, 0),
        "rhip": pelvis - body(mapping.HALF_HIPS_M, 0, 0) + body(0, 0, 0),
        "thorax": thorax,
        "lshoulder": body(mapping.HALF_SHOULDERS_M, torso, 0), "rshoulder": body(-mapping.HALF_SHOULDERS_M, torso, 0),
        "spine": pelvis + mapping.SPINE_FRACTION * (thorax - pelvis),
        "neck": person.image[mapping.NOSE],
        "head": person.image[mapping.NOSE] + body(0, head_up, head_forward) - body(0, 0, 0),
        **{name: person.image[index] for name, index in mapping.DIRECT.items()},
    }
    for name, point in expected.items():
        np.testing.assert_allclose(keypoints[J[name]], point, atol=1e-3, err_msg=name)
    assert delta > 0.02  # the hips really moved up
    assert thorax_up > 0.04 and head_up > 0.08  # Human3.6M's thorax above its shoulders, its head joint above the nose
    # the affine camera and the person scale are recovered exactly
    np.testing.assert_allclose(mapping.affine_cameras(person.image[None], person.world[None],
                                                      person.visibility[None])[0],
                               [[ppm, 0, 0], [0, ppm, 0]], atol=1e-6)
    np.testing.assert_allclose(mapping.person_scale(person.world[None]), [1.0])
    # scores: the weakest landmark a joint is built from (the left knee feeds the hips and pelvis)
    assert scores[J["lknee"]] == pytest.approx(0.4) and scores[J["pelvis"]] == pytest.approx(0.4)
    assert scores[J["lwrist"]] == pytest.approx(0.9) and scores[J["thorax"]] == pytest.approx(0.9)


def test_torso_frame_is_right_handed_and_faces_forward_in_both_conventions():
    # Human3.6M-style y-up millimetres, the person facing +z; MediaPipe-style y-down metres, facing −z
    for left_x, up_y, face_z in ((1.0, 1.0, 1.0), (1.0, -1.0, -1.0)):
        hips = np.array([[0.13 * left_x, 0, 0], [-0.13 * left_x, 0, 0]])
        shoulders = hips * 1.2 + [0, 0.5 * up_y, 0.02]
        frame = mapping.torso_frame(hips[None, 0], hips[None, 1], shoulders[None, 0], shoulders[None, 1])[0]
        np.testing.assert_allclose(frame @ frame.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(frame) == pytest.approx(1.0)
        np.testing.assert_allclose(frame[0], [left_x, 0, 0], atol=1e-12)
        assert frame[1] @ [0, up_y, 0] > 0.99 and frame[2] @ [0, 0, face_z] > 0.99


def test_mapping_is_invariant_to_where_the_person_stands_and_their_size():
    person = standing_landmarks()
    small = standing_landmarks(pixels_per_m=50.0)
    a, _ = mapping.blazepose_to_h36m(person.image[None], person.world[None], person.visibility[None])
    b, _ = mapping.blazepose_to_h36m(small.image[None] + [30.0, -20.0], small.world[None], small.visibility[None])
    np.testing.assert_allclose((b[0] - [530.0, 380.0]) * 2, a[0] - [500.0, 400.0], atol=1e-3)


def test_expmap_forward_kinematics_in_closed_form():
    rest = reference.expmap_poses(np.zeros((1, 99)))[0]
    # no rotation: every joint is its parents' offsets summed (metres)
    for j in range(32):
        expected, parent = np.zeros(3), j
        while parent >= 0:
            expected, parent = expected + reference.OFFSETS32_MM[parent] / 1000, reference.PARENTS32[parent]
        np.testing.assert_allclose(rest[j], expected, atol=1e-12)
    # a quarter turn of the root about z turns the whole body; random joint rotations keep the bones
    channels = np.zeros((1, 99))
    channels[0, 3:6] = (0, 0, np.pi / 2)  # the global rotation, which is ignored
    channels[0, 6:] = np.random.default_rng(0).normal(0, 0.5, 93)
    posed = reference.expmap_poses(channels)[0]
    bones = [(p, c) for c, p in enumerate(reference.PARENTS32) if p >= 0]
    np.testing.assert_allclose([np.linalg.norm(posed[c] - posed[p]) for p, c in bones],
                               [np.linalg.norm(reference.OFFSETS32_MM[c]) / 1000 for _, c in bones], atol=1e-9)
    np.testing.assert_allclose(reference.expmap_to_matrix(np.array([0, 0, np.pi / 2])),
                               [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)


def test_fit_on_hand_made_poses_gives_their_geometry():
    poses = np.tile(reference.expmap_poses(np.zeros((1, 99))), (3, 1, 1))
    poses[:, reference.THORAX] = (poses[:, reference.LSHOULDER] + poses[:, reference.RSHOULDER]) / 2
    poses[1:, reference.THORAX] += [0.0, 0.06, 0.0]  # 6 cm up (the rest pose is y up, facing +z)
    poses[:, reference.HEAD] = poses[:, reference.NECK_NOSE] + [0.01, 0.09, -0.03]
    fitted = reference.fit_correction(poses)
    assert fitted["thorax_from_mid_shoulders_m"] == pytest.approx((0.0, 0.04, 0.0), abs=2e-4)
    assert fitted["head_from_neck_m"] == pytest.approx((0.0, 0.09, -0.03), abs=2e-4)  # sideways dropped
    assert fitted["shin_m"] == pytest.approx(0.4542, abs=1e-4)
    assert fitted["half_hips_m"] == pytest.approx(0.1329, abs=1e-4)


def test_fitted_numbers_come_from_motion_capture_not_the_test_frames(realdata):
    """mapping.FITTED is what scripts/fit_keypoint_correction.py fits on S1's motion capture, and
    that data holds none of the four frames bench_keypoints.py evaluates on."""
    fitted = reference.fit_correction(reference.load_fit_poses(realdata / "dmgnn"))
    for key, value in mapping.FITTED.items():
        assert np.allclose(fitted[key], value, atol=1e-4), (key, fitted[key], value)
    with np.load(realdata / "mmpose" / "h36m" / "test_h36m_body3d.npz") as data:
        names = [str(n).rsplit("/", 1)[-1] for n in data["imgname"]]  # e.g. S1_Directions_1.54138969_000001.jpg
    evaluated = {(n.split("_")[0], " ".join(n.split(".")[0].split("_")[1:]), int(n.rsplit("_", 1)[1].split(".")[0]))
                 for n in names}
    assert evaluated == set(reference.EVALUATION_FRAMES)
    for name, first in reference.FIT_SOURCES:
        subject, recording = name.split("_")[0], " ".join(name.removesuffix(".txt").split("_")[1:]).title()
        for test_subject, test_recording, frame in evaluated:
            if (subject, recording) == (test_subject, test_recording):
                assert first > frame + 200, (name, first, frame)  # ≥ 4 s (at 50 frames/s) away from the test frame


class FakeDetector:
    """A detector that finds the hand-made person in frames listed in ``people``, nobody elsewhere."""

    def __init__(self, people: set[int]):
        self.people, self.calls = people, 0

    def __call__(self, frame: np.ndarray) -> Landmarks | None:
        self.calls += 1
        return standing_landmarks() if self.calls - 1 in self.people else None

    def factory(self, video: bool):
        return contextlib.nullcontext(self)


def test_frames_without_a_person_are_flagged_not_guessed(tmp_path, caplog):
    video = tmp_path / "clip.mp4"
    write_test_video(video, frames=6)
    fake = FakeDetector({0, 2, 3})
    with caplog.at_level(logging.WARNING):
        [sidecar] = detect_videos([probe_video(video)], detector=fake.factory)
    assert sidecar == tmp_path / "clip.keypoints.npz"
    assert "no person found in 3 of 6 frames" in caplog.text
    loaded = read_keypoints(sidecar, frames=6)  # the project's own reader, Human3.6M layout
    assert (loaded.scores[[1, 4, 5]] == 0).all() and (loaded.keypoints[[1, 4, 5]] == 0).all()
    assert (loaded.scores[[0, 2, 3]] > 0).all() and np.isfinite(loaded.keypoints).all()
    with np.load(sidecar) as saved:
        assert str(saved["layout"]) == "h36m17" and "mediapipe" in str(saved["detector"])
    # an existing sidecar is kept: no second detection
    again = FakeDetector(set())
    detect_videos([probe_video(video)], detector=again.factory)
    assert again.calls == 0


def test_all_frames_empty_gives_zero_scores():
    detections = detect_frames([np.zeros((8, 8, 3), np.uint8)] * 3, FakeDetector(set()))
    assert detections.keypoints.shape == (3, 17, 2) and not detections.found.any()
    assert (detections.scores == 0).all() and (detections.keypoints == 0).all()


def test_images_give_one_file_with_names(tmp_path):
    import skimage.io

    for name in ("b.png", "a.jpg"):
        skimage.io.imsave(tmp_path / name, np.full((12, 10, 3), 90, np.uint8), check_contrast=False)
    path = detect_images(tmp_path, [tmp_path / "a.jpg", tmp_path / "b.png"], tmp_path / "out",
                         detector=FakeDetector({1}).factory)
    with np.load(path) as saved:
        assert saved["names"].tolist() == ["a.jpg", "b.png"]
        assert saved["keypoints"].shape == (2, 17, 2) and saved["scores"].shape == (2, 17)
        assert saved["scores"][0].max() == 0 and saved["scores"][1].min() > 0


def test_missing_extra_is_one_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # `import mediapipe` now raises ImportError
    with pytest.raises(DetectorUnavailableError, match=r'pip install "posesynth\[detect\]"'):
        import_mediapipe()
    video = tmp_path / "clip.mp4"
    write_test_video(video, frames=3)
    assert main(["keypoints", str(video)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and 'pip install "posesynth[detect]"' in err[-1]
    assert "Traceback" not in "\n".join(err)


def test_a_mediapipe_without_the_bundled_model_is_refused(monkeypatch, tmp_path):
    fake = types.ModuleType("mediapipe")
    fake.__file__ = str(tmp_path / "mediapipe" / "__init__.py")
    fake.__version__ = "0.10.30"
    monkeypatch.setitem(sys.modules, "mediapipe", fake)
    with pytest.raises(DetectorUnavailableError, match="pose_landmark_full.tflite is missing.*never"):
        import_mediapipe()


# --- the real detector (CI's detect environment) ----------------------------------------------------

@pytest.fixture(scope="module")
def h36m_frames():
    pytest.importorskip("mediapipe", reason="the detect extra is not installed (pip install \"posesynth[detect]\")")
    if not REALDATA.is_dir():
        pytest.skip(f"real-data folder {REALDATA} not present")
    folder = REALDATA / "mmpose" / "h36m"
    with np.load(folder / "test_h36m_body3d.npz") as data:
        names = [str(n).rsplit("/", 1)[-1] for n in data["imgname"]]
        truth = data["part"][..., :2]
    return folder, names, truth


def test_real_detector_on_real_human36m_frames(h36m_frames, tmp_path):
    folder, names, truth = h36m_frames
    path = detect_images(folder, [folder / name for name in names], tmp_path)
    with np.load(path) as saved:
        assert saved["names"].tolist() == names
        keypoints, scores = saved["keypoints"], saved["scores"]
    error = np.linalg.norm(keypoints - truth, axis=-1)
    assert (scores.max(axis=1) > 0.5).all()
    assert error.mean() < 8.0, error.mean(axis=0)  # BENCHMARKS.md, "2D keypoints": 7.7 px (9.5 before the fit)
    assert np.median(error) < 8.0


def test_real_detector_finds_nobody_in_an_empty_frame(h36m_frames):
    from posesynth.detect.mediapipe_pose import PoseDetector

    with PoseDetector(video=False) as detect:
        assert detect(np.full((256, 256, 3), 128, np.uint8)) is None


def test_keypoints_command_on_a_real_clip(realdata, tmp_path):
    pytest.importorskip("mediapipe", reason="the detect extra is not installed")
    from posesynth.video.readers import read_frames
    import av

    clip = tmp_path / "walk.mp4"  # the first 12 frames of the real Human3.6M clip
    frames = read_frames(realdata / "mmpose" / "body3d_demo.mp4", list(range(12)))
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("libx264", rate=50)
        stream.width, stream.height, stream.pix_fmt = 1000, 1002, "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    assert main(["keypoints", str(clip)]) == 0
    loaded = read_keypoints(tmp_path / "walk.keypoints.npz", frames=12)
    assert (loaded.scores.max(axis=1) > 0.5).all()
    # the person stands in the middle of the frame, upright: head above pelvis above ankles
    assert (loaded.keypoints[:, J["head"], 1] < loaded.keypoints[:, J["pelvis"], 1]).all()
    assert (loaded.keypoints[:, J["pelvis"], 1] < loaded.keypoints[:, J["lankle"], 1]).all()


def test_nothing_to_detect_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("no videos here")
    assert main(["keypoints", str(tmp_path)]) == 2
    assert "no video (" in capsys.readouterr().err
    assert main(["keypoints", str(tmp_path / "missing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
