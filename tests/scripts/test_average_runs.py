"""scripts/average_runs.py: several runs' reported 3D averaged with their sides aligned, scored."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from posesynth.models.model import PoseSynthModel

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "average_runs.py"
HELDOUT = ROOT / "assets" / "demo" / "heldout"
TINY = dict(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8, appearance_width=8,
            decoder_width=8)


def _run_folder(path: Path, seed: int, image_size: int = 32) -> Path:
    path.mkdir()
    torch.manual_seed(seed)
    kwargs = {**TINY, "image_size": image_size}
    torch.save({"model_kwargs": kwargs, "state_dict": PoseSynthModel(**kwargs).state_dict(), "step": 0},
               path / "model.pt")
    (path / "config.yaml").write_text(f"model:\n  image_size: {image_size}\n")
    return path


def _average(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


def test_the_mirror_reading_and_the_side_aligned_average_closed_forms():
    sys.path.insert(0, str(SCRIPT.parent))
    from average_runs import mirror_reading, side_aligned_average

    rng = np.random.default_rng(0)
    pose = rng.normal(size=(5, 17, 3))
    pose -= pose[:, :1]
    np.testing.assert_array_equal(mirror_reading(mirror_reading(pose)), pose)   # an involution
    assert np.all(mirror_reading(pose)[:, 0] == 0)                              # the root stays at the origin
    # a run that reads every frame with the other side averages back to the first run's bodies
    average, mirrored = side_aligned_average([pose, mirror_reading(pose)])
    np.testing.assert_allclose(average, pose)
    assert mirrored == [1.0]
    # with the same side the average is the plain mean
    other = pose + 0.01
    average, mirrored = side_aligned_average([pose, other])
    np.testing.assert_allclose(average, (pose + other) / 2)
    assert mirrored == [0.0]


def test_runs_are_scored_alone_and_averaged_and_only_read(tmp_path):
    runs = [_run_folder(tmp_path / f"run{seed}", seed) for seed in (0, 1)]
    before = [(run / "model.pt").read_bytes() for run in runs]
    result = _average("--data", str(HELDOUT), "--runs", *map(str, runs), "--json", str(tmp_path / "avg.json"))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "avg.json").read_text())
    assert report["frames"] == 192
    rows = {tuple(row["runs"]): row for row in report["combinations"]}
    assert set(rows) == {(str(runs[0]),), (str(runs[1]),), (str(runs[0]), str(runs[1]))}
    pair = rows[(str(runs[0]), str(runs[1]))]
    assert len(pair["mirrored"]) == 1 and 0 <= pair["mirrored"][0] <= 1
    assert pair["ratio"] == pair["pa_mpjpe"] / report["baseline"]["pa_mpjpe"]
    assert pair["pa_mpjpe"] not in (rows[(str(runs[0]),)]["pa_mpjpe"], rows[(str(runs[1]),)]["pa_mpjpe"])
    assert -1 <= pair["frame_error_correlation"] <= 1 and -1 <= pair["residual_cosine_median"] <= 1
    singles = rows[(str(runs[0]),)]["pa_mpjpe"], rows[(str(runs[1]),)]["pa_mpjpe"]
    assert pair["better_per_frame_pa_mpjpe"] <= min(singles) + 1e-9   # an oracle's pick is never worse
    assert "read mirrored" in result.stdout and "per-frame PA-MPJPE correlation" in result.stdout
    assert [(run / "model.pt").read_bytes() for run in runs] == before


def test_one_run_or_runs_of_other_sizes_are_a_one_line_error(tmp_path):
    one = _run_folder(tmp_path / "one", 0)
    result = _average("--data", str(HELDOUT), "--runs", str(one))
    assert result.returncode != 0 and "at least two" in result.stderr and "Traceback" not in result.stderr
    other = _run_folder(tmp_path / "other", 1, image_size=64)
    result = _average("--data", str(HELDOUT), "--runs", str(one), str(other))
    assert result.returncode != 0 and "different sizes" in result.stderr and "Traceback" not in result.stderr
    result = _average("--data", str(tmp_path), "--runs", str(one), str(one))
    assert result.returncode != 0 and str(tmp_path) in result.stderr and "Traceback" not in result.stderr
