"""``posesynth predict`` on labelled synthetic clips, scored against the best constant pose.

Runs the installed ``posesynth predict RUN VIDEO --out OUT/<clip>`` on every video of a
``posesynth synth`` folder (exactly what a user runs: boxes from the video's sidecar or its
foreground, the run's crop settings), reads each ``poses.npz`` and scores its ``joints3d``
against the clip's true ``joints3d`` with PA-MPJPE (Protocol #2, mm). The bar is the best
constant pose for *these* people: the generalised Procrustes mean of all their true poses
(:func:`posesynth.evaluation.metrics.procrustes_mean`), a constant chosen knowing the test set.

    python scripts/check_predict.py --run runs/demo --data runs/demo/heldout --out runs/demo/check_predict

Prints and writes ``OUT/check_predict.json``: per clip and over all frames, the model's PA-MPJPE,
the constant's, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from posesynth.evaluation.metrics import pa_mpjpe, procrustes_mean
from posesynth.synth.dataset import load_labels


def posesynth_command() -> str:
    """The installed console script: beside this interpreter (a venv), else on PATH."""
    beside = Path(sys.executable).with_name("posesynth")
    found = str(beside) if beside.is_file() else shutil.which("posesynth")
    if found is None:
        sys.exit("posesynth is not installed in this environment: pip install -e . first")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="a training run folder (model.pt, config.yaml)")
    parser.add_argument("--data", type=Path, required=True, help="a labelled synthetic folder (videos/, labels/)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the predictions and check_predict.json")
    args = parser.parse_args()

    videos = sorted((args.data / "videos").glob("*.mp4"))
    if not videos:
        sys.exit(f"{args.data / 'videos'} holds no .mp4 files: pass a `posesynth synth` output folder")
    command = posesynth_command()
    predicted, truth, clips = [], [], []
    for video in videos:
        label_file = args.data / "labels" / f"{video.stem}.npz"
        if not label_file.is_file():
            sys.exit(f"{label_file} is missing: every video needs its label file")
        out = args.out / video.stem
        done = subprocess.run([command, "predict", str(args.run), str(video), "--out", str(out)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"posesynth predict failed on {video}: {done.stderr.strip().splitlines()[-1:]}")
        with np.load(out / "poses.npz", allow_pickle=False) as poses:
            predicted.append(poses["joints3d"].astype(np.float64))
        truth.append(load_labels(label_file)["joints3d"].astype(np.float64))
        if len(predicted[-1]) != len(truth[-1]):
            sys.exit(f"{video}: predict returned {len(predicted[-1])} frames, its labels have {len(truth[-1])}")
        clips.append(video.stem)

    gt = np.concatenate(truth) * 1000.0  # mm
    constant = procrustes_mean(gt).numpy()
    model_err = pa_mpjpe(np.concatenate(predicted) * 1000.0, gt).numpy()
    constant_err = pa_mpjpe(constant, gt).numpy()
    bounds = np.cumsum([0] + [len(t) for t in truth])
    per_clip = {clip: {"frames": int(b - a), "model": float(model_err[a:b].mean()),
                       "best_constant": float(constant_err[a:b].mean())}
                for clip, a, b in zip(clips, bounds[:-1], bounds[1:])}
    report = {"run": str(args.run), "data": str(args.data), "frames": int(len(gt)), "units": "mm, PA-MPJPE",
              "model": float(model_err.mean()), "best_constant": float(constant_err.mean()),
              "ratio": float(model_err.mean() / constant_err.mean()), "clips": per_clip}
    for clip, scores in per_clip.items():
        print(f"{clip:28} {scores['frames']:5d} frames  model {scores['model']:6.1f}  constant {scores['best_constant']:6.1f}")
    print(f"{'all':28} {report['frames']:5d} frames  model {report['model']:6.1f}  constant "
          f"{report['best_constant']:6.1f}  ratio {report['ratio']:.2f}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "check_predict.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
