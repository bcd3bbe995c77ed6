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
from posesynth.data.videos import probe_video
from posesynth.detect import mapping
from posesynth.detect.keypoints import detect_frames, detect_images, detect_videos
from posesynth.detect.mediapipe_pose import DetectorUnavailableError, Landmarks, import_mediapipe

J = {name: i for i, name in enumerate(skeleton.JOINT_NAMES)}
L = {skeleton.JOINT_NAMES[c]: length for (_, c), length in zip(skeleton.BONES, skeleton.BONE_LENGTHS_M)}


def standing_landmarks(torso: float = 0.52, thigh: float = 0.38, pixels_per_m: float = 100.0) -> Landmarks:
    """A hand-made frontal MediaPipe person: world metres (y down) and an orthographic image of it.

    Mid-hips at the origin, hips ±0.1 m (narrower than Human3.6M's), mid-shoulders ``torso`` above
    with shoulders ±0.2 m (wider), knees straight below the *corrected* hips ``thigh`` down, shins
    and forearms of canonical length (person scale 1). Hands and feet vary in z; the image ignores z.
    """
    world = np.zeros((33, 3))
    unused = [1, 2, 3, 4, 5, 6, 9, 10, 17, 18, 19, 20, 21, 22, 29, 30, 31, 32]
    world[unused, 2] = np.linspace(-0.1, 0.1, len(unused))  # depth spread for the camera fit
    hip = L["lhip"]
    world[mapping.LEFT_HIP, :2], world[mapping.RIGHT_HIP, :2] = (0.1, 0.0), (-0.1, 0.0)
    world[mapping.LEFT_KNEE, :2], world[mapping.RIGHT_KNEE, :2] = (hip, thigh), (-hip, thigh)
    world[mapping.LEFT_ANKLE, :2], world[mapping.RIGHT_ANKLE, :2] = (hip, thigh + L["lankle"]), (-hip, thigh + L["rankle"])
    world[mapping.LEFT_SHOULDER, :2], world[mapping.RIGHT_SHOULDER, :2] = (0.2, -torso), (-0.2, -torso)
    world[mapping.LEFT_ELBOW, :2], world[mapping.RIGHT_ELBOW, :2] = (0.45, -torso), (-0.45, -torso)
    world[mapping.LEFT_WRIST, :2] = (0.45 + L["lwrist"], -torso)
    world[mapping.RIGHT_WRIST, :2] = (-0.45 - L["rwrist"], -torso)
    world[mapping.NOSE, :2] = (0.0, -torso - 0.2)
    world[mapping.LEFT_EAR, :2], world[mapping.RIGHT_EAR, :2] = (0.07, -torso - 0.22), (-0.07, -torso - 0.22)
    image = pixels_per_m * world[:, :2] + [500.0, 400.0]
    visibility = np.full(33, 0.9)
    visibility[mapping.LEFT_KNEE] = 0.4
    return Landmarks(image, world, visibility)


def test_mapping_closed_form_on_hand_made_landmarks():
    torso, thigh, ppm = 0.52, 0.38, 100.0
    person = standing_landmarks(torso, thigh, ppm)
    keypoints, scores = mapping.blazepose_to_h36m(person.image[None], person.world[None], person.visibility[None])
    keypoints, scores = keypoints[0], scores[0]
    to_px = lambda x, y: np.array([500 + ppm * x, 400 + ppm * y])  # noqa: E731
    # torso : thigh = canonical after moving the pelvis up by δ: (torso − δ) / (thigh + δ) = R
    ratio = (L["spine"] + L["thorax"]) / L["lknee"]
    delta = (torso - ratio * thigh) / (1 + ratio)
    expected = {
        "pelvis": to_px(0, -delta), "lhip": to_px(L["lhip"], -delta), "rhip": to_px(-L["rhip"], -delta),
        "thorax": to_px(0, -torso), "lshoulder": to_px(L["lshoulder"], -torso),
        "rshoulder": to_px(-L["rshoulder"], -torso),
        "spine": to_px(0, -delta + mapping.SPINE_FRACTION * (delta - torso)),
        "neck": person.image[mapping.NOSE], "head": to_px(0, -torso - 0.22),
        **{name: person.image[index] for name, index in mapping.DIRECT.items()},
    }
    for name, point in expected.items():
        np.testing.assert_allclose(keypoints[J[name]], point, atol=1e-3, err_msg=name)
    assert delta > 0.02  # the hips really moved up
    # the affine camera and the person scale are recovered exactly
    np.testing.assert_allclose(mapping.affine_cameras(person.image[None], person.world[None],
                                                      person.visibility[None])[0],
                               [[ppm, 0, 0], [0, ppm, 0]], atol=1e-6)
    np.testing.assert_allclose(mapping.person_scale(person.world[None]), [1.0])
    # scores: the weakest landmark a joint is built from (the left knee feeds the hips and pelvis)
    assert scores[J["lknee"]] == pytest.approx(0.4) and scores[J["pelvis"]] == pytest.approx(0.4)
    assert scores[J["lwrist"]] == pytest.approx(0.9) and scores[J["thorax"]] == pytest.approx(0.9)


def test_mapping_is_invariant_to_where_the_person_stands_and_their_size():
    person = standing_landmarks()
    small = standing_landmarks(pixels_per_m=50.0)
    a, _ = mapping.blazepose_to_h36m(person.image[None], person.world[None], person.visibility[None])
    b, _ = mapping.blazepose_to_h36m(small.image[None] + [30.0, -20.0], small.world[None], small.visibility[None])
    np.testing.assert_allclose((b[0] - [530.0, 380.0]) * 2, a[0] - [500.0, 400.0], atol=1e-3)


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
    assert error.mean() < 10.0, error.mean(axis=0)  # BENCHMARKS.md, "2D keypoints": 9.5 px
    assert np.median(error) < 10.0


def test_real_detector_finds_nobody_in_an_empty_frame(h36m_frames):
    from posesynth.detect.mediapipe_pose import PoseDetector

    with PoseDetector(video=False) as detect:
        assert detect(np.full((256, 256, 3), 128, np.uint8)) is None


def test_keypoints_command_on_a_real_clip(realdata, tmp_path):
    pytest.importorskip("mediapipe", reason="the detect extra is not installed")
    from posesynth.data.videos import read_frames
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
