"""How often the walking direction labels a pair's facing, and how often that label is right.

Reads a labelled ``posesynth synth`` folder's label files only (no video is decoded): for every
ordered pair of frames ``min_gap``–``max_gap`` apart (the trainer's pairs), the label of
:func:`posesynth.losses.facing.travel_facing` from the ankles' true image positions, optionally
with Gaussian noise of ``--noise-px`` pixels of a 64 px crop added to each (a trained encoder's
ankles are not exact), against the later frame's true side (:func:`posesynth.skeleton.facing_side`).
Prints the coverage (labelled pairs / pairs) and precision, overall and per motion.

    python scripts/check_travel_labels.py --data runs/bench/data/train --noise-px 2
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from posesynth.losses.facing import ANKLES, travel_facing
from posesynth.skeleton import facing_side
from posesynth.synth.dataset import load_labels


def clip_pairs(frames: int, min_gap: int, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """(earlier, later) frame indices of every pair ``min_gap ≤ later − earlier ≤ max_gap``."""
    first, second = np.meshgrid(np.arange(frames), np.arange(frames), indexing="ij")
    keep = (second - first >= min_gap) & (second - first <= max_gap)
    return first[keep], second[keep]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a labelled synthetic folder (labels/*.npz)")
    parser.add_argument("--min-gap", type=int, default=16)
    parser.add_argument("--max-gap", type=int, default=90)
    parser.add_argument("--noise-px", type=float, default=0.0, help="ankle noise, pixels of a 64 px crop")
    parser.add_argument("--margin", type=float, default=1.25, help="crop box side / the person's box's longer side "
                        "(data.margin: the trainer's boxes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()

    files = sorted((args.data / "labels").glob("*.npz"))
    if not files:
        raise SystemExit(f"{args.data}/labels has no .npz label files: pass a folder written by `posesynth synth`")
    rng = np.random.default_rng(args.seed)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # pairs, labelled, right
    for path in files:
        labels = load_labels(path)
        joints2d, boxes = labels["joints2d"].astype(np.float64), labels["boxes"].astype(np.float64)
        side = args.margin * np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        feet = joints2d[:, list(ANKLES)] + rng.normal(size=(len(joints2d), 2, 2)) * (args.noise_px * side / 64)[:, None, None]
        feet = torch.as_tensor(feet.mean(axis=1))
        first, second = clip_pairs(len(joints2d), args.min_gap, args.max_gap)
        label = travel_facing(feet[first], feet[second], torch.as_tensor((side[first] + side[second]) / 2))
        away = facing_side(torch.as_tensor(joints2d[second])) > 0
        known = label != 0
        motion = str(labels["motion"])
        for key in (motion, "all"):
            counts[key][0] += len(first)
            counts[key][1] += int(known.sum())
            counts[key][2] += int(((label[known] > 0) == away[known]).sum())
    report = {key: {"pairs": n, "coverage": labelled / n, "precision": right / labelled if labelled else float("nan")}
              for key, (n, labelled, right) in sorted(counts.items())}
    for key, row in report.items():
        print(f"{key:10s} pairs {row['pairs']:7d}  coverage {row['coverage']:.3f}  precision {row['precision']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
