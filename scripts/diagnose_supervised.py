"""Diagnostic: can the pose encoder + kinematics learn pose at all, given direct 3D supervision?

Trains only the pose path of the model (encoder → bone directions + rotation → FK) on labelled
synthetic crops with a root-relative, camera-frame MPJPE loss, for the same budget as the
self-supervised learning benchmark, and scores the held-out set. If this reaches well below the
mean-pose baseline, the encoder, parametrisation and budget are adequate and the gap lies in the
self-supervised signal; if not, the problem is upstream of the renderer.

    python scripts/diagnose_supervised.py --data runs/learning/data --steps 900

Each evaluation scores every held-out frame: PA-MPJPE and N-MPJPE against the mean pose, and
the 2D joints (crop pixels) against the best constant 2D pose, plain and with left and right
left open per frame; ``--json`` writes the curve (one point per evaluation, with the labelled
crops seen so far).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from einops import rearrange

from posesynth.config import load_config
from posesynth.data.augment import colour_jitter, flip_images, flip_poses, jitter_parameters
from posesynth.evaluation.metrics import n_mpjpe, pa_mpjpe
from posesynth.evaluation.synthetic import baseline_poses, best_constant_scores, crop_frame_truth, labelled_crops, \
    labelled_views
from posesynth.models.model import PoseSynthModel
from posesynth.synth.dataset import load_labels
from posesynth.synth.poses import sample_poses
from posesynth.training.budget import StepTimer
from posesynth.training.checkpoints import model_kwargs
from posesynth.training.diagnostics import joints2d_bias
from posesynth.training.inputs import mean_pose

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "kinematic.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="bench_learning's data folder (train/, heldout/)")
    parser.add_argument("--steps", type=int, default=900)
    parser.add_argument("--minutes", type=float, default=None,
                        help="budget on this machine instead of --steps: the step count is fixed from a timing of "
                             "the first steps (printed, so --steps can repeat it)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0, help="initialisation and batch order")
    parser.add_argument("--augment", action="store_true", help="colour jitter and mirroring (posesynth.data.augment)")
    parser.add_argument("--evals", type=int, default=6, help="held-out evaluations over the run")
    parser.add_argument("--json", type=Path, default=None, help="write the learning curve here")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. model.spatial_head=true")
    args = parser.parse_args()

    config = load_config(CONFIG, args.overrides)
    size = config.model.image_size
    crops, poses = [], []
    for path in sorted((args.data / "train" / "labels").glob("*.npz")):
        labels = load_labels(path)
        c, g = labelled_crops(args.data / "train" / "videos" / f"{path.stem}.mp4", labels, size, config.data.margin)
        crops.append(c)
        poses.append(crop_frame_truth(g, labels, config.data.margin, 1))
    images = rearrange(torch.from_numpy(np.concatenate(crops)), "n h w c -> n c h w")
    targets = torch.from_numpy(np.concatenate(poses)).float()

    torch.manual_seed(args.seed)
    model = PoseSynthModel(**model_kwargs(config))
    reference = mean_pose(torch.as_tensor(sample_poses(clips=64, seed=7)))
    model.start_from_pose(reference)
    optimizer = torch.optim.AdamW(model.pose_encoder.parameters(), lr=args.lr, betas=(0.5, 0.999))
    generator = torch.Generator().manual_seed(args.seed)
    views = labelled_views(args.data / "heldout", size, config.data.margin)
    constant = best_constant_scores(views["truth"])["pa_mpjpe"]
    curve = []
    started = time.perf_counter()
    timer = StepTimer(args.minutes) if args.minutes else None
    total = None if timer else args.steps
    step = 0
    while total is None or step < total:
        step += 1
        with timer or nullcontext():
            loss = train_step(model, optimizer, images, targets, args, generator)
        if total is None and (total := timer.steps()) is not None:
            print(f"--minutes {args.minutes}: {total} steps ({statistics.median(timer.times):.3f} s/step)", flush=True)
        if total is not None and (step % max(1, total // args.evals) == 0 or step == total):
            scores = heldout_scores(model, views, reference)
            curve.append({"step": step, "samples": step * args.batch, "train_mpjpe": loss * 1000, **scores,
                          "seconds": time.perf_counter() - started})
            print(f"step {step:5d}  train MPJPE {loss * 1000:6.1f} mm  held-out PA-MPJPE "
                  f"{scores['pa_mpjpe']:6.1f} (baseline {scores['baseline_pa_mpjpe']:.1f}, best constant "
                  f"{constant:.1f})  N-MPJPE {scores['n_mpjpe']:6.1f} (baseline {scores['baseline_n_mpjpe']:.1f})  "
                  f"2D {scores['joints2d_error_px']:.2f} px (constant {scores['joints2d_error_constant_px']:.2f}; "
                  f"side open {scores['joints2d_error_either_side_px']:.2f}, constant "
                  f"{scores['joints2d_error_either_side_constant_px']:.2f})  "
                  f"[{time.perf_counter() - started:.0f} s]", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"heldout_frames": len(views["truth"]), "best_constant_pa_mpjpe": constant,
                                         "batch": args.batch, "curve": curve}, indent=1))


def heldout_scores(model: PoseSynthModel, views: dict[str, np.ndarray], reference: torch.Tensor) -> dict[str, float]:
    """3D (mm) and 2D (crop pixels) errors of the model and its baselines on every held-out frame.

    Args:
        views: :func:`~posesynth.evaluation.synthetic.labelled_views` of the held-out set.
        reference: (17, 3) body-frame mean unpaired pose, metres (the 3D baseline).
    """
    model.eval()
    images = rearrange(torch.from_numpy(views["crops"]), "n h w c -> n c h w").float() / 255
    with torch.no_grad():
        outputs = [model.encode_pose(chunk) for chunk in images.split(64)]
    model.train()
    pred_mm = torch.cat([o["pose_camera"] for o in outputs]).double().numpy() * 1000
    pred2d = torch.cat([o["joints2d"] for o in outputs]).float()
    truth_mm, truth2d = views["truth"] * 1000, torch.from_numpy(views["joints2d"]).float()
    base_mm = baseline_poses(reference, views["truth"]) * 1000
    return {"pa_mpjpe": float(pa_mpjpe(pred_mm, truth_mm).mean()), "n_mpjpe": float(n_mpjpe(pred_mm, truth_mm).mean()),
            "baseline_pa_mpjpe": float(pa_mpjpe(base_mm, truth_mm).mean()),
            "baseline_n_mpjpe": float(n_mpjpe(base_mm, truth_mm).mean()),
            "joints2d_error_px": float((pred2d - truth2d).norm(dim=-1).mean()),
            "joints2d_error_constant_px": float((truth2d.mean(0, keepdim=True) - truth2d).norm(dim=-1).mean()),
            **joints2d_bias(pred2d, truth2d)}


def train_step(model, optimizer, images, targets, args, generator) -> float:
    """One supervised step on a random batch of labelled crops; returns its MPJPE (m, camera frame)."""
    idx = torch.randint(len(images), (args.batch,), generator=generator)
    batch, target = images[idx].float() / 255, targets[idx]
    if args.augment:
        flip = torch.rand(args.batch, generator=generator) < 0.5
        batch = colour_jitter(flip_images(batch, flip), jitter_parameters(args.batch, 1.0, generator))
        target = flip_poses(target, flip)
    out = model.encode_pose(batch)
    loss = (out["pose_camera"] - target).norm(dim=-1).mean()
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


if __name__ == "__main__":
    main()
