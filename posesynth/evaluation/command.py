"""``posesynth eval``: score 3D poses on Human3.6M, a synthetic set or MPI-INF-3DHP.

Predictions come from a file of any method (:mod:`posesynth.evaluation.h36m_predictions`), or from a trained
posesynth model run on crops around the 2D ground truth (:mod:`posesynth.evaluation.model_eval`).
``--synthetic`` scores a model on ``posesynth synth`` output per motion; ``--3dhp`` is MPI-INF-3DHP
(:mod:`posesynth.evaluation.mpi_3dhp`). The protocols are in :mod:`posesynth.evaluation.scores`.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from posesynth.datasets.h36m.cameras import CAMERAS
from posesynth.datasets.h36m.load import load_h36m
from posesynth.datasets.h36m.types import TEST_SUBJECTS
from posesynth.evaluation.h36m_predictions import PredictionsError, evaluate_predictions, open_predictions
from posesynth.evaluation.model_eval import evaluate_model, evaluate_synthetic_views
from posesynth.evaluation.mpi_3dhp import run_3dhp
from posesynth.evaluation.scores import PROTOCOLS, SequenceScores, summarize, write_evaluation
from posesynth.models.loading import load_model, run_config
from posesynth.skeleton import JOINT_NAMES, ROOT

log = logging.getLogger(__name__)


def _csv_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``posesynth eval``."""
    parser.add_argument("model", nargs="?", type=Path, default=None, metavar="RUN_OR_CKPT",
                        help="a run directory of `posesynth train` or a model.pt (omit with --predictions)")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--h36m", type=Path, metavar="ROOT", help="Human3.6M (original release, VideoPose3D npz, "
                                                                 "or mmpose's data/h36m)")
    data.add_argument("--synthetic", type=Path, metavar="DIR", help="a `posesynth synth` output folder")
    data.add_argument("--3dhp", dest="mpi_inf_3dhp", type=Path, metavar="FILE.npz",
                      help="MPI-INF-3DHP ground truth in mmpose's npz layout (with --predictions PRED.npy)")
    parser.add_argument("--predictions", type=Path, metavar="PRED",
                        help="predictions of any method: .npz keyed '<subject>|<sequence>|<camera>' → (F, 17, 3) "
                             "camera-frame mm (Human3.6M), or .npy (N, 17, 3) mm in the npz's row order (3DHP)")
    parser.add_argument("--out", type=Path, required=True,
                        help="output folder (metrics.json, metrics.md, per_frame.csv)")
    parser.add_argument("--format", choices=("original", "videopose3d", "mmpose"), default=None,
                        help="Human3.6M layout (default: detected)")
    parser.add_argument("--subjects", type=_csv_list, default=list(TEST_SUBJECTS), help="default S9,S11")
    parser.add_argument("--cameras", type=_csv_list, default=list(CAMERAS), help="default all four")
    parser.add_argument("--frame-step", type=int, default=1, metavar="K",
                        help="evaluate mocap frames 0, K, 2K, … (default 1: every frame)")
    parser.add_argument("--strict", action="store_true", help="views without a prediction are an error")
    parser.add_argument("--margin", type=float, default=None,
                        help="crop side / the 2D joints' extent (default: the run's data.margin, else 1.25)")
    parser.add_argument("--batch-size", type=int, default=64, help="frames per forward pass (default 64)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--pck-joints", type=int, choices=(14, 17), default=14,
                        help="3DHP: joints of PCK/AUC (default 14, the official evaluation's set)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="read pickle-based Human3.6M files (VideoPose3D's data_3d_h36m.npz, mmpose's "
                             "cameras.pkl); unpickling a file can run code: trust its source")


def _model_and_margin(args: argparse.Namespace) -> tuple[torch.nn.Module, float]:
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = load_model(args.model, map_location=device).to(device)
    margin = args.margin
    if margin is None:  # the run's own crop margin (the default 1.25 for a bare model.pt)
        margin = run_config(args.model).data.margin
    return model, margin


def _check_missing(missing: Sequence[str], strict: bool) -> None:
    if missing:
        message = f"{len(missing)} view(s) of the split are not evaluated: {', '.join(sorted(missing))}"
        if strict:
            raise PredictionsError(message + " (--strict)")
        log.warning(message)


def _run_h36m(args: argparse.Namespace) -> tuple[list[SequenceScores], dict]:
    split = load_h36m(args.h36m, args.format, subjects=args.subjects, cameras=args.cameras,
                      need_video=args.predictions is None, trust_pickle=args.trust_pickle)
    protocol = {"dataset": "Human3.6M", "format": split.format, "subjects": list(args.subjects),
                "cameras": list(args.cameras), "frame_step": args.frame_step, "joints": list(JOINT_NAMES),
                "root": JOINT_NAMES[ROOT], "units": "mm", "metrics": PROTOCOLS}
    if args.predictions is not None:
        with open_predictions(args.predictions) as predictions:
            scores, missing = evaluate_predictions(split.sequences, predictions, frame_step=args.frame_step,
                                                   source=str(args.predictions), subjects=args.subjects,
                                                   cameras=args.cameras, known=split.missing,
                                                   exact_frames=split.format != "mmpose")
        missing = sorted(set(missing) | set(split.missing))
        _check_missing(missing, args.strict)
        protocol["predictions"] = str(args.predictions)
    else:
        missing = split.missing
        _check_missing(missing, args.strict)  # before the long model run
        model, margin = _model_and_margin(args)
        scores = evaluate_model(model, split.sequences, frame_step=args.frame_step, margin=margin,
                                batch_size=args.batch_size)
        protocol |= {"model": str(args.model), "crop": f"2D ground-truth joints, margin {margin}"}
    return scores, summarize(scores, missing=missing, protocol=protocol)


def _run_synthetic(args: argparse.Namespace) -> tuple[list[SequenceScores], dict]:
    """``--synthetic``: a model on a ``posesynth synth`` folder, per motion."""
    if args.model is None:
        raise ValueError("--synthetic evaluates a model: pass RUN_OR_CKPT")
    model, margin = _model_and_margin(args)
    scores = evaluate_synthetic_views(model, args.synthetic, margin=margin, frame_step=args.frame_step)
    protocol = {"dataset": "posesynth synthetic", "root": str(args.synthetic), "model": str(args.model),
                "frame_step": args.frame_step, "joints": list(JOINT_NAMES), "units": "mm", "metrics": PROTOCOLS}
    return scores, summarize(scores, protocol=protocol, order=None)


def run_eval(args: argparse.Namespace) -> int:
    """Run ``posesynth eval``; prints the table. Errors go to the command's error boundary (``cli.main``)."""
    if args.mpi_inf_3dhp is not None:
        if args.predictions is None or args.model is not None:
            raise ValueError("--3dhp scores a predictions file: pass --predictions PRED.npy and no model")
        markdown = run_3dhp(args.predictions, args.mpi_inf_3dhp, args.out, pck_joints=args.pck_joints)
    else:
        if (args.model is None) == (args.predictions is None):
            raise ValueError("pass either a model (RUN_OR_CKPT) or --predictions PRED.npz, not both")
        scores, metrics = _run_synthetic(args) if args.synthetic is not None else _run_h36m(args)
        markdown = write_evaluation(args.out, scores, metrics)
    print(markdown)
    print(f"\nwritten: {args.out / 'metrics.json'}, {args.out / 'metrics.md'}, {args.out / 'per_frame.csv'}")
    return 0
