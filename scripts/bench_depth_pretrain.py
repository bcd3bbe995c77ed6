"""Depth pre-training's loss weights, measured on the learning benchmark's people.

Pre-trains the 2.5D pose encoder with ``posesynth pretrain-depth``'s loop (2D keypoints +
relative-depth labels made from those keypoints, WSP-style; no 3D label) on the first
``--videos`` training clips of ``scripts/bench_learning.py``'s data, one run per (depth weight,
keypoint weight) pair. The keypoint sidecars are the clips' exact 2D joints, the best a detector
could give. Each run is scored on its own training frames and on the benchmark's held-out people
(24 clips of 12 people never trained on):

- PA-MPJPE (mm), beside the mean unpaired pose oriented like the truth (the benchmark's baseline);
- depth order: the share of truly ordered joint pairs (|Δz| > 0.1 m, crop camera frame) whose
  predicted depths are ordered the same way (0.5 is chance);
- the 2D error (crop pixels), beside the best constant 2D pose (the mean true 2D pose);
- with ``--lifter RUN``, the held-out PA-MPJPE of the pre-trained 2D joints lifted by RUN's
  lifter and refiner (a self-supervised run): the 3D the recipe would reach with these 2D joints.

    python scripts/bench_depth_pretrain.py --data runs/learning/data --out runs/bench_depth_pretrain --seeds 0 1
    python scripts/bench_depth_pretrain.py --data DATA model.encoder_width=32 --weights 0.1:100 1:1 --steps 400
    python scripts/bench_depth_pretrain.py --data DATA --videos 800 --steps 3000 --weights 0.1:100 --lifter RUN

Writes OUT/results.json and prints a Markdown table (docs/weak_signals.md, "Depth pre-training").
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from posesynth.config import load_config
from posesynth.evaluation.synthetic import baseline_poses, labelled_views, predict_poses, score_poses
from posesynth.models.loading import load_model, model_file, stored_model_kwargs
from posesynth.models.model import PoseSynthModel
from posesynth.training.inputs import canonical_poses, mean_pose
from posesynth.training.pretrain_depth import pretrain, video_crops

ORDERED_M = 0.1  # a joint pair counts as ordered in depth when its true z differ by more than this


def depth_order(pred: np.ndarray, truth: np.ndarray) -> float:
    """Share of truly ordered joint pairs whose predicted depths have the same order.

    Args:
        pred, truth: (N, 17, 3) camera frame (z away from the camera), metres; any root.
    Returns:
        fraction in [0, 1] over all frames' pairs with |Δz_true| > ``ORDERED_M``.
    """
    dz_true = truth[:, :, None, 2] - truth[:, None, :, 2]
    dz_pred = pred[:, :, None, 2] - pred[:, None, :, 2]
    ordered = np.abs(dz_true) > ORDERED_M  # each pair twice, (i, j) and (j, i): the share is the same
    return float((np.sign(dz_pred[ordered]) == np.sign(dz_true[ordered])).mean())


def weight_pair(text: str) -> tuple[float, float]:
    """``"depth:keypoint"`` → (depth weight, keypoint weight); argparse's type for ``--weights``."""
    try:
        depth, keypoint = (float(w) for w in text.split(":"))
    except ValueError:
        hint = " (a config override: put key=value before --weights)" if "=" in text else ""
        raise argparse.ArgumentTypeError(f"{text!r} is not depth:keypoint{hint}") from None
    return depth, keypoint


def training_subset(data: Path, out: Path, videos: int) -> Path:
    """OUT/train: links to the first ``videos`` training clips and their labels, keypoint sidecars
    (exact 2D joints, Human3.6M-17) beside them. Returns OUT/train."""
    train = out / "train"
    for sub in ("videos", "labels"):
        (train / sub).mkdir(parents=True, exist_ok=True)
    labels = sorted((data / "train" / "labels").glob("*.npz"))[:videos]
    if not labels:
        raise SystemExit(f"{data}/train/labels has no clips: make the data with scripts/bench_learning.py first")
    for path in labels:
        for source in (data / "train" / "videos").glob(f"{path.stem}.*"):
            link = train / "videos" / source.name
            if not link.exists():
                link.symlink_to(source.resolve())
        if not (train / "labels" / path.name).exists():
            (train / "labels" / path.name).symlink_to(path.resolve())
        sidecar = train / "videos" / f"{path.stem}.keypoints.npz"
        if not sidecar.exists():
            with np.load(path) as label:
                np.savez(sidecar, keypoints=label["joints2d"], layout="h36m17")
    return train


def score(model: torch.nn.Module, views: dict, baseline: torch.Tensor) -> dict:
    """PA-MPJPE (mm), depth order and 2D error (crop px) of ``model``, and the same for the
    mean-pose baseline (3D) and the best constant 2D pose (the mean true 2D pose) on ``views``."""
    scores = score_poses(model, views["crops"], views["truth"], baseline, views["joints2d"])
    truth = views["truth"]
    return {"pa_mpjpe": scores["model"]["pa_mpjpe"], "joints2d_px": scores["model"]["joints2d_px"],
            "order": depth_order(predict_poses(model, views["crops"]), truth),
            "baseline_pa_mpjpe": scores["baseline"]["pa_mpjpe"],
            "baseline_order": depth_order(baseline_poses(baseline, truth), truth),
            "constant_joints2d_px": scores["constant"]["joints2d_px"]}


def with_lifter(run: Path, lifter_run: Path) -> PoseSynthModel:
    """A pre-training's pose encoder under another run's trained lifter and refiner.

    What the 3D would be if a self-supervised run (``lifter_run``, trained with ``model.lifter``
    and ``model.refiner``) had the pre-training's 2D joints: its depths come from the lifter (the
    pre-trained depth maps, which predict whole depths, are cleared: under a lifter they are a
    residual), the reported pose from its refiner, as in evaluation.
    """
    weights = torch.load(model_file(run), map_location="cpu", weights_only=True)
    kwargs = stored_model_kwargs(weights, model_file(run))
    donor = load_model(lifter_run)
    if donor.lifter is None or donor.refiner is None:
        raise SystemExit(f"--lifter {lifter_run}: that run has no lifter and refiner (train it with "
                         f"model.lifter=true model.refiner=true, e.g. configs/heatmap_selfsup.yaml)")
    if (donor.image_size, donor.focal) != (kwargs["image_size"], kwargs["image_size"] * kwargs["focal_ratio"]):
        raise SystemExit(f"--lifter {lifter_run}: its crops ({donor.image_size} px, focal {donor.focal:g}) differ "
                         f"from the pre-training's; use a run with the same model.image_size and model.focal_ratio")
    model = PoseSynthModel(**{**kwargs, "lifter": True, "refiner": True})
    model.pose_encoder.load_state_dict({name.removeprefix("pose_encoder."): value
                                        for name, value in weights["state_dict"].items()
                                        if name.startswith("pose_encoder.")})
    model.pose_encoder.clear_depth_maps()
    model.lifter.load_state_dict(donor.lifter.state_dict())
    model.refiner.load_state_dict(donor.refiner.state_dict())
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True,
                        help="bench_learning's data folder (train/, heldout/, poses3d.npy)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_depth_pretrain"))
    parser.add_argument("--videos", type=int, default=96, help="training clips (one person each)")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--weights", nargs="+", type=weight_pair,
                        default=[(1, 1), (0, 1), (0, 100), (1, 100), (0.1, 100), (1, 1000)],
                        help="depth:keypoint weight pairs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--articulation-weight", type=float, default=0.0,
                        help="articulation-limit weight of every run (pretrain-depth's default 0; the table "
                             "before 2026-11-27 was measured with 1)")
    parser.add_argument("--eval-stride", type=int, default=4, help="score every n-th frame")
    parser.add_argument("--lifter", type=Path, default=None, metavar="RUN",
                        help="also score each pre-training's 2D joints through RUN's trained lifter and refiner "
                             "(a run of configs/heatmap_selfsup.yaml): the 3D the self-supervised recipe would "
                             "reach with these 2D joints")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides (default: 64 px crops, encoder_width 16, batch 16, lr 1e-3); "
                             "put them before --weights and --seeds")
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))

    train = training_subset(args.data, args.out, args.videos)
    poses3d = args.data / "poses3d.npy"
    base = ["model.image_size=64", "model.encoder_width=16", "train.batch_size=16", "train.lr=1.0e-3",
            "train.warmup_steps=50", "train.log_every=50", "train.checkpoint_every=100000",
            "data.num_workers=0", f"data.poses3d={poses3d}", f"train.steps={args.steps}"]
    config = load_config(None, [*base, *args.overrides])
    size = config.model.image_size
    baseline = mean_pose(canonical_poses(torch.as_tensor(np.load(poses3d)).float()))
    crops = video_crops(train / "videos", size)
    sets = {"train": labelled_views(train, size, stride=args.eval_stride),
            "heldout": labelled_views(args.data / "heldout", size, stride=args.eval_stride)}
    print(f"{len(crops)} training crops; scoring {len(sets['train']['crops'])} training and "
          f"{len(sets['heldout']['crops'])} held-out frames")

    pairs = [(float(d), float(k)) for d, k in args.weights]
    rows = []
    for depth_weight, keypoint_weight in pairs:
        for seed in args.seeds:
            run = args.out / f"d{depth_weight:g}_k{keypoint_weight:g}_a{args.articulation_weight:g}_s{seed}"
            if not (run / "model.pt").is_file():
                start = time.perf_counter()
                pretrain(load_config(None, [*base, *args.overrides, f"train.seed={seed}"]), crops, run,
                         depth_weight=depth_weight, keypoint_weight=keypoint_weight,
                         articulation_weight=args.articulation_weight, progress=False)
                print(f"{run.name}: {time.perf_counter() - start:.0f} s")
            model = load_model(run)
            row = {"depth_weight": depth_weight, "keypoint_weight": keypoint_weight, "seed": seed,
                   **{name: score(model, views, baseline) for name, views in sets.items()}}
            if args.lifter is not None:
                lifted = with_lifter(run, args.lifter)
                for name, views in sets.items():
                    row[name]["lifted_pa_mpjpe"] = score_poses(lifted, views["crops"], views["truth"])["model"]["pa_mpjpe"]
            rows.append(row)
            print(json.dumps(row))
    (args.out / "results.json").write_text(json.dumps({"steps": args.steps, "videos": args.videos,
                                                       "articulation_weight": args.articulation_weight,
                                                       "overrides": args.overrides, "rows": rows}, indent=1))

    columns = (("pa_mpjpe", ".1f"), ("order", ".3f"), ("joints2d_px", ".2f"))
    lifted = ("lifted_pa_mpjpe", ".1f")
    heldout_columns = columns + ((lifted,) if args.lifter is not None else ())
    print("\n| depth weight | keypoint weight | train PA-MPJPE (mm) | train order | train 2D (px) "
          "| held-out PA-MPJPE | held-out order | held-out 2D |" + (" held-out PA-MPJPE, lifter |" if args.lifter else ""))
    print("| --- " * (8 + (args.lifter is not None)) + "|")
    for depth_weight, keypoint_weight in pairs:  # seeds side by side, "a / b"
        mine = [r for r in rows if (r["depth_weight"], r["keypoint_weight"]) == (depth_weight, keypoint_weight)]
        cells = [" / ".join(f"{r[where][key]:{form}}" for r in mine)
                 for where, keys in (("train", columns), ("heldout", heldout_columns)) for key, form in keys]
        print(f"| {depth_weight:g} | {keypoint_weight:g} | " + " | ".join(cells) + " |")
    bars = (("baseline_pa_mpjpe", ".1f"), ("baseline_order", ".3f"), ("constant_joints2d_px", ".2f"))
    cells = [f"{rows[0][where][key]:{form}}" for where in ("train", "heldout") for key, form in bars]
    if args.lifter is not None:
        cells.append(cells[3])  # the lifted column's bar is the same mean pose
    print("| mean-pose baseline; best constant 2D pose | | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
