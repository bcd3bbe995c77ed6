"""``posesynth eval``: score 3D poses on Human3.6M with the papers' protocols.

The protocols (REFERENCE.md, "Protocols and metrics"), on the 17 Human3.6M joints, millimetres,
one value per frame from :mod:`posesynth.evaluation.metrics`:

- Protocol #1, **MPJPE**: mean joint error after moving both pelvises to the origin;
- Protocol #2, **PA-MPJPE**: after a per-pose similarity Procrustes fit (scale, rotation,
  translation) of the prediction onto the ground truth;
- **N-MPJPE**: after root alignment and a least-squares scale only (Rhodin et al., CVPR 2018).

By default subjects S9 and S11, all four cameras, every mocap frame; ``--frame-step K`` keeps
frames 0, K, 2K, … An action's value is the mean over all of its evaluated frames (every
subject, camera and trial); the average is the mean over the actions.

Predictions come from a file of any method (:func:`evaluate_predictions`, one array per view
keyed ``"S9|Walking 1|54138969"``), or from a trained posesynth model run on crops around the 2D
ground truth (:mod:`posesynth.evaluation.model_eval`). ``posesynth eval --synthetic`` scores a model on
``posesynth synth`` output per motion; ``--3dhp`` is MPI-INF-3DHP (:mod:`posesynth.evaluation.mpi_3dhp`).
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from posesynth.data.arrays import NpzArrays, open_archive
from posesynth.datasets.h36m.load import ACTIONS, CAMERAS, TEST_SUBJECTS, H36MSequence, load_h36m
from posesynth.evaluation.report import group_means, markdown_table, mean_over_groups, warn_if_metres, write_report
from posesynth.evaluation.metrics import mpjpe, n_mpjpe, pa_mpjpe
from posesynth.skeleton import JOINT_NAMES, NUM_JOINTS, ROOT

log = logging.getLogger(__name__)

METRICS: tuple[str, ...] = ("mpjpe", "pa_mpjpe", "n_mpjpe")
CSV_HEADER: tuple[str, ...] = ("subject", "sequence", "action", "camera", "frame", *METRICS)
PROTOCOLS: dict[str, str] = {
    "mpjpe": "Protocol #1: mean joint error after aligning the pelvises",
    "pa_mpjpe": "Protocol #2: after a per-pose similarity Procrustes fit (scale, rotation, translation)",
    "n_mpjpe": "after aligning the pelvises and a least-squares scale of the prediction",
}


class PredictionsError(ValueError):
    """A predictions file that does not fit the evaluated split; the message names the file and key."""


@dataclass
class SequenceScores:
    """Per-frame errors of one evaluated view.

    Attributes:
        subject, sequence, action, camera: as in :class:`~posesynth.datasets.h36m.load.H36MSequence`.
        frames: (N,) int64 mocap frame indices evaluated.
        errors: metric name (``METRICS``) → (N,) float64 per-frame error, millimetres.
    """

    subject: str
    sequence: str
    action: str
    camera: str
    frames: np.ndarray
    errors: dict[str, np.ndarray]

    @property
    def key(self) -> str:
        return f"{self.subject}|{self.sequence}|{self.camera}"


def check_frame_step(step: int) -> int:
    """``step`` if it is a valid frame step (≥ 1), else a ValueError."""
    if step < 1:
        raise ValueError(f"frame step must be ≥ 1, got {step}")
    return step


def frame_selection(frames: np.ndarray, step: int) -> np.ndarray:
    """(F,) bool: which mocap frame indices the frame step keeps (0, K, 2K, …)."""
    return np.asarray(frames) % check_frame_step(step) == 0


def pose_errors(pred_mm: np.ndarray, gt_mm: np.ndarray) -> dict[str, np.ndarray]:
    """MPJPE (root-aligned), PA-MPJPE and N-MPJPE of every pose.

    Args:
        pred_mm, gt_mm: (N, 17, 3) camera frame, millimetres (absolute or root-relative).
    Returns:
        ``METRICS`` name → (N,) float64 millimetres.
    """
    return {"mpjpe": mpjpe(pred_mm, gt_mm, root=ROOT).numpy(), "pa_mpjpe": pa_mpjpe(pred_mm, gt_mm).numpy(),
            "n_mpjpe": n_mpjpe(pred_mm, gt_mm, root=ROOT).numpy()}


def sequence_scores(seq: H36MSequence, frames: np.ndarray, pred_mm: np.ndarray, gt_mm: np.ndarray) -> SequenceScores:
    """Score one view's (N, 17, 3) millimetre predictions on its ``frames`` (N,) against ``gt_mm``."""
    return SequenceScores(seq.subject, seq.sequence, seq.action, seq.camera, np.asarray(frames, np.int64),
                          pose_errors(pred_mm, gt_mm))


# --- predictions of any method ---------------------------------------------------------------

def check_prediction_keys(keys: Sequence[str], sequences: Sequence[H36MSequence], *, source: str = "predictions",
                          subjects: Sequence[str] | None = None, cameras: Sequence[str] | None = None,
                          known: Sequence[str] = ()) -> list[str]:
    """Match a predictions file's keys to the evaluated views.

    Keys of subjects or cameras outside the selection are ignored (a file for S9 and S11 can be
    scored on S9 alone); any other key must name a view of the split or one listed in ``known``
    (views the reader skipped).

    Args:
        keys: the file's keys, ``"<subject>|<sequence>|<camera>"``.
        sequences: the evaluated views.
        source: the file's name, for messages.
        subjects, cameras: the selection (default: those of ``sequences``).
        known: further valid keys (e.g. ``H36MSplit.missing``).
    Returns:
        Keys of the views in ``sequences`` that have no prediction, sorted.
    Raises:
        PredictionsError naming the first key that is malformed or matches no view.
    """
    subjects = set(subjects or {s.subject for s in sequences})
    cameras = set(cameras or {s.camera for s in sequences})
    valid = {s.key for s in sequences} | set(known)
    for key in keys:
        parts = key.split("|")
        if len(parts) != 3:
            raise PredictionsError(f"{source}: key {key!r} is not '<subject>|<sequence>|<camera>' "
                                   f"(e.g. 'S9|Walking 1|54138969')")
        if parts[0] not in subjects or parts[2] not in cameras or key in valid:
            continue
        close = difflib.get_close_matches(key, sorted(valid), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise PredictionsError(f"{source}: key {key!r} matches no Human3.6M view of the evaluated split{hint} "
                               f"Name sequences as the dataset does on disk, e.g. 'S9|Walking 1|54138969'")
    return sorted({s.key for s in sequences} - set(keys))


def check_prediction_array(array: np.ndarray, seq: H36MSequence, *, source: str = "predictions",
                           exact_frames: bool = True) -> np.ndarray:
    """Validate one view's predictions: (F, 17, 3) millimetres, F = ``seq.num_mocap_frames``.

    Args:
        array: the file's array for ``seq.key``.
        exact_frames: False accepts F ≥ the last held frame + 1 (mmpose's layout does not know
            a sequence's full length, so a method's all-frame output may be longer).
    Returns:
        The array as float64.
    Raises:
        PredictionsError naming the key on a wrong shape or a non-finite evaluated row.
    """
    array = np.asarray(array)
    frames = seq.num_mocap_frames
    shape_ok = array.ndim == 3 and array.shape[1:] == (NUM_JOINTS, 3)
    rows_ok = shape_ok and (array.shape[0] == frames if exact_frames else array.shape[0] >= frames)
    if not rows_ok:
        expected = f"({frames}, 17, 3)" if exact_frames else f"(≥{frames}, 17, 3)"
        raise PredictionsError(f"{source}: {seq.key!r} has shape {array.shape}, expected {expected}: one row per "
                               f"mocap frame of the sequence (all frames; the evaluator applies the frame step), "
                               f"17 Human3.6M joints, camera-frame millimetres")
    bad = ~np.isfinite(array[seq.frames]).all(axis=(1, 2))
    if bad.any():
        raise PredictionsError(f"{source}: {seq.key!r} has NaN/inf at frames {seq.frames[bad][:5].tolist()}")
    return array.astype(np.float64, copy=False)


PREDICTIONS_NPZ = ("an .npz with one (F, 17, 3) camera-frame millimetre array per view, keyed "
                   "'<subject>|<sequence>|<camera>' (np.savez(path, **predictions))")


def open_predictions(path: str | os.PathLike) -> NpzArrays:
    """Open a Human3.6M predictions ``.npz`` without pickle (arrays are read one at a time; close it after use).

    Raises:
        ArrayFileError when it is missing, empty, not an npz archive or holds Python objects;
        PredictionsError when it holds no array.
    """
    data = open_archive(path, f"Human3.6M predictions: {PREDICTIONS_NPZ}")
    if not len(data):
        data.close()
        raise PredictionsError(f"{path}: the archive holds no array; expected {PREDICTIONS_NPZ}")
    return data


def evaluate_predictions(sequences: Sequence[H36MSequence], predictions: Mapping[str, np.ndarray], *,
                         frame_step: int = 1, source: str = "predictions", subjects: Sequence[str] | None = None,
                         cameras: Sequence[str] | None = None, known: Sequence[str] = (),
                         exact_frames: bool = True) -> tuple[list[SequenceScores], list[str]]:
    """Score a method's predictions on Human3.6M views.

    Args:
        sequences: the views (``load_h36m(...).sequences``).
        predictions: key ``"<subject>|<sequence>|<camera>"`` → (F, 17, 3) camera frame, millimetres,
            one row per mocap frame (an open ``np.load`` npz reads one array at a time).
        frame_step: evaluate frames 0, K, 2K, … of each view.
        source, subjects, cameras, known: see :func:`check_prediction_keys`.
        exact_frames: see :func:`check_prediction_array`.
    Returns:
        The scored views and the keys of views without a prediction.
    Raises:
        PredictionsError naming the key of a bad entry.
    """
    check_frame_step(frame_step)  # before any work
    missing = check_prediction_keys(list(predictions.keys()), sequences, source=source, subjects=subjects,
                                    cameras=cameras, known=known)
    scores = []
    for seq in sequences:
        if seq.key not in predictions:
            continue
        pred = check_prediction_array(predictions[seq.key], seq, source=source, exact_frames=exact_frames)
        keep = frame_selection(seq.frames, frame_step)
        if not scores:  # one units check per file: every view of a method has the same units
            warn_if_metres(pred[seq.frames[keep]], source)
        scores.append(sequence_scores(seq, seq.frames[keep], pred[seq.frames[keep]], seq.joints3d[keep]))
    if not scores:
        raise PredictionsError(f"{source}: no prediction for any evaluated view ({len(sequences)} views, e.g. "
                               f"{sequences[0].key!r}); check the keys and the --subjects/--cameras selection"
                               if sequences else f"{source}: no view to evaluate")
    return scores, missing


# --- summary ---------------------------------------------------------------------------------

def summarize(scores: Sequence[SequenceScores], *, missing: Sequence[str] = (), protocol: dict | None = None,
              order: Sequence[str] | None = ACTIONS) -> dict:
    """The ``metrics.json`` content.

    Returns:
        ``{"per_action": {action: {"mpjpe", "pa_mpjpe", "n_mpjpe"}}, "average": {...}, "frames": N,
        "missing": [...], "protocol": {...}}``: an action's value is the mean over all of its
        evaluated frames; ``average`` is the mean over actions; millimetres.
    """
    actions = [s.action for s in scores for _ in range(len(s.frames))]
    errors = {m: np.concatenate([np.zeros(0), *(s.errors[m] for s in scores)]) for m in METRICS}
    per_action = group_means(actions, errors, order)
    return {"per_action": per_action, "average": mean_over_groups(per_action), "frames": len(actions),
            "missing": sorted(missing), "protocol": protocol or {}}


def per_frame_rows(scores: Sequence[SequenceScores]) -> Iterator[tuple]:
    """``per_frame.csv`` rows (``CSV_HEADER``), generated view by view."""
    for s in scores:
        for i, frame in enumerate(s.frames.tolist()):
            yield (s.subject, s.sequence, s.action, s.camera, frame, *(float(s.errors[m][i]) for m in METRICS))


def write_evaluation(out: str | os.PathLike, scores: Sequence[SequenceScores], metrics: dict) -> str:
    """Write ``metrics.json``, ``metrics.md`` and ``per_frame.csv``; returns the markdown table."""
    table = markdown_table(metrics["per_action"], metrics["average"]) if metrics["per_action"] else "(no frames)"
    p = metrics["protocol"]
    lines = [f"{p.get('dataset', 'evaluation')}: {metrics['frames']} frames"]
    lines += [f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in p.items()
              if k not in ("dataset", "joints", "metrics")]
    if metrics["missing"]:
        lines.append(f"missing views ({len(metrics['missing'])}): {', '.join(metrics['missing'])}")
    markdown = table + "\n\n" + "\n".join(f"- {line}" for line in lines)
    write_report(out, metrics, markdown, CSV_HEADER, per_frame_rows(scores))
    return markdown


# --- command line ----------------------------------------------------------------------------

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
    from posesynth.training.train import load_model, run_config

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
        from posesynth.evaluation.model_eval import evaluate_model  # imports this module: loaded on use

        missing = split.missing
        _check_missing(missing, args.strict)  # before the long model run
        model, margin = _model_and_margin(args)
        scores = evaluate_model(model, split.sequences, frame_step=args.frame_step, margin=margin,
                                batch_size=args.batch_size)
        protocol |= {"model": str(args.model), "crop": f"2D ground-truth joints, margin {margin}"}
    return scores, summarize(scores, missing=missing, protocol=protocol)


def _run_synthetic(args: argparse.Namespace) -> tuple[list[SequenceScores], dict]:
    """``--synthetic``: a model on a ``posesynth synth`` folder, per motion."""
    from posesynth.evaluation.model_eval import evaluate_synthetic_views  # imports this module: loaded on use

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
        from posesynth.evaluation.mpi_3dhp import run_3dhp

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
