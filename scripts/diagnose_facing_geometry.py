"""Diagnostic: how much of the facing is in the 2D joints alone, given the camera looks down?

The self-supervised encoder labels every person's limbs as if they faced the camera. Seen from
exactly the camera's height, a person facing away with their left and right swapped projects to
nearly the same 2D as a mirror-image person facing the camera (a depth flip), so 2D alone cannot
say which is right. A camera above the person breaks the tie: the flipped reading would lean the
body the wrong way. How much does that (and perspective) leave in the 2D joints?

A small MLP, trained only on unpaired 3D poses (``DATA/poses3d.npy``) placed by the trainer's
sampled views (``posesynth.training.imitation_views.sample_views``, ``--elevation``, ``--lean``),
sees each pose's 2D joints with the *frontal* labelling (left and right named as if the person
faced the camera, which is what the encoder draws) and says whether the person truly faces away.
It is scored on the held-out people's true 2D joints (crop pixels), plus Gaussian noise of
``--noise-px``, and with ``--run`` on a trained model's own 2D joints, also voted over time (the
logits averaged over ``--windows`` frames of a clip; ``diagnose_facing.window_mean``).

    python scripts/diagnose_facing_geometry.py --data DATA [--elevation -5 35 --lean 10]
        [--train-noise-px 2] [--noise-px 1 2] [--run RUN] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from diagnose_facing import window_mean  # noqa: E402

from posesynth.evaluation.synthetic import encode_crops, labelled_views  # noqa: E402
from posesynth.geometry import intrinsics, project  # noqa: E402
from posesynth.models.lifter import normalise_2d  # noqa: E402
from posesynth.models.loading import load_model  # noqa: E402
from posesynth.skeleton import facing_side, swap_sides  # noqa: E402
from posesynth.training.imitation_views import BODY_LEAN_DEG, CAMERA_ELEVATION_DEG, sample_views  # noqa: E402
from posesynth.training.inputs import canonical_poses  # noqa: E402

SIZE, FOCAL = 64, 128.0  # the recipe's crop and crop focal length (focal_ratio 2)


def frontal_labelling(joints2d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Relabel left↔right wherever the person faces away, as an encoder that draws everyone frontally does.

    Args:
        joints2d: (B, 17, 2) image pixels, Human3.6M-17 order, the true labelling.
    Returns:
        (B, 17, 2) the joints with the right side on the image's left in every frame
        (:func:`~posesynth.skeleton.facing_side` < 0 or = 0), and (B,) bool: was relabelled (faces away).
    """
    away = facing_side(joints2d) > 0
    return swap_sides(joints2d, away), away


def features(joints2d: torch.Tensor) -> torch.Tensor:
    """(B, 17, 2) pixels → (B, 34) centred and scaled (:func:`~posesynth.models.lifter.normalise_2d`)."""
    return normalise_2d(joints2d)[0].flatten(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="bench_learning's data folder (poses3d.npy, heldout/)")
    parser.add_argument("--elevation", type=float, nargs=2, default=list(CAMERA_ELEVATION_DEG), metavar=("LOW", "HIGH"),
                        help="the sampled views' camera elevation range, degrees (+ = camera above)")
    parser.add_argument("--lean", type=float, default=BODY_LEAN_DEG, help="the sampled bodies' lean, ± degrees")
    parser.add_argument("--train-noise-px", type=float, default=0.0, help="Gaussian σ on the training 2D, crop pixels")
    parser.add_argument("--noise-px", type=float, nargs="*", default=[1.0, 2.0],
                        help="also score the true 2D plus Gaussian noise of these σ (crop pixels)")
    parser.add_argument("--iterations", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--stride", type=int, default=1, help="score every n-th held-out frame")
    parser.add_argument("--run", type=Path, default=None, help="also score this trained model's own 2D joints")
    parser.add_argument("--windows", type=int, nargs="*", default=[9, 33], help="frames in the votes over time (odd)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the scores here")
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    torch.manual_seed(args.seed)
    try:
        poses = canonical_poses(torch.as_tensor(np.load(args.data / "poses3d.npy", allow_pickle=False),
                                                dtype=torch.float32))
        views = labelled_views(args.data / "heldout", SIZE, stride=args.stride)
        model = load_model(args.run) if args.run is not None else None
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}")
    true2d = torch.as_tensor(views["joints2d"], dtype=torch.float32)
    video = torch.as_tensor(views["video"])
    truly_away = facing_side(true2d) > 0

    K = intrinsics(FOCAL, (SIZE - 1) / 2, (SIZE - 1) / 2)
    net = nn.Sequential(nn.Linear(34, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 1))
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(args.seed)
    for _ in range(args.iterations):
        chosen = poses[torch.randint(len(poses), (args.batch,), generator=generator)]
        joints = sample_views(chosen, image_size=SIZE, focal=FOCAL, generator=generator,
                              elevation_deg=tuple(args.elevation), max_lean_deg=args.lean)
        joints2d = project(joints, K)
        joints2d = joints2d + args.train_noise_px * torch.randn(joints2d.shape, generator=generator)
        drawn, away = frontal_labelling(joints2d)
        loss = F.binary_cross_entropy_with_logits(net(features(drawn)).squeeze(-1), away.float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def score(joints2d: torch.Tensor) -> dict[str, float]:
        """Accuracy on (N, 17, 2) held-out 2D, any labelling (it is made frontal first), per frame and voted."""
        with torch.no_grad():
            logits = net(features(frontal_labelling(joints2d)[0])).squeeze(-1)
        result = {"accuracy": float(((logits > 0) == truly_away).float().mean())}
        for width in args.windows:
            voted = window_mean(logits, video, width)
            result[f"accuracy_window_{width}"] = float(((voted > 0) == truly_away).float().mean())
        return result

    noise = torch.Generator().manual_seed(args.seed + 1)
    report = {"frames": len(true2d), "away_share": float(truly_away.float().mean()), "elevation_deg": args.elevation,
              "lean_deg": args.lean, "train_noise_px": args.train_noise_px, "final_loss": loss.item(),
              "true_2d": score(true2d),
              "noisy_2d": {str(sigma): score(true2d + sigma * torch.randn(true2d.shape, generator=noise))
                           for sigma in args.noise_px}}
    if model is not None:
        own2d = torch.from_numpy(encode_crops(model, views["crops"], keys=("joints2d",))["joints2d"])
        report["run"] = {"path": str(args.run), "drawn_facing_right": float(((facing_side(own2d) > 0) == truly_away)
                                                                            .float().mean()), **score(own2d)}
    majority = max(report["away_share"], 1 - report["away_share"])
    print(f"{report['frames']} held-out frames, {report['away_share']:.1%} facing away (majority class "
          f"{majority:.1%}); views: elevation {args.elevation[0]:g}..{args.elevation[1]:g} deg, lean ±{args.lean:g} "
          f"deg, training noise {args.train_noise_px:g} px")
    rows = [("true 2D", report["true_2d"])] + [(f"true 2D + {s} px", r) for s, r in report["noisy_2d"].items()]
    if model is not None:
        rows.append((f"{args.run} 2D (drawn side right: {report['run']['drawn_facing_right']:.1%})", report["run"]))
    for label, result in rows:
        voted = ", ".join(f"voted over {w}: {result[f'accuracy_window_{w}']:.1%}" for w in args.windows)
        print(f"  {label}: facing right {result['accuracy']:.1%}" + (f" ({voted})" if voted else ""))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
