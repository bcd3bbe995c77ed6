"""``posesynth demo``: the whole method on the bundled synthetic clips, on a CPU, in minutes.

1. Sample unpaired 3D poses from posesynth's own motion generator (a seed of their own).
2. ``prepare`` the training clips of ``assets/demo/train`` into a decode-once cache.
3. Train with ``configs/demo.yaml``.
4. Evaluate on the held-out clips (other subjects, other motions): PA-MPJPE and N-MPJPE of the
   model and of the mean-pose baseline, written to ``RUN/metrics.json`` and printed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from posesynth.config import load_config
from posesynth.data.cache import crop_settings, prepare_cache
from posesynth.evaluation.synthetic import evaluate_synthetic
from posesynth.models.loading import load_model
from posesynth.synth.poses import sample_poses
from posesynth.training.inputs import mean_pose
from posesynth.training.rundir import claim_run
from posesynth.training.train import train
from posesynth.video.index import index_videos

REPO = Path(__file__).resolve().parents[2]
DEMO_ASSETS = REPO / "assets" / "demo"
DEMO_CONFIG = REPO / "configs" / "demo.yaml"
POSE_SEED = 20_200_616  # unpaired poses: their own seed, not the videos'


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="run directory (default runs/demo)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: configs/demo.yaml)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier demo run in --out (without it such a folder is refused)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. train.batch_size=8")


def run_demo(args: argparse.Namespace) -> int:
    """Run ``posesynth demo`` into a folder it has locked and checked (``posesynth.training.rundir.claim_run``)."""
    overrides = list(args.overrides) + ([f"train.steps={args.steps}"] if args.steps is not None else [])
    load_config(DEMO_CONFIG, overrides)  # a bad override fails before the folder is touched
    with claim_run(args.out, overwrite=args.overwrite, resumable=False):
        metrics = demo(args.out, overrides)
    print(format_metrics(metrics))
    print(f"\nwritten: {args.out / 'metrics.json'}, sample grids in {args.out / 'samples'}")
    return 0


def demo(out: str | os.PathLike, overrides: list[str] | None = None, progress: bool = True) -> dict:
    """Run the demo into ``out``; returns the metrics written to ``out/metrics.json``."""
    out = Path(out)
    for needed in (DEMO_ASSETS / "train" / "videos", DEMO_ASSETS / "heldout" / "labels", DEMO_CONFIG):
        if not needed.exists():
            raise FileNotFoundError(f"{needed} is missing: run the demo from a clone of the posesynth repository "
                                    f"(pip install -e .), or regenerate assets with scripts/make_demo_assets.py")
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    poses_path = out / "poses3d.npy"
    np.save(poses_path, sample_poses(clips=64, seed=POSE_SEED))
    config = load_config(DEMO_CONFIG, [f"data.cache={out / 'cache'}", f"data.poses3d={poses_path}",
                                       *(overrides or [])])
    settings = crop_settings(size=config.model.image_size, margin=config.data.margin,
                             box_source=config.data.box_source, background_window=config.data.background_window)
    index = index_videos(DEMO_ASSETS / "train" / "videos", min_frames=config.data.min_gap + 1)
    prepare_cache(index, out / "cache", settings, progress=progress)

    train(config, out, progress=progress)
    model = load_model(out)
    reference = mean_pose(torch.as_tensor(np.load(poses_path, allow_pickle=False)))
    scores = evaluate_synthetic(model, DEMO_ASSETS / "heldout", mean_pose=reference, margin=config.data.margin)
    metrics = {
        "heldout": str(DEMO_ASSETS / "heldout"),
        "frames": scores["frames"],
        "model": scores["model"],
        "mean_pose_baseline": scores["baseline"],
        "ratio_pa_mpjpe": scores["model"]["pa_mpjpe"] / scores["baseline"]["pa_mpjpe"],
        "steps": config.train.steps,
        "seconds": round(time.perf_counter() - started, 1),
        "units": "mm",
        "notes": "PA-MPJPE: Protocol #2; N-MPJPE: root-aligned, least-squares scale. The baseline predicts "
                 "the mean unpaired pose; for N-MPJPE it is given the true body orientation (an oracle).",
    }
    tmp = out / "metrics.json.tmp"
    tmp.write_text(json.dumps(metrics, indent=2))
    os.replace(tmp, out / "metrics.json")
    return metrics


def format_metrics(metrics: dict) -> str:
    """The demo's result as a small table."""
    model, base = metrics["model"], metrics["mean_pose_baseline"]
    lines = [f"held-out synthetic clips, {metrics['frames']} frames, {metrics['steps']} training steps "
             f"({metrics['seconds']:.0f} s)",
             f"{'':22}{'PA-MPJPE':>10}{'N-MPJPE':>10}   (mm)",
             f"{'model':22}{model['pa_mpjpe']:10.1f}{model['n_mpjpe']:10.1f}",
             f"{'mean-pose baseline':22}{base['pa_mpjpe']:10.1f}{base['n_mpjpe']:10.1f}",
             f"model / baseline PA-MPJPE: {metrics['ratio_pa_mpjpe']:.2f}"]
    return "\n".join(lines)
