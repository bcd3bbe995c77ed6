"""How right are the relative-depth labels made from 2D alone? Measured against known 3D.

Makes labels from the synthetic set's exact 2D joints (optionally with pixel noise, standing in
for a detector) with :func:`posesynth.data.depth_labels.depth_labels`, and compares them with the
true depth order of the same joints' camera-frame z:

- ordered labels: sign accuracy (the true z_i − z_j has the label's sign) and strict accuracy
  (also |z_i − z_j| > equal_m); equal labels: |z_i − z_j| < equal_m;
- per label kind (bone, chain, ground), per confidence bucket, and coverage (labelled pairs of
  the 136; truly ordered pairs that got a correct ordered label);
- the same on the four real Human3.6M frames of ``../shared/realdata/mmpose/h36m`` when present.

    python scripts/bench_depth_labels.py --out runs/bench_depth_labels.json
    python scripts/bench_depth_labels.py --data SYNTH_DIR --noise-px 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from posesynth.data.depth_labels import EQUAL_DEPTH_M, KIND_NAMES, depth_labels, true_relations
from posesynth.synth.dataset import generate_dataset, load_labels

REALDATA_H36M = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "mmpose" / "h36m" / "test_h36m_body3d.npz"
BUCKETS = (0.6, 0.7, 0.8, 0.9, 1.01)


def synthetic_poses(root: Path, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """joints2d (N, 17, 2) px, joints3d (N, 17, 3) camera metres, image sizes (N,) of every stride-th frame."""
    twod, threed, sizes = [], [], []
    for path in sorted((root / "labels").glob("*.npz")):
        labels = load_labels(path)
        twod.append(labels["joints2d"][::stride])
        threed.append(labels["joints3d"][::stride])
        sizes.append(np.full(len(twod[-1]), 2 * float(labels["K"][0, 2]) + 1))
    return np.concatenate(twod), np.concatenate(threed), np.concatenate(sizes)


def score(labels, joints3d: np.ndarray, equal_m: float) -> dict:
    """Accuracy and coverage of labels against the true depths (see the module docstring)."""
    truth = true_relations(joints3d, equal_m)
    z = joints3d[..., 2]
    sign = np.sign(z[:, None, :] - z[:, :, None])                   # +1 where i is closer
    upper = np.triu(np.ones((17, 17), bool), 1)
    labelled = (labels.confidence > 0) & upper
    ordered, equal = labelled & (labels.relation != 0), labelled & (labels.relation == 0)
    right_sign = labels.relation == sign
    right_strict = labels.relation == truth

    def acc(mask, right):
        return {"n": int(mask.sum()), "accuracy": float(right[mask].mean()) if mask.any() else None}

    out = {"people": int(len(z)), "pairs_labelled_per_person": float(labelled.sum() / len(z)),
           "ordered_sign": acc(ordered, right_sign), "ordered_strict": acc(ordered, right_strict),
           "equal": acc(equal, right_strict),
           "coverage_of_true_ordered": float((ordered & right_sign & (truth != 0)).sum()
                                             / ((truth != 0) & upper).sum()),
           "coverage_of_true_equal": float((equal & (truth == 0)).sum() / max(1, ((truth == 0) & upper).sum())),
           "by_kind": {}, "by_confidence": {}}
    for code, name in KIND_NAMES.items():
        of_kind = labels.kind == code
        out["by_kind"][name] = {"ordered_sign": acc(ordered & of_kind, right_sign),
                                "equal": acc(equal & of_kind, right_strict)}
    for lo, hi in zip(BUCKETS[:-1], BUCKETS[1:]):
        bucket = (labels.confidence >= lo) & (labels.confidence < hi)
        out["by_confidence"][f"{lo:.1f}-{min(hi, 1.0):.1f}"] = {
            "ordered_sign": acc(ordered & bucket, right_sign), "equal": acc(equal & bucket, right_strict)}
    return out


def real_h36m(equal_m: float) -> dict | None:
    """Labels of the four real Human3.6M frames (mmpose's test sample) against their 3D."""
    if not REALDATA_H36M.is_file():
        return None
    with np.load(REALDATA_H36M, allow_pickle=True) as data:
        part, joints = data["part"].astype(np.float64), data["S"][..., :3].astype(np.float64)
    labels = depth_labels(part[..., :2], np.ones(part.shape[:2]), equal_m=equal_m)
    return score(labels, joints, equal_m)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="a `posesynth synth` folder (default: generate one)")
    parser.add_argument("--videos", type=int, default=80, help="scenes to generate (default 80)")
    parser.add_argument("--frames", type=int, default=48, help="frames per generated video (default 48)")
    parser.add_argument("--stride", type=int, default=2, help="use every k-th frame (default 2)")
    parser.add_argument("--noise-px", type=float, nargs="+", default=[0.0, 2.0],
                        help="Gaussian 2D noise levels, pixels at 128 px frames (default 0 2)")
    parser.add_argument("--equal-depth", type=float, default=EQUAL_DEPTH_M)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = args.data
        if root is None:
            root = Path(tmp)
            generate_dataset(root, videos=args.videos, frames=args.frames, size=128, seed=args.seed,
                             supersample=1, progress=False, box_sidecars=False, background_plates=False)
        joints2d, joints3d, sizes = synthetic_poses(root, args.stride)
    results = {"equal_m": args.equal_depth, "synthetic": {}}
    for noise in args.noise_px:
        rng = np.random.default_rng([args.seed, round(1000 * noise)])  # each level's draw independent of the list
        start = time.perf_counter()
        noisy = joints2d + rng.normal(0.0, noise, joints2d.shape) * (sizes / 128.0)[:, None, None]
        labels = depth_labels(noisy, np.ones(joints2d.shape[:2]), equal_m=args.equal_depth)
        seconds = time.perf_counter() - start
        results["synthetic"][f"noise_{noise:g}px"] = {**score(labels, joints3d, args.equal_depth),
                                                      "people_per_s": len(joints2d) / seconds}
    results["real_h36m_4_frames"] = real_h36m(args.equal_depth)
    text = json.dumps(results, indent=1)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
