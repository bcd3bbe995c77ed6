"""Worker processes for the data: rendering (``generate_dataset``) and caching (``prepare_cache``).

Times both with one process (torch's own threads) and with ``--workers`` processes (one thread
each), on the same clips, alternating, and prints the medians and their ratio. The outputs are
the same either way (tests/synth, tests/data check it byte for byte).

    python scripts/bench_workers.py --videos 96 --repeats 2 --workers 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from posesynth.data.cache import crop_settings
from posesynth.data.prepare import prepare_cache
from posesynth.synth.dataset import generate_dataset
from posesynth.video.index import index_videos


def time_once(root: Path, videos: int, frames: int, size: int, crop: int, workers: int) -> tuple[float, float]:
    """Seconds to render ``videos`` clips into ``root`` and to cache them, with ``workers`` processes."""
    shutil.rmtree(root, ignore_errors=True)
    start = time.perf_counter()
    generate_dataset(root, videos=videos, frames=frames, size=size, seed=0, subjects=range(1, videos + 1),
                     progress=False, workers=workers)
    rendered = time.perf_counter()
    prepare_cache(index_videos(root / "videos", min_frames=2), root / "cache", crop_settings(size=crop),
                  progress=False, force=True, workers=workers)
    return rendered - start, time.perf_counter() - rendered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=96)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--size", type=int, default=128, help="video side, pixels")
    parser.add_argument("--crop", type=int, default=64, help="cache crop side, pixels")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    times: dict[int, list[tuple[float, float]]] = {1: [], args.workers: []}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.repeats):
            for workers in times:
                times[workers].append(time_once(Path(scratch) / f"w{workers}", args.videos, args.frames, args.size,
                                                args.crop, workers))
    result = {"videos": args.videos, "frames": args.frames, "size": args.size, "crop": args.crop}
    for i, stage in enumerate(("render", "cache")):
        one, many = (statistics.median(t[i] for t in times[w]) for w in (1, args.workers))
        result[stage] = {"one_process_s": round(one, 2), f"{args.workers}_workers_s": round(many, 2),
                         "speed_up": round(one / many, 2)}
        print(f"{stage}: {one:.2f} s in one process, {many:.2f} s with {args.workers} workers ({one / many:.2f}x)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
