"""Read the frames of one video: random access with decord, a PyAV fallback with the same interface.

decord 0.6 cannot decode some streams (e.g. VP9 with more than two decoder threads, dmlc/decord#246,
and some frame widths whose row stride is padded); for those a PyAV reader with the same interface
is used, seeking by timestamp, so random access never decodes from the start of the file.
"""

from __future__ import annotations

import bisect
import logging
import os
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Protocol, Sequence

import av
import decord
import numpy as np

log = logging.getLogger(__name__)

class VideoError(RuntimeError):
    """A video file that cannot be used; the message names the file and the reason."""


class FrameReader(Protocol):
    """Random access to the RGB frames of one video."""

    frames: int
    fps: float
    width: int
    height: int

    def get(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` → (N, H, W, 3) uint8 RGB, in the order asked."""

    def close(self) -> None: ...


class DecordReader:
    """decord-backed reader. One decoder thread: decord's threaded VP9 path fails (decord#246)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._vr = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
        self.frames = len(self._vr)
        self.fps = float(self._vr.get_avg_fps())
        self.height, self.width = self._vr[0].shape[:2] if self.frames else (0, 0)
        self._vr.seek(0)

    def _checked(self, batch: np.ndarray) -> np.ndarray:
        # decord 0.6 mis-converts some frame widths (e.g. 16, 24, 48, 72 px: rows come back with
        # 4 or 6 "channels"); refuse them so open_video() falls back to PyAV
        if batch.ndim != 4 or batch.shape[1:] != (self.height, self.width, 3):
            raise VideoError(f"{self.path}: decord returned frames of shape {batch.shape[1:]}, "
                             f"expected {(self.height, self.width, 3)}")
        return batch

    def get(self, indices: Sequence[int]) -> np.ndarray:
        return self._checked(self._vr.get_batch(list(map(int, indices))).asnumpy())

    def close(self) -> None:
        del self._vr


class PyAVReader:
    """PyAV-backed reader for streams decord cannot decode.

    Frame ``i`` is the i-th decoded frame; a seek goes to the keyframe at or before the wanted
    timestamp and decodes forward, so reads cost O(GOP), not O(position). The presentation
    timestamps of all frames are read once from the packets (no decoding) to map indices to
    timestamps exactly, also for variable frame rate.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._container = av.open(str(path))
        if not self._container.streams.video:
            self._container.close()
            raise VideoError(f"{path}: the file has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        pts = sorted(p.pts for p in self._container.demux(self._stream) if p.pts is not None and p.size > 0)
        self._pts = pts
        self.frames = len(pts)
        rate = self._stream.average_rate or self._stream.guessed_rate or Fraction(25)
        self.fps = float(rate)
        self.width, self.height = self._stream.width, self._stream.height
        self._container.seek(0, stream=self._stream)

    def _decode_from(self, index: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (frame index, RGB frame) from the keyframe before ``index`` onwards."""
        self._container.seek(self._pts[index], stream=self._stream, backward=True, any_frame=False)
        for frame in self._container.decode(self._stream):
            if frame.pts is None:
                continue
            i = bisect.bisect_left(self._pts, frame.pts)
            yield i, frame.to_ndarray(format="rgb24")

    def get(self, indices: Sequence[int]) -> np.ndarray:
        wanted = sorted(set(int(i) for i in indices))
        for i in wanted:
            if not 0 <= i < self.frames:
                raise IndexError(f"{self.path}: frame {i} out of range [0, {self.frames})")
        got: dict[int, np.ndarray] = {}
        for i in wanted:
            if i in got:
                continue
            for j, rgb in self._decode_from(i):
                if j in wanted:
                    got[j] = rgb
                # stop once past the wanted frame and no later wanted frame is near (next seek is cheaper)
                if j >= i and (j + 1 not in wanted):
                    break
            if i not in got:
                raise VideoError(f"{self.path}: frame {i} could not be decoded (truncated or corrupt file)")
        return np.stack([got[int(i)] for i in indices])

    def close(self) -> None:
        self._container.close()


def open_video(path: str | os.PathLike, backend: str | None = None) -> FrameReader:
    """Open a video for random access: decord, or PyAV when decord cannot decode it.

    Args:
        path: the video file.
        backend: force "decord" or "pyav"; by default decord, falling back to PyAV.
    Raises:
        VideoError naming the file when neither backend can read it.
    """
    path = Path(path)
    if backend in (None, "decord"):
        try:
            reader = DecordReader(path)
            if reader.frames:
                reader.get([0])  # decord opens some streams it then fails to convert
            return reader
        except Exception as error:  # decord raises RuntimeError / DECORDError
            if backend == "decord":
                raise VideoError(f"{path}: decord cannot read it ({short_message(error)})") from error
    try:
        return PyAVReader(path)
    except VideoError:
        raise
    except Exception as error:
        raise VideoError(f"{path}: {short_message(error)}") from error


def iter_frames(path: str | os.PathLike, stride: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """Decode a video once, sequentially (the fast path for caching and prediction).

    Yields:
        (frame index, (H, W, 3) uint8 RGB) for every ``stride``-th frame.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for i, frame in enumerate(container.decode(stream)):
            if i % stride == 0:
                yield i, frame.to_ndarray(format="rgb24")


def read_frames(path: str | os.PathLike, indices: Sequence[int]) -> np.ndarray:
    """Frames ``indices`` of one video → (N, H, W, 3) uint8 RGB (opens and closes the file)."""
    reader = open_video(path)
    try:
        return reader.get(indices)
    finally:
        reader.close()


def short_message(error: BaseException, path: Path | None = None) -> str:
    """The last meaningful line of a (possibly multi-line C++) error message, without the path."""
    text = str(error)
    if path is not None:
        text = text.replace(f": '{path}'", "").replace(f"{path}: ", "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (lines[-1] if lines else type(error).__name__)[-200:]


__all__ = ["VideoError", "FrameReader", "DecordReader", "PyAVReader", "open_video", "iter_frames", "read_frames"]
