"""Shared test helpers: tiny videos written on the fly, and the path to ../shared/realdata."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import av
import numpy as np
import pytest

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"

# tests/ mirrors the package, one folder per layer; test file names are unique across the folders,
# so a test may import another folder's helpers by module name (e.g. ``from test_h36m import write_cdf``)
sys.path[1:1] = [str(folder) for folder in sorted(Path(__file__).resolve().parent.iterdir())
                 if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("test_*.py"))]
# the installed console script of this environment, as a user runs it (else the module)
_SCRIPT = Path(sys.executable).with_name("posesynth")
POSESYNTH = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "posesynth"]

# config overrides of a tiny model and run that trains in a second or two on a CPU
TINY = ["model.image_size=32", "model.encoder_width=8", "model.encoder_stages=3", "model.appearance_channels=8",
        "model.appearance_width=8", "model.decoder_width=8", "model.discriminator_hidden=32",
        "data.min_gap=2", "data.max_gap=8", "data.num_workers=0", "train.batch_size=2", "train.warmup_steps=2",
        "train.log_every=1", "train.sample_every=100", "train.checkpoint_every=100"]


def log_rows(run: Path) -> dict[int, dict]:
    """A run's ``log.jsonl`` rows by step."""
    return {row["step"]: row for row in map(json.loads, (run / "log.jsonl").read_text().splitlines())}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """Two 16-frame synthetic videos (``videos/``, seed 3) and their joints as unpaired poses (``poses.npy``);
    one per test module (a module may write beside them)."""
    from posesynth.synth.dataset import generate_dataset

    root = tmp_path_factory.mktemp("tiny")
    save_unpaired_poses(root, generate_dataset(root, videos=2, frames=16, size=64, seed=3, progress=False))
    return root


def save_unpaired_poses(root: Path, labels: list[Path]) -> Path:
    """Write the labels' 3D joints as ``root/poses.npy`` (the unpaired poses of a tiny training run)."""
    from posesynth.synth.dataset import load_labels

    np.save(root / "poses.npy", np.concatenate([load_labels(p)["joints3d"] for p in labels]))
    return root / "poses.npy"


def write_mmpose_h36m(root: Path, views: list[tuple[str, str, str, int]], *, split: str = "test",
                      images: int | None = None, cameras_pkl: bool = False, seed: int = 0
                      ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Write mmpose's Human3.6M layout: ``root/annotation_body3d/fps10/h36m_<split>.npz`` and frame images.

    Args:
        views: (subject, sequence as in file names e.g. "Walking_1", camera id, frames); every 5th
            mocap frame is a row, as in mmpose's fps10 files.
        images: write the images of the first this many rows (None: all), 10 × 12 px, grey level
            20 × row.
        cameras_pkl: also write ``annotation_body3d/cameras.pkl`` (a pickle) with the published cameras.
    Returns:
        (imgname rows in order, S (N, 17, 4) metres + visibility, part (N, 17, 3) px + visibility);
        the file stores the rows in a shuffled order.
    """
    import pickle

    import skimage.io

    from posesynth.datasets.h36m.cameras import published_camera

    annotations = root / "annotation_body3d"
    (annotations / "fps10").mkdir(parents=True, exist_ok=True)
    if cameras_pkl:
        table = {}
        for subject, camera in {(v[0], v[2]) for v in views}:
            cam = published_camera(subject, camera)
            table[subject, camera] = {"R": cam.R.T, "T": (cam.center / 1000)[:, None], "f": cam.f[:, None],
                                      "c": cam.c[:, None], "k": cam.k[:, None], "p": cam.p[:, None],
                                      "w": cam.width, "h": cam.height, "name": "camera", "id": camera}
        with open(annotations / "cameras.pkl", "wb") as handle:
            pickle.dump(table, handle)
    rows = [f"{subject}/{subject}_{sequence}.{camera}/{subject}_{sequence}.{camera}_{5 * i + 1:06d}.jpg"
            for subject, sequence, camera, count in views for i in range(count)]
    rng = np.random.default_rng(seed)
    S = np.concatenate([rng.normal(0, 0.3, (len(rows), 17, 3)) + [0, 0, 5], np.ones((len(rows), 17, 1))], -1)
    part = np.concatenate([rng.uniform(100, 900, (len(rows), 17, 2)), np.ones((len(rows), 17, 1))], -1)
    order = rng.permutation(len(rows))  # rows need not be sorted
    np.savez(annotations / f"fps10/h36m_{split}.npz", imgname=np.array(rows)[order],
             center=np.zeros((len(rows), 2)), scale=np.ones(len(rows)), part=part[order], S=S[order])
    for i, name in enumerate(rows[:images]):
        (root / "images" / name).parent.mkdir(parents=True, exist_ok=True)
        skimage.io.imsave(root / "images" / name, np.full((10, 12, 3), 20 * i, np.uint8), check_contrast=False)
    return rows, S, part


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


@pytest.fixture(scope="session")
def tiny_training_set(tmp_path_factory) -> Path:
    """Two 10-frame synthetic videos (``videos/``) and their joints as unpaired poses (``poses.npy``)."""
    from posesynth.synth.dataset import generate_dataset

    root = tmp_path_factory.mktemp("tiny_training_set")
    save_unpaired_poses(root, generate_dataset(root, videos=2, frames=10, size=64, seed=1, progress=False))
    return root


def tiny_train_argv(data: Path, out: Path, *extra: str) -> list[str]:
    """``posesynth train`` arguments of a tiny run on :func:`tiny_training_set` data."""
    return ["train", "--out", str(out), f"data.videos={data / 'videos'}", f"data.poses3d={data / 'poses.npy'}",
            *TINY, *extra]


@pytest.fixture(scope="session")
def tiny_finished_run(tiny_training_set, tmp_path_factory) -> Path:
    """A tiny 3-step run trained through the CLI, checkpoints at steps 2 and 3; copy it before changing it."""
    from posesynth.cli import main

    run = tmp_path_factory.mktemp("tiny_finished_run") / "run"
    assert main(tiny_train_argv(tiny_training_set, run, "train.steps=3", "train.checkpoint_every=2")) == 0
    return run


@pytest.fixture
def realdata() -> Path:
    """``../shared/realdata``; tests using it skip with a reason when it is absent (a user's clone)."""
    if not REALDATA.is_dir():
        pytest.skip(f"real-data folder {REALDATA} not present (it ships beside the repo on CI only)")
    return REALDATA
