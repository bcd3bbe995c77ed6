"""What a run uses where its config leaves it open (posesynth.training.inputs): the motion generator's
unpaired poses without data.poses3d, and 2D keypoints found or detected, with their terms switched on."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY
from test_keypoints_detect import FakeDetector

import posesynth.detect.keypoints as detect_keypoints
import posesynth.training.inputs as train_inputs
from posesynth.config import load_config
from posesynth.synth.dataset import generate_dataset, load_labels
from posesynth.training.inputs import KEYPOINT_WEIGHTS, resolve_keypoints, unpaired_poses
from posesynth.training.train import train


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("inputs")
    generate_dataset(root, videos=2, frames=12, size=64, seed=5, progress=False)
    return root / "videos"


def _config(videos: Path, *extra: str):
    return load_config(None, [f"data.videos={videos}", *TINY, *extra])


def test_without_poses3d_the_motion_generator_is_used_and_logged(videos, tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        poses = unpaired_poses(_config(videos).data)
    assert poses.shape == (3072, 17, 3) and np.isfinite(poses).all()
    assert "data.poses3d is not set" in caplog.text and "motion generator" in caplog.text
    run = train(_config(videos, "train.steps=1", "data.auto_keypoints=false"), tmp_path / "run", progress=False)
    assert "loss/adversarial" in (run / "log.jsonl").read_text()


def test_without_keypoints_or_the_extra_nothing_changes(videos, tmp_path, monkeypatch):
    monkeypatch.setattr(train_inputs, "detect_missing", lambda videos, folder: False)
    config = _config(videos)
    assert resolve_keypoints(config, tmp_path / "run") == config


def test_missing_keypoints_are_detected_into_the_run_and_switch_the_terms_on(videos, tmp_path, monkeypatch, caplog):
    fake = FakeDetector(set(range(100)))
    monkeypatch.setattr(detect_keypoints, "PoseDetector", fake.factory)
    monkeypatch.setattr(train_inputs, "detect_missing", _fake_detect_missing(fake))
    run = tmp_path / "run"
    with caplog.at_level(logging.INFO):
        config = resolve_keypoints(_config(videos), run)
    assert config.data.keypoints2d == str(run / "keypoints")
    assert sorted(p.name for p in (run / "keypoints").iterdir()) == [f"{v.stem}.keypoints.npz"
                                                                       for v in sorted(videos.glob("*.mp4"))]
    assert (config.loss.reprojection, config.loss.relative_depth) == tuple(KEYPOINT_WEIGHTS.values())
    assert "switched on the keypoint terms" in caplog.text
    calls = fake.calls
    resolve_keypoints(_config(videos), run)  # a resumed run reuses them
    assert fake.calls == calls
    # weights the config sets are kept; auto_keypoints=false changes nothing
    assert resolve_keypoints(_config(videos, "loss.reprojection=0.5"), run).loss.relative_depth == 0
    assert resolve_keypoints(_config(videos, "data.auto_keypoints=false"), run).loss.reprojection == 0


def _fake_detect_missing(fake: FakeDetector):
    def detect(videos, folder):
        from posesynth.video.index import probe_video

        detect_keypoints.detect_videos([probe_video(v) for v in videos], folder, detector=fake.factory)
        return True
    return detect


def test_wild_videos_recipe_trains_on_a_folder_with_keypoint_sidecars(videos, tmp_path):
    """configs/wild_videos.yaml with data.videos only: the sidecars give both keypoint terms."""
    folder = tmp_path / "videos"
    folder.mkdir()
    for video in videos.glob("*.mp4"):
        (folder / video.name).symlink_to(video)
        joints2d = load_labels(videos.parent / "labels" / f"{video.stem}.npz")["joints2d"]
        np.savez(folder / f"{video.stem}.keypoints.npz", keypoints=joints2d, layout="h36m17")
    config = load_config(Path(__file__).resolve().parents[2] / "configs" / "wild_videos.yaml",
                         [f"data.videos={folder}", *TINY, "train.steps=2", "model.decoder_levels=3"])
    run = train(config, tmp_path / "run", progress=False)
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert {"loss/reprojection", "loss/relative_depth"} <= set(rows[-1])
    assert np.isfinite(rows[-1]["loss/reprojection"])
