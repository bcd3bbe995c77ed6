"""Time the puppet renderer against two yardsticks measured in the same run.

- copy: writing the renderer's output bytes once (``torch.empty_like(out).copy_(out)``), the
  memory-bound floor of any op that produces that tensor;
- cnn: the forward pass of a small 4-layer CNN on a (B, 3, H, W) image batch, the cheapest
  network the model runs on every image.

Usage:  python scripts/bench_render.py [--batch 16] [--sizes 64 128] [--repeats 20] [--threads 1] [--out bench.json]
Prints a table of median milliseconds and ratios; ``--out`` also writes them as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Callable

import torch
from torch import nn

from posesynth import geometry as g
from posesynth import skeleton
from posesynth import kinematics
from posesynth.render import puppet


def median_ms(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 3) -> dict[str, float]:
    """Median milliseconds of each function, timed round-robin so that load from other processes
    on a shared machine hits every function alike (the ratios are what this script reports)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: 1000.0 * statistics.median(t) for name, t in times.items()}


def random_people(batch: int, size: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Random plausible poses 4 m in front of a camera whose crop fits a standing person."""
    local = kinematics.rest_directions() + 0.5 * torch.randn(batch, skeleton.NUM_BONES, 3)
    yaw = g.elementary_rotation(torch.rand(batch) * 6.28, "y")
    pose = kinematics.forward_kinematics(kinematics.local_to_global_directions(local, yaw))
    pose = pose + torch.tensor([0.0, 0.0, 4.0])
    focal = 0.8 * size * 4.0 / 1.8  # a 1.8 m person fills 80% of the crop
    uv = g.project(pose, g.intrinsics(focal, (size - 1) / 2, (size - 1) / 2))
    return uv, pose[..., 2], focal


def small_cnn() -> nn.Module:
    layers, c_in = [], 3
    for c_out, stride in ((32, 1), (64, 2), (128, 2), (128, 2)):
        layers += [nn.Conv2d(c_in, c_out, 3, stride, 1), nn.SiLU()]
        c_in = c_out
    return nn.Sequential(*layers).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (1 is steadiest "
                        "on a shared machine)")
    parser.add_argument("--out", type=str, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cnn = small_cnn()
    rows = []
    for size in args.sizes:
        uv, depth, focal = random_people(args.batch, size)
        out = puppet.render_part_maps(uv, depth, (size, size), focal=focal)
        image = torch.rand(args.batch, 3, size, size)
        uv_grad, depth_grad = uv.clone().requires_grad_(), depth.clone().requires_grad_()
        weights = torch.rand_like(out)

        def forward_backward() -> None:
            maps = puppet.render_part_maps(uv_grad, depth_grad, (size, size), focal=focal)
            (maps * weights).sum().backward()

        with torch.no_grad():
            ms = median_ms({"render": lambda: puppet.render_part_maps(uv, depth, (size, size), focal=focal),
                            "copy": lambda: torch.empty_like(out).copy_(out),
                            "cnn": lambda: cnn(image)}, args.repeats)
        render, copy, conv = ms["render"], ms["copy"], ms["cnn"]
        both = median_ms({"fwd_bwd": forward_backward}, args.repeats)["fwd_bwd"]
        rows.append(dict(size=size, batch=args.batch, parts=puppet.NUM_PARTS, output_mb=out.numel() * 4 / 2**20,
                         render_ms=render, render_fwd_bwd_ms=both, copy_ms=copy, cnn_ms=conv,
                         render_over_copy=render / copy, render_over_cnn=render / conv))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats}")
    print("size  out MB  render ms  fwd+bwd ms  copy ms  cnn ms  render/copy  render/cnn")
    for r in rows:
        print(f"{r['size']:4d}  {r['output_mb']:6.1f}  {r['render_ms']:9.2f}  {r['render_fwd_bwd_ms']:10.2f}  "
              f"{r['copy_ms']:7.2f}  {r['cnn_ms']:6.2f}  {r['render_over_copy']:11.1f}  {r['render_over_cnn']:10.2f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dict(torch=torch.__version__, threads=torch.get_num_threads(), rows=rows), f, indent=2)


if __name__ == "__main__":
    main()
