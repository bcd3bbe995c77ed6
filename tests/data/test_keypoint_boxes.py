"""Person boxes from keypoint files come before the median background, frame by frame, in every
path that crops (the cache, raw training pairs, predict), and from a ``data.keypoints2d`` folder too."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_test_video

from posesynth.apps.predict import iter_person_crops
from posesynth.data.cache import crop_settings
from posesynth.data.prepare import prepare_cache
from posesynth.data.crops import foreground_frames, initial_boxes
from posesynth.data.pairs import FramePairDataset
from posesynth.video.boxes import keypoint_boxes, person_boxes
from posesynth.video.index import index_videos, probe_video

FRAMES, MARGIN, SIZE = 12, 1.25, 32


@pytest.fixture(scope="module")
def clip_with_keypoints(tmp_path_factory):
    """A moving-box clip; keypoints (the box's corners) in a separate folder for the first half only."""
    root = tmp_path_factory.mktemp("kpboxes")
    video = root / "videos" / "clip.mp4"
    video.parent.mkdir()
    truth = write_test_video(video, frames=FRAMES, width=96, height=64).astype(np.float64)
    # 17 joints: the box's top-left and bottom-right pixels, the others at its centre
    keypoints = np.repeat(((truth[:, :2] + truth[:, 2:] - 1) / 2)[:, None], 17, axis=1)
    keypoints[:, 0], keypoints[:, 1] = truth[:, :2], truth[:, 2:] - 1
    scores = np.ones((FRAMES, 17))
    scores[FRAMES // 2:] = 0  # the detector found nobody in the second half
    keypoints[scores == 0] = 0
    (root / "kp").mkdir()
    np.savez(root / "kp" / "clip.keypoints.npz", keypoints=keypoints, scores=scores, layout="h36m17")
    return video, root / "kp", truth, scores


def test_keypoint_frames_use_keypoints_and_the_rest_the_foreground(clip_with_keypoints):
    video, folder, truth, scores = clip_with_keypoints
    mode, tight = initial_boxes(video, FRAMES, "auto", folder)
    assert mode == "sidecar:clip.keypoints.npz"
    np.testing.assert_array_equal(foreground_frames(mode, tight), scores[:, 0] == 0)
    assert initial_boxes(video, FRAMES, "auto")[0] == "foreground"  # the folder is where they are
    assert not foreground_frames("sidecar:clip.boxes.json", np.full((3, 4), np.nan)).any()

    streamed = list(iter_person_crops(probe_video(video), SIZE, margin=MARGIN, box_source="auto",
                                      background_window=200, keypoints=str(folder)))
    boxes = np.stack([box for _, _, box in streamed])
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    np.testing.assert_allclose(centres, (truth[:, :2] + truth[:, 2:]) / 2, atol=4)  # every frame, both halves
    # the first frames' boxes are exactly the padded keypoint extents, squared
    expected = person_boxes(keypoint_boxes(np.stack([truth[:5, :2], truth[:5, 2:] - 1], 1)), 96, 64, margin=MARGIN,
                            radius=2)  # (the centre joints lie inside the corners' extent)
    np.testing.assert_array_equal(boxes[:3], expected[:3])


def test_cache_and_raw_pairs_crop_like_predict(clip_with_keypoints, tmp_path):
    video, folder, _, _ = clip_with_keypoints
    streamed = np.stack([box for _, _, box in iter_person_crops(
        probe_video(video), SIZE, margin=MARGIN, box_source="auto", background_window=200, keypoints=str(folder))])
    settings = crop_settings(size=SIZE, margin=MARGIN)
    [entry], _, _ = prepare_cache(index_videos(video.parent), tmp_path / "cache", settings, progress=False,
                                  keypoints=folder)
    assert entry["box_source"] == "sidecar:clip.keypoints.npz"
    np.testing.assert_array_equal(np.load(tmp_path / "cache" / "videos" / entry["name"] / "boxes.npy"), streamed)
    pairs = FramePairDataset(video.parent, size=SIZE, margin=MARGIN, min_gap=2, max_gap=5, keypoints2d=str(folder))
    for target, source in ((0, 4), (9, 6), (11, 8)):
        item = pairs.load_pair(0, target, source)
        np.testing.assert_array_equal(item["box"].numpy(), streamed[target])
        assert float(item["target_keypoint_scores"].max()) == (1.0 if target < FRAMES // 2 else 0.0)
