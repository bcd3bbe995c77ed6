"""``posesynth demo``: the whole method on the bundled synthetic clips, on a CPU, in minutes.

1. Sample unpaired 3D poses from posesynth's own motion generator (a seed of their own).
2. ``prepare`` the training clips of ``assets/demo/train`` into a decode-once cache.
3. Render the held-out clips: people the demo's clips and the checkpoint never showed, in every
   motion, facing every way (``RUN/heldout``, 24 clips of 12 people, about 6 s). Score the shipped
   checkpoint ``assets/demo/checkpoint.pt`` on them: the start.
   posesynth trained it itself, self-supervised, on 800 synthetic people
   (``scripts/make_demo_checkpoint.py``); ``train.init=null`` trains from scratch instead.
4. Train from it with ``configs/demo.yaml`` on the bundled clips.
5. Evaluate on the held-out clips: PA-MPJPE and N-MPJPE of the
   start and of the trained model, against the mean unpaired pose and against the best constant
   pose for these people (their own Procrustes mean); written to ``RUN/metrics.json`` and printed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from posesynth.config import Config, ConfigError, load_config
from posesynth.data.cache import crop_settings
from posesynth.data.prepare import prepare_cache
from posesynth.evaluation.synthetic import best_constant_scores, load_labelled_set, score_poses
from posesynth.models.loading import load_model, model_file, stored_model_kwargs
from posesynth.skeleton import facing_side
from posesynth.synth.dataset import generate_dataset
from posesynth.synth.poses import sample_poses
from posesynth.training.checkpoints import model_kwargs
from posesynth.training.inputs import mean_pose
from posesynth.training.rundir import claim_run
from posesynth.training.train import train
from posesynth.video.index import index_videos

REPO = Path(__file__).resolve().parents[2]
DEMO_ASSETS = REPO / "assets" / "demo"
DEMO_CONFIG = REPO / "configs" / "demo.yaml"
DEMO_CHECKPOINT = DEMO_ASSETS / "checkpoint.pt"  # scripts/make_demo_checkpoint.py, self-supervised
POSE_SEED = 20_200_616  # unpaired poses: their own seed, not the videos'
HELDOUT_SEED = 20_261_127  # the held-out scenes: a seed of their own
HELDOUT_SUBJECTS = range(2001, 2013)  # twelve people: the demo's clips show 1-5, the checkpoint's 1-800
HELDOUT_CLIPS = 24  # two per person, every motion: no one clip decides the score (the assets stay small)
HELDOUT_FRAMES = 32


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="run directory (default runs/demo)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: configs/demo.yaml)")
    parser.add_argument("--heldout-clips", type=int, default=HELDOUT_CLIPS,
                        help=f"held-out clips to render and score (default {HELDOUT_CLIPS}, of twelve new people)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier demo run in --out (without it such a folder is refused)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. train.batch_size=8")


def run_demo(args: argparse.Namespace) -> int:
    """Run ``posesynth demo`` into a folder it has locked and checked (``posesynth.training.rundir.claim_run``)."""
    overrides = list(args.overrides) + ([f"train.steps={args.steps}"] if args.steps is not None else [])
    if args.heldout_clips < 1:
        raise ConfigError(f"--heldout-clips {args.heldout_clips}: the demo needs at least one held-out clip")
    demo_config(args.out, overrides)  # a bad override or checkpoint fails before the folder is touched
    with claim_run(args.out, overwrite=args.overwrite, resumable=False):
        metrics = demo(args.out, overrides, heldout_clips=args.heldout_clips)
    print(format_metrics(metrics))
    print(f"\nwritten: {args.out / 'metrics.json'}, sample grids in {args.out / 'samples'}")
    return 0


def demo_config(out: Path, overrides: list[str] | None = None) -> Config:
    """``configs/demo.yaml`` for a demo in ``out``, checked: its files exist, its checkpoint fits the model.

    ``train.init`` defaults to the shipped checkpoint; ``train.init=null`` trains from scratch.
    """
    config = load_config(DEMO_CONFIG, [f"train.init={DEMO_CHECKPOINT}", f"data.cache={Path(out) / 'cache'}",
                                       f"data.poses3d={Path(out) / 'poses3d.npy'}", *(overrides or [])])
    for needed in (DEMO_ASSETS / "train" / "videos", *([Path(config.train.init)] if config.train.init is not None else [])):
        if not needed.exists():
            raise FileNotFoundError(f"{needed} is missing: run the demo from a clone of the posesynth repository "
                                    f"(pip install -e .), or regenerate assets with scripts/make_demo_assets.py "
                                    f"(and scripts/make_demo_checkpoint.py)")
    if config.train.init is not None:
        check_same_model(config, config.train.init)
    return config


def check_same_model(config: Config, checkpoint: str | os.PathLike) -> None:
    """Raise a one-line ConfigError when ``checkpoint`` was trained with other ``model.*`` settings."""
    file = model_file(checkpoint)
    stored = stored_model_kwargs(torch.load(file, map_location="cpu", weights_only=True), file)
    wanted = model_kwargs(config)
    differ = [f"model.{k}={v} (config: {wanted.get(k)})" for k, v in stored.items() if wanted.get(k) != v]
    if differ:
        raise ConfigError(f"train.init={checkpoint} was trained with {', '.join(differ[:4])}: keep the demo's "
                          f"model.* settings, or pass train.init=null to train from scratch")


def demo(out: str | os.PathLike, overrides: list[str] | None = None, progress: bool = True,
         heldout_clips: int = HELDOUT_CLIPS) -> dict:
    """Run the demo into ``out``; returns the metrics written to ``out/metrics.json``."""
    out = Path(out)
    poses_path = out / "poses3d.npy"
    config = demo_config(out, overrides)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    np.save(poses_path, sample_poses(clips=64, seed=POSE_SEED))
    settings = crop_settings(size=config.model.image_size, margin=config.data.margin,
                             box_source=config.data.box_source, background_window=config.data.background_window)
    index = index_videos(DEMO_ASSETS / "train" / "videos", min_frames=config.data.min_gap + 1)
    prepare_cache(index, out / "cache", settings, progress=progress)

    reference = mean_pose(torch.as_tensor(np.load(poses_path, allow_pickle=False)))
    # held-out people who face every way: the bundled two held-out clips both face the camera, the
    # one case an encoder that draws everyone frontally gets right (BENCHMARKS.md, "The demo's checkpoint")
    generate_dataset(out / "heldout", videos=heldout_clips, frames=HELDOUT_FRAMES, size=128, seed=HELDOUT_SEED,
                     subjects=HELDOUT_SUBJECTS, progress=progress)
    crops, truths, _ = load_labelled_set(out / "heldout", config.model.image_size, config.data.margin)
    facing_camera = float((facing_side(torch.as_tensor(truths[..., :2])) < 0).double().mean())
    start = None
    if config.train.init is not None:  # what the checkpoint scores before the demo's own training
        start = score_poses(load_model(config.train.init), crops, truths)["model"]
    train(config, out, progress=progress)
    scores = score_poses(load_model(out), crops, truths, reference)
    metrics = {
        "heldout": str(out / "heldout"),
        "heldout_clips": heldout_clips,
        "heldout_facing_camera_share": facing_camera,
        "frames": scores["frames"],
        "init": config.train.init,
        "start": start,
        "model": scores["model"],
        "mean_pose_baseline": scores["baseline"],
        "best_constant": best_constant_scores(truths),
        "ratio_pa_mpjpe": scores["model"]["pa_mpjpe"] / scores["baseline"]["pa_mpjpe"],
        "ratio_pa_mpjpe_start": None if start is None else start["pa_mpjpe"] / scores["baseline"]["pa_mpjpe"],
        "steps": config.train.steps,
        "seconds": round(time.perf_counter() - started, 1),
        "units": "mm",
        "notes": "PA-MPJPE: Protocol #2; N-MPJPE: root-aligned, least-squares scale. The baseline predicts "
                 "the mean unpaired pose; for N-MPJPE it is given the true body orientation (an oracle). "
                 "best_constant: the held-out people's own Procrustes mean pose, chosen knowing their poses.",
    }
    tmp = out / "metrics.json.tmp"
    tmp.write_text(json.dumps(metrics, indent=2))
    os.replace(tmp, out / "metrics.json")
    return metrics


def format_metrics(metrics: dict) -> str:
    """The demo's result as a small table."""
    model, base = metrics["model"], metrics["mean_pose_baseline"]
    lines = [f"held-out synthetic people: {metrics['heldout_clips']} clips, {metrics['frames']} frames, "
             f"{100 * metrics['heldout_facing_camera_share']:.0f} % facing the camera; {metrics['steps']} "
             f"training steps ({metrics['seconds']:.0f} s)",
             f"{'':30}{'PA-MPJPE':>10}{'N-MPJPE':>10}   (mm)"]
    if metrics.get("start") is not None:
        lines.append(f"{'checkpoint, before training':30}{metrics['start']['pa_mpjpe']:10.1f}"
                     f"{metrics['start']['n_mpjpe']:10.1f}")
    lines += [f"{'model':30}{model['pa_mpjpe']:10.1f}{model['n_mpjpe']:10.1f}",
              f"{'mean-pose baseline':30}{base['pa_mpjpe']:10.1f}{base['n_mpjpe']:10.1f}",
              f"{'best constant (knows the poses)':30}{metrics['best_constant']['pa_mpjpe']:10.1f}",
              f"model / baseline PA-MPJPE: {metrics['ratio_pa_mpjpe']:.2f}"
              + (f" (checkpoint before training: {metrics['ratio_pa_mpjpe_start']:.2f})"
                 if metrics.get("ratio_pa_mpjpe_start") is not None else "")]
    return "\n".join(lines)
