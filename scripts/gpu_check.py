"""One call on a lent GPU: training-step throughput and the learning benchmark at 128 px in bf16.

Meant for the ``device`` machine a session is sometimes lent (15 minutes in all): one prepared
command that writes one JSON, so that the whole check is a single call. It runs

1. ``bench_train.bench_size`` at 64 and 128 px (pairs/s, GFLOP/s);
2. ``bench_learning.run_benchmark`` at 128 px crops from 256 px videos, ``mixed_precision=bf16``
   (where the GPU has it), the self-supervised recipe (``configs/heatmap_selfsup.yaml``, the 2.5D
   recipe, unless ``--set`` overrides say otherwise), for ``--steps`` or ``--minutes``,
   with the held-out curve. The data (800 clips at 256 px) are rendered and cached by all the
   machine's cores, in worker processes.

``--tiny`` runs the same code on a CPU in well under a minute (a test runs it, through
``scripts/gpu_check.sh``), so the GPU call never meets an untested path.

    python scripts/gpu_check.py --out OUT/gpu_check --steps 1200 --seeds 0 1
    python scripts/gpu_check.py --out /tmp/check --tiny
    bash scripts/gpu_check.sh --minutes 2 --seeds 0 1 --videos 400   # on the device machine: wheels, timeout, $OUT

On the H200 of 2026-11-27 (BENCHMARKS.md, "On a lent GPU") everything but the training took
about 3.7 minutes and the whole training loop ran about 6.2 steps/s, half the speed that the
``--minutes`` timing then predicted (it timed the model step alone; it now times 30 steps of
the real loop). ``gpu_check.sh`` wraps the call in ``timeout`` all the same; the JSON is
written after each phase and each seed's log (``OUT/learning_s<seed>/run/log.jsonl``, one
held-out evaluation every 250 steps) survives a cut.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_learning import run_benchmark  # noqa: E402
from bench_train import bench_size  # noqa: E402

from posesynth.training.checkpoints import export_weights  # noqa: E402


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=6.0,
                        help="learning benchmark budget (training steps, evaluations on top), turned into steps "
                             "from a 30-step timing of the whole loop")
    parser.add_argument("--steps", type=int, default=None, help="exact training steps (instead of --minutes)")
    parser.add_argument("--videos", type=int, default=800, help="training clips (one new person each)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one learning run per seed, one after another")
    parser.add_argument("--tiny", action="store_true", help="a CPU smoke run of every step (tiny sizes)")
    # an option, not trailing positionals, which --seeds would swallow
    parser.add_argument("--set", dest="recipe", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                        help="overrides of the learning recipe, e.g. --set model.facing_head=true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report: dict = {"device": device_name(), "torch": torch.__version__, "tiny": args.tiny}

    sizes, batch = ((32,), 2) if args.tiny else ((64, 128), 16)
    report["throughput"] = [bench_size(s, batch, repeats=2 if args.tiny else 7) for s in sizes]
    print(json.dumps(report["throughput"], indent=1), flush=True)
    report["throughput_seconds"] = round(time.perf_counter() - started, 1)
    print(f"[{report['throughput_seconds']:.0f} s] throughput done; making the data", flush=True)

    write(report, args.out)

    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    # the machine's cores make the data and the cache; half of them feed the training loop
    cores = os.cpu_count() or 1
    recipe = [f"train.mixed_precision={'bf16' if bf16 else 'auto'}", f"data.num_workers={max(cores // 2, 1)}"]
    if args.tiny:  # every path at toy sizes; a budget too small for more than the minimum of steps
        recipe += ["model.image_size=32", "model.encoder_stages=3", "train.batch_size=2", "data.min_gap=2",
                   "data.max_gap=6", "data.num_workers=0", "loss.imitation_start=1", "train.warmup_steps=1",
                   "train.refiner_fit_iterations=10",  # the refiner's and the side classifier's fits
                   "train.side_fit_iterations=2"]      # after the last step, in brief
        budget = dict(minutes=1e-3, videos=2, frames=8, video_size=64, eval_every=2, heldout_videos=1, workers=2)
    else:
        recipe += ["model.image_size=128", "model.encoder_width=32", "model.appearance_width=32",
                   "model.decoder_width=32", "model.appearance_channels=64", "train.batch_size=32"]
        budget = dict(minutes=args.minutes, steps=args.steps, videos=args.videos, video_size=256, eval_every=250,
                      workers=cores)
    report["learning"] = []
    for seed in args.seeds:  # one data set for every seed
        out = args.out / f"learning_s{seed}"
        learning = run_benchmark(out, args.out / "data", overrides=[*recipe, f"train.seed={seed}", *args.recipe],
                                 **budget)
        # the trained model in half precision, for diagnosing on another machine (gpu_check.sh
        # splits it into parts the device tool can bring back)
        export_weights(out / "run", args.out / f"model_s{seed}.pt")
        report["learning"].append({"seed": seed, **learning})
        report["seconds"] = round(time.perf_counter() - started, 1)
        write(report, args.out)
        print(f"[{report['seconds']:.0f} s] seed {seed}: final PA-MPJPE / baseline "
              f"{learning['final_ratio_pa_mpjpe']:.2f}", flush=True)
    print(f"wrote {args.out / 'gpu_check.json'} ({report['seconds']:.0f} s on {report['device']})")


def write(report: dict, out: Path) -> None:
    """Write what is known so far: a call cut short by its time limit still leaves its JSON."""
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
