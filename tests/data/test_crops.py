"""Person boxes (foreground, sidecars, fallback), smoothing, square crops and crop intrinsics."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import write_test_video

from posesynth.data.crops import (SidecarError, crop_and_resize, crop_intrinsics, crop_matrix, foreground_box,
    initial_boxes, read_sidecar_boxes)
from posesynth.video.backgrounds import read_background
from posesynth.video.boxes import center_box, keypoint_boxes, person_boxes, smooth_boxes, square_boxes
from posesynth.video.readers import open_video


def _contains(outer, inner) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


# --- foreground -----------------------------------------------------------------------------

def test_foreground_box_contains_the_moving_box(tmp_path):
    path = tmp_path / "clip.mp4"
    truth = write_test_video(path, frames=24, width=64, height=48)
    reader = open_video(path)
    background = read_background(reader, 0, reader.frames, 15)
    for i in (0, 7, 15, 23):
        box = foreground_box(reader.get([i])[0], background)
        assert box is not None
        assert _contains(box, truth[i]), (box, truth[i])
        area, true_area = np.prod(box[2:] - box[:2]), np.prod(truth[i][2:] - truth[i][:2])
        assert area <= 1.3 * true_area
    reader.close()


def test_foreground_box_on_a_large_frame_uses_a_coarse_mask():
    rng = np.random.default_rng(0)
    background = rng.integers(40, 120, (900, 1200, 3), dtype=np.uint8)
    frame = background.copy()
    frame[300:700, 500:650] = (230, 60, 30)
    box = foreground_box(frame, background, max_side=160)  # cells of 8×8 pixels
    assert box is not None and _contains(box, [500, 300, 650, 700])
    assert np.all(np.abs(box - [500, 300, 650, 700]) <= 8)


def test_foreground_box_rejects_nothing_and_everything():
    rng = np.random.default_rng(0)
    background = rng.integers(40, 120, (48, 64, 3), dtype=np.uint8)
    assert foreground_box(background, background) is None  # nothing moved
    assert foreground_box(255 - background, background) is None  # the whole frame changed
    speck = background.copy()
    speck[10, 10] = 255  # a single hot pixel is noise, opened away
    assert foreground_box(speck, background) is None


# --- boxes, smoothing, fallback ---------------------------------------------------------------

def test_square_boxes_are_centred_squares_with_margin():
    square = square_boxes(np.array([[10.0, 20.0, 30.0, 60.0]]), margin=1.5)[0]
    assert square.dtype == np.int64
    assert square[2] - square[0] == square[3] - square[1] == 60
    assert (square[0] + square[2]) / 2 == 20 and (square[1] + square[3]) / 2 == 40
    assert _contains(square, [10, 20, 30, 60])


def test_smooth_boxes_follows_motion_removes_outliers_fills_gaps():
    t = np.arange(10, dtype=np.float64)
    boxes = np.stack([t, t, t + 5, t + 8], axis=1)
    assert np.allclose(smooth_boxes(boxes, 2), boxes)  # a steady motion is kept, without lag
    noisy = boxes.copy()
    noisy[4] = [100, 100, 200, 200]
    assert np.allclose(smooth_boxes(noisy, 2)[4], boxes[4], atol=1)
    gappy = boxes.copy()
    gappy[3:5] = np.nan
    gappy[0] = np.nan
    assert not np.isnan(smooth_boxes(gappy, 2)).any()
    assert np.isnan(smooth_boxes(np.full((4, 4), np.nan), 1)).all()


def test_person_boxes_fall_back_to_the_centred_crop():
    assert center_box(64, 48).tolist() == [8, 0, 56, 48]
    assert center_box(1080, 1920).tolist() == [0, 420, 1080, 1500]
    tight = np.full((5, 4), np.nan)
    tight[0] = [10, 10, 20, 30]
    boxes = person_boxes(tight, 64, 48, margin=1.0, radius=1)
    assert boxes[0].tolist() == boxes[1].tolist() == [5, 10, 25, 30]  # frame 1 borrows frame 0's box
    assert (boxes[2:] == center_box(64, 48)).all()


# --- sidecars -------------------------------------------------------------------------------

def test_box_sidecars_are_used(tmp_path):
    video = tmp_path / "clip.mp4"
    truth = write_test_video(video, frames=6)
    assert initial_boxes(video, 6, "auto")[0] == "foreground"
    entries = [list(map(int, b)) for b in truth]
    entries[2] = None
    (tmp_path / "clip.boxes.json").write_text(json.dumps(entries))
    mode, boxes = initial_boxes(video, 6, "auto")
    assert mode == "sidecar:clip.boxes.json"
    assert np.isnan(boxes[2]).all() and np.array_equal(boxes[[0, 1, 3, 4, 5]], truth[[0, 1, 3, 4, 5]])
    assert initial_boxes(video, 6, "foreground")[0] == "foreground"  # forced: the sidecar is ignored
    assert initial_boxes(video, 6, "center")[0] == "center"
    (tmp_path / "clip.boxes.json").unlink()
    np.save(tmp_path / "clip.boxes.npy", truth.astype(np.float32))
    mode, boxes = initial_boxes(video, 6, "sidecar")
    assert mode == "sidecar:clip.boxes.npy" and np.array_equal(boxes, truth)


def test_keypoint_sidecar_gives_boxes_around_confident_joints(tmp_path):
    video = tmp_path / "clip.mp4"
    keypoints = np.array([[[10, 20], [30, 60], [500, 500]]] * 3, np.float32)
    scores = np.array([[0.9, 0.8, 0.1]] * 3, np.float32)  # the far joint is not confident
    scores[2] = [0.9, 0.1, 0.1]  # only one confident joint: no box
    np.savez(tmp_path / "clip.keypoints.npz", keypoints=keypoints, scores=scores)
    mode, boxes = initial_boxes(video, 3, "auto")
    assert mode == "sidecar:clip.keypoints.npz"
    pad = 0.1 * 40
    assert np.allclose(boxes[0], [10 - pad, 20 - pad, 31 + pad, 61 + pad])
    assert np.isnan(boxes[2]).all()
    assert np.allclose(keypoint_boxes(keypoints[:1], None, pad=0.0)[0], [10, 20, 501, 501])


@pytest.mark.parametrize("name, content, message", [
    ("clip.boxes.json", "[[0, 0, 10, 10]]", "has 1 entries but the video has 3 frames"),
    ("clip.boxes.json", "[[0, 0, 10, 10], null,", "cannot read it"),
    ("clip.boxes.json", '{"boxes": []}', "expected a JSON list"),
    ("clip.boxes.json", '[[0, 0, 10], null, null]', "entry 0"),
    ("clip.boxes.json", '[[5, 0, 1, 10], null, null]', "x0 < x1"),
    ("clip.boxes.npy", np.zeros((3, 5)), r"expected an \(F, 4\) array"),
    ("clip.keypoints.npz", {"points": np.zeros((3, 2, 2))}, "no 'keypoints' array"),
    ("clip.keypoints.npz", {"keypoints": np.zeros((3, 2))}, r"\(F, J, 2\)"),
    ("clip.keypoints.npz", {"keypoints": np.zeros((3, 2, 2)), "scores": np.zeros((3, 3))}, r"scores must be"),
])
def test_malformed_sidecars_raise_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, dict):
        np.savez(path, **content)
    else:
        np.save(path, content)
    with pytest.raises(SidecarError, match=message) as error:
        read_sidecar_boxes(path, 3)
    assert str(path) in str(error.value)


def test_sidecar_required_but_missing(tmp_path):
    with pytest.raises(SidecarError, match="clip.boxes.json"):
        initial_boxes(tmp_path / "clip.mp4", 3, "sidecar")


# --- crops and intrinsics ---------------------------------------------------------------------

def test_crop_and_resize_pads_outside_the_frame():
    image = np.full((10, 10, 3), 200, np.uint8)
    crop = crop_and_resize(image, np.array([-5, -5, 5, 5]), 10)
    assert crop.shape == (10, 10, 3) and crop.dtype == np.uint8
    assert (crop[:5, :5] == 0).all() and (crop[5:, 5:] == 200).all()
    assert np.array_equal(crop_and_resize(image, np.array([0, 0, 10, 10]), 10), image)
    assert crop_and_resize(image, np.array([2, 3, 8, 9]), 4).shape == (4, 4, 3)


def test_crop_intrinsics_closed_form():
    K = np.array([[500.0, 0, 320], [0, 510, 240], [0, 0, 1]])
    box, size = np.array([100, 50, 500, 450]), 64
    s = size / 400
    assert np.allclose(crop_intrinsics(K, box, size),
                       [[s * 500, 0, s * (320 - 100 + 0.5) - 0.5], [0, s * 510, s * (240 - 50 + 0.5) - 0.5], [0, 0, 1]])
    rng = np.random.default_rng(0)
    points = rng.uniform([-1, -1, 2], [1, 1, 6], (20, 3))
    project = lambda k: (points @ k.T)[:, :2] / points[:, 2:]  # noqa: E731
    full = project(K)
    in_crop = (np.c_[full, np.ones(len(full))] @ crop_matrix(box, size).T)[:, :2]
    assert np.allclose(project(crop_intrinsics(K, box, size)), in_crop)


def test_crop_matrix_matches_the_pixels():
    # a bright 4×4 block centred on pixel-centre point (41.5, 61.5); crop box side 40 → 20 px (s = 1/2)
    image = np.zeros((100, 100, 3), np.uint8)
    image[60:64, 40:44] = 255
    box = np.array([30, 50, 70, 90])
    crop = crop_and_resize(image, box, 20).astype(np.float64)[..., 0]
    v, u = np.mgrid[:20, :20]
    centroid = np.array([(crop * u).sum(), (crop * v).sum()]) / crop.sum()
    expected = crop_matrix(box, 20) @ [41.5, 61.5, 1]
    assert np.allclose(centroid, expected[:2], atol=1e-6)
    assert np.allclose(expected[:2], [5.5, 5.5])
