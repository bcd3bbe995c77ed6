"""FramePairDataset from raw videos: sampling, determinism, boxes, workers, random access, real clips."""

from __future__ import annotations

import json
import logging

import av
import numpy as np
import pytest
import torch
from conftest import write_test_video
from torch.utils.data import DataLoader

from posesynth.data import pairs
from posesynth.data.crops import SidecarError, crop_matrix
from posesynth.data.pairs import FramePairDataset, pair_counts, sample_pair
from posesynth.video.boxes import center_box, square_boxes
from posesynth.video.index import NoUsableVideosError
from posesynth.video.readers import PyAVReader


@pytest.fixture
def folder(tmp_path):
    """Two tiny clips (one with a space and a non-ASCII name) and their true boxes."""
    truth = [write_test_video(tmp_path / "a.mp4", frames=30, width=64, height=48),
             write_test_video(tmp_path / "b c é.mp4", frames=20, width=96, height=64, seed=1)]
    return tmp_path, truth


def test_pair_counts_and_sampling_respect_the_gaps():
    assert pair_counts(np.array([10, 3]), 2, 4).tolist() == [2 * (8 + 7 + 6), 2 * 1]
    frames = np.array([30, 12])
    counts = pair_counts(frames, 3, 7)
    rng = np.random.default_rng(0)
    draws = [sample_pair(rng, frames, counts / counts.sum(), 3, 7) for _ in range(2000)]
    video, target, source = map(np.array, zip(*draws))
    gap = np.abs(target - source)
    assert gap.min() == 3 and gap.max() == 7
    assert (target >= 0).all() and (source >= 0).all() and (np.maximum(target, source) < frames[video]).all()
    assert 0.3 < (target > source).mean() < 0.7  # both directions
    assert abs((video == 0).mean() - counts[0] / counts.sum()) < 0.05  # videos weighted by their pairs


def test_items_are_deterministic_under_a_seed(folder):
    root, _ = folder
    first = FramePairDataset(root, size=32, min_gap=2, max_gap=6, seed=7)
    again = FramePairDataset(root, size=32, min_gap=2, max_gap=6, seed=7)
    other = FramePairDataset(root, size=32, min_gap=2, max_gap=6, seed=8)
    assert len(first) == 50  # default: one pair per frame
    pairs_7 = [first.pair(i) for i in range(len(first))]
    assert pairs_7 == [again.pair(i) for i in range(len(again))]
    assert pairs_7 != [other.pair(i) for i in range(len(other))]
    assert all(2 <= abs(t - s) <= 6 for _, t, s in pairs_7)
    for i in (0, 5, 3):  # out of order: items do not depend on what was read before
        a, b = first[i], again[i]
        assert all(torch.equal(a[k], b[k]) for k in ("source", "target", "background", "box"))
    with pytest.raises(IndexError):
        first.pair(len(first))


def test_item_contents(folder):
    root, truth = folder
    dataset = FramePairDataset(root, size=32, min_gap=1, max_gap=4, pairs_per_epoch=12)
    assert len(dataset) == 12
    for i in range(len(dataset)):
        item = dataset[i]
        for key in ("source", "target", "background"):
            assert item[key].shape == (3, 32, 32) and item[key].dtype == torch.float32
            assert 0 <= item[key].min() and item[key].max() <= 1
        box = item["box"].numpy()
        assert box.shape == (4,) and box[2] - box[0] == box[3] - box[1]
        assert torch.allclose(item["crop_matrix"], torch.as_tensor(crop_matrix(box, 32), dtype=torch.float32))
        # the true box's centre lands near the centre of the target crop
        x0, y0, x1, y1 = truth[item["video"]][item["target_index"]]
        u, v, _ = item["crop_matrix"].numpy() @ [(x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2, 1]
        assert abs(u - 15.5) < 3 and abs(v - 15.5) < 3
        # the background has no box where the target has it
        assert (item["target"] - item["background"]).abs().amax(0)[14:18, 14:18].mean() > 0.2


def test_sidecar_and_center_boxes(tmp_path):
    truth = write_test_video(tmp_path / "clip.mp4", frames=12, width=64, height=48)
    fixed = [[20, 10, 30, 30]] * 12  # deliberately not the true box: the sidecar must win
    (tmp_path / "clip.boxes.json").write_text(json.dumps(fixed))
    item = FramePairDataset(tmp_path, size=16, min_gap=1, max_gap=3)[0]
    assert item["box"].tolist() == square_boxes(np.array(fixed[:1], float), 1.25)[0].tolist()
    centred = FramePairDataset(tmp_path, size=16, min_gap=1, max_gap=3, box_source="center")[0]
    assert centred["box"].tolist() == center_box(64, 48).tolist()
    (tmp_path / "clip.boxes.json").write_text(json.dumps(fixed[:5]))
    with pytest.raises(SidecarError, match="clip.boxes.json.*has 5 entries but the video has 12 frames"):
        FramePairDataset(tmp_path, size=16, min_gap=1, max_gap=3)
    assert len(truth) == 12


def test_dataloader_with_two_workers(folder):
    root, _ = folder
    dataset = FramePairDataset(root, size=24, min_gap=1, max_gap=5, pairs_per_epoch=8, seed=3)
    dataset[0]  # open a reader in the parent: the workers must not reuse it
    batches = list(DataLoader(dataset, batch_size=4, num_workers=2))
    assert len(batches) == 2 and batches[0]["target"].shape == (4, 3, 24, 24)
    serial = torch.stack([dataset[i]["target"] for i in range(8)])
    assert torch.equal(torch.cat([b["target"] for b in batches]), serial)
    assert torch.cat([b["target_index"] for b in batches]).tolist() == [dataset.pair(i)[1] for i in range(8)]


def _write_long_video(path, frames: int = 150, gop: int = 10) -> None:
    """A clip with a keyframe every ``gop`` frames, so a seek lands near the wanted frame."""
    rng = np.random.default_rng(0)
    background = rng.integers(40, 120, (48, 64, 3), dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt, stream.options = 64, 48, "yuv420p", {"g": str(gop)}
        for i in range(frames):
            image = background.copy()
            x = int(50 * i / (frames - 1))
            image[12:36, x:x + 12] = (230, 60, 30)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_random_access_does_not_decode_from_the_start(tmp_path, monkeypatch):
    _write_long_video(tmp_path / "long.mp4", frames=150, gop=10)
    decoded = []

    class CountingReader(PyAVReader):
        def _decode_from(self, index):
            for j, rgb in super()._decode_from(index):
                decoded.append(j)
                yield j, rgb

    monkeypatch.setattr(pairs, "open_video", lambda path: CountingReader(path))
    monkeypatch.setattr(pairs, "iter_frames", None, raising=False)  # a sequential decode would fail loudly
    dataset = FramePairDataset(tmp_path, size=16, min_gap=1, max_gap=5, background_samples=5)
    dataset.load_pair(0, 10, 12)  # warm-up: the background samples are read once per video
    decoded.clear()
    late = dataset.load_pair(0, 140, 143)
    assert late["target_index"] == 140
    # frames 138..145 are needed (boxes are medians over ±2 frames): one seek to the keyframe
    # before 138 decodes at most a GOP more, never the 138 frames before it
    assert min(decoded) >= 138 - 12 and len(decoded) <= 30, decoded


def test_bad_files_are_skipped_with_a_warning(tmp_path, caplog):
    write_test_video(tmp_path / "good.mp4", frames=10)
    (tmp_path / "notes.mp4").write_text("not a video")
    with caplog.at_level(logging.WARNING):
        dataset = FramePairDataset(tmp_path, size=16, min_gap=1, max_gap=3)
    assert [v["path"].endswith("good.mp4") for v in dataset.videos] == [True]
    assert "notes.mp4" in caplog.text and [s.path.name for s in dataset.skipped] == ["notes.mp4"]


def test_bad_arguments(tmp_path):
    with pytest.raises(NoUsableVideosError, match="no video files found"):
        FramePairDataset(tmp_path)
    with pytest.raises(ValueError, match="exactly one"):
        FramePairDataset()
    with pytest.raises(ValueError, match="exactly one"):
        FramePairDataset(tmp_path, cache=tmp_path)
    with pytest.raises(ValueError, match="min_gap"):
        FramePairDataset(tmp_path, min_gap=5, max_gap=2)
    write_test_video(tmp_path / "short.mp4", frames=3)
    with pytest.raises(NoUsableVideosError, match="too short"):
        FramePairDataset(tmp_path, min_gap=5, max_gap=10)


def test_real_clips(realdata, tmp_path):
    for name in ("mmpose/body3d_demo.mp4", "pose2sim_multiview/cam02.mp4"):  # H.264 1000×1002, VP9 portrait
        (tmp_path / name.replace("/", "_")).symlink_to(realdata / name)
    dataset = FramePairDataset(tmp_path, size=32, min_gap=5, max_gap=20, background_samples=5, seed=1)
    assert [v["frames"] for v in dataset.videos] == [399, 100]
    for video in (0, 1):
        item = dataset.load_pair(video, 50, 60)
        assert item["target"].shape == (3, 32, 32) and torch.isfinite(item["target"]).all()
        assert item["target"].std() > 0.02 and item["background"].std() > 0.02  # real pixels, not padding
        box = item["box"].numpy()
        width, height = dataset.videos[video]["width"], dataset.videos[video]["height"]
        assert box[0] < width and box[1] < height and box[2] > 0 and box[3] > 0  # overlaps the frame
