"""Train the checkpoint ``posesynth demo`` starts from (``assets/demo/checkpoint.pt``), self-supervised.

The learning benchmark's run, unchanged: 800 synthetic clips of 800 people (no 2D or 3D label is
read in training), the 2.5D recipe ``configs/heatmap_selfsup.yaml`` with ``model.facing_head=true``
(the heatmaps label the limbs as seen from the front; the head is not trained, so it never swaps)
and without the refiner (which came later),
1,200 steps, seed 0 — about 5 minutes of data generation and 17 of training on 2 CPU cores. Its
weights are then written in half precision (8.3 MB) to ``--dest``, with a refiner fitted on the
benchmark's unpaired poses alone (``posesynth.training.refiner_fit``, ``--refiner-iterations``
batches, 2 px noise, about 40 s; ``model.refiner``), which builds the reported pose.
``--from-run RUN`` skips the training and exports (and refines) a finished run. The benchmark's held-out curve
is in ``OUT/learning.json`` (BENCHMARKS.md, "The demo's checkpoint").

    python scripts/make_demo_checkpoint.py --out runs/demo_checkpoint
    python scripts/make_demo_checkpoint.py --out runs/demo_checkpoint --data runs/heatmap_s0/data   # reuse data
    python scripts/make_demo_checkpoint.py --out runs/demo_checkpoint --data runs/heatmap_s0/data --from-run runs/demo_checkpoint/run
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from bench_learning import run_benchmark  # noqa: E402

from posesynth.models.loading import stored_model_kwargs  # noqa: E402
from posesynth.models.model import PoseSynthModel  # noqa: E402
from posesynth.training.checkpoints import export_weights  # noqa: E402
from posesynth.training.inputs import canonical_poses  # noqa: E402
from posesynth.training.refiner_fit import fit_refiner  # noqa: E402

RECIPE = REPO / "configs" / "heatmap_selfsup.yaml"
# the recipe as it was when the shipped checkpoint was trained: the refiner and its fit after the
# run came later, and the demo reads its heatmaps as trained (configs/demo.yaml keeps
# model.readout_sharpness at 1)
OVERRIDES = ("model.facing_head=true", "model.refiner=false", "loss.refining=0", "train.refiner_fit_iterations=0",
             "model.readout_sharpness=1", "model.side_classifier=false", "train.side_fit_iterations=0",
             "model.puppet_extremities=false")


def add_refiner(checkpoint: Path, poses3d: Path, iterations: int, seed: int) -> dict:
    """Fit a refiner on the unpaired poses and store it in ``checkpoint`` (half precision, atomically)."""
    stored = torch.load(checkpoint, map_location="cpu", weights_only=True)
    kwargs = {**stored_model_kwargs(stored, checkpoint), "refiner": True}
    model = PoseSynthModel(**kwargs)
    poses = canonical_poses(torch.as_tensor(np.load(poses3d, allow_pickle=False), dtype=torch.float32))
    losses = fit_refiner(model.refiner, poses, K=model.K, image_size=kwargs["image_size"], iterations=iterations,
                         seed=seed)
    stored["model_kwargs"] = kwargs
    stored["state_dict"].update({f"refiner.{k}": v.detach().half() for k, v in model.refiner.state_dict().items()})
    tmp = checkpoint.with_name(checkpoint.name + ".tmp")
    torch.save(stored, tmp)
    tmp.replace(checkpoint)
    return {"iterations": iterations, "final_loss": round(sum(losses[-50:]) / len(losses[-50:]), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="benchmark folder (OUT/run, OUT/learning.json)")
    parser.add_argument("--data", type=Path, default=None, help="the benchmark's synthetic sets (default OUT/data)")
    parser.add_argument("--dest", type=Path, default=REPO / "assets" / "demo" / "checkpoint.pt",
                        help="where the half-precision weights go (default assets/demo/checkpoint.pt)")
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--videos", type=int, default=800, help="training clips, one new person each")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--video-size", type=int, default=128)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--heldout-videos", type=int, default=24)
    parser.add_argument("--refiner-iterations", type=int, default=3000,
                        help="batches of unpaired poses to fit the refiner on (0: no refiner)")
    parser.add_argument("--from-run", type=Path, default=None,
                        help="export this finished run instead of training one (needs --data for the poses)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="extra recipe overrides (tests: tiny sizes)")
    args = parser.parse_args()
    overrides = [f"train.seed={args.seed}", *OVERRIDES, *args.overrides]
    data = args.data or args.out / "data"
    ratio = None
    if args.from_run is None:
        result = run_benchmark(args.out, args.data, steps=args.steps, videos=args.videos, frames=args.frames,
                               video_size=args.video_size, eval_every=args.eval_every, config=RECIPE,
                               overrides=overrides, heldout_videos=args.heldout_videos)
        ratio = round(result["final_ratio_pa_mpjpe"], 3)
    elif not (data / "poses3d.npy").is_file():
        sys.exit(f"error: {data / 'poses3d.npy'} is missing: pass the run's benchmark data with --data")
    dest = export_weights(args.out / "run" if args.from_run is None else args.from_run, args.dest)
    refiner = (add_refiner(dest, data / "poses3d.npy", args.refiner_iterations, args.seed)
               if args.refiner_iterations else None)
    print(json.dumps({"checkpoint": str(dest), "megabytes": round(dest.stat().st_size / 2**20, 1),
                      "benchmark_final_ratio_pa_mpjpe": ratio, "refiner": refiner, "overrides": overrides},
                     indent=2))


if __name__ == "__main__":
    main()
