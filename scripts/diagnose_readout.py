"""Diagnostic: score trained runs with their heatmaps read at other sharpnesses (``model.readout_sharpness``).

The reconstruction trains only each heatmap's expectation (the soft-argmax), so a heatmap may keep
mass near the starting pose beside its peak; reading the logits k times sharper moves the reported
joints towards the peaks. The sharpness acts in eval mode only, so one trained run can be read at
every k without retraining: this script scores each run's held-out PA-MPJPE, N-MPJPE and 2D error
(plain and with left/right open per frame) at each k, beside the mean-pose baseline. Choose k on a
validation set of people who are not the held-out ones (BENCHMARKS.md, "Reading the heatmaps
sharper"), then set ``model.readout_sharpness`` in the config.

    python scripts/diagnose_readout.py --run RUN [RUN ...] --data DATA/heldout --poses3d DATA/poses3d.npy \\
        [--sharpness 1 2 4 8] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from posesynth.cli import expected_error_message
from posesynth.config import load_config
from posesynth.evaluation.synthetic import labelled_views, score_poses
from posesynth.models.loading import load_model, run_config
from posesynth.training.inputs import canonical_poses, mean_pose, unpaired_poses


def read_at(model: torch.nn.Module, views: dict, reference: torch.Tensor, sharpness: float) -> dict[str, float]:
    """Held-out scores of ``model`` with its heatmaps read ``sharpness`` times sharper (eval mode).

    Args:
        model: a :class:`~posesynth.models.model.PoseSynthModel`; its own sharpness is restored after.
        views: :func:`~posesynth.evaluation.synthetic.labelled_views` of a labelled set.
        reference: (17, 3) the mean unpaired pose, metres (the baseline).
        sharpness: k > 0.
    Returns:
        ``pa_mpjpe``, ``n_mpjpe`` (mm), ``ratio_pa_mpjpe`` (model / baseline), ``joints2d_px``,
        ``joints2d_either_side_px`` (crop pixels).
    """
    encoder = model.pose_encoder
    kept = encoder.readout_sharpness
    encoder.readout_sharpness = sharpness
    try:
        scores = score_poses(model, views["crops"], views["truth"], mean_pose=reference, joints2d=views["joints2d"])
    finally:
        encoder.readout_sharpness = kept
    own = scores["model"]
    return {"pa_mpjpe": own["pa_mpjpe"], "n_mpjpe": own["n_mpjpe"],
            "ratio_pa_mpjpe": own["pa_mpjpe"] / scores["baseline"]["pa_mpjpe"],
            "joints2d_px": own["joints2d_px"], "joints2d_either_side_px": own["joints2d_either_side_px"]}


def sweep(runs: list[Path], data: Path, poses3d: Path, sharpness: list[float]) -> dict:
    """``{run: {k: scores}}`` for every run and sharpness (:func:`read_at`), printed as it goes."""
    reference = mean_pose(canonical_poses(torch.as_tensor(
        unpaired_poses(load_config(None, [f"data.poses3d={poses3d}"]).data), dtype=torch.float32)))
    views: dict[tuple[int, float], dict] = {}   # per crop size and margin, loaded once
    result = {}
    for run in runs:
        model, margin = load_model(run), run_config(run).data.margin
        key = (model.image_size, margin)
        if key not in views:
            views[key] = labelled_views(data, model.image_size, margin)
        result[str(run)] = {}
        print(f"{run} ({len(views[key]['crops'])} crops, its own setting k = {model.pose_encoder.readout_sharpness:g})")
        for k in sharpness:
            row = read_at(model, views[key], reference, k)
            result[str(run)][f"{k:g}"] = row
            print(f"  k = {k:<4g} PA-MPJPE {row['pa_mpjpe']:.1f} mm ({row['ratio_pa_mpjpe']:.3f}x the mean pose), "
                  f"N-MPJPE {row['n_mpjpe']:.1f} mm, 2D {row['joints2d_px']:.2f} px, "
                  f"side open {row['joints2d_either_side_px']:.2f} px", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, nargs="+", required=True, help="run folders (or model.pt files)")
    parser.add_argument("--data", type=Path, required=True, help="a labelled synthetic set (posesynth synth output)")
    parser.add_argument("--poses3d", type=Path, required=True,
                        help="the unpaired poses (.npy) whose mean is the baseline")
    parser.add_argument("--sharpness", type=float, nargs="+", default=[1.0, 2.0, 4.0, 8.0])
    parser.add_argument("--json", type=Path, default=None, help="also write {run: {k: scores}} here")
    args = parser.parse_args()
    if any(k <= 0 for k in args.sharpness):
        parser.error(f"--sharpness must be positive, got {args.sharpness}")
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    try:
        result = sweep(args.run, args.data, args.poses3d, args.sharpness)
    except Exception as error:   # a missing or foreign file: one line, not a traceback
        message = expected_error_message(error)
        if message is None:
            raise
        parser.exit(2, f"error: {message}\n")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
