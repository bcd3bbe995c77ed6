"""Diagnostic: how well can the pose encoder learn pose at all, given direct 3D supervision?

Trains only the pose path of the model (the 2.5D encoder of ``configs/heatmap_selfsup.yaml``:
heatmaps + depth maps, back-projected; no lifter or refiner, the labels train the depth maps) on
labelled synthetic crops with a root-relative, camera-frame MPJPE loss, and scores the held-out
set: the learnability curve's upper bound for any weaker signal. If this reaches well below the
mean-pose baseline, the encoder and budget are adequate and the gap lies in the self-supervised
signal; if not, the problem is upstream of the renderer.

    python scripts/diagnose_supervised.py --data runs/learning/data --steps 900 [key=value ...]

``--labels 2d`` trains it with the true 2D joints instead (crop pixels, the true left and right,
no depth): the best 2D the recipe's first half could hand its lifter. ``--save M`` keeps the
model, so that ``diagnose_lifter.py --refine-2d --run M`` lifts its 2D with a refiner learned from
unpaired poses: the recipe's design with label-quality 2D (BENCHMARKS.md, "The recipe's ceiling").

The 3D labels are root-relative, so nothing ties the 2D joints to the true pixels: they follow
the model's fixed crop camera (focal, root depth), and their error includes that scale.

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

import torch
from einops import rearrange

from posesynth.config import load_config, save_config
from posesynth.data.augment import colour_jitter, flip_images, flip_keypoints, flip_poses, jitter_parameters
from posesynth.evaluation.synthetic import best_constant_scores, labelled_views, score_poses
from posesynth.models.model import PoseSynthModel
from posesynth.synth.poses import sample_poses
from posesynth.training.budget import StepTimer
from posesynth.training.checkpoints import model_kwargs
from posesynth.training.inputs import mean_pose

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "heatmap_selfsup.yaml"
# the pose path alone: no lifter (learned from unpaired poses) and no refiner beside the encoder,
# its heatmaps read as trained (the labelled curves in BENCHMARKS.md were measured so)
POSE_PATH = ("model.lifter=false", "loss.lifting=0", "model.refiner=false", "loss.refining=0",
             "train.refiner_fit_iterations=0", "model.readout_sharpness=1", "model.side_classifier=false",
             "train.side_fit_iterations=0")


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
    parser.add_argument("--labels", choices=("3d", "2d"), default="3d",
                        help="3d: root-relative 3D in the crop's frame (MPJPE loss); 2d: the true 2D joints in crop "
                             "pixels only (mean pixel distance), the upper bound of the 2D a self-supervised "
                             "encoder could give its lifter")
    parser.add_argument("--save", type=Path, default=None,
                        help="write the trained model here as a model.pt, and its config.yaml beside it (for "
                             "diagnose_lifter.py / diagnose_facing_geometry.py / diagnose_learning.py --run)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. model.encoder_width=32")
    args = parser.parse_args()

    # the unpaired poses are named only so that a saved config reads like a run's (--save)
    config = load_config(CONFIG, [*POSE_PATH, f"data.poses3d={args.data / 'poses3d.npy'}", *args.overrides])
    size = config.model.image_size
    train = labelled_views(args.data / "train", size, config.data.margin)
    images = rearrange(torch.from_numpy(train["crops"]), "n h w c -> n c h w")
    targets = torch.from_numpy(train["truth" if args.labels == "3d" else "joints2d"]).float()
    del train

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
            scores = score_poses(model, views["crops"], views["truth"], reference, joints2d=views["joints2d"])
            model_, base, const = scores["model"], scores["baseline"], scores["constant"]
            curve.append({"step": step, "samples": step * args.batch,
                          **({"train_mpjpe": loss * 1000} if args.labels == "3d" else {"train_joints2d_px": loss}),
                          **model_,
                          **{f"baseline_{k}": v for k, v in base.items()},
                          **{f"constant_{k}": v for k, v in const.items()}, "seconds": time.perf_counter() - started})
            print(f"step {step:5d}  train {loss_text(loss, args.labels)}  held-out PA-MPJPE "
                  f"{model_['pa_mpjpe']:6.1f} (baseline {base['pa_mpjpe']:.1f}, best constant {constant:.1f})  "
                  f"N-MPJPE {model_['n_mpjpe']:6.1f} (baseline {base['n_mpjpe']:.1f})  2D {model_['joints2d_px']:.2f} "
                  f"px (constant {const['joints2d_px']:.2f}; side open {model_['joints2d_either_side_px']:.2f}, "
                  f"constant {const['joints2d_either_side_px']:.2f})  [{time.perf_counter() - started:.0f} s]",
                  flush=True)
    if args.json:
        args.json.write_text(json.dumps({"heldout_frames": len(views["truth"]), "best_constant_pa_mpjpe": constant,
                                         "batch": args.batch, "labels": args.labels, "curve": curve}, indent=1))
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model_kwargs": model_kwargs(config), "state_dict": model.state_dict(), "step": step},
                   args.save)
        # beside it, the config a run directory would hold (the crop size, the unpaired poses), so
        # that diagnose_learning.py --run reads the folder like a training run's
        save_config(config, args.save.parent / "config.yaml")
        print(f"wrote {args.save} and {args.save.parent / 'config.yaml'}", flush=True)


def loss_text(loss: float, labels: str) -> str:
    """The training loss for the log: MPJPE in mm for 3D labels, mean joint distance in px for 2D."""
    return f"MPJPE {loss * 1000:6.1f} mm" if labels == "3d" else f"2D {loss:5.2f} px"


def train_step(model, optimizer, images, targets, args, generator) -> float:
    """One supervised step on a random batch of labelled crops.

    Returns the batch's loss: MPJPE (m, crop frame) for 3D labels, mean joint distance (crop
    pixels) for 2D labels (``targets`` (N, 17, 2)).
    """
    idx = torch.randint(len(images), (args.batch,), generator=generator)
    batch, target = images[idx].float() / 255, targets[idx]
    if args.augment:
        flip = torch.rand(args.batch, generator=generator) < 0.5
        batch = colour_jitter(flip_images(batch, flip), jitter_parameters(args.batch, 1.0, generator))
        target = flip_poses(target, flip) if args.labels == "3d" else flip_keypoints(target, flip, batch.shape[-1])
    out = model.encode_pose(batch)
    loss = (out["pose_camera" if args.labels == "3d" else "joints2d"] - target).norm(dim=-1).mean()
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


if __name__ == "__main__":
    main()
