"""Run a posesynth model on evaluation frames: Human3.6M views and ``posesynth synth`` sets.

The model sees what training showed it: a square crop around the person resized to its
``image_size``. On Human3.6M the crop comes from the 2D ground truth (``load.view_crop_boxes``), on
synthetic sets from the rendered silhouette (:func:`posesynth.evaluation.synthetic.labelled_crops`).
Its root-relative camera-frame pose (metres) is scored in millimetres by
:func:`posesynth.evaluation.scores.pose_errors`. Frames are read ``batch_size`` at a time and one view is
in memory at once, so memory stays bounded on the full test set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from posesynth.data.crops import crop_and_resize, crop_rotations
from posesynth.datasets.h36m.load import read_view_frames, view_crop_boxes
from posesynth.datasets.h36m.types import H36MSequence
from posesynth.evaluation.scores import SequenceScores, check_frame_step, frame_selection, pose_errors, sequence_scores
from posesynth.evaluation.synthetic import labelled_crops, predict_poses
from posesynth.skeleton import NUM_JOINTS
from posesynth.synth.dataset import load_labels
from posesynth.video.boxes import center_box


def predict_sequence(model: torch.nn.Module, seq: H36MSequence, *, frame_step: int = 1, margin: float = 1.25,
                     batch_size: int = 64, on_batch: Callable[[int], None] | None = None) -> SequenceScores:
    """Run a model on one view's frames and score it; reads ``batch_size`` frames at a time.

    Each frame is cropped around its 2D ground truth (``load.view_crop_boxes``, side ``margin`` ×
    the joints' extent; the centred square where no box exists) and resized to the model's
    ``image_size``; its root-relative camera-frame pose in metres becomes millimetres.

    Args:
        model: a :class:`~posesynth.models.model.PoseSynthModel`.
        seq: a view with frames (``load_h36m(..., need_video=True)``) and ``joints2d``.
        on_batch: called with the number of frames after each batch (progress bars).
    """
    if seq.joints2d is None:
        raise ValueError(f"{seq.key}: no 2D joints to crop around; the Human3.6M readers give them for every layout")
    keep = frame_selection(seq.frames, frame_step)
    frames, gt, boxes = seq.frames[keep], seq.joints3d[keep], view_crop_boxes(seq.joints2d[keep], margin)
    preds = [np.zeros((0, NUM_JOINTS, 3))]
    for start in range(0, len(frames), batch_size):
        images = read_view_frames(seq, frames[start:start + batch_size])
        crops = [crop_and_resize(image, box if np.isfinite(box).all() else center_box(image.shape[1], image.shape[0]),
                                 model.image_size)
                 for image, box in zip(images, boxes[start:start + batch_size])]
        pred = predict_poses(model, np.stack(crops), batch_size) * 1000.0
        if seq.calibration is not None:  # the model answers in the crop camera, turned towards the crop centre
            pred = to_camera_frame(pred, seq.calibration.K(), boxes[start:start + batch_size])
        preds.append(pred)
        if on_batch is not None:
            on_batch(len(crops))
    return sequence_scores(seq, frames, np.concatenate(preds), gt)


def to_camera_frame(pose: np.ndarray, K: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Root-relative poses from each crop's virtual camera into the real camera's frame.

    The crop camera shares the real camera's centre but looks through the crop centre
    (:func:`posesynth.geometry.crop_camera_rotation`, X_crop = R·X_cam), so X_cam = Rᵀ·X_crop.
    Protocol #1 is not rotation-invariant: near the image border the crop approximation alone
    would cost several degrees of error.

    Args:
        pose: (N, 17, 3) crop-camera frame, any unit. K: (3, 3) full-frame intrinsics, pixels.
        boxes: (N, 4) see :func:`~posesynth.data.crops.crop_rotations`.
    Returns:
        (N, 17, 3) camera frame, same unit.
    """
    return np.einsum("nji,nkj->nki", crop_rotations(K, boxes), pose)


def evaluate_model(model: torch.nn.Module, sequences: Sequence[H36MSequence], *, frame_step: int = 1,
                   margin: float = 1.25, batch_size: int = 64, progress: bool = True) -> list[SequenceScores]:
    """:func:`predict_sequence` over all views, one view in memory at a time, with a frame progress bar."""
    total = sum(int(frame_selection(s.frames, frame_step).sum()) for s in sequences)
    with tqdm(total=total, unit="frame", desc="eval", disable=None if progress else True) as bar:
        return [predict_sequence(model, seq, frame_step=frame_step, margin=margin, batch_size=batch_size,
                                 on_batch=bar.update) for seq in sequences]


def evaluate_synthetic_views(model: torch.nn.Module, root: str | os.PathLike, *, margin: float = 1.25,
                             frame_step: int = 1) -> list[SequenceScores]:
    """Score a model on ``posesynth synth`` output, one :class:`SequenceScores` per video.

    Crops as :func:`posesynth.evaluation.synthetic.labelled_crops` (the rendered silhouette box); the
    "action" is the label's motion, so the summary is a per-motion table.
    """
    check_frame_step(frame_step)
    labels_dir = Path(root) / "labels"
    label_files = sorted(labels_dir.glob("*.npz"))
    if not label_files:
        raise FileNotFoundError(f"{labels_dir} has no .npz labels: pass a folder written by `posesynth synth`")
    scores = []
    for path in label_files:
        labels = load_labels(path)
        crops, gt = labelled_crops(Path(root) / "videos" / f"{path.stem}.mp4", labels, model.image_size, margin,
                                   frame_step)
        pred_mm = predict_poses(model, crops) * 1000.0
        scores.append(SequenceScores(
            subject=f"s{int(labels['subject']):02d}" if "subject" in labels else "", sequence=path.stem,
            action=str(labels.get("motion", "all")), camera=str(int(labels["view"])) if "view" in labels else "0",
            frames=np.arange(len(gt), dtype=np.int64) * frame_step, errors=pose_errors(pred_mm, gt * 1000.0)))
    return scores
