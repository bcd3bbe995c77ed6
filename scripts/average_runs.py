"""Score the average of several finished runs' reported 3D poses on a labelled set (a seed ensemble).

Are the errors of two runs of the recipe independent (then averaging them helps, and more
seeds or a longer run would too) or shared (then it is the objective, not the run's luck)?
This reads each run's reported pose of every frame (eval mode: its readout, refiner and side
stage, as ``posesynth predict`` reports it), averages them and scores the average as the trainer's
evaluation scores one run (PA-MPJPE and N-MPJPE against the first run's mean unpaired pose as
baseline, :mod:`posesynth.evaluation.synthetic`). For each pair of runs it also gives the
correlation of their per-frame PA-MPJPE, the PA-MPJPE of picking the better run in every frame
(an oracle: the most any choice between them could give), and the median cosine between their
per-frame errors after Procrustes alignment (1: both runs get every joint wrong the same way).

The runs choose each person's side on their own, and the average of a body and its mirror reading
is no body at all. So before averaging, each further run's pose is replaced, frame by frame, by
its mirror reading (left and right renamed, root-relative depths negated: the same 2D skeleton
with the other facing, exact under weak perspective) wherever that is nearer the first run's: the
first run decides the side. The run folders are only read.

    python scripts/average_runs.py --data runs/heatmap_s0/data/heldout --runs RUN1 RUN2 [RUN3 ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import torch

from posesynth.config import ConfigError
from posesynth.evaluation.metrics import n_mpjpe, pa_mpjpe, procrustes_align
from posesynth.evaluation.synthetic import baseline_poses, encode_crops, labelled_views
from posesynth.models.loading import load_model, run_config
from posesynth.skeleton import mirror_interpretation
from posesynth.training.inputs import mean_pose, unpaired_poses


def mirror_reading(pose: np.ndarray) -> np.ndarray:
    """The other facing of the same 2D skeleton.  (N, 17, 3) root-relative, camera frame, m → (N, 17, 3).

    Every joint takes its mirror partner's name and its depth relative to the root is negated:
    :func:`posesynth.skeleton.mirror_interpretation` of the pose's x, y and depth (the root at
    the origin), exact under weak perspective.
    """
    xy, depth = mirror_interpretation(pose[..., :2], pose[..., 2])
    return np.concatenate([xy, depth[..., None]], axis=-1)


def side_aligned_average(poses: list[np.ndarray]) -> tuple[np.ndarray, list[float]]:
    """Average poses of several runs, each later run read with the side nearer the first run's.

    Args:
        poses: R arrays (N, 17, 3) root-relative, camera frame, metres, the same N frames.
    Returns:
        (N, 17, 3) the average, and for each later run the share of frames read mirrored.
    """
    reference = poses[0]
    members, mirrored = [reference], []
    for pose in poses[1:]:
        other = mirror_reading(pose)
        closer = (np.linalg.norm(other - reference, axis=-1).mean(-1)
                  < np.linalg.norm(pose - reference, axis=-1).mean(-1))
        members.append(np.where(closer[:, None, None], other, pose))
        mirrored.append(float(closer.mean()))
    return np.mean(members, axis=0), mirrored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a labelled set (posesynth synth's folder)")
    parser.add_argument("--runs", type=Path, nargs="+", required=True, help="finished run folders (model.pt)")
    parser.add_argument("--json", type=Path, default=None, help="write the scores here")
    args = parser.parse_args()
    if len(args.runs) < 2:
        parser.error("--runs needs at least two run folders to average")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    try:
        models = [load_model(run) for run in args.runs]
        config = run_config(args.runs[0])
        sizes = {model.image_size for model in models}
        if len(sizes) > 1:
            raise ConfigError(f"the runs crop at different sizes ({sorted(sizes)} px): average runs of one recipe")
        views = labelled_views(args.data, models[0].image_size, config.data.margin)
        reference = mean_pose(torch.as_tensor(unpaired_poses(config.data), dtype=torch.float32))
    except (ConfigError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
    truth_mm = views["truth"] * 1000
    poses = [encode_crops(model, views["crops"])["pose_camera"].astype(np.float64) for model in models]

    def scores(pred: np.ndarray) -> dict[str, float]:
        return {"pa_mpjpe": float(pa_mpjpe(pred * 1000, truth_mm).mean()),
                "n_mpjpe": float(n_mpjpe(pred * 1000, truth_mm).mean())}

    per_frame = [pa_mpjpe(pose * 1000, truth_mm).numpy() for pose in poses]   # (N,) mm each
    # each run's error after its Procrustes alignment, (N, 17, 3) mm: the direction of its mistake
    residuals = [procrustes_align(pose * 1000, truth_mm).numpy() - truth_mm for pose in poses]

    baseline = scores(baseline_poses(reference, views["truth"]))
    report: dict = {"data": str(args.data), "frames": len(truth_mm), "baseline": baseline, "combinations": []}
    print(f"{len(truth_mm)} frames of {args.data}, mean pose {baseline['pa_mpjpe']:.1f} mm "
          f"(N-MPJPE {baseline['n_mpjpe']:.1f})")
    for count in range(1, len(poses) + 1):
        for chosen in itertools.combinations(range(len(poses)), count):
            average, mirrored = side_aligned_average([poses[i] for i in chosen])
            row = {"runs": [str(args.runs[i]) for i in chosen], **scores(average), "mirrored": mirrored}
            row["ratio"] = row["pa_mpjpe"] / baseline["pa_mpjpe"]
            if count == 2:   # do the two runs fail on the same frames? (1: the same errors; an oracle's pick)
                first, second = (per_frame[i] for i in chosen)
                row["frame_error_correlation"] = float(np.corrcoef(first, second)[0, 1])
                row["better_per_frame_pa_mpjpe"] = float(np.minimum(first, second).mean())
                a, b = (residuals[i] for i in chosen)
                cosine = (a * b).sum((-1, -2)) / (np.linalg.norm(a, axis=(-1, -2)) * np.linalg.norm(b, axis=(-1, -2)))
                row["residual_cosine_median"] = float(np.median(cosine))
            report["combinations"].append(row)
            names = " + ".join(str(args.runs[i]) for i in chosen)
            print(f"{names}: PA-MPJPE {row['pa_mpjpe']:.1f} mm ({row['ratio']:.3f}x)  N-MPJPE {row['n_mpjpe']:.1f}"
                  + (f"  (read mirrored: {', '.join(f'{m:.0%}' for m in mirrored)})" if mirrored else "")
                  + (f"  per-frame PA-MPJPE correlation {row['frame_error_correlation']:.3f}, the better run per "
                     f"frame {row['better_per_frame_pa_mpjpe']:.1f} mm, their errors' cosine (median) "
                     f"{row['residual_cosine_median']:.3f}" if count == 2 else ""))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
