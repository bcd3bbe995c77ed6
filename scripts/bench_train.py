"""Training-step throughput, against this machine's own GEMM and memory-copy rates.

For each crop size: pairs per second of a full training step (forward, backward, AdamW) of the
part-guided synthesis model on random data; the FLOPs of one step counted with
``torch.utils.flop_counter`` and the achieved FLOP/s as a fraction of a dense float32 matmul
measured in the same run; and the puppet renderer's forward time against copying the same number
of output bytes (a memory-bound floor). Medians of repeated, interleaved measurements — these
machines are shared and noisy.

    python scripts/bench_train.py [--sizes 64 128] [--batch 16] [--repeats 7] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from posesynth.models.model import PoseSynthModel
from posesynth.skeleton import canonical_tpose

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
DEMO_SIZES = dict(encoder_width=16, encoder_stages=4, appearance_channels=32, appearance_width=16, decoder_width=16)


def timed(fn, repeats: int) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls after one warm-up (allocator, kernel selection)."""
    def call():
        fn()
        if DEVICE.type == "cuda":  # kernels run asynchronously: wait for them
            torch.cuda.synchronize()

    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def matmul_rate(n: int = 1024, repeats: int = 7) -> float:
    """Dense float32 matmul FLOP/s of this machine (median)."""
    a, b = torch.randn(n, n, device=DEVICE), torch.randn(n, n, device=DEVICE)
    return 2 * n ** 3 / statistics.median(timed(lambda: a @ b, repeats))


def copy_rate(nbytes: int, repeats: int = 7) -> float:
    """Bytes/s of writing ``nbytes`` (a read + write copy of a float32 buffer; median)."""
    src = torch.empty(nbytes // 4, device=DEVICE)
    dst = torch.empty_like(src)
    return nbytes / statistics.median(timed(lambda: dst.copy_(src), repeats))


def bench_size(size: int, batch: int, repeats: int) -> dict:
    """One crop size: a full training step's time and FLOPs, and the renderer against a copy."""
    torch.manual_seed(0)
    model = PoseSynthModel(image_size=size, **DEMO_SIZES).to(DEVICE)
    model.start_from_pose(canonical_tpose())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    source, target, background = torch.rand(3, batch, 3, size, size, device=DEVICE).unbind(0)

    def step():
        out = model(source, target, background)
        loss = (out["synthesis"] - target).abs().mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()
    gemm = matmul_rate()
    step_times = timed(step, repeats)

    with torch.no_grad():
        enc = model.encode_pose(torch.cat([target, source]))
        render = lambda: model.render(enc["joints2d"], enc["depth"])  # noqa: E731
        maps = render()
        render_times = timed(render, repeats)
    floor = maps.numel() * maps.element_size() / copy_rate(maps.numel() * maps.element_size())
    step_s = statistics.median(step_times)
    render_s = statistics.median(render_times)
    return {
        "size": size, "batch": batch, "parameters_M": sum(p.numel() for p in model.parameters()) / 1e6,
        "step_s_median": step_s, "pairs_per_s": batch / step_s, "step_gflop": flops / 1e9,
        "achieved_gflops": flops / step_s / 1e9, "matmul_gflops": gemm / 1e9, "fraction_of_matmul": flops / step_s / gemm,
        "render_ms_median": render_s * 1e3, "render_bytes_MB": maps.numel() * 4 / 1e6,
        "copy_floor_ms": floor * 1e3, "render_over_copy": render_s / floor,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rows = [bench_size(s, args.batch, args.repeats) for s in args.sizes]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'size':>5} {'pairs/s':>8} {'GFLOP/step':>10} {'GFLOP/s':>8} {'of matmul':>9} {'render ms':>9} {'copy ms':>8} {'ratio':>6}")
    for r in rows:
        print(f"{r['size']:>5} {r['pairs_per_s']:8.1f} {r['step_gflop']:10.2f} {r['achieved_gflops']:8.1f} "
              f"{r['fraction_of_matmul']:9.1%} {r['render_ms_median']:9.2f} {r['copy_floor_ms']:8.2f} {r['render_over_copy']:6.1f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
