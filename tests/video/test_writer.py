"""MP4 writer: round trip through decord, streaming, size and dtype errors."""

from __future__ import annotations

import decord
import numpy as np
import pytest

from posesynth.video.writer import VideoWriter, write_video


def _smooth_frames(count: int, height: int, width: int) -> np.ndarray:
    """Moving colour gradients: (F, H, W, 3) uint8, easy for H.264 so the MAE is meaningful."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = []
    for f in range(count):
        r = 127 + 100 * np.sin((x + 2 * f) / 9.0)
        g = 127 + 100 * np.cos((y - f) / 7.0)
        b = 60 + 2.0 * x + f
        frames.append(np.stack([r, g, b], -1).clip(0, 255).astype(np.uint8))
    return np.stack(frames)


def _decode(path) -> np.ndarray:
    reader = decord.VideoReader(str(path), num_threads=1)
    return reader.get_batch(list(range(len(reader)))).asnumpy()


def test_write_video_round_trip(tmp_path):
    frames = _smooth_frames(10, 48, 64)
    path = tmp_path / "sub" / "clip.mp4"
    write_video(path, frames, fps=25.0, crf=18)
    decoded = _decode(path)
    assert decoded.shape == frames.shape
    mae = np.abs(decoded.astype(np.float32) - frames.astype(np.float32)).mean()
    assert mae < 4.0, mae


def test_streaming_writer_and_fractional_fps(tmp_path):
    frames = _smooth_frames(7, 32, 32)
    path = tmp_path / "stream.mp4"
    with VideoWriter(path, fps=30000 / 1001) as writer:
        for frame in frames:
            writer.write(frame)
    assert writer.frames_written == 7
    reader = decord.VideoReader(str(path), num_threads=1)
    assert len(reader) == 7
    assert abs(reader.get_avg_fps() - 29.97) < 0.01


def test_same_frames_same_bytes(tmp_path):
    frames = _smooth_frames(5, 32, 32)
    write_video(tmp_path / "a.mp4", frames, fps=25.0)
    write_video(tmp_path / "b.mp4", frames, fps=25.0)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


def test_odd_size_raises_or_pads(tmp_path):
    frames = _smooth_frames(3, 33, 50)
    with pytest.raises(ValueError, match="even"):
        write_video(tmp_path / "odd.mp4", frames, fps=25.0)
    write_video(tmp_path / "padded.mp4", frames, fps=25.0, pad_odd=True)
    assert _decode(tmp_path / "padded.mp4").shape == (3, 34, 50, 3)


def test_bad_inputs_raise(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "f.mp4", np.zeros((2, 16, 16, 3), np.float32), fps=25.0)
    with pytest.raises(ValueError, match=r"\(F, H, W, 3\)"):
        write_video(tmp_path / "g.mp4", np.zeros((16, 16, 3), np.uint8), fps=25.0)
    with pytest.raises(ValueError, match="fps"):
        write_video(tmp_path / "h.mp4", np.zeros((2, 16, 16, 3), np.uint8), fps=0)
    with VideoWriter(tmp_path / "i.mp4", fps=25.0) as writer:
        writer.write(np.zeros((16, 16, 3), np.uint8))
        with pytest.raises(ValueError, match="size changed"):
            writer.write(np.zeros((18, 16, 3), np.uint8))
