"""Where a training step of the recipe goes: the whole loop against the loop with one part removed.

On the lent H200 the recipe's loop ran at 6.2 steps/s where the model step alone (``bench_train``)
allowed about 20 (BENCHMARKS.md, "On a lent GPU"), and the model step took the same time at 64
and 128 px: the GPU waited for kernel launches, not arithmetic. A launch-bound step costs about
the same per operator whatever the operator computes, so the number of operators a step
dispatches is what predicts its GPU time, and it can be counted on any machine. For each variant
of the recipe (the whole loop, then without the imitation cycle, without the lifter and refiner
batches, without the discriminator, and the model step alone) this runs the real training loop
(``posesynth.training.train.train``) on a ``bench_learning.py`` data folder and reports

- the aten operators dispatched per step, forward and backward (a ``TorchDispatchMode`` counter;
  the difference of a ``2n``-step and an ``n``-step run, so setup and checkpoint writing cancel);
- seconds per step on this machine (``bench_learning.seconds_per_step``: the logged throughput
  after the first third of the steps).

    python scripts/bench_step_anatomy.py --data DATA [--steps 30] [--set KEY=VALUE ...] [--no-operators] [--json OUT]

DATA is a folder made by ``scripts/bench_learning.py`` (``cache/``, ``poses3d.npy``); the loop
runs with its evaluation and samples off, the imitation cycle from the first step.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from torch.utils._python_dispatch import TorchDispatchMode

from bench_learning import seconds_per_step, timing_config

from posesynth.training.train import train

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "heatmap_selfsup.yaml"

# each variant: the recipe with these overrides (what it removes, for the marginal cost)
VARIANTS: dict[str, tuple[str, ...]] = {
    "whole loop": (),
    "no imitation cycle": ("loss.imitation=0",),
    "no lifter or refiner batches": ("model.lifter=false", "loss.lifting=0", "model.refiner=false", "loss.refining=0"),
    "no discriminator": ("loss.adversarial=0",),
    "model step only": ("loss.imitation=0", "model.lifter=false", "loss.lifting=0", "model.refiner=false",
                        "loss.refining=0", "loss.adversarial=0"),
}


class OperatorCounter(TorchDispatchMode):
    """Counts every aten operator dispatched while active (forward, backward, optimiser)."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def data_overrides(data: Path) -> list[str]:
    """The benchmark's training data and unpaired poses in ``data`` (a ``bench_learning.py`` folder)."""
    return [f"data.cache={data / 'cache'}", f"data.poses3d={data / 'poses3d.npy'}"]


def operators_per_step(config: Path, overrides: list[str], steps: int, scratch: Path) -> float:
    """aten operators per training step: (count over 2n steps − count over n steps) / n, n = ``steps``."""
    counts = []
    for n in (steps, 2 * steps):
        shutil.rmtree(scratch, ignore_errors=True)
        with OperatorCounter() as counter:
            train(timing_config(config, overrides, n), scratch, progress=False)
        counts.append(counter.count)
    shutil.rmtree(scratch, ignore_errors=True)
    return (counts[1] - counts[0]) / steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True,
                        help="a bench_learning.py data folder (cache/, poses3d.npy)")
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--steps", type=int, default=30,
                        help="steps of each timed run; operators are counted over runs of steps/5 and 2·steps/5")
    parser.add_argument("--set", dest="overrides", nargs="*", default=[], metavar="KEY=VALUE",
                        help="recipe overrides for every variant (e.g. model.image_size=128 train.batch_size=32)")
    parser.add_argument("--no-operators", action="store_true",
                        help="time only (the operator counts are the same on every machine: skip them on a lent GPU)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    missing = [p for p in (args.data / "cache", args.data / "poses3d.npy") if not p.exists()]
    if missing:
        print(f"error: {missing[0]} not found: --data must be a folder made by scripts/bench_learning.py "
              f"(run it once with --out, or make_data + prepare)", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, removed in VARIANTS.items():
            overrides = [*data_overrides(args.data), *args.overrides, *removed]
            ops = (float("nan") if args.no_operators else
                   operators_per_step(args.config, overrides, max(2, args.steps // 5), Path(scratch) / "ops"))
            seconds = seconds_per_step(args.config, overrides, Path(scratch) / "time", steps=args.steps)
            rows.append({"variant": name, "overrides": list(removed), "operators_per_step": ops,
                         "seconds_per_step": seconds})
            print(f"{name:>30}: {ops:8.0f} operators/step, {seconds * 1e3:7.1f} ms/step", flush=True)
    whole = rows[0]
    print("\nshare of the whole loop's operators and time:")
    for row in rows[1:]:
        print(f"{row['variant']:>30}: {row['operators_per_step'] / whole['operators_per_step']:6.1%} of the operators, "
              f"{row['seconds_per_step'] / whole['seconds_per_step']:6.1%} of the time")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"overrides": args.overrides, "steps": args.steps, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
