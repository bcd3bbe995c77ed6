"""The decode-once cache: `prepare` reports, atomic and resumable entries, reading, raw == cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import write_test_video

from posesynth.cli import main
from posesynth.data.cache import CacheError, FrameCache, crop_settings, entry_name
from posesynth.data.prepare import prepare_cache
from posesynth.data.pairs import FramePairDataset
from posesynth.video.index import index_videos


def prepare(*argv: object) -> int:
    """``posesynth prepare ARGV`` through the command's entry point (its error boundary included)."""
    return main(["prepare", *map(str, argv)])


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    write_test_video(root / "a.mp4", frames=30, width=64, height=48)
    write_test_video(root / "b c é.mp4", frames=20, width=96, height=64, seed=1)
    return root


def test_dataset_from_cache_equals_dataset_from_videos(folder, tmp_path):
    assert prepare(folder, "--out", tmp_path / "cache", "--size", 32) == 0
    kwargs = dict(size=32, min_gap=2, max_gap=6, seed=5)
    raw = FramePairDataset(folder, **kwargs)
    cached = FramePairDataset(cache=tmp_path / "cache", **kwargs)
    assert len(raw) == len(cached) and [v["frames"] for v in raw.videos] == [v["frames"] for v in cached.videos]
    for i in range(len(raw)):
        a, b = raw[i], cached[i]
        assert (a["video"], a["target_index"], a["source_index"]) == (b["video"], b["target_index"], b["source_index"])
        assert torch.equal(a["box"], b["box"]) and torch.equal(a["crop_matrix"], b["crop_matrix"])
        for key in ("source", "target", "background"):
            assert (a[key] - b[key]).abs().mean() < 2 / 255, key  # two decoders, same crops


def test_cache_layout_and_reader(folder, tmp_path):
    out = tmp_path / "cache"
    assert prepare(folder, "--out", out, "--size", 24) == 0
    cache = FrameCache(out)
    assert cache.size == 24 and [v["frames"] for v in cache.videos] == [30, 20]
    frames, backgrounds, boxes = cache.arrays(1)
    assert isinstance(frames, np.memmap) and frames.dtype == np.uint8 and frames.shape == (20, 24, 24, 3)
    assert backgrounds.shape == frames.shape and boxes.shape == (20, 4) and boxes.dtype == np.int64
    meta = json.loads((out / "videos" / cache.videos[1]["name"] / "meta.json").read_text(encoding="utf-8"))
    assert meta["source"].endswith("b c é.mp4") and meta["box_source"] == "foreground"
    assert meta["settings"] == crop_settings(size=24)


def test_entry_names_are_safe_and_unique():
    names = {entry_name(p) for p in ("my clip.mp4", "my_clip.mp4", "dir/my clip.mp4", "ünï cödé.mp4")}
    assert len(names) == 4
    assert all(n.isascii() and "/" not in n and " " not in n for n in names)


def test_prepare_reports_bad_files_and_exits_zero(folder, tmp_path, capsys):
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.mp4").write_text("this is text, not a video")
    data = (folder / "a.mp4").read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    write_test_video(folder / "short.mp4", frames=1)
    out = tmp_path / "cache"
    assert prepare(folder, "--out", out, "--size", 16) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert sorted(v["path"].rsplit("/", 1)[-1] for v in report["indexed"]) == ["a.mp4", "b c é.mp4"]
    reasons = {s["path"].rsplit("/", 1)[-1]: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"empty.mp4", "notes.mp4", "truncated.mp4", "short.mp4"}
    assert "empty" in reasons["empty.mp4"] and "too short" in reasons["short.mp4"]
    assert "not a readable video" in reasons["notes.mp4"]
    assert all(reasons.values())
    assert {"frames", "fps", "width", "height"} <= set(report["indexed"][0])
    printed = capsys.readouterr().out
    assert "cached 2 video(s)" in printed and "skipped 4 file(s)" in printed and "notes.mp4" in printed
    assert len(json.loads((out / "index.json").read_text(encoding="utf-8"))["videos"]) == 2


def test_prepare_on_an_empty_folder_fails_clearly(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert prepare(tmp_path / "empty", "--out", tmp_path / "cache") != 0
    assert "no video files found" in capsys.readouterr().err
    assert not (tmp_path / "cache" / "index.json").exists()


def test_prepare_is_atomic_and_resumable(folder, tmp_path):
    out = tmp_path / "cache"
    settings = crop_settings(size=16)
    index = index_videos(folder)
    # leftovers of a killed run: a temporary entry, and a final-named folder without meta.json
    stale = out / "videos" / ".tmp-a.mp4-0123456789-999"
    stale.mkdir(parents=True)
    (stale / "frames.npy").write_bytes(b"partial")
    half = out / "videos" / entry_name("a.mp4")
    half.mkdir()
    (half / "frames.npy").write_bytes(b"partial")
    entries, _, reused = prepare_cache(index, out, settings, progress=False)
    assert reused == 0 and not stale.exists()
    assert (half / "meta.json").exists() and FrameCache(out).arrays(0)[0].shape == (30, 16, 16, 3)
    stamp = (half / "frames.npy").stat().st_mtime_ns
    _, _, reused = prepare_cache(index, out, settings, progress=False)
    assert reused == 2 and (half / "frames.npy").stat().st_mtime_ns == stamp  # nothing rewritten
    entries, _, reused = prepare_cache(index, out, crop_settings(size=20), progress=False)
    assert reused == 0 and FrameCache(out).arrays(0)[0].shape == (30, 20, 20, 3)  # new settings: redone
    assert not [p for p in (out / "videos").iterdir() if p.name.startswith(".")]


def test_reading_something_that_is_not_a_cache(folder, tmp_path):
    with pytest.raises(CacheError, match="posesynth prepare"):
        FramePairDataset(cache=folder)
    assert prepare(folder, "--out", tmp_path / "cache", "--size", 16) == 0
    with pytest.raises(ValueError, match="--size 32"):
        FramePairDataset(cache=tmp_path / "cache", size=32)


def test_prepare_real_clips(realdata, tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "vp9 cam02.mp4").symlink_to(realdata / "pose2sim_multiview" / "cam02.mp4")
    assert prepare(folder, "--out", tmp_path / "cache", "--size", 32, "--background-samples", 5) == 0
    dataset = FramePairDataset(cache=tmp_path / "cache", size=32, min_gap=5, max_gap=20)
    item = dataset[0]
    assert item["target"].shape == (3, 32, 32) and item["target"].std() > 0.02


def test_prepare_in_worker_processes_makes_the_same_cache(folder, tmp_path):
    (folder / "notes.mp4").write_text("not a video")  # skipped the same way by both
    settings = crop_settings(size=16)
    index = index_videos(folder)
    one, report_one, _ = prepare_cache(index, tmp_path / "one", settings, progress=False)
    two, report_two, reused = prepare_cache(index, tmp_path / "two", settings, progress=False, workers=2)
    assert reused == 0 and [e["name"] for e in one] == [e["name"] for e in two]
    assert report_one.report() == report_two.report() and len(report_one.skipped) == 1
    for i in range(len(one)):
        for a, b in zip(FrameCache(tmp_path / "one").arrays(i), FrameCache(tmp_path / "two").arrays(i)):
            assert np.array_equal(a, b)
    _, _, reused = prepare_cache(index, tmp_path / "two", settings, progress=False, workers=2)
    assert reused == 2
