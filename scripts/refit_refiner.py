"""Fit a fresh refiner after a run and score the run's held-out set with and without it.

The refiner (``model.refiner``) learns from unpaired poses only, so it can be fitted after any
2.5D run (``posesynth.training.refiner_fit``). This takes a finished ``posesynth train`` /
``bench_learning.py`` run, fits a new ``DepthLifter(refine_2d=True)`` on the run's own unpaired
poses (``data.poses3d`` of its config) for ``--iterations`` batches, and scores every frame of
the run's held-out set (``data.eval_synthetic``) exactly as the trainer's evaluation does
(:func:`~posesynth.evaluation.synthetic.score_poses`, the run's mean unpaired pose as baseline):
the run as it was (its own refiner, if it has one), without any refiner, and with the new one.
The run folder is only read.

    python scripts/refit_refiner.py --run runs/heatmap_s0/run [--iterations 3000] [--noise-px 2]
        [--elevation -5 35 --lean 10] [--data LABELLED_SET] [--json OUT]

The sampled views default to those of the run's own fit after its last step
(``train.refiner_fit_elevation_*_deg``, ``train.refiner_fit_lean_deg``; where unset, the run's
``loss.imitation_elevation_*_deg``, ``loss.imitation_lean_deg``); ``--elevation``/``--lean`` fit the refiner on other views, e.g. the
benchmark's cameras, without retraining the run (BENCHMARKS.md, "The refiner's views after the
side stage"). ``--data`` scores another labelled set instead of the run's held-out one: choose a
setting on a validation set of other people, then report it on the held-out people.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from posesynth.config import ConfigError
from posesynth.evaluation.synthetic import labelled_views, score_poses
from posesynth.models.lifter import DepthLifter
from posesynth.models.loading import load_model, run_config
from posesynth.training.inputs import canonical_poses, mean_pose, unpaired_poses
from posesynth.training.refiner_fit import fit_refiner, refiner_fit_views


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="a finished run folder (model.pt, config.yaml)")
    parser.add_argument("--iterations", type=int, default=3000, help="batches of 256 unpaired poses")
    parser.add_argument("--noise-px", type=float, default=2.0, help="σ of the 2D noise the refiner learns to remove")
    parser.add_argument("--elevation", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                        help="the sampled views' camera elevation range, degrees (default: the run's "
                             "train.refiner_fit_elevation_*_deg, else loss.imitation_elevation_*_deg)")
    parser.add_argument("--lean", type=float, default=None,
                        help="the sampled bodies' lean, ± degrees (default: the run's train.refiner_fit_lean_deg, "
                             "else loss.imitation_lean_deg)")
    parser.add_argument("--data", type=Path, default=None,
                        help="a labelled set to score (posesynth synth's folder; default: the run's data.eval_synthetic)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the scores here")
    args = parser.parse_args()
    if args.elevation is not None and not -90 <= args.elevation[0] <= args.elevation[1] <= 90:
        parser.error(f"--elevation LOW HIGH is a camera elevation range in degrees, -90 <= LOW <= HIGH <= 90; "
                     f"got {args.elevation[0]:g} {args.elevation[1]:g}")
    if args.lean is not None and not 0 <= args.lean <= 90:
        parser.error(f"--lean is an angle in degrees, in [0, 90]; got {args.lean:g}")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    try:
        model = load_model(args.run)
        config = run_config(args.run)
        data, loss = config.data, config.loss
        scored = args.data if args.data is not None else data.eval_synthetic
        if scored is None:
            raise ConfigError(f"{args.run}/config.yaml has no data.eval_synthetic: nothing held out to score "
                              "(give a labelled set with --data)")
        real = torch.as_tensor(unpaired_poses(data), dtype=torch.float32)
        views = labelled_views(scored, model.image_size, data.margin)
    except (ConfigError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
    reference = mean_pose(real)

    def score() -> dict:
        scores = score_poses(model, views["crops"], views["truth"], reference, joints2d=views["joints2d"])
        return {"pa_mpjpe": scores["model"]["pa_mpjpe"], "n_mpjpe": scores["model"]["n_mpjpe"],
                "ratio": scores["model"]["pa_mpjpe"] / scores["baseline"]["pa_mpjpe"],
                "baseline_pa_mpjpe": scores["baseline"]["pa_mpjpe"], "baseline_n_mpjpe": scores["baseline"]["n_mpjpe"]}

    report: dict = {"run": str(args.run), "scored": str(scored), "frames": len(views["truth"]),
                    "as_trained": score()}
    own = model.refiner
    model.refiner = None
    report["no_refiner"] = score()
    started = time.perf_counter()
    torch.manual_seed(args.seed)   # the fresh refiner's weights too: one seed, one refiner
    model.refiner = DepthLifter(refine_2d=True)
    fit = config.train   # the run's own fit after its last step may have views of its own
    run_views = refiner_fit_views((loss.imitation_elevation_min_deg, loss.imitation_elevation_max_deg),
                                  loss.imitation_lean_deg, fit.refiner_fit_elevation_min_deg,
                                  fit.refiner_fit_elevation_max_deg, fit.refiner_fit_lean_deg)
    elevation = tuple(args.elevation) if args.elevation is not None else run_views["elevation_deg"]
    lean = args.lean if args.lean is not None else run_views["max_lean_deg"]
    losses = fit_refiner(model.refiner, canonical_poses(real), K=model.K, image_size=model.image_size,
                         iterations=args.iterations, noise_px=args.noise_px, seed=args.seed,
                         elevation_deg=elevation, max_lean_deg=lean)
    model.eval()
    report["refitted"] = {**score(), "iterations": args.iterations, "noise_px": args.noise_px,
                          "elevation_deg": list(elevation), "lean_deg": lean,
                          "final_loss": float(np.mean(losses[-50:])),
                          "fit_seconds": round(time.perf_counter() - started, 1)}
    model.refiner = own
    baseline = report["as_trained"]["baseline_pa_mpjpe"]
    print(f"{report['frames']} frames of {scored}, mean pose {baseline:.1f} mm "
          f"(N-MPJPE {report['as_trained']['baseline_n_mpjpe']:.1f})")
    for key, label in (("as_trained", "as trained"), ("no_refiner", "no refiner"),
                       ("refitted", f"refitted ({args.iterations} batches)")):
        row = report[key]
        print(f"{label:>28}: PA-MPJPE {row['pa_mpjpe']:6.1f} mm ({row['ratio']:.3f}x)  N-MPJPE {row['n_mpjpe']:6.1f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
