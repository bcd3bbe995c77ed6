"""Ablation of the weak signals on synthetic multi-view video, at one training budget.

Data (made once under ``--out``): ``posesynth synth`` multi-view scenes of subjects 1–8 (every
scene seen by ``--views`` calibrated cameras), held-out single-view clips of subjects 9 and 11,
unpaired 3D poses from the motion generator (a seed of their own), and 2D keypoint sidecars made
from the synthetic 2D labels plus Gaussian noise (``--keypoint-noise`` pixels, a detector's
error). Every variant starts from the same seed and trains ``--steps`` steps with
``configs/heatmap_selfsup.yaml`` (or ``-c CONFIG``); the held-out PA-MPJPE and N-MPJPE of each go into
a table.

    python scripts/bench_ablation.py --out runs/ablation --steps 300
    python scripts/bench_ablation.py --out runs/ablation --steps 300 --only selfsup,labels5

``--subjects N`` shows a new person in every scene (subjects 1–N instead of 1–8), and
``--heldout DIR`` scores on an existing held-out set instead, e.g. the learning benchmark's 24
clips of 12 people (``bench_learning.py``'s ``DATA/heldout``):

    python scripts/bench_ablation.py --out runs/mv --scenes 200 --subjects 200 --frames 32 \
        --heldout runs/learning/data/heldout -c configs/heatmap_selfsup.yaml --steps 1200 \
        --only selfsup,multiview_self2d

The variants add one signal each to the self-supervised baseline (not cumulatively), so each
row says what that signal alone buys at this budget.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from posesynth.config import load_config
from posesynth.data.cache import crop_settings
from posesynth.data.prepare import prepare_cache
from posesynth.evaluation.synthetic import evaluate_synthetic
from posesynth.models.loading import load_model
from posesynth.synth.dataset import generate_dataset, load_labels
from posesynth.synth.poses import sample_poses
from posesynth.training.inputs import mean_pose
from posesynth.training.train import train
from posesynth.video.index import index_videos

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "heatmap_selfsup.yaml"


def variants(root: Path) -> dict[str, list[str]]:
    """Variant name → config overrides on top of the shared self-supervised setting."""
    keypoints = f"data.keypoints2d={root / 'keypoints'}"
    return {
        "selfsup": [],
        "reprojection": [keypoints, "loss.reprojection=1.0"],
        "relative_depth": [keypoints, "loss.relative_depth=0.1"],
        # Li et al. re-project onto 2D detections; without them (each view's own 2D) see multiview_self2d
        "multiview": [f"data.calibration={root / 'train' / 'scenes.json'}", keypoints, "loss.multiview_consistency=1.0",
                      "loss.transform_reprojection=1.0"],
        "multiview_self2d": [f"data.calibration={root / 'train' / 'scenes.json'}", "loss.multiview_consistency=1.0",
                             "loss.transform_reprojection=1.0"],
        "bone_ratio": ["loss.bone_ratio=1.0"],
        "labels5": [f"data.labels3d={root / 'train' / 'labels'}", "data.labels_fraction=0.05", "loss.pose3d=1.0"],
    }


def make_data(root: Path, scenes: int, views: int, frames: int, noise: float, seed: int = 0,
              subjects: int = 8, heldout: bool = True) -> None:
    """Training scenes of subjects 1–``subjects``, held-out clips (unless ``heldout`` is False),
    unpaired poses and noisy keypoint sidecars, each only if not there yet."""
    if not (root / "train" / "scenes.json").is_file():
        generate_dataset(root / "train", videos=scenes, views=views, frames=frames, size=128, seed=seed,
                         subjects=range(1, subjects + 1))
    if heldout and not (root / "heldout" / "scenes.json").is_file():
        generate_dataset(root / "heldout", videos=6, frames=frames, size=128, seed=seed + 1, subjects=[9, 11])
    if not (root / "poses3d.npy").is_file():
        np.save(root / "poses3d.npy", sample_poses(clips=160, frames=frames, seed=7, subjects=range(1, 9)))
    folder = root / "keypoints"
    if not folder.is_dir():
        folder.mkdir()
        rng = np.random.default_rng(seed)
        for path in sorted((root / "train" / "labels").glob("*.npz")):
            joints2d = load_labels(path)["joints2d"]
            noisy = joints2d + rng.normal(0.0, noise, joints2d.shape)
            np.savez(folder / f"{path.stem}.keypoints.npz", keypoints=noisy.astype(np.float32),
                     scores=np.ones(joints2d.shape[:2], np.float32), layout="h36m17")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/ablation"))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--scenes", type=int, default=16)
    parser.add_argument("--views", type=int, default=3)
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--keypoint-noise", type=float, default=2.0, help="2D keypoint noise, pixels of a 128 px frame")
    parser.add_argument("--only", default=None, help="comma-separated variants to run (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="train.seed; results of seeds > 0 are named variant@seed")
    parser.add_argument("-c", "--config", type=Path, default=CONFIG, help="the recipe every variant starts from")
    parser.add_argument("--subjects", type=int, default=8, help="training subjects 1..N (scene i shows subject i mod N)")
    parser.add_argument("--heldout", type=Path, default=None,
                        help="score on this existing held-out set (a synth folder with scenes.json) instead of "
                             "6 clips of subjects 9 and 11; its subjects must not be among the training ones")
    args = parser.parse_args()

    root = args.out
    if args.heldout is not None and not (args.heldout / "scenes.json").is_file():
        raise SystemExit(f"--heldout {args.heldout}: no scenes.json there; give a folder written by posesynth synth")
    make_data(root, args.scenes, args.views, args.frames, args.keypoint_noise, subjects=args.subjects,
              heldout=args.heldout is None)
    heldout = args.heldout or root / "heldout"
    cache = root / "cache"
    if not (cache / "index.json").is_file():
        prepare_cache(index_videos(root / "train" / "videos", min_frames=2), cache, crop_settings(size=64))
    poses = torch.as_tensor(np.load(root / "poses3d.npy"), dtype=torch.float32)
    chosen = variants(root)
    if args.only:
        chosen = {name: chosen[name] for name in args.only.split(",")}
    results_path = root / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    for name, overrides in chosen.items():
        if args.seed:
            name, overrides = f"{name}@{args.seed}", [*overrides, f"train.seed={args.seed}"]
        config = load_config(args.config, [f"data.cache={cache}", f"data.poses3d={root / 'poses3d.npy'}", f"train.steps={args.steps}",
                                      "train.checkpoint_every=100000", "train.sample_every=100000",
                                      # the signals during training; the side stage after it is left out
                                      "model.side_classifier=false", "train.side_fit_iterations=0", *overrides])
        start = time.perf_counter()
        run = train(config, root / "runs" / name)
        minutes = (time.perf_counter() - start) / 60
        scores = evaluate_synthetic(load_model(run), heldout, mean_pose=mean_pose(poses))
        results[name] = {"config": str(args.config), "heldout": str(heldout), "overrides": overrides,
                         "steps": args.steps, "minutes": round(minutes, 1), **scores}
        results_path.write_text(json.dumps(results, indent=1))
        print(name, json.dumps(results[name]))
    print("\n| variant | PA-MPJPE (mm) | N-MPJPE (mm) | minutes |\n|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['model']['pa_mpjpe']:.1f} | {r['model']['n_mpjpe']:.1f} | {r['minutes']} |")
    base = next(iter(results.values()))["baseline"]
    print(f"| mean-pose baseline | {base['pa_mpjpe']:.1f} | {base['n_mpjpe']:.1f} | |")


if __name__ == "__main__":
    main()
