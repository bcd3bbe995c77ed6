"""Why does a trained run not beat the mean pose? One number per suspect (posesynth.training.diagnostics).

Needs a training run and a labelled ``posesynth synth`` folder (e.g. bench_learning's
``data/heldout``). Prints, and with ``--json`` writes: the 2D joint error of the projected
puppet against the truth, the start and the best constant 2D pose; bone depth-sign agreement;
the spread of predicted articulation; PA-MPJPE against the matched and a shuffled truth; yaw
errors; how often the mirrored prediction scores better; and, on same-video pairs, the trained
decoder's reconstruction loss with the predicted, true and initial target puppets plus the
cosine between the loss's descent direction and the true 2D correction (and the same cosine for
the decoder-free silhouette term); with a facing head, how often the reconstruction's verdict on
the side (``loss.facing_verdict``) and the head itself are right on those pairs. ``docs/learning.md``
says how to read them.

    python scripts/diagnose_learning.py --run runs/learning/run --data runs/learning/data/heldout [--readout-sharpness K]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from posesynth.data.poses3d import load_poses3d
from posesynth.evaluation.synthetic import labelled_views
from posesynth.models.loading import load_model, run_config
from posesynth.models.model import PoseSynthModel
from posesynth.training.checkpoints import model_kwargs
from posesynth.training.diagnostics import diagnose
from posesynth.training.inputs import canonical_poses, mean_pose


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="a training run folder")
    parser.add_argument("--data", type=Path, required=True, help="a labelled synthetic folder (videos/, labels/)")
    parser.add_argument("--stride", type=int, default=4, help="use every k-th frame")
    parser.add_argument("--gap", type=int, default=8, help="source → target gap, in kept frames")
    parser.add_argument("--pairs", type=int, default=48, help="how many same-video pairs test the renderer")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--readout-sharpness", type=float, default=None,
                        help="read the run's heatmaps at this k instead of its model.readout_sharpness")
    args = parser.parse_args()
    if args.pairs < 1:
        parser.error(f"--pairs must be at least 1, got {args.pairs}")
    if args.readout_sharpness is not None and args.readout_sharpness <= 0:
        parser.error(f"--readout-sharpness must be positive, got {args.readout_sharpness}")

    torch.manual_seed(0)
    config = run_config(args.run)
    model = load_model(args.run)
    if args.readout_sharpness is not None:
        model.pose_encoder.readout_sharpness = args.readout_sharpness
    # the start as training had it: an untrained refiner is no start, and its prior read sharper
    # (model.readout_sharpness) would move the joints cut off by the crop's border outwards
    start = PoseSynthModel(**{**model_kwargs(config), "refiner": False, "readout_sharpness": 1.0})
    start.start_from_pose(mean_pose(canonical_poses(torch.as_tensor(load_poses3d(config.data.poses3d)).float())))
    views = labelled_views(args.data, model.image_size, config.data.margin, args.stride)
    report = diagnose(model, start, views, gap=args.gap, pairs=args.pairs)
    for key, value in report.items():
        print(f"{key:36s} {value:9.3f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
