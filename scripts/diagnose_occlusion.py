"""Diagnostic: does the puppet's depth order tell which way a person faces?

A person seen from the front and the same 2D joints with left and right swapped and every depth
reflected about the pelvis (z' = 2·z_root − z) are both valid bodies with the same 2D skeleton
(the second is the first turned 180° and mirrored). Only appearance and *occlusion* can tell them
apart: where an arm crosses the torso the true one draws the nearer part on top, the mirror one
the farther. The renderer has a soft depth order (:mod:`posesynth.render.puppet`, eq. 3), so if it
matched how bodies occlude, a reconstruction loss that compares both labellings could pick the
side without labels. This measures that, with no learned network: the true puppet and
alternatives are painted in flat part colours (:func:`posesynth.render.paint.paint_parts`, the
colours pooled from the frame under each puppet's own maps, or from a frame ``--offset`` frames
away in the same clip as the decoder's appearance would be) and compared with the frame (mean
absolute error over the crop).

    python scripts/diagnose_occlusion.py --data DATA/heldout [--size 64] [--noise-px 0 1 2] [--json OUT]

For each alternative it prints how often the truth paints the frame better ("truth wins"; 0.5 is
no information), split by the true facing, and the median relative margin (alternative − truth) /
truth. The 1 px and 3 px shifts of the true 2D say how sensitive the measure is to the 2D;
``flat depth`` (one depth for every part) and ``reflected depth`` (same labels) isolate the depth
order.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from einops import rearrange

from posesynth.evaluation.synthetic import labelled_views
from posesynth.render.paint import observed_foreground, paint_parts, part_colours
from posesynth.render.puppet import render_part_maps
from posesynth.skeleton import FLIP_PERMUTATION, facing_side, mirror_interpretation


def other_frames(video: torch.Tensor, offset: int) -> torch.Tensor:
    """For each frame, the index ``offset`` frames later in the same clip, else earlier, else itself.  (N,) → (N,)."""
    index = torch.arange(len(video))
    later, earlier = index + offset, index - offset
    later_fits = (later < len(video)) & (video[later.clamp(max=len(video) - 1)] == video)
    earlier_fits = (earlier >= 0) & (video[earlier.clamp(min=0)] == video)
    return torch.where(later_fits, later, torch.where(earlier_fits, earlier, index))


def paint_errors(image: torch.Tensor, background: torch.Tensor, seen: torch.Tensor, joints2d: torch.Tensor,
                 depth: torch.Tensor, focal: torch.Tensor, lender: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean absolute error of the flat-painted puppet against each frame, with two sources of colour.

    Args:
        image, background: (N, 3, S, S) in [0, 1]; seen: (N, 1, S, S) where the person is seen
            (:func:`~posesynth.render.paint.observed_foreground`).
        joints2d: (N, 17, 2) crop pixels; depth: (N, 17) metres; focal: (N,) crop focal length, pixels.
        lender: (N,) the frame whose colours (under its own puppet of the same hypothesis) paint
            each frame in the second error.
    Returns:
        (N,) errors in [0, 1] colour units: painted in each frame's own colours, and in the lender's.
    """
    size = image.shape[-1]
    maps = render_part_maps(joints2d, depth, (size, size), focal=focal)
    colours = part_colours(image, maps, seen)
    return tuple((paint_parts(maps, c, background) - image).abs().mean(dim=(1, 2, 3))
                 for c in (colours, colours[lender]))


def compare(truth: torch.Tensor, other: torch.Tensor, toward: torch.Tensor) -> dict[str, float]:
    """How often the truth's error is the smaller, overall and by facing, and the median relative margin."""
    wins = (truth < other).float()
    return {"truth_wins": float(wins.mean()), "truth_wins_facing_camera": float(wins[toward].mean()),
            "truth_wins_facing_away": float(wins[~toward].mean()),
            "median_relative_margin": float(((other - truth) / truth.clamp(min=1e-9)).median())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a labelled synthetic set (e.g. DATA/heldout)")
    parser.add_argument("--size", type=int, default=64, help="crop side, pixels")
    parser.add_argument("--stride", type=int, default=2, help="keep every n-th frame")
    parser.add_argument("--offset", type=int, default=8, help="frames to the clip frame that lends its colours")
    parser.add_argument("--noise-px", type=float, nargs="*", default=[0.0, 1.0, 2.0],
                        help="Gaussian noise on the 2D joints (a trained encoder's error), pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    try:
        views = labelled_views(args.data, args.size, 1.25, stride=args.stride)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    image = rearrange(torch.from_numpy(views["crops"]).float() / 255, "n h w c -> n c h w")
    background = rearrange(torch.from_numpy(views["backgrounds"]).float() / 255, "n h w c -> n c h w")
    joints2d = torch.from_numpy(views["joints2d"]).float()
    depth = torch.from_numpy(views["pose3d"][..., 2]).float()
    focal = torch.from_numpy(views["focal"]).float()
    toward = facing_side(joints2d) < 0
    lender = other_frames(torch.from_numpy(views["video"]), args.offset)
    seen = observed_foreground(image, background)
    report = {"frames": len(image), "facing_camera_share": float(toward.float().mean()), "rows": []}
    print(f"{len(image)} frames, {report['facing_camera_share']:.1%} facing the camera; "
          f"'truth wins' = the true puppet paints the frame better (0.5: no information)")
    generator = torch.Generator().manual_seed(args.seed)
    for noise_px in args.noise_px:
        noise = noise_px * torch.randn(joints2d.shape, generator=generator)
        alternatives = {"mirror (sides swapped, depth reflected)": mirror_interpretation(joints2d, depth),
                        "reflected depth, same sides": (joints2d, 2 * depth[:, :1] - depth),
                        "flat depth": (joints2d, depth[:, :1].expand_as(depth)),
                        "2D shifted 1 px": (joints2d + joints2d.new_tensor([1.0, 0.0]), depth),
                        "2D shifted 3 px": (joints2d + joints2d.new_tensor([3.0, 0.0]), depth)}
        truth = paint_errors(image, background, seen, joints2d + noise, depth, focal, lender)
        mirrored_noise = noise[:, list(FLIP_PERMUTATION)]  # the mirror's noise moves with its points
        others = {name: paint_errors(image, background, seen,
                                     other2d + (mirrored_noise if name.startswith("mirror") else noise),
                                     other_depth, focal, lender)
                  for name, (other2d, other_depth) in alternatives.items()}
        for k, colours in enumerate(("own frame", f"frame {args.offset} away")):
            for name, other in others.items():
                row = {"noise_px": noise_px, "colours": colours, "alternative": name,
                       **compare(truth[k], other[k], toward)}
                report["rows"].append(row)
                print(f"noise {noise_px:.1f} px, colours of the {colours}, vs {name}: truth wins "
                      f"{row['truth_wins']:.1%} (facing the camera {row['truth_wins_facing_camera']:.1%}, away "
                      f"{row['truth_wins_facing_away']:.1%}), median margin {row['median_relative_margin']:+.2%}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
