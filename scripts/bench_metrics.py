"""Benchmark posesynth.evaluation.metrics: batched PA-MPJPE against a naive per-pose loop.

The naive loop (one numpy SVD per pose, as evaluation scripts commonly do) runs on a subset and
is extrapolated per pose; both sides see the same poses in the same run, with repeats
interleaved, so the ratio is robust to a noisy shared machine even when absolute times are not.

    python scripts/bench_metrics.py [--n 1000000] [--naive 2000] [--repeats 5] [--threads T] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from posesynth.evaluation import metrics
from posesynth.skeleton import canonical_tpose


def naive_pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-pose loop: (N, J, 3) mm → (N,) mm, one SVD per pose."""
    out = np.empty(len(pred))
    for i, (p, g) in enumerate(zip(pred, gt)):
        x, y = p - p.mean(0), g - g.mean(0)
        u, s, vt = np.linalg.svd(x.T @ y)
        d = np.sign(np.linalg.det(vt.T @ u.T))
        rot = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
        scale = (s[0] + s[1] + d * s[2]) / (x ** 2).sum()
        out[i] = np.linalg.norm(scale * x @ rot.T + g.mean(0) - g, axis=-1).mean()
    return out


def interleaved_times(jobs: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Wall times of each job; repeats are interleaved so load spikes hit every job alike."""
    for fn in jobs.values():  # warm-up: allocator, thread pool, LAPACK workspace
        fn()
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(repeats):
        for name, fn in jobs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="poses for the batched metrics")
    parser.add_argument("--naive", type=int, default=2000, help="poses for the naive loop (extrapolated)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    g = torch.Generator().manual_seed(0)
    gt = canonical_tpose(torch.float32) * 1000.0 + 80.0 * torch.randn(args.n, 17, 3, generator=g)
    pred = gt + 40.0 * torch.randn(args.n, 17, 3, generator=g)
    sub_pred, sub_gt = pred[: args.naive].double().numpy(), gt[: args.naive].double().numpy()

    # the two implementations must agree before their speeds mean anything
    agree = np.abs(metrics.pa_mpjpe(sub_pred, sub_gt).numpy() - naive_pa_mpjpe(sub_pred, sub_gt)).max()
    assert agree < 1e-6, f"batched and naive PA-MPJPE disagree by {agree} mm"

    jobs: dict[str, Callable[[], object]] = {
        name: (lambda fn=fn: fn(pred, gt))
        for name, fn in (("mpjpe", metrics.mpjpe), ("n_mpjpe", metrics.n_mpjpe),
                         ("pa_mpjpe", metrics.pa_mpjpe), ("auc", metrics.auc))
    }
    jobs["naive"] = lambda: naive_pa_mpjpe(sub_pred, sub_gt)
    times = interleaved_times(jobs, args.repeats)
    # µs per pose: median (the typical run) and min (least disturbed by other processes)
    per_pose = {name: {stat: fn(t) / (args.naive if name == "naive" else args.n) * 1e6
                       for stat, fn in (("median", statistics.median), ("min", min))}
                for name, t in times.items()}
    speedup = {stat: per_pose["naive"][stat] / per_pose["pa_mpjpe"][stat] for stat in ("median", "min")}
    result = {
        "n_poses": args.n, "naive_poses": args.naive, "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
        "times_s": times, "us_per_pose": per_pose, "pa_mpjpe_speedup": speedup,
        "max_abs_diff_mm": float(agree),
    }

    print(f"{args.n} poses × 17 joints (naive loop: {args.naive}, extrapolated), float32 in, float64 inside; "
          f"{args.repeats} interleaved repeats, {torch.get_num_threads()} torch threads")
    print(f"| {'metric':<26} | {'µs/pose = s per 1M (median)':>27} | {'µs/pose (min)':>13} |")
    print(f"| {'-' * 26} | {'-' * 26}: | {'-' * 12}: |")
    for name, stats in per_pose.items():
        label = "pa_mpjpe (numpy loop)" if name == "naive" else f"{name} (batched)"
        print(f"| {label:<26} | {stats['median']:>27.3f} | {stats['min']:>13.3f} |")
    print(f"PA-MPJPE speed-up, batched vs per-pose loop: {speedup['median']:.1f}× (medians), "
          f"{speedup['min']:.1f}× (minima)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
