"""Writing an evaluation: ``metrics.json``, the paper-style ``metrics.md`` table, ``per_frame.csv``.

Averaging follows the papers' tables (REFERENCE.md, "Protocols and metrics"): a group's value
(an action of Human3.6M, a sequence of MPI-INF-3DHP) is the mean over all of its evaluated
frames, pooled over subjects, cameras and trials; the summary column of Human3.6M is the
unweighted mean over the groups (so a long action does not outweigh a short one).
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# A body's joints lie ~100-900 mm from their centroid; a median under this many "mm" is metres.
METRES_SUSPECT_MM = 10.0

# how the papers name each metric in a table row, and its unit
METRIC_LABELS: dict[str, str] = {"mpjpe": "MPJPE (mm)", "pa_mpjpe": "PA-MPJPE (mm)", "n_mpjpe": "N-MPJPE (mm)",
                                 "pck": "PCK@150mm (%)", "auc": "AUC (%)"}


def looks_like_metres(poses: np.ndarray) -> float | None:
    """The median joint distance from each pose's centroid when it is too small for millimetres, else None.

    Args:
        poses: (..., J, 3) poses meant to be millimetres (any joint order); NaN rows are ignored.
    """
    poses = np.asarray(poses, np.float64).reshape(-1, *np.shape(poses)[-2:])
    poses = poses[np.isfinite(poses).all(axis=(1, 2))]
    if not len(poses):
        return None
    spread = float(np.median(np.linalg.norm(poses - poses.mean(axis=1, keepdims=True), axis=-1)))
    return spread if 0 < spread < METRES_SUSPECT_MM else None


def warn_if_metres(poses: np.ndarray, source: str) -> None:
    """Warn when predictions meant to be millimetres look like metres (scores would be meaningless)."""
    spread = looks_like_metres(poses)
    if spread is not None:
        log.warning("%s: joints lie a median %.3g units from their centroid, which looks like metres, but the "
                    "evaluator expects millimetres: multiply the predictions by 1000", source, spread)


def group_means(groups: Sequence[str], errors: Mapping[str, np.ndarray],
                order: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """Mean of every metric within each group of frames.

    Args:
        groups: (N,) the group (e.g. action) of every evaluated frame.
        errors: metric name → (N,) per-frame values.
        order: groups in the order wanted (groups absent from ``groups`` are left out); the
            default is sorted.
    Returns:
        group → metric → mean over the group's frames.
    """
    labels = np.asarray(groups)
    present = set(labels.tolist())
    order = sorted(present) if order is None else [g for g in order if g in present]
    extra = sorted(present - set(order))  # groups the order does not know still get a column
    return {g: {name: float(np.mean(values[labels == g])) for name, values in errors.items()}
            for g in [*order, *extra]}


def mean_over_groups(per_group: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Unweighted mean over groups of each metric (the "Avg" column of Human3.6M tables)."""
    if not per_group:
        return {}
    names = next(iter(per_group.values())).keys()
    return {name: float(np.mean([values[name] for values in per_group.values()])) for name in names}


def markdown_table(per_group: Mapping[str, Mapping[str, float]], summary: Mapping[str, float], *,
                   summary_label: str = "Avg", digits: int = 1) -> str:
    """The table as papers print it: groups as columns plus the summary, one row per metric.

    Args:
        per_group: group → metric → value (from :func:`group_means`).
        summary: metric → value of the last column.
    Returns:
        A GitHub-markdown table, e.g. ``| | Directions | … | Avg |`` / ``| MPJPE (mm) | 45.2 | … |``.
    """
    columns = [*per_group, summary_label]
    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name in summary:
        cells = [per_group[g][name] for g in per_group] + [summary[name]]
        lines.append(f"| {METRIC_LABELS.get(name, name)} | " + " | ".join(f"{v:.{digits}f}" for v in cells) + " |")
    return "\n".join(lines)


def _replace_atomically(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        write(handle)
    os.replace(tmp, path)


def write_report(out: str | os.PathLike, metrics: dict, markdown: str, header: Sequence[str],
                 rows: Iterable[Sequence]) -> Path:
    """Write ``metrics.json``, ``metrics.md`` and ``per_frame.csv`` into ``out`` (created).

    Each file is written to a temporary name and renamed, so an interrupted run never leaves a
    half-written file under the final name.

    Args:
        out: output folder.
        metrics: the JSON summary.
        markdown: the body of ``metrics.md``.
        header: the CSV column names.
        rows: the CSV rows (streamed: a generator keeps memory bounded for millions of frames);
            floats are written with 4 decimals.
    Returns:
        ``out`` as a Path.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    def cell(value):
        return f"{value:.4f}" if isinstance(value, (float, np.floating)) else value

    def write_csv(handle):
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([cell(v) for v in row] for row in rows)

    _replace_atomically(out / "per_frame.csv", write_csv)
    _replace_atomically(out / "metrics.md", lambda h: h.write(markdown.rstrip("\n") + "\n"))
    _replace_atomically(out / "metrics.json", lambda h: h.write(json.dumps(metrics, indent=2) + "\n"))
    return out
