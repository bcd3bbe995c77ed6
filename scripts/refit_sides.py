"""Fit the side classifier after a finished run and score the run's held-out set with and without it.

The side stage (``model.side_classifier``, ``train.side_fit_iterations``;
:mod:`posesynth.training.side_fit`) reads no label: it paints unpaired poses with a face in the
run's own colours, so it can be fitted after any 2.5D run. This takes a finished
``posesynth train`` / ``bench_learning.py`` run, rebuilds the training pairs its config names
(the same seed, hence the same pairs), fits a fresh classifier for ``--iterations`` batches of
64 paintings exactly as the trainer does after its last step (``--seed`` defaults to the run's
``train.seed``, as there), and scores every frame of the run's held-out set
(``data.eval_synthetic``) exactly as the trainer's evaluation does: the run as trained and with
the fitted sides, plus the share of held-out sides the classifier gets right. The run folder is
only read; ``--out NEW_RUN`` writes the run with its classifier as a new run folder (``model.pt``
and ``config.yaml``) that ``posesynth predict`` and ``posesynth eval`` read.

    python scripts/refit_sides.py --run runs/heatmap_s0/run [--iterations 1500] [--seed S] [--json OUT] [--out NEW_RUN]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from posesynth.config import ConfigError, save_config
from posesynth.data.pairs import FramePairDataset
from posesynth.evaluation.synthetic import labelled_views, score_poses
from posesynth.models.loading import model_file, run_config, stored_model_kwargs
from posesynth.models.model import PoseSynthModel
from posesynth.skeleton import facing_side
from posesynth.training.inputs import canonical_poses, mean_pose, unpaired_poses
from posesynth.training.side_fit import fit_model_sides


def sided_model(run: Path) -> tuple[PoseSynthModel, dict]:
    """A run's model with a fresh, unfitted side classifier (its own one, if it had one, is dropped),
    and the run's stored weights file (read once)."""
    file = model_file(run)
    if not file.is_file():
        raise FileNotFoundError(f"{file} does not exist: pass a run folder written by `posesynth train`")
    weights = torch.load(file, map_location="cpu", weights_only=True)
    kwargs = stored_model_kwargs(weights, file)
    if kwargs.get("facing_head"):
        raise ConfigError(f"{run} has a facing head: it chooses the sides itself (model.facing_head)")
    model = PoseSynthModel(**{**kwargs, "side_classifier": True})
    state = {k: v for k, v in weights["state_dict"].items() if not k.startswith("side_classifier.")}
    state["side_fitted"] = torch.tensor(False)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("side_classifier.") for k in missing):
        raise ConfigError(f"{file} does not match its stored settings (missing {missing}, unexpected {unexpected})")
    return model.eval(), weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="a finished run folder (model.pt, config.yaml)")
    parser.add_argument("--iterations", type=int, default=1500, help="batches of 64 faced paintings")
    parser.add_argument("--seed", type=int, default=None, help="the paintings' seed (default: the run's train.seed)")
    parser.add_argument("--json", type=Path, default=None, help="write the scores here")
    parser.add_argument("--out", type=Path, default=None, help="write the run with its fitted classifier here (new)")
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    if args.out is not None and args.out.exists():
        sys.exit(f"error: {args.out} already exists: choose a new folder for the sided run")
    try:
        config = run_config(args.run)
        data, t = config.data, config.train
        if data.eval_synthetic is None:
            raise ConfigError(f"{args.run}/config.yaml has no data.eval_synthetic: nothing held out to score")
        model, weights = sided_model(args.run)
        real = torch.as_tensor(unpaired_poses(data), dtype=torch.float32)
        # the trainer's pairs (one process): the same seed and length give the same donors
        dataset = FramePairDataset(videos=data.videos, cache=data.cache, size=model.image_size, min_gap=data.min_gap,
                                   max_gap=data.max_gap, background_window=data.background_window,
                                   margin=data.margin, box_source=data.box_source, seed=t.seed,
                                   pairs_per_epoch=t.steps * t.grad_accum * t.batch_size)
        views = labelled_views(data.eval_synthetic, model.image_size, data.margin)
    except (ConfigError, FileNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}")
    reference = mean_pose(real)
    truth_towards = (facing_side(torch.as_tensor(views["joints2d"])) < 0).numpy()

    def score() -> dict:
        scores = score_poses(model, views["crops"], views["truth"], reference, joints2d=views["joints2d"])
        row = {key: scores["model"][key] for key in ("pa_mpjpe", "n_mpjpe", "joints2d_px", "joints2d_either_side_px")}
        return {**row, "ratio": row["pa_mpjpe"] / scores["baseline"]["pa_mpjpe"],
                "baseline_pa_mpjpe": scores["baseline"]["pa_mpjpe"], "baseline_n_mpjpe": scores["baseline"]["n_mpjpe"],
                "constant_joints2d_px": scores["constant"]["joints2d_px"]}

    report: dict = {"run": str(args.run), "frames": len(views["truth"]), "as_trained": score()}
    seed = t.seed if args.seed is None else args.seed
    started = time.perf_counter()
    loss = config.loss
    losses = fit_model_sides(model, dataset, canonical_poses(real), iterations=args.iterations, seed=seed,
                             elevation_deg=(loss.imitation_elevation_min_deg, loss.imitation_elevation_max_deg),
                             max_lean_deg=loss.imitation_lean_deg)
    with torch.no_grad():
        crops = torch.from_numpy(views["crops"]).permute(0, 3, 1, 2)
        towards = torch.cat([model.side_classifier(chunk.float() / 255) for chunk in crops.split(256)]) > 0
    report["sided"] = {**score(), "iterations": args.iterations, "seed": seed,
                       "final_loss": float(np.mean(losses[-50:])),
                       "side_right": float((towards.numpy() == truth_towards).mean()),
                       "towards_share": float(towards.float().mean()), "truth_towards_share": float(truth_towards.mean()),
                       "fit_seconds": round(time.perf_counter() - started, 1)}
    baseline = report["as_trained"]["baseline_pa_mpjpe"]
    print(f"{report['frames']} held-out frames, mean pose {baseline:.1f} mm "
          f"(N-MPJPE {report['as_trained']['baseline_n_mpjpe']:.1f}; best constant 2D "
          f"{report['as_trained']['constant_joints2d_px']:.2f} px)")
    print(f"classifier: {report['sided']['side_right']:.3f} of held-out sides right "
          f"(final loss {report['sided']['final_loss']:.3f}, {report['sided']['fit_seconds']:.0f} s)")
    for key, label in (("as_trained", "as trained"), ("sided", f"sides fitted ({args.iterations} batches)")):
        row = report[key]
        print(f"{label:>30}: PA-MPJPE {row['pa_mpjpe']:6.1f} mm ({row['ratio']:.3f}x)  N-MPJPE {row['n_mpjpe']:6.1f}  "
              f"2D {row['joints2d_px']:.2f} px")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    if args.out is not None:
        write_sided_run(model, weights, config, args.out, args.iterations, file=model_file(args.run))


def write_sided_run(model: PoseSynthModel, weights: dict, config, out: Path, iterations: int, file: Path) -> None:
    """``out/model.pt`` (the run's stored ``weights`` with the fitted classifier and the constructor
    arguments) and ``out/config.yaml``."""
    weights = dict(weights)
    weights["state_dict"] = model.state_dict()
    weights["model_kwargs"] = {**stored_model_kwargs(weights, file), "side_classifier": True}
    config.model.side_classifier = True
    config.train.side_fit_iterations = iterations
    out.mkdir(parents=True)
    tmp = out / "model.pt.tmp"
    torch.save(weights, tmp)
    tmp.replace(out / "model.pt")
    save_config(config, out / "config.yaml")
    print(f"wrote {out} (posesynth predict {out} VIDEO reads it with the fitted sides)")


if __name__ == "__main__":
    main()
