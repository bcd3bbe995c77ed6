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
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from posesynth.config import load_config
from posesynth.data.cache import crop_settings, prepare_cache
from posesynth.data.synthetic import generate_dataset
from posesynth.data.videos import index_videos
from posesynth.models.model import PoseSynthModel
from posesynth.synth.poses import sample_poses
from posesynth.train import model_kwargs, train

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"


def make_data(root: Path, videos: int, frames: int, size: int) -> None:
    """Training clips (subjects 1–8), held-out clips (9, 11) and unpaired poses, if not there yet."""
    if not (root / "train" / "scenes.json").is_file():
        generate_dataset(root / "train", videos=videos, frames=frames, size=size, seed=0, subjects=range(1, 9))
    if not (root / "heldout" / "scenes.json").is_file():
        generate_dataset(root / "heldout", videos=6, frames=frames, size=size, seed=1, subjects=[9, 11])
    if not (root / "poses3d.npy").is_file():
        np.save(root / "poses3d.npy", sample_poses(clips=160, frames=frames, seed=7, subjects=range(1, 9)))


def seconds_per_step(config) -> float:
    """Median time of a forward+backward+AdamW step at the configured size, on random data."""
    model = PoseSynthModel(**model_kwargs(config))
    optimizer = torch.optim.AdamW(model.parameters())
    s, b = config.model.image_size, config.train.batch_size
    images = torch.rand(3, b, 3, s, s)
    times = []
    for _ in range(4):
        start = time.perf_counter()
        out = model(*images)
        (out["synthesis"] - images[1]).abs().mean().backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:]) * 1.15  # + data loading, discriminator, logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/learning"))
    parser.add_argument("--data", type=Path, default=None, help="where the synthetic sets live (default OUT/data)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="training budget on this machine, turned into steps from a short timing at the "
                             "start (a busy machine then gives fewer steps; --steps is exact)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (instead of --minutes)")
    parser.add_argument("--videos", type=int, default=40)
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--video-size", type=int, default=128)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args()

    data = args.data or args.out / "data"
    make_data(data, args.videos, args.frames, args.video_size)
    base = [f"data.cache={data / 'cache'}", f"data.poses3d={data / 'poses3d.npy'}",
            f"data.eval_synthetic={data / 'heldout'}", f"train.eval_every={args.eval_every}", *args.overrides]
    config = load_config(CONFIG, base)
    steps = args.steps or max(args.eval_every, int(60 * (args.minutes or 10) / seconds_per_step(config)))
    config = load_config(CONFIG, base + [f"train.steps={steps}", f"train.checkpoint_every={max(steps // 4, 1)}"])
    settings = crop_settings(size=config.model.image_size, margin=config.data.margin)
    prepare_cache(index_videos(data / "train" / "videos", min_frames=config.data.min_gap + 1), data / "cache", settings)

    started = time.perf_counter()
    run = train(config, args.out / "run")
    minutes = (time.perf_counter() - started) / 60
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    curve = [{"step": r["step"], "pa_mpjpe": r["eval/model_pa_mpjpe"], "n_mpjpe": r["eval/model_n_mpjpe"],
              "baseline_pa_mpjpe": r["eval/baseline_pa_mpjpe"], "baseline_n_mpjpe": r["eval/baseline_n_mpjpe"]}
             for r in rows if "eval/model_pa_mpjpe" in r]
    result = {"steps": steps, "minutes": round(minutes, 1), "batch_size": config.train.batch_size,
              "image_size": config.model.image_size, "curve": curve,
              "final_ratio_pa_mpjpe": curve[-1]["pa_mpjpe"] / curve[-1]["baseline_pa_mpjpe"],
              "best_ratio_pa_mpjpe": min(c["pa_mpjpe"] for c in curve) / curve[-1]["baseline_pa_mpjpe"]}
    (args.out / "learning.json").write_text(json.dumps(result, indent=2))
    print(f"{steps} steps in {minutes:.1f} min (batch {config.train.batch_size}, {config.model.image_size} px)")
    print(f"{'step':>6} {'PA-MPJPE':>9} {'N-MPJPE':>8}   baseline {curve[0]['baseline_pa_mpjpe']:.1f} / "
          f"{curve[0]['baseline_n_mpjpe']:.1f} mm")
    for c in curve:
        print(f"{c['step']:>6} {c['pa_mpjpe']:9.1f} {c['n_mpjpe']:8.1f}")
    print(f"final PA-MPJPE / baseline: {result['final_ratio_pa_mpjpe']:.2f} (goal <= 0.70)")


if __name__ == "__main__":
    main()
