"""Generate the bundled demo clips: ``assets/demo/train`` and ``assets/demo/heldout``.

The held-out split uses subjects that never appear in training (bodies and clothes differ),
so the demo's evaluation measures generalisation to new people. Both folders follow the
layout of ``posesynth.synth.dataset`` (videos/, labels/, scenes.json).

Usage: ``python scripts/make_demo_assets.py [--out assets/demo] [--frames 80] [--size 128]``
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from posesynth.synth.dataset import generate_dataset
from posesynth.synth.motion_programs import ACTIONS

TRAIN_SUBJECTS = (1, 2, 3, 4, 5)
HELDOUT_SUBJECTS = (9, 11)
MAX_TOTAL_BYTES = 4 * 1024 * 1024


def folder_bytes(path: Path) -> int:
    """Total size of the files under ``path``, bytes."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "assets" / "demo"))
    parser.add_argument("--train-videos", type=int, default=len(ACTIONS), help="one clip per motion by default")
    parser.add_argument("--heldout-videos", type=int, default=2)
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    out = Path(args.out)
    splits = {"train": (args.train_videos, TRAIN_SUBJECTS, args.seed),
              "heldout": (args.heldout_videos, HELDOUT_SUBJECTS, args.seed + 1000)}
    for split, (videos, subjects, seed) in splits.items():
        target = out / split
        if target.exists():  # stale clips from an earlier run would leak into the split
            shutil.rmtree(target)
        generate_dataset(target, videos=videos, frames=args.frames, size=args.size, seed=seed,
                         subjects=subjects, progress=False)
        print(f"{split}: {videos} clips, subjects {list(subjects)}, {folder_bytes(target) / 1e6:.2f} MB in {target}")
    total = folder_bytes(out)
    print(f"total {total / 1e6:.2f} MB")
    if total > MAX_TOTAL_BYTES:
        print(f"warning: demo assets exceed {MAX_TOTAL_BYTES / 1e6:.1f} MB; use fewer frames or a smaller size")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
