"""The video index and readers on every kind of file a real folder holds."""

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import write_test_video
from posesynth.cli import main
from posesynth.video.index import NoUsableVideosError, find_videos, index_videos
from posesynth.video.readers import DecordReader, PyAVReader, VideoError, open_video, read_frames


@pytest.fixture(scope="module")
def messy_folder(tmp_path_factory):
    """A folder with good videos of many kinds and every bad case the index must report."""
    root = tmp_path_factory.mktemp("messy")
    (root / "sub dir").mkdir()
    good = {
        "plain.mp4": dict(),
        "sub dir/vp9 with audio ü.webm": dict(codec="libvpx-vp9", audio=True),
        "portrait.mp4": dict(width=48, height=96),
        "gray mjpeg.avi": dict(codec="mjpeg", pix_fmt="yuvj444p", gray=True, width=65, height=47),
        "odd size.mkv": dict(pix_fmt="yuv444p", width=67, height=45),
        "ÉLAN.MOV": dict(),
        "mpeg4.m4v": dict(codec="mpeg4"),
    }
    for name, kwargs in good.items():
        write_test_video(root / name, frames=20, **kwargs)
    write_test_video(root / "short.mp4", frames=3)
    (root / "empty.mp4").write_bytes(b"")
    (root / "notes.mp4").write_text("this is a text file with a video extension\n" * 50)
    whole = (root / "plain.mp4").read_bytes()
    (root / "cut before index.mp4").write_bytes(whole[: len(whole) // 2])  # moov atom at the end: lost
    # a truncated stream whose header survived: write with the index first, then cut the data
    import av
    src = root / "faststart.tmp"
    with av.open(str(src), "w", format="mp4", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(30):
            frame = (rng.random((48, 64, 3)) * 255).astype(np.uint8)  # noise: every frame costs bytes
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = src.read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])
    src.unlink()
    (root / "readme.txt").write_text("not a video extension: ignored")
    return root, sorted(good)


def test_find_videos_is_recursive_and_case_insensitive(messy_folder):
    root, good = messy_folder
    names = {str(p.relative_to(root)) for p in find_videos(root)}
    assert set(good) <= names
    assert "readme.txt" not in names and "ÉLAN.MOV" in names


def test_index_reports_every_bad_file_with_its_reason(messy_folder):
    root, good = messy_folder
    index = index_videos(root, min_frames=5)
    assert sorted(str(v.path.relative_to(root)) for v in index.videos) == good
    reasons = {s.path.name: s.reason for s in index.skipped}
    assert set(reasons) == {"short.mp4", "empty.mp4", "notes.mp4", "cut before index.mp4", "truncated.mp4"}
    assert reasons["short.mp4"].startswith("too short: 3 frame(s), needs at least 5")
    assert reasons["empty.mp4"] == "empty file (0 bytes)"
    assert reasons["notes.mp4"].startswith("not a readable video")
    assert reasons["cut before index.mp4"].startswith("not a readable video")
    assert reasons["truncated.mp4"].startswith("truncated or corrupt")
    report = index.report()
    assert {"path", "frames", "fps", "width", "height"} == set(report["indexed"][0])
    json.dumps(report, ensure_ascii=False)  # serialisable, non-ASCII names included


def test_index_records_size_and_rate(messy_folder):
    root, _ = messy_folder
    by_name = {v.path.name: v for v in index_videos(root, min_frames=5).videos}
    assert (by_name["portrait.mp4"].width, by_name["portrait.mp4"].height) == (48, 96)
    assert (by_name["odd size.mkv"].width, by_name["odd size.mkv"].height) == (67, 45)
    assert (by_name["gray mjpeg.avi"].width, by_name["gray mjpeg.avi"].height) == (65, 47)
    for video in by_name.values():
        assert video.frames == 20 and video.fps == pytest.approx(25.0)


def test_every_usable_video_reads_by_index(messy_folder):
    root, _ = messy_folder
    for video in index_videos(root, min_frames=5).videos:
        frames = read_frames(video.path, [19, 0, 7])
        assert frames.shape == (3, video.height, video.width, 3) and frames.dtype == np.uint8
        # the box moved from the left edge (frame 0) to the right edge (frame 19)
        changed = np.nonzero((np.abs(frames[0].astype(int) - frames[1]).sum(-1) > 60).any(0))[0]
        assert changed.min() < video.width / 3 and changed.max() > 2 * video.width / 3, video.path.name


def test_gray_mjpeg_decodes_to_three_equal_channels(messy_folder):
    root, _ = messy_folder
    frame = read_frames(root / "gray mjpeg.avi", [3])[0].astype(int)
    assert np.abs(frame[..., 0] - frame[..., 1]).mean() < 3 and np.abs(frame[..., 1] - frame[..., 2]).mean() < 3


def test_pyav_reader_matches_decord(messy_folder):
    root, _ = messy_folder
    path = root / "plain.mp4"
    indices = [15, 2, 2, 19, 0]
    a, b = PyAVReader(path).get(indices), DecordReader(path).get(indices)
    assert a.shape == b.shape
    assert np.abs(a.astype(int) - b).mean() < 1.0
    with pytest.raises(IndexError, match="out of range"):
        PyAVReader(path).get([20])


def test_open_video_falls_back_and_names_the_file(messy_folder):
    root, _ = messy_folder
    with pytest.raises(VideoError, match="notes.mp4"):
        open_video(root / "notes.mp4")


def test_empty_or_unusable_folder_is_an_error(tmp_path, messy_folder):
    with pytest.raises(NoUsableVideosError, match="no video files found"):
        index_videos(tmp_path)
    (tmp_path / "bad.mp4").write_text("nope")
    with pytest.raises(NoUsableVideosError, match=r"(?s)none of the 1 video file\(s\) is usable.*bad\.mp4"):
        index_videos(tmp_path)
    with pytest.raises(NoUsableVideosError, match="no such folder"):
        index_videos(tmp_path / "missing")


def test_cli_index_writes_report(messy_folder, tmp_path, capsys):
    root, _ = messy_folder
    out = tmp_path / "report.json"
    assert main(["index", str(root), "--min-frames", "5", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "skipped" in printed and "truncated.mp4" in printed
    assert len(json.loads(out.read_text())["skipped"]) == 5
    assert main(["index", str(tmp_path / "nothing-here")]) == 2


@pytest.mark.parametrize("name, size, frames", [
    ("mmpose/body3d_demo.mp4", (1000, 1002), 399),          # real Human3.6M studio footage
    ("pose2sim_multiview/cam02.mp4", (1080, 1920), 100),    # VP9 + audio track, portrait
    ("pose2sim_multiview/cam03.mp4", (1088, 1920), 100),    # portrait, odd width
    ("mmhuman3d/single_person_demo.mp4", (1080, 1920), 40),  # hand-held phone clip
    ("sports2d/demo.mp4", (1768, 994), 230),                # VP9 + audio, landscape
])
def test_real_clips(realdata, name, size, frames):
    index = index_videos(realdata / name)
    (video,) = index.videos
    assert (video.width, video.height) == size and video.frames == frames
    sample = read_frames(video.path, [frames - 1, frames // 2])
    assert sample.shape == (2, size[1], size[0], 3)
    assert sample.std() > 5  # real picture content, not a blank decode


@pytest.mark.parametrize("width", [24, 48, 72])
def test_widths_decord_misconverts_fall_back_to_pyav(tmp_path, width):
    """decord 0.6 returns 4- or 6-channel rows for these widths; the reader must not pass them on."""
    path = tmp_path / f"w{width}.mp4"
    write_test_video(path, frames=10, width=width, height=64)
    reader = open_video(path)
    assert isinstance(reader, PyAVReader)
    assert reader.get([0, 9]).shape == (2, 64, width, 3)


def test_find_videos_follows_folder_links_once(tmp_path):
    from posesynth.video.index import find_videos

    (tmp_path / "real" / "S1" / "Videos").mkdir(parents=True)
    (tmp_path / "real" / "S1" / "Videos" / "Walking.54138969.mp4").write_bytes(b"")
    (tmp_path / "split").mkdir()
    (tmp_path / "split" / "S1").symlink_to(tmp_path / "real" / "S1")
    (tmp_path / "real" / "S1" / "loop").symlink_to(tmp_path / "real" / "S1")   # a cycle must not hang
    assert [p.relative_to(tmp_path) for p in find_videos(tmp_path / "split")] == [
        Path("split/S1/Videos/Walking.54138969.mp4")]
