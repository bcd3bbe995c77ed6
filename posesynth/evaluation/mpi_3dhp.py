"""MPI-INF-3DHP: 3D-PCK at 150 mm, AUC over 0–150 mm and MPJPE, per sequence (``posesynth eval --3dhp``).

Ground truth is mmpose's npz layout (``tests/data/mpi_inf_3dhp/test_3dhp_test.npz`` of
open-mmlab/mmpose): ``imgname`` (N,) such as ``TS1_002001.jpg`` (test) or
``S4_Seq2_Cam0_001033.jpg`` (training), ``S`` (N, 17, 4) camera frame, metres + visibility, in
the 17-joint order of the 3DHP test set (``JOINT_NAMES``; mmpose's ``Body3DMpiInf3dhpDataset``
docstring, and ``mpii_get_joint_set('relevant')`` of the dataset's own evaluation code).
Predictions are an ``.npy`` (N, 17, 3) in millimetres, same joints, row i ↔ ``imgname[i]``.

Protocol, as the dataset's MATLAB evaluation (``mpii_test_predictions.m`` /
``mpii_compute_3d_pck.m``, Mehta et al. 3DV 2017):

- both poses are made relative to the pelvis (joint 14); no scale or rotation is fitted;
- **PCK**: percentage of joints within 150 mm; **AUC**: PCK averaged over thresholds
  0, 5, …, 150 mm (31 values). Both on the **14 joints** of the official joint groups by
  default — head top, neck, shoulders, elbows, wrists, hips, knees, ankles (indices 0–13; the
  pelvis, spine and head, 14–16, are left out) — or on all 17 (``pck_joints=17``);
- **MPJPE** over all 17 joints (the official per-sequence table), plus PA-MPJPE.

A joint is correct when ``error < t``, strictly, as in the official code
(``mpii_compute_3d_pck.m``), so the numbers compare with published ones: nothing is within
t = 0, and a perfect prediction scores AUC 30/31 = 96.8.

The mmpose npz carries no activity labels, so results are per sequence (``TS1``…) and over all
frames (the official "All" row pools frames, it does not average sequences). The visibility
column is not used (mmpose's evaluation ignores it too).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posesynth.data.arrays import load_array, open_archive
from posesynth.evaluation.metrics import AUC_THRESHOLDS_MM, auc, mpjpe, pa_mpjpe, pck
from posesynth.evaluation.report import group_means, markdown_table, warn_if_metres, write_report

JOINT_NAMES: tuple[str, ...] = ("head_top", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
                                "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
                                "left_knee", "left_ankle", "pelvis", "spine", "head")
ROOT = 14
# the official joint groups (Head, Neck, Shoulder, Elbow, Wrist, Hip, Knee, Ankle): joints 0–13
PCK_JOINTS_14: tuple[int, ...] = tuple(range(14))
PCK_THRESHOLD_MM = 150.0
METRICS: tuple[str, ...] = ("pck", "auc", "mpjpe", "pa_mpjpe")
CSV_HEADER: tuple[str, ...] = ("sequence", "image", "frame", *METRICS)

_IMAGE = re.compile(r"^(?P<sequence>.+)_(?P<frame>\d+)\.\w+$")


class MPIInf3DHPError(ValueError):
    """A 3DHP ground-truth or predictions file that cannot be scored; the message names the file."""


@dataclass
class MPIInf3DHPSet:
    """MPI-INF-3DHP ground truth frames.

    Attributes:
        images: (N,) image names, e.g. ``TS1_002001.jpg``.
        sequences: (N,) sequence of each frame: ``TS1`` (test) or ``S4_Seq2_Cam0`` (training).
        frames: (N,) int64 the frame number in the image name.
        joints3d: (N, 17, 3) float64 camera frame, millimetres, ``JOINT_NAMES`` order.
    """

    images: np.ndarray
    sequences: np.ndarray
    frames: np.ndarray
    joints3d: np.ndarray


def load_3dhp(path: str | os.PathLike) -> MPIInf3DHPSet:
    """Read mmpose's MPI-INF-3DHP npz (``imgname``, ``S`` (N, 17, 4) metres).

    Raises:
        MPIInf3DHPError naming the file and the key that is missing or malformed.
    """
    with open_archive(path, "mmpose's MPI-INF-3DHP npz (imgname, S)") as data:
        missing = [k for k in ("imgname", "S") if k not in data.files]
        if missing:
            raise MPIInf3DHPError(f"{path}: no {missing} array; expected mmpose's MPI-INF-3DHP npz with 'imgname' "
                                  f"(N,) and 'S' (N, 17, 4) camera-frame metres")
        images, joints = data["imgname"].astype(str), np.asarray(data["S"], np.float64)
    if joints.ndim != 3 or joints.shape[1] != 17 or joints.shape[2] < 3 or len(joints) != len(images):
        raise MPIInf3DHPError(f"{path}: 'S' has shape {joints.shape}, expected ({len(images)}, 17, 4)")
    parsed = [_IMAGE.match(Path(name).name) for name in images]
    bad = [name for name, match in zip(images, parsed) if match is None]
    if bad:
        raise MPIInf3DHPError(f"{path}: image name {bad[0]!r} is not '<sequence>_<frame>.jpg'")
    return MPIInf3DHPSet(images=images, sequences=np.array([m["sequence"] for m in parsed]),
                         frames=np.array([int(m["frame"]) for m in parsed], np.int64),
                         joints3d=joints[..., :3] * 1000.0)  # metres → millimetres


def score_3dhp(pred_mm: np.ndarray, gt_mm: np.ndarray, pck_joints: int = 14) -> dict[str, np.ndarray]:
    """Per-frame MPI-INF-3DHP metrics.

    Args:
        pred_mm, gt_mm: (N, 17, 3) millimetres, ``JOINT_NAMES`` order (absolute or root-relative).
        pck_joints: 14 (the official set, ``PCK_JOINTS_14``) or 17 joints for PCK and AUC.
    Returns:
        ``pck`` and ``auc`` (N,) in percent; ``mpjpe`` (pelvis-aligned) and ``pa_mpjpe`` (N,) in
        millimetres over all 17 joints.
    """
    if pck_joints not in (14, 17):
        raise ValueError(f"pck_joints must be 14 or 17, got {pck_joints}")
    joints = PCK_JOINTS_14 if pck_joints == 14 else None
    return {"pck": 100.0 * pck(pred_mm, gt_mm, PCK_THRESHOLD_MM, root=ROOT, joints=joints).numpy(),
            "auc": 100.0 * auc(pred_mm, gt_mm, AUC_THRESHOLDS_MM, root=ROOT, joints=joints).numpy(),
            "mpjpe": mpjpe(pred_mm, gt_mm, root=ROOT).numpy(), "pa_mpjpe": pa_mpjpe(pred_mm, gt_mm).numpy()}


def evaluate_3dhp(pred_mm: np.ndarray, gt: MPIInf3DHPSet, *, pck_joints: int = 14,
                  source: str = "predictions") -> tuple[dict, dict[str, np.ndarray]]:
    """Score predictions on a 3DHP set.

    Args:
        pred_mm: (N, 17, 3) millimetres, row i for ``gt.images[i]``.
        gt: from :func:`load_3dhp`.
    Returns:
        ``metrics.json`` content — ``{"per_sequence": {seq: {"pck", "auc", "mpjpe", "pa_mpjpe"}},
        "all": {...} (pooled over frames), "frames": N, "missing": [], "protocol": {...}}`` — and
        the per-frame values (``METRICS`` → (N,)).
    Raises:
        MPIInf3DHPError naming ``source`` on a wrong shape or non-finite values.
    """
    pred_mm = np.asarray(pred_mm)
    if pred_mm.shape != gt.joints3d.shape:
        raise MPIInf3DHPError(f"{source}: shape {pred_mm.shape}, expected {gt.joints3d.shape}: one (17, 3) pose in "
                              f"millimetres per ground-truth row, joints in the 3DHP order ({', '.join(JOINT_NAMES)})")
    bad = ~np.isfinite(pred_mm).all(axis=(1, 2))
    if bad.any():
        raise MPIInf3DHPError(f"{source}: NaN/inf in rows {np.flatnonzero(bad)[:5].tolist()}")
    errors = score_3dhp(pred_mm, gt.joints3d, pck_joints)
    protocol = {"dataset": "MPI-INF-3DHP", "pck_joints": [JOINT_NAMES[j] for j in (PCK_JOINTS_14 if pck_joints == 14
                                                                                   else range(17))],
                "mpjpe_joints": list(JOINT_NAMES), "root": JOINT_NAMES[ROOT], "pck_threshold_mm": PCK_THRESHOLD_MM,
                "auc_thresholds_mm": list(AUC_THRESHOLDS_MM), "correct": "error < threshold", "units": "mm, %"}
    metrics = {"per_sequence": group_means(gt.sequences, errors),
               "all": {m: float(np.mean(v)) for m, v in errors.items()}, "frames": int(len(pred_mm)),
               "missing": [], "protocol": protocol}
    return metrics, errors


def run_3dhp(predictions: str | os.PathLike, ground_truth: str | os.PathLike, out: str | os.PathLike, *,
             pck_joints: int = 14) -> str:
    """``posesynth eval --predictions PRED.npy --3dhp FILE.npz --out DIR``; returns the markdown.

    Writes ``metrics.json`` (:func:`evaluate_3dhp`), ``metrics.md`` (sequences as columns plus
    "All", rows PCK / AUC / MPJPE / PA-MPJPE) and ``per_frame.csv`` (``CSV_HEADER``).
    """
    gt = load_3dhp(ground_truth)
    pred = load_array(predictions, "3DHP predictions: one .npy array (N, 17, 3) millimetres, a row per "
                                   "ground-truth frame")
    metrics, errors = evaluate_3dhp(pred, gt, pck_joints=pck_joints, source=str(predictions))
    warn_if_metres(pred, str(predictions))
    table = markdown_table(metrics["per_sequence"], metrics["all"], summary_label="All")
    markdown = (f"{table}\n\n- MPI-INF-3DHP ({ground_truth}): {metrics['frames']} frames\n"
                f"- PCK@150mm and AUC (0–150 mm) on {pck_joints} joints, MPJPE/PA-MPJPE on 17, pelvis-aligned")
    rows = ((s, i, int(f), *(float(errors[m][k]) for m in METRICS))
            for k, (s, i, f) in enumerate(zip(gt.sequences, gt.images, gt.frames)))
    write_report(out, metrics, markdown, CSV_HEADER, rows)
    return markdown
