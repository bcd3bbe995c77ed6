"""scripts/make_demo_checkpoint.py end to end at tiny sizes: data, self-supervised training, half-precision export."""

import json
import subprocess
import sys
from pathlib import Path

import torch

from posesynth.models.loading import load_model

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_demo_checkpoint.py"
TINY = ["model.image_size=32", "model.encoder_stages=3", "train.batch_size=2", "data.min_gap=2", "data.max_gap=6",
        "data.num_workers=0", "loss.imitation_start=1", "train.warmup_steps=1"]


def test_tiny_checkpoint_is_written_in_half_precision_and_loads(tmp_path):
    dest = tmp_path / "assets" / "checkpoint.pt"
    result = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "bench"), "--dest", str(dest),
                             "--videos", "2", "--frames", "12", "--video-size", "64", "--steps", "2",
                             "--eval-every", "2", "--heldout-videos", "1", "--refiner-iterations", "3", *TINY],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert report["checkpoint"] == str(dest) and "model.facing_head=true" in report["overrides"]
    stored = torch.load(dest, weights_only=True)
    assert stored["step"] == 2 and stored["model_kwargs"]["facing_head"] and stored["model_kwargs"]["lifter"]
    assert {v.dtype for v in stored["state_dict"].values() if v.is_floating_point()} == {torch.float16}
    # the refiner is fitted on the unpaired poses after training and stored with the rest
    assert stored["model_kwargs"]["refiner"] and report["refiner"]["iterations"] == 3
    assert any(k.startswith("refiner.") for k in stored["state_dict"])
    model = load_model(dest)
    assert model.image_size == 32 and model.refiner is not None
    learning = json.loads((tmp_path / "bench" / "learning.json").read_text())
    assert learning["steps"] == 2 and learning["curve"][-1]["pa_mpjpe"] > 0


def test_from_run_exports_a_finished_run_without_training(tmp_path):
    bench = tmp_path / "bench"
    first = subprocess.run([sys.executable, str(SCRIPT), "--out", str(bench), "--dest", str(tmp_path / "a.pt"),
                            "--videos", "2", "--frames", "12", "--video-size", "64", "--steps", "1",
                            "--eval-every", "1", "--heldout-videos", "1", "--refiner-iterations", "0", *TINY],
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    again = subprocess.run([sys.executable, str(SCRIPT), "--out", str(bench), "--from-run", str(bench / "run"),
                            "--dest", str(tmp_path / "b.pt"), "--refiner-iterations", "2"],
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    a, b = (torch.load(tmp_path / name, weights_only=True) for name in ("a.pt", "b.pt"))
    assert "refiner" not in a["model_kwargs"] or not a["model_kwargs"]["refiner"]
    assert b["model_kwargs"]["refiner"]
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])  # same run, not retrained
    missing = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "x"), "--from-run", str(bench / "run"),
                              "--dest", str(tmp_path / "c.pt")], capture_output=True, text=True, timeout=600)
    assert missing.returncode != 0 and "poses3d.npy" in missing.stderr and "Traceback" not in missing.stderr
