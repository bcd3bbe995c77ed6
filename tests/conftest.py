"""Shared test helpers: tiny videos written on the fly, and the path to ../shared/realdata."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"

# config overrides of a tiny model and run that trains in a second or two on a CPU
TINY = ["model.image_size=32", "model.encoder_width=8", "model.encoder_stages=3", "model.appearance_channels=8",
        "model.appearance_width=8", "model.decoder_width=8", "model.discriminator_hidden=32",
        "data.min_gap=2", "data.max_gap=8", "data.num_workers=0", "train.batch_size=2", "train.warmup_steps=2",
        "train.log_every=1", "train.sample_every=100", "train.checkpoint_every=100"]


def save_unpaired_poses(root: Path, labels: list[Path]) -> Path:
    """Write the labels' 3D joints as ``root/poses.npy`` (the unpaired poses of a tiny training run)."""
    from posesynth.data.synthetic import load_labels

    np.save(root / "poses.npy", np.concatenate([load_labels(p)["joints3d"] for p in labels]))
    return root / "poses.npy"


def write_test_video(path: str | Path, frames: int = 24, width: int = 64, height: int = 48, *,
                     codec: str = "libx264", pix_fmt: str = "yuv420p", fps: int = 25,
                     audio: bool = False, gray: bool = False, box_size: tuple[int, int] | None = None,
                     container_format: str | None = None, seed: int = 0) -> np.ndarray:
    """Write a small video: a static textured background with a bright box moving left→right.

    The box stands in for a person (foreground against a static background).

    Returns:
        (F, 4) the box per frame as x0, y0, x1, y1 pixels (x1/y1 exclusive).
    """
    rng = np.random.default_rng(seed)
    background = (rng.random((height, width, 3)) * 80 + 40).astype(np.uint8)
    bw, bh = box_size or (max(4, width // 5), max(6, height // 2))
    boxes = []
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if audio:
            sound = container.add_stream("libopus" if str(path).endswith(".webm") else "aac", rate=48000)
        for i in range(frames):
            x0 = int(round((width - bw) * i / max(frames - 1, 1)))
            y0 = (height - bh) // 2
            image = background.copy()
            image[y0:y0 + bh, x0:x0 + bw] = (230, 60, 30)
            if gray:
                image[:] = image.mean(-1, keepdims=True).astype(np.uint8)
            boxes.append((x0, y0, x0 + bw, y0 + bh))
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
            if audio:
                chunk = av.AudioFrame.from_ndarray(np.zeros((1, 48000 // fps), np.int16), format="s16", layout="mono")
                chunk.sample_rate = 48000
                for packet in sound.encode(chunk):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if audio:
            for packet in sound.encode():
                container.mux(packet)
    return np.asarray(boxes)


@pytest.fixture
def realdata() -> Path:
    """``../shared/realdata``; tests using it skip with a reason when it is absent (a user's clone)."""
    if not REALDATA.is_dir():
        pytest.skip(f"real-data folder {REALDATA} not present (it ships beside the repo on CI only)")
    return REALDATA
