"""Per-view scores of a 3D pose evaluation and their summary: errors per frame, means per action,
``metrics.json`` / ``metrics.md`` / ``per_frame.csv`` (the Human3.6M protocols, in millimetres).

The protocols (REFERENCE.md, "Protocols and metrics"), on the 17 Human3.6M joints, one value per
frame from :mod:`posesynth.evaluation.metrics`:

- Protocol #1, **MPJPE**: mean joint error after moving both pelvises to the origin;
- Protocol #2, **PA-MPJPE**: after a per-pose similarity Procrustes fit (scale, rotation,
  translation) of the prediction onto the ground truth;
- **N-MPJPE**: after root alignment and a least-squares scale only (Rhodin et al., CVPR 2018).

An action's value is the mean over all of its evaluated frames (every subject, camera and trial);
the average is the mean over the actions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from posesynth.datasets.h36m.types import ACTIONS, H36MSequence
from posesynth.evaluation.metrics import mpjpe, n_mpjpe, pa_mpjpe
from posesynth.evaluation.report import group_means, markdown_table, mean_over_groups, write_report
from posesynth.skeleton import ROOT

METRICS: tuple[str, ...] = ("mpjpe", "pa_mpjpe", "n_mpjpe")
CSV_HEADER: tuple[str, ...] = ("subject", "sequence", "action", "camera", "frame", *METRICS)
PROTOCOLS: dict[str, str] = {
    "mpjpe": "Protocol #1: mean joint error after aligning the pelvises",
    "pa_mpjpe": "Protocol #2: after a per-pose similarity Procrustes fit (scale, rotation, translation)",
    "n_mpjpe": "after aligning the pelvises and a least-squares scale of the prediction",
}


@dataclass
class SequenceScores:
    """Per-frame errors of one evaluated view.

    Attributes:
        subject, sequence, action, camera: as in :class:`~posesynth.datasets.h36m.types.H36MSequence`.
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
