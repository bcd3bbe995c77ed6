"""Diagnostic: how good can depth from 2D be, learned from unpaired 3D poses alone?

Trains :class:`posesynth.models.lifter.DepthLifter` exactly as training does (projections of
unpaired poses turned to random headings, ``posesynth.training.imitation_views.sample_views``), then lifts the
*true* 2D joints of a held-out synthetic set (each crop's truth placed at a nominal depth and
projected through the model's crop camera) and scores the result against the truth, beside the
mean-pose baseline and the true 2D with flat depth. It bounds what the 2.5D recipe's 3D can be
once its 2D joints are right: the lifter never sees an image, so it has no domain gap.
``--noise-px`` adds Gaussian noise of those standard deviations (pixels of the 64 px crop) to the
true 2D joints before lifting: how precise must the 2D be for a given 3D error? ``--run`` also
lifts a trained model's own 2D joints of the held-out crops (a model of another crop size sees
its own crops, and its 2D is rescaled to the lifter's 64 px crop).

    python scripts/diagnose_lifter.py --data runs/learning/data [--iterations 3000] [--noise-px 1 2 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from einops import rearrange

from posesynth.evaluation.metrics import pa_mpjpe
from posesynth.evaluation.synthetic import baseline_poses, load_labelled_set
from posesynth.geometry import intrinsics, project, unproject
from posesynth.losses.imitation import lifting_loss
from posesynth.models.lifter import DepthLifter, normalise_2d, refined_pose, refined_targets, relative_depth_units
from posesynth.models.loading import load_model
from posesynth.training.budget import StepTimer
from posesynth.training.imitation_views import BODY_LEAN_DEG, CAMERA_ELEVATION_DEG, sample_views
from posesynth.training.inputs import canonical_poses, mean_pose

SIZE, FOCAL, DEPTH = 64, 128.0, 5.0  # configs/demo.yaml's and heatmap_selfsup.yaml's crop (focal_ratio 2) and a nominal root depth


def to_lifter_crop(joints2d: torch.Tensor, size: int) -> torch.Tensor:
    """2D joints in an S px crop → the same points in the lifter's 64 px crop of the same box.

    Pixel centres sit at integers ((0, 0) the top-left pixel's centre), so the box's edges are at
    −½ and S − ½: x → (x + ½)·64/S − ½.  (..., 2) crop pixels → (..., 2) crop pixels.
    """
    return (joints2d + 0.5) * (SIZE / size) - 0.5


def lift(lifter: DepthLifter, joints2d: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """(B, 17, 2) crop pixels → (B, 17, 3) camera frame at the nominal root depth, metres."""
    root = torch.full((len(joints2d),), DEPTH)
    if lifter.refine_2d:
        joints2d, depth = refined_pose(lifter(joints2d), joints2d, root, FOCAL)
    else:
        _, scale = normalise_2d(joints2d)
        depth = DEPTH + lifter(joints2d) * (scale * DEPTH / FOCAL)[:, None]
    return unproject(joints2d, depth, K)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="bench_learning's data folder (poses3d.npy, heldout/)")
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--minutes", type=float, default=None,
                        help="budget on this machine instead of --iterations: fixed from a timing of the first "
                             "iterations (printed, so --iterations can repeat it)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-noise-px", type=float, default=0.0,
                        help="Gaussian noise σ (crop pixels) added to the lifter's training 2D (training uses none)")
    parser.add_argument("--run", type=Path, default=None,
                        help="also lift this trained run's own 2D joints of the held-out crops, at the end")
    parser.add_argument("--refine-2d", action="store_true",
                        help="the MLP also returns the 2D joints (a denoiser learned from the unpaired poses' "
                             "clean projections), not only depths; with --train-noise-px")
    parser.add_argument("--elevation", type=float, nargs=2, default=list(CAMERA_ELEVATION_DEG), metavar=("LOW", "HIGH"),
                        help="the sampled views' camera elevation range, degrees (loss.imitation_elevation_*_deg; "
                             "the default is the recipe's level camera, '-5 35 --lean 10' the benchmark's cameras)")
    parser.add_argument("--lean", type=float, default=BODY_LEAN_DEG, help="the sampled bodies' lean, ± degrees")
    parser.add_argument("--noise-px", type=float, nargs="*", default=[],
                        help="also lift the true 2D plus Gaussian noise of these σ (crop pixels), at the end")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    K = intrinsics(FOCAL, (SIZE - 1) / 2, (SIZE - 1) / 2)
    poses = canonical_poses(torch.as_tensor(np.load(args.data / "poses3d.npy"), dtype=torch.float32))
    crops, truths, _ = load_labelled_set(args.data / "heldout", SIZE, 1.25, 2)
    truth = torch.as_tensor(truths, dtype=torch.float32)
    placed = truth - truth[:, :1] + torch.tensor([0.0, 0.0, DEPTH])
    true2d = project(placed, K)
    truth_mm = placed.numpy() * 1000
    flat = placed.clone()
    flat[..., 2] = DEPTH
    baseline = baseline_poses(mean_pose(poses), truths) * 1000
    print(f"held-out frames {len(truth)}: mean pose {pa_mpjpe(baseline, truth_mm).mean():.1f} mm, "
          f"true 2D with flat depth {pa_mpjpe(flat.numpy() * 1000, truth_mm).mean():.1f} mm (PA-MPJPE)")

    lifter = DepthLifter(refine_2d=args.refine_2d)
    optimizer = torch.optim.AdamW(lifter.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(args.seed)
    started = time.perf_counter()
    timer = StepTimer(args.minutes) if args.minutes else None
    total = None if timer else args.iterations
    step = 0
    while total is None or step < total:
        step += 1
        with timer or nullcontext():
            chosen = poses[torch.randint(len(poses), (args.batch,), generator=generator)]
            joints = sample_views(chosen, image_size=SIZE, focal=FOCAL, generator=generator,
                                  elevation_deg=tuple(args.elevation), max_lean_deg=args.lean)
            joints2d = project(joints, K)
            clean2d = joints2d
            if args.train_noise_px:
                joints2d = joints2d + args.train_noise_px * torch.randn(joints2d.shape, generator=generator)
            target = (refined_targets(joints, clean2d, joints2d, FOCAL) if args.refine_2d
                      else relative_depth_units(joints, joints2d, FOCAL))
            loss = lifting_loss(lifter(joints2d), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if total is None and (total := timer.steps()) is not None:
            print(f"--minutes {args.minutes}: {total} iterations ({statistics.median(timer.times):.4f} s each)",
                  flush=True)
        if total is not None and (step % max(1, total // 6) == 0 or step == total):
            with torch.no_grad():
                lifted = lift(lifter, true2d, K).numpy() * 1000
            print(f"step {step:5d}  lifting loss {loss.item():.3f}  true 2D lifted: PA-MPJPE "
                  f"{pa_mpjpe(lifted, truth_mm).mean():.1f} mm  [{time.perf_counter() - started:.0f} s]", flush=True)
    noise = torch.Generator().manual_seed(args.seed + 1)
    for sigma in args.noise_px:
        noisy2d = true2d + sigma * torch.randn(true2d.shape, generator=noise)
        with torch.no_grad():
            lifted = lift(lifter, noisy2d, K).numpy() * 1000
        print(f"true 2D + {sigma:g} px noise lifted: PA-MPJPE {pa_mpjpe(lifted, truth_mm).mean():.1f} mm", flush=True)
    if args.run is not None:  # the run's 2D joints through this lifter, beside the run's own 3D
        model = load_model(args.run)
        # a model of another crop size sees its own crops of the same boxes; its 2D is rescaled
        own_crops = crops if model.image_size == SIZE else load_labelled_set(args.data / "heldout", model.image_size,
                                                                             1.25, 2)[0]
        images = rearrange(torch.from_numpy(own_crops), "n h w c -> n c h w").float() / 255
        with torch.no_grad():
            outputs = [model.encode_pose(chunk) for chunk in images.split(64)]
            joints2d = to_lifter_crop(torch.cat([o["joints2d"] for o in outputs]), model.image_size)
            own = torch.cat([o["pose_camera"] for o in outputs]).double().numpy() * 1000
            lifted = lift(lifter, joints2d, K).numpy() * 1000
        print(f"{args.run}: its own 3D PA-MPJPE {pa_mpjpe(own, truths * 1000).mean():.1f} mm; its 2D joints "
              f"through this lifter {pa_mpjpe(lifted, truths * 1000).mean():.1f} mm", flush=True)


if __name__ == "__main__":
    main()
