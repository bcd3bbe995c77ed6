"""Human3.6M predictions of any method: one (F, 17, 3) camera-frame millimetre array per view, keyed
``"S9|Walking 1|54138969"``, checked against the evaluated split and scored (:func:`evaluate_predictions`).

By default subjects S9 and S11, all four cameras, every mocap frame; ``--frame-step K`` keeps
frames 0, K, 2K, … A trained posesynth model is scored by :mod:`posesynth.evaluation.model_eval`;
the command is :mod:`posesynth.evaluation.command`.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Mapping, Sequence

import numpy as np

from posesynth.data.arrays import NpzArrays, open_archive
from posesynth.datasets.h36m.types import H36MSequence
from posesynth.evaluation.report import warn_if_metres
from posesynth.evaluation.scores import SequenceScores, check_frame_step, frame_selection, sequence_scores
from posesynth.skeleton import NUM_JOINTS

log = logging.getLogger(__name__)


class PredictionsError(ValueError):
    """A predictions file that does not fit the evaluated split; the message names the file and key."""

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
