"""Benchmark: frame pairs per second from the prepared cache vs random access into the raw videos.

Both datasets read the *same* pairs (same seed, same indices) in one run; each repeat uses fresh
pairs (so the raw reader's remembered boxes do not flatter it) and the order of the two readers
alternates. Shared machines are noisy, so the result is the median over repeats of the per-repeat
ratio. The raw path is timed after a warm-up that computes each video's background once (as a
training worker would), so the ratio measures steady-state reads.

    python scripts/bench_data.py --videos ../shared/realdata --json bench_data.json
    python scripts/bench_data.py            # synthetic clips written to a temporary folder
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch

from posesynth.data.cache import crop_settings
from posesynth.data.prepare import prepare_cache
from posesynth.data.pairs import FramePairDataset
from posesynth.video.index import index_videos


def write_synthetic_clips(folder: Path, count: int = 3, frames: int = 200, width: int = 640, height: int = 360,
                          gop: int = 50) -> None:
    """H.264 clips of a box moving over a textured static background (keyframe every ``gop``)."""
    rng = np.random.default_rng(0)
    for c in range(count):
        background = rng.integers(30, 200, (height, width, 3), dtype=np.uint8)
        with av.open(str(folder / f"clip{c}.mp4"), "w") as container:
            stream = container.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt, stream.options = width, height, "yuv420p", {"g": str(gop)}
            for i in range(frames):
                image = background.copy()
                x = int((width - 80) * i / (frames - 1))
                image[height // 4:3 * height // 4, x:x + 80] = (230, 60, 30)
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)


def time_pairs(dataset: FramePairDataset, items: range, rounds: int = 1) -> float:
    """Pairs per second reading ``items`` one by one (as a DataLoader worker does), ``rounds`` times."""
    start = time.perf_counter()
    for _ in range(rounds):
        for i in items:
            dataset[i]
    return rounds * len(items) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=Path, default=None, help="folder of videos (default: synthetic clips)")
    parser.add_argument("--size", type=int, default=64, help="crop side in pixels")
    parser.add_argument("--pairs", type=int, default=24, help="pairs per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-gap", type=int, default=5)
    parser.add_argument("--max-gap", type=int, default=50)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one DataLoader worker's view: workers run single-threaded

    with tempfile.TemporaryDirectory() as temp:
        videos = args.videos
        if videos is None:
            videos = Path(temp) / "videos"
            videos.mkdir()
            write_synthetic_clips(videos)
        index = index_videos(videos, min_frames=args.min_gap + 1)
        settings = crop_settings(size=args.size)
        start = time.perf_counter()
        prepare_cache(index, Path(temp) / "cache", settings, progress=False)
        prepare_seconds = time.perf_counter() - start
        frames = sum(v.frames for v in index.videos)

        kwargs = dict(size=args.size, min_gap=args.min_gap, max_gap=args.max_gap, seed=0,
                      pairs_per_epoch=args.pairs * (args.repeats + 1))
        raw = FramePairDataset(videos, **kwargs)
        cached = FramePairDataset(cache=Path(temp) / "cache", **kwargs)
        start = time.perf_counter()
        for v in range(len(raw.videos)):  # each video's background, once, as in a training worker
            raw.load_pair(v, 0, args.min_gap)
        warmup_seconds = time.perf_counter() - start
        time_pairs(cached, range(args.pairs))

        rows = []
        for r in range(args.repeats):
            items = range((r + 1) * args.pairs, (r + 2) * args.pairs)  # fresh pairs every repeat
            # the cache reads take milliseconds: read its pairs 10 times for a stable time
            if r % 2:
                cache_rate, raw_rate = time_pairs(cached, items, rounds=10), time_pairs(raw, items)
            else:
                raw_rate, cache_rate = time_pairs(raw, items), time_pairs(cached, items, rounds=10)
            rows.append({"raw_pairs_per_s": raw_rate, "cache_pairs_per_s": cache_rate, "ratio": cache_rate / raw_rate})
            print(f"repeat {r}: raw {raw_rate:8.1f} pairs/s   cache {cache_rate:8.1f} pairs/s   "
                  f"ratio {cache_rate / raw_rate:6.1f}x", file=sys.stderr)

    result = {
        "videos": str(args.videos or "synthetic: 3 clips, 200 frames, 640x360, GOP 50"),
        "video_count": len(index.videos), "frames": frames, "size": args.size, "pairs_per_repeat": args.pairs,
        "repeats": args.repeats, "torch_threads": 1,
        "prepare_seconds": round(prepare_seconds, 2), "prepare_frames_per_s": round(frames / prepare_seconds, 1),
        "raw_warmup_seconds": round(warmup_seconds, 2),
        "median_raw_pairs_per_s": round(statistics.median(r["raw_pairs_per_s"] for r in rows), 2),
        "median_cache_pairs_per_s": round(statistics.median(r["cache_pairs_per_s"] for r in rows), 1),
        "median_ratio": round(statistics.median(r["ratio"] for r in rows), 1),
        "repeats_detail": rows,
    }
    print(f"| videos | frames | S | raw pairs/s | cache pairs/s | cache / raw (median) | prepare frames/s |\n"
          f"|---|---|---|---|---|---|---|\n"
          f"| {result['videos']} | {frames} | {args.size} | {result['median_raw_pairs_per_s']} | "
          f"{result['median_cache_pairs_per_s']} | {result['median_ratio']}x | {result['prepare_frames_per_s']} |")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
