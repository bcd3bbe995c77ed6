"""Median backgrounds: segments, sampling, the median itself, and the lazy per-segment store."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_test_video

from posesynth.video.backgrounds import (SegmentBackgrounds, median_background, read_background, sample_indices,
    segment_bounds, segment_of)
from posesynth.video.readers import open_video


def test_segment_bounds_cover_the_video():
    assert segment_bounds(10, 200).tolist() == [0, 10]  # a short clip is one segment
    bounds = segment_bounds(1000, 300)
    assert bounds[0] == 0 and bounds[-1] == 1000 and len(bounds) == 4
    assert np.all(np.diff(bounds) > 0)
    assert [segment_of(i, bounds) for i in (0, bounds[1] - 1, bounds[1], 999)] == [0, 0, 1, 2]
    with pytest.raises(IndexError):
        segment_of(1000, bounds)
    with pytest.raises(ValueError):
        segment_bounds(0, 10)


def test_sample_indices_spread_evenly_inside_the_range():
    idx = sample_indices(100, 200, 10)
    assert idx.tolist() == list(range(105, 200, 10))
    assert sample_indices(0, 3, 10).tolist() == [0, 1, 2]  # fewer frames than samples: all of them
    with pytest.raises(ValueError):
        sample_indices(5, 5, 3)


def test_median_recovers_the_static_background_exactly():
    rng = np.random.default_rng(0)
    background = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    frames = np.repeat(background[None], 9, axis=0)
    for i in range(9):  # an occluder covering a different third of the width in each frame
        frames[i, :, (i % 3) * 10:(i % 3) * 10 + 10] = 255 - i
    assert np.array_equal(median_background(frames), background)


def test_median_rejects_wrong_input():
    with pytest.raises(ValueError, match="uint8"):
        median_background(np.zeros((3, 4, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        median_background(np.zeros((4, 4, 3), np.uint8))


def test_background_of_a_video_with_a_moving_box(tmp_path):
    path = tmp_path / "clip.mp4"
    boxes = write_test_video(path, frames=24, width=64, height=48)
    reader = open_video(path)
    background = read_background(reader, 0, reader.frames, 15)
    first, last = reader.get([0, reader.frames - 1])
    reader.close()
    assert background.shape == (48, 64, 3) and background.dtype == np.uint8
    # where the box is in the first frame the background must look like the last frame, and
    # elsewhere like the first frame (up to compression noise): the box is gone from it
    x0, y0, x1, y1 = boxes[0]
    inside = np.zeros((48, 64), bool)
    inside[y0:y1, x0:x1] = True
    expected = np.where(inside[..., None], last, first).astype(np.int16)
    error = np.abs(background.astype(np.int16) - expected)
    assert error.mean() < 3
    assert np.abs(background[inside].astype(np.int16) - first[inside]).mean() > 40  # the box itself is not there


class _CountingReader:
    """A fake reader of constant frames that counts how many frames it was asked for."""

    def __init__(self, frames: int):
        self.frames, self.asked = frames, 0

    def get(self, indices):
        self.asked += len(indices)
        return np.stack([np.full((4, 6, 3), i // 4, np.uint8) for i in indices])


def test_segment_backgrounds_are_computed_once_and_bounded():
    reader = _CountingReader(600)
    store = SegmentBackgrounds(reader, 600, window=200, samples=5, keep=2)
    first = store(10)
    assert reader.asked == 5
    assert store(150) is first and reader.asked == 5  # same segment: no new reads
    store(250)
    store(450)
    assert reader.asked == 15 and len(store._store) == 2  # three segments read, two kept
    assert store(599)[0, 0, 0] == np.median(sample_indices(400, 600, 5) // 4)


def test_background_plate_is_found_checked_and_used(tmp_path):
    from skimage.io import imsave

    from posesynth.video.backgrounds import BackgroundPlateError, SegmentBackgrounds, find_plate, read_plate

    video = tmp_path / "clip.mp4"
    write_test_video(video, frames=12, width=64, height=48)
    assert find_plate(video) is None
    plate = np.full((48, 64, 3), 77, np.uint8)
    imsave(tmp_path / "clip.background.png", plate, check_contrast=False)
    assert find_plate(video) == tmp_path / "clip.background.png"
    np.testing.assert_array_equal(read_plate(find_plate(video), 64, 48), plate)
    backgrounds = SegmentBackgrounds(None, 12, window=200, samples=5, plate=plate)
    assert backgrounds(7) is plate  # no median computed at all
    with pytest.raises(BackgroundPlateError, match=r"clip\.background\.png.*expected \(40, 64, 3\)"):
        read_plate(find_plate(video), 64, 40)
    (tmp_path / "bad.background.npy").write_text("not an array")
    with pytest.raises(BackgroundPlateError, match=r"bad\.background\.npy: cannot read"):
        read_plate(tmp_path / "bad.background.npy", 64, 48)
