"""The training loop on a tiny synthetic folder: runs, resumes exactly, stops on NaN, runs under DDP."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import posesynth.training.train as train_module
from posesynth.config import load_config
from posesynth.models.loading import load_model
from posesynth.training.inputs import mean_pose
from posesynth.training.loop import NonFiniteLossError, lr_factor
from posesynth.training.rundir import latest_checkpoint
from posesynth.training.train import train
from conftest import TINY as TINY_RUN

TINY = [*TINY_RUN, "train.sample_every=2", "train.checkpoint_every=2"]


def _config(data: Path, *extra: str):
    return load_config(None, [f"data.videos={data / 'videos'}", f"data.poses3d={data / 'poses.npy'}", *TINY, *extra])


def _losses(run: Path) -> dict[int, dict]:
    return {row["step"]: row for row in map(json.loads, (run / "log.jsonl").read_text().splitlines())}


def test_three_steps_write_everything(tiny_data, tmp_path):
    run = train(_config(tiny_data, "train.steps=3"), tmp_path / "run", progress=False)
    rows = _losses(run)
    assert sorted(rows) == [1, 2, 3]
    assert {"loss/l1", "loss/ssim", "loss/adversarial", "loss/articulation", "loss/mask", "loss/total",
            "lr", "pairs_per_s"} <= set(rows[3])
    assert all(np.isfinite(v) for v in rows[3].values())
    assert (run / "config.yaml").is_file() and (run / "samples" / "step_0000002.png").is_file()
    assert latest_checkpoint(run).name == "step_0000003"
    assert len(list((run / "checkpoints").glob("step_*"))) == 2          # keep_checkpoints=2
    assert list((run / "tb").glob("events.*"))
    model = load_model(run)
    assert model.encode_pose(torch.rand(1, 3, 32, 32))["pose_camera"].shape == (1, 17, 3)


def test_heading_search_term_trains(tiny_data, tmp_path):
    rows = _losses(train(_config(tiny_data, "train.steps=2", "loss.heading_search=1"), tmp_path / "h", progress=False))
    assert all(np.isfinite(row["loss/heading_search"]) and row["loss/heading_search"] >= 0 for row in rows.values())


def test_periodic_heldout_evaluation_is_logged(tiny_data, tmp_path):
    config = _config(tiny_data, "train.steps=2", "train.eval_every=2", f"data.eval_synthetic={tiny_data}")
    rows = _losses(train(config, tmp_path / "eval", progress=False))
    assert {"eval/model_pa_mpjpe", "eval/model_n_mpjpe", "eval/baseline_pa_mpjpe"} <= set(rows[2])
    assert 0 < rows[2]["eval/model_pa_mpjpe"] < 1000 and "loss/total" in rows[2]
    # 2D joints in crop pixels, plain and with the side left open, beside the best constant 2D poses
    for who in ("model", "constant"):
        plain, either = rows[2][f"eval/{who}_joints2d_px"], rows[2][f"eval/{who}_joints2d_either_side_px"]
        assert 0 < either <= plain + 1e-9 < 32 * 1.5


def test_resume_is_exact(tiny_data, tmp_path):
    straight = train(_config(tiny_data, "train.steps=4"), tmp_path / "straight", progress=False)
    halves = tmp_path / "halves"
    train(_config(tiny_data, "train.steps=4"), halves, stop_after=2, progress=False)
    assert latest_checkpoint(halves).name == "step_0000002"
    train(_config(tiny_data, "train.steps=4"), halves, resume=True, progress=False)
    a, b = _losses(straight), _losses(halves)
    for step in (3, 4):
        for key in ("loss/total", "loss/l1", "loss/discriminator", "lr"):
            assert a[step][key] == pytest.approx(b[step][key], rel=1e-5, abs=1e-7), (step, key)


def test_nan_stops_cleanly_and_keeps_the_last_good_checkpoint(tiny_data, tmp_path, monkeypatch):
    real = train_module.compute_losses
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        terms = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 3:  # the third step
            terms["ssim"] = terms["ssim"] * float("nan")
            terms["total"] = terms["total"] + terms["ssim"]
        return terms

    monkeypatch.setattr(train_module, "compute_losses", poisoned)
    run = tmp_path / "nan"
    with pytest.raises(NonFiniteLossError, match=r"ssim.*step 3.*step_0000002"):
        train(_config(tiny_data, "train.steps=5"), run, progress=False)
    assert latest_checkpoint(run).name == "step_0000002"
    load_model(run)  # the kept weights load


def test_lr_schedule_and_mean_pose():
    assert lr_factor(0, 10, 100) == pytest.approx(0.1) and lr_factor(9, 10, 100) == pytest.approx(1.0)
    assert lr_factor(100, 10, 100) == pytest.approx(0.1)
    from posesynth.skeleton import canonical_tpose
    poses = canonical_tpose()[None].repeat(3, 1, 1)
    torch.testing.assert_close(mean_pose(poses), canonical_tpose(), atol=1e-5, rtol=0)


def test_two_process_cpu_run_with_accelerate_launch(tiny_data, tmp_path):
    """DDP over gloo on the CPU: two processes train, and one checkpoint is written."""
    run = tmp_path / "ddp"
    # `--cpu` alone runs one process; DDP over gloo on CPUs is torchrun + ACCELERATE_USE_CPU
    env = dict(os.environ, OMP_NUM_THREADS="1", ACCELERATE_USE_CPU="true")
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "posesynth", "train",
               "--out", str(run), f"data.videos={tiny_data / 'videos'}", f"data.poses3d={tiny_data / 'poses.npy'}",
               *TINY, "train.steps=2"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert latest_checkpoint(run).name == "step_0000002"
    assert len(list((run / "checkpoints").glob("step_*"))) == 1
    assert len(list((run / "checkpoints" / "step_0000002").glob("random_states_*.pkl"))) == 2
    assert sorted(_losses(run)) == [1, 2]


def test_a_compiled_run_trains_and_writes_a_plain_model(tiny_data, tmp_path):
    # train.compile: Accelerate compiles the networks with inductor; the step computes what the
    # eager one does, and RUN/model.pt keeps the plain module's names, which load_model reads
    eager = _losses(train(_config(tiny_data, "train.steps=2"), tmp_path / "eager", progress=False))
    run = train(_config(tiny_data, "train.steps=2", "train.compile=true"), tmp_path / "compiled", progress=False)
    compiled = _losses(run)
    assert sorted(compiled) == [1, 2]
    assert compiled[1]["loss/total"] == pytest.approx(eager[1]["loss/total"], rel=1e-3)
    stored = torch.load(run / "model.pt", weights_only=True)
    assert not any(key.startswith("_orig_mod") for key in stored["state_dict"])
    assert load_model(run).encode_pose(torch.rand(1, 3, 32, 32))["pose_camera"].shape == (1, 17, 3)
