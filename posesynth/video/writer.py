"""Write RGB frames to H.264 MP4 with PyAV (libx264, yuv420p).

yuv420p halves the chroma resolution, so libx264 needs even frame sizes: odd sizes are
either padded by edge replication (``pad_odd=True``) or rejected with a clear error.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np


def _fps_fraction(fps: float) -> Fraction:
    """A rational frame rate; 29.97 and friends become 30000/1001 instead of a huge fraction."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return Fraction(fps).limit_denominator(1001)


def _check_frame(frame: np.ndarray) -> None:
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frames must be (H, W, 3) RGB, got shape {tuple(frame.shape)}")
    if frame.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {frame.dtype}")


def _pad_to_even(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) → (H + H % 2, W + W % 2, 3), replicating the last row/column."""
    pad_h, pad_w = frame.shape[0] % 2, frame.shape[1] % 2
    if pad_h == 0 and pad_w == 0:
        return frame
    return np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


class VideoWriter:
    """Streaming MP4 writer: ``with VideoWriter(path, fps) as w: w.write(frame)``.

    The frame size is fixed by the first frame written. Frames are (H, W, 3) uint8 RGB.

    Args:
        path: output ``.mp4`` path; parent folders are created.
        fps: frames per second.
        crf: libx264 constant rate factor (0 lossless … 51 worst; 17–20 is visually clean).
        preset: libx264 speed/size trade-off.
        pad_odd: pad odd heights/widths by one replicated row/column instead of raising.
    """

    def __init__(self, path: str | Path, fps: float, crf: int = 18, preset: str = "medium",
                 pad_odd: bool = False) -> None:
        self.path = Path(path)
        self.fps = _fps_fraction(fps)
        self.crf, self.preset, self.pad_odd = int(crf), preset, pad_odd
        self.frames_written = 0
        self._container: av.container.OutputContainer | None = None
        self._stream = None
        self._size: tuple[int, int] | None = None

    def _open(self, height: int, width: int) -> None:
        if (height % 2 or width % 2) and not self.pad_odd:
            raise ValueError(f"H.264 yuv420p needs even frame sizes, got {height}x{width} (H x W); "
                             "resize/crop to even, or pass pad_odd=True")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), mode="w")
        stream = self._container.add_stream("libx264", rate=self.fps)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        # one encoder thread: x264 output then depends only on the input (reproducible bytes)
        stream.options = {"crf": str(self.crf), "preset": self.preset, "threads": "1"}
        self._stream = stream
        self._size = (height, width)

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame."""
        _check_frame(frame)
        if self._size is None:
            self._open(frame.shape[0], frame.shape[1])
        elif frame.shape[:2] != self._size:
            raise ValueError(f"frame size changed from {self._size} to {frame.shape[:2]}")
        image = av.VideoFrame.from_ndarray(np.ascontiguousarray(_pad_to_even(frame)), format="rgb24")
        for packet in self._stream.encode(image):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder and close the file (idempotent)."""
        if self._container is None:
            return
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        self._container = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def write_video(path: str | Path, frames: np.ndarray, fps: float, crf: int = 18, pad_odd: bool = False) -> None:
    """Write a whole clip to an H.264 MP4.

    Args:
        path: output ``.mp4`` path; parent folders are created.
        frames: (F, H, W, 3) uint8 RGB, F ≥ 1.
        fps: frames per second.
        crf: libx264 constant rate factor (lower = better quality, bigger file).
        pad_odd: pad odd sizes to even instead of raising ``ValueError``.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[0] == 0:
        raise ValueError(f"frames must be (F, H, W, 3) with F >= 1, got shape {tuple(frames.shape)}")
    with VideoWriter(path, fps, crf=crf, pad_odd=pad_odd) as writer:
        for frame in frames:
            writer.write(frame)
