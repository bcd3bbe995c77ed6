"""Does it learn? Self-supervised training on synthetic video, scored on held-out subjects.

Generates (once) a training set of synthetic clips, a held-out set with other subjects, and
unpaired 3D poses from the motion generator with a seed of their own; prepares the training
clips into a cache; trains for a budget the user sets (``--minutes`` on this machine, or
``--steps``) with held-out evaluation every ``--eval-every`` steps; and prints the curve of
held-out PA-MPJPE / N-MPJPE of the model against the mean-pose baseline. Goal: PA-MPJPE at most
0.7× the baseline's.

    python scripts/bench_learning.py --out runs/learning --minutes 30 [key=value ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import numpy as np

from posesynth.config import load_config
from posesynth.data.cache import crop_settings
from posesynth.data.prepare import prepare_cache
from posesynth.synth.dataset import generate_dataset
from posesynth.synth.poses import sample_poses
from posesynth.training.train import train
from posesynth.video.index import index_videos

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "heatmap_selfsup.yaml"


HELDOUT_SUBJECTS = range(1001, 1013)  # 12 people never used for training


# curve key ← the trainer's eval/<who>_<metric> (2D errors in crop pixels, 3D in mm)
CURVE_KEYS = (("pa_mpjpe", "model", "pa_mpjpe"), ("n_mpjpe", "model", "n_mpjpe"),
              ("baseline_pa_mpjpe", "baseline", "pa_mpjpe"), ("baseline_n_mpjpe", "baseline", "n_mpjpe"),
              ("joints2d_px", "model", "joints2d_px"), ("joints2d_either_side_px", "model", "joints2d_either_side_px"),
              ("constant_joints2d_px", "constant", "joints2d_px"),
              ("constant_joints2d_either_side_px", "constant", "joints2d_either_side_px"))


def make_data(root: Path, videos: int, frames: int, size: int, heldout_videos: int = 24, workers: int = 1) -> None:
    """Training clips (one new subject per clip), held-out clips of 12 other people, unpaired poses.

    Every training clip shows a different procedurally generated person, so the encoder cannot
    memorise people; the held-out set has ``heldout_videos`` clips of subjects 1001–1012, enough
    that no single clip decides the score. Written once; an existing set is reused. ``workers``
    processes render in parallel (the same files).
    """
    if not (root / "train" / "scenes.json").is_file():
        generate_dataset(root / "train", videos=videos, frames=frames, size=size, seed=0,
                         subjects=range(1, videos + 1), workers=workers)
    if not (root / "heldout" / "scenes.json").is_file():
        generate_dataset(root / "heldout", videos=heldout_videos, frames=frames, size=size, seed=1,
                         subjects=HELDOUT_SUBJECTS, workers=workers)
    if not (root / "poses3d.npy").is_file():
        np.save(root / "poses3d.npy", sample_poses(clips=160, frames=frames, seed=7, subjects=range(1, videos + 1)))


CALIBRATION_STEPS = 30  # a short run of the real loop; its first rows (start-up) are left out


def timing_config(config: Path, overrides: list[str], steps: int):
    """The recipe for a timing run: ``steps`` steps, the imitation cycle from the first, no evaluation or samples.

    The refiner's and the side classifier's fits after the last step (``train.refiner_fit_iterations``,
    about 20 s on 2 CPU cores; ``train.side_fit_iterations``, about 11 minutes) are left out too:
    they are no part of a step, and a budget in minutes does not count them.
    """
    return load_config(config, [*overrides, f"train.steps={steps}", "loss.imitation_start=1", "train.log_every=5",
                                "train.eval_every=0", "train.refiner_fit_iterations=0",
                                "model.side_classifier=false", "train.side_fit_iterations=0",
                                f"train.sample_every={10 * steps}", f"train.checkpoint_every={10 * steps}"])


def seconds_per_step(config: Path, overrides: list[str], scratch: Path, steps: int = CALIBRATION_STEPS) -> float:
    """Seconds per training step of the recipe's whole loop on this machine, from a short real run.

    The model step alone is not the loop: the discriminator, lifter and refiner batches, the
    imitation cycle and the data loader come with every step, and their share differs by machine
    (about 2x the model step on an H200, BENCHMARKS.md "On a lent GPU"). So this trains ``steps``
    steps (the imitation cycle from the first, so every timed step is a step of the full recipe)
    on the benchmark's own data into ``scratch`` (removed afterwards) and reads the logged
    throughput of the steps after the first third. Evaluations are not in it.
    """
    timing = timing_config(config, overrides, steps)
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        run = train(timing, scratch, progress=False)
        rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rates = [r["pairs_per_s"] for r in rows if "pairs_per_s" in r and r["step"] > steps // 3]
    return timing.train.batch_size / statistics.median(rates)


def run_benchmark(out: Path, data: Path | None = None, *, minutes: float | None = None, steps: int | None = None,
                  videos: int = 800, frames: int = 32, video_size: int = 128, eval_every: int = 100,
                  config: Path = CONFIG, overrides: list[str] | tuple[str, ...] = (), heldout_videos: int = 24,
                  workers: int = 1) -> dict:
    """Make the data (once), prepare the cache, train, and return the held-out curve.

    Args:
        out: output folder (``OUT/run`` the run, ``OUT/learning.json`` the result).
        data: where the synthetic sets live (default ``OUT/data``).
        minutes: budget on this machine, turned into steps from a timing of this recipe's step.
        steps: exact step count (instead of ``minutes``).
        videos, frames, video_size: the training set (one new person per clip).
        eval_every: steps between held-out evaluations.
        config, overrides: the recipe.
        heldout_videos: clips in the held-out set (12 people).
        workers: processes that make the data and the cache (not the training's loader workers).
    Returns:
        the result written to ``OUT/learning.json``: steps, minutes, the curve, final and best
        model/baseline PA-MPJPE ratios.
    """
    data = data or out / "data"
    started = time.perf_counter()
    make_data(data, videos, frames, video_size, heldout_videos, workers)
    base = [f"data.cache={data / 'cache'}", f"data.poses3d={data / 'poses3d.npy'}",
            f"data.eval_synthetic={data / 'heldout'}", f"train.eval_every={eval_every}", *overrides]
    recipe = load_config(config, base)
    settings = crop_settings(size=recipe.model.image_size, margin=recipe.data.margin)
    prepare_cache(index_videos(data / "train" / "videos", min_frames=recipe.data.min_gap + 1), data / "cache", settings,
                  workers=workers)
    steps = steps or max(eval_every, int(60 * (minutes or 10) / seconds_per_step(config, base, out / "timing")))
    recipe = load_config(config, base + [f"train.steps={steps}", f"train.checkpoint_every={max(steps // 4, 1)}"])
    data_minutes = (time.perf_counter() - started) / 60
    print(f"data, cache and step timing ready in {data_minutes:.1f} min; training {steps} steps", flush=True)

    started = time.perf_counter()
    run = train(recipe, out / "run")
    minutes_taken = (time.perf_counter() - started) / 60
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    curve = [{"step": r["step"], "samples": r["step"] * recipe.train.batch_size,
              **{key: r[f"eval/{who}_{metric}"] for key, who, metric in CURVE_KEYS}}
             for r in rows if "eval/model_pa_mpjpe" in r]
    result = {"steps": steps, "minutes": round(minutes_taken, 1), "data_minutes": round(data_minutes, 1),
              "batch_size": recipe.train.batch_size,
              "image_size": recipe.model.image_size, "overrides": list(overrides), "curve": curve,
              "final_ratio_pa_mpjpe": curve[-1]["pa_mpjpe"] / curve[-1]["baseline_pa_mpjpe"],
              "best_ratio_pa_mpjpe": min(c["pa_mpjpe"] for c in curve) / curve[-1]["baseline_pa_mpjpe"]}
    (out / "learning.json").write_text(json.dumps(result, indent=2))
    return result


def print_result(result: dict) -> None:
    """The curve as a table, and the final ratio against the goal."""
    curve = result["curve"]
    print(f"{result['steps']} steps in {result['minutes']:.1f} min (batch {result['batch_size']}, "
          f"{result['image_size']} px)")
    print(f"{'step':>6} {'PA-MPJPE':>9} {'N-MPJPE':>8} {'2D px':>6} {'side open':>9}   baseline "
          f"{curve[0]['baseline_pa_mpjpe']:.1f} / {curve[0]['baseline_n_mpjpe']:.1f} mm, constant 2D "
          f"{curve[0]['constant_joints2d_px']:.2f} / {curve[0]['constant_joints2d_either_side_px']:.2f} px")
    for c in curve:
        print(f"{c['step']:>6} {c['pa_mpjpe']:9.1f} {c['n_mpjpe']:8.1f} {c['joints2d_px']:6.2f} "
              f"{c['joints2d_either_side_px']:9.2f}")
    print(f"final PA-MPJPE / baseline: {result['final_ratio_pa_mpjpe']:.2f} (goal <= 0.70)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/learning"))
    parser.add_argument("--data", type=Path, default=None, help="where the synthetic sets live (default OUT/data)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="training budget on this machine, turned into steps from a timing of one step of "
                             "this recipe at the start (--steps is exact)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (instead of --minutes)")
    parser.add_argument("--videos", type=int, default=800, help="training clips, one new person each")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--video-size", type=int, default=128)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1, help="processes that make the data and the cache")
    parser.add_argument("-c", "--config", type=Path, default=CONFIG,
                        help="the recipe (default configs/heatmap_selfsup.yaml, the 2.5D recipe)")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args()
    print_result(run_benchmark(args.out, args.data, minutes=args.minutes, steps=args.steps, videos=args.videos,
                               frames=args.frames, video_size=args.video_size, eval_every=args.eval_every,
                               config=args.config, overrides=args.overrides, workers=args.workers))


if __name__ == "__main__":
    main()
