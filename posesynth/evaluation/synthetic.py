"""Evaluate a pose encoder on ``posesynth synth`` output, against the mean-pose baseline.

Each labelled video is decoded once; every ``stride``-th frame is cropped around the rendered
person (the label's silhouette box, squared with the training margin, i.e. the crop training
would make with a perfect foreground box) and the encoder's root-relative camera-frame pose is
compared with the label in millimetres:

- PA-MPJPE (Protocol #2) and N-MPJPE from :mod:`posesynth.evaluation.metrics`;
- the **mean-pose baseline** predicts the mean unpaired pose for every frame. PA-MPJPE aligns
  its rotation; for N-MPJPE (which fits no rotation) it is given the ground truth's own body
  orientation — an oracle that favours the baseline, so beating it means the pose is learned.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from einops import rearrange

from posesynth.data.crops import crop_and_resize, crop_matrix, to_crop_frame
from posesynth.evaluation.metrics import (either_side_constant, joints2d_error, n_mpjpe, pa_mpjpe,
                                          procrustes_mean)
from posesynth.models.discriminator import body_frame
from posesynth.synth.dataset import load_labels
from posesynth.video.boxes import square_boxes
from posesynth.video.readers import iter_frames


def labelled_crops(video: str | os.PathLike, labels: dict[str, np.ndarray], size: int, margin: float = 1.25,
                   stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Person crops of one synthetic video and their 3D labels.

    Args:
        video: the mp4.
        labels: :func:`~posesynth.synth.dataset.load_labels` of it (needs ``boxes``, ``joints3d``).
        size: crop side S, pixels.
        margin: crop side / the silhouette box's longer side.
        stride: keep frames 0, stride, 2·stride, …
    Returns:
        crops (N, S, S, 3) uint8 and joints3d (N, 17, 3) camera frame, metres.
    """
    boxes = square_boxes(labels["boxes"], margin)
    crops, kept = [], []
    for i, frame in iter_frames(video, stride=stride):
        if i >= len(boxes):
            break
        crops.append(crop_and_resize(frame, boxes[i], size))
        kept.append(i)
    return np.stack(crops), labels["joints3d"][kept]


@torch.no_grad()
def encode_crops(model: torch.nn.Module, crops: np.ndarray, batch_size: int = 64,
                 keys: tuple[str, ...] = ("pose_camera", "joints2d")) -> dict[str, np.ndarray]:
    """The pose encoder's outputs for crops, in eval mode, as float32 arrays.

    Args:
        model: a :class:`~posesynth.models.model.PoseSynthModel` (any device).
        crops: (N, S, S, 3) uint8 RGB.
        keys: which outputs of :meth:`~posesynth.models.model.PoseSynthModel.encode_pose`.
    Returns:
        those outputs, e.g. ``pose_camera`` (N, 17, 3) metres, crop camera frame, pelvis at the
        origin; ``joints2d`` (N, 17, 2) crop pixels; ``joints_camera`` (N, 17, 3) metres, crop
        camera frame, incl. the root.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out: dict[str, list] = {key: [] for key in keys}
    for start in range(0, len(crops), batch_size):
        batch = torch.from_numpy(crops[start:start + batch_size]).to(device)
        encoded = model.encode_pose(rearrange(batch, "b h w c -> b c h w").float() / 255)
        for key, values in out.items():
            values.append(encoded[key].float().cpu())
    model.train(was_training)
    return {key: torch.cat(values).numpy() for key, values in out.items()}


def predict_poses(model: torch.nn.Module, crops: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Root-relative camera-frame poses of crops.

    Args:
        model: a :class:`~posesynth.models.model.PoseSynthModel` (any device).
        crops: (N, S, S, 3) uint8 RGB.
    Returns:
        (N, 17, 3) metres, camera frame, pelvis at the origin.
    """
    return encode_crops(model, crops, batch_size)["pose_camera"]


def baseline_poses(mean_pose: torch.Tensor, gt: np.ndarray) -> np.ndarray:
    """The mean pose, oriented like each ground-truth pose (the N-MPJPE oracle above).

    Args:
        mean_pose: (17, 3) body frame (x left, y down, z out of the back), metres.
        gt: (N, 17, 3) camera frame, metres.
    Returns:
        (N, 17, 3) camera frame, root-relative, metres.
    """
    gt_t = torch.as_tensor(gt, dtype=torch.float32)
    frame = body_frame(gt_t - gt_t[:, :1])          # rows: body axes in camera coordinates
    return (mean_pose.float()[None] @ frame).numpy()


def load_labelled_set(root: str | os.PathLike, size: int, margin: float = 1.25, stride: int = 1,
                      motions: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Decode and crop a synthetic set once (a trainer scores the same set many times).

    Args:
        root: a ``posesynth synth`` output folder (``videos/`` and ``labels/``).
        size, margin, stride: see :func:`labelled_crops`.
        motions: only the clips of these motions (``s<subject>_<motion>_<scene>`` names); all if None.
    Returns:
        crops (N, S, S, 3) uint8, root-relative joints3d (N, 17, 3) in each crop's camera frame
        (:func:`crop_frame_truth`), metres, and the number of videos.
    Raises:
        FileNotFoundError when ``root`` has no labelled videos (of those motions).
    """
    root = Path(root)
    label_files = _label_files(root)
    if motions:
        label_files = [f for f in label_files if any(f"_{m}_" in f.stem for m in motions)]
        if not label_files:
            raise FileNotFoundError(f"{root}/labels has no clips of motions {', '.join(motions)}: "
                                    f"name motions the set has (its file names are s<subject>_<motion>_<scene>)")
    crops, truths = [], []
    for path in label_files:
        labels = load_labels(path)
        c, gt = labelled_crops(root / "videos" / f"{path.stem}.mp4", labels, size, margin, stride)
        crops.append(c)
        truths.append(crop_frame_truth(gt, labels, margin, stride))
    return np.concatenate(crops), np.concatenate(truths), len(label_files)


def crop_frame_truth(joints3d: np.ndarray, labels: dict[str, np.ndarray], margin: float, stride: int) -> np.ndarray:
    """Root-relative truth in each crop's camera frame, the frame the model predicts in.

    The model sees a crop through a camera turned towards the crop centre (as the trainer's 3D
    labels do, :mod:`posesynth.data.pairs`), so comparing its pose with the camera-frame label
    would charge it the crop's viewing angle (about 10 mm N-MPJPE on the synthetic held-out set).

    Args:
        joints3d: (N, 17, 3) camera frame, metres, the first N kept frames (``labelled_crops``).
        labels: the video's labels (``K``, ``boxes``). margin, stride: as for the crops.
    Returns:
        (N, 17, 3) metres, pelvis at the origin.
    """
    boxes = square_boxes(labels["boxes"], margin)[::stride][:len(joints3d)]
    return to_crop_frame(joints3d - joints3d[:, :1], labels["K"], boxes)


def labelled_views(root: str | os.PathLike, size: int, margin: float = 1.25, stride: int = 1
                   ) -> dict[str, np.ndarray]:
    """Everything a diagnostic needs about a synthetic set's crops, in crop coordinates.

    Args:
        root: a ``posesynth synth`` output folder (``videos/`` and ``labels/``).
        size, margin, stride: see :func:`labelled_crops`.
    Returns:
        over all kept frames of all videos: ``crops`` and ``backgrounds`` (N, S, S, 3) uint8 (the
        background plate cropped like the frame); ``pose3d`` (N, 17, 3) camera frame, metres (not
        root-relative); ``truth`` (N, 17, 3) root-relative in the crop's frame
        (:func:`crop_frame_truth`), metres; ``joints2d`` (N, 17, 2) crop pixels; ``focal`` (N,)
        the crop's true focal length, pixels (projecting ``pose3d`` with it about the crop's
        principal point gives ``joints2d``); ``video`` (N,) the video's index in sorted label order;
        ``boxes`` (N, 4) the square crop boxes x0, y0, x1, y1, the video's pixels.
    Raises:
        FileNotFoundError when ``root`` has no labelled videos.
    """
    root = Path(root)
    label_files = _label_files(root)
    parts: dict[str, list] = {k: [] for k in ("crops", "backgrounds", "pose3d", "truth", "joints2d", "focal", "video",
                                                 "boxes")}
    for v, path in enumerate(label_files):
        labels = load_labels(path)
        crops, pose3d = labelled_crops(root / "videos" / f"{path.stem}.mp4", labels, size, margin, stride)
        for k, box in enumerate(square_boxes(labels["boxes"], margin)[::stride][:len(crops)]):
            A = crop_matrix(box, size)                      # full-frame pixels → crop pixels
            parts["joints2d"].append(labels["joints2d"][k * stride] @ A[:2, :2].T + A[:2, 2])
            parts["focal"].append(A[0, 0] * labels["K"][0, 0])
            parts["backgrounds"].append(crop_and_resize(labels["background"], box, size))
            parts["video"].append(v)
            parts["boxes"].append(box)
        parts["crops"].append(crops)
        parts["pose3d"].append(pose3d)
        parts["truth"].append(crop_frame_truth(pose3d, labels, margin, stride))
    return {"crops": np.concatenate(parts["crops"]), "pose3d": np.concatenate(parts["pose3d"]),
            "truth": np.concatenate(parts["truth"]),
            "backgrounds": np.stack(parts["backgrounds"]), "joints2d": np.stack(parts["joints2d"]),
            "focal": np.asarray(parts["focal"]), "video": np.asarray(parts["video"]),
            "boxes": np.asarray(parts["boxes"], np.float64).reshape(-1, 4)}


def _label_files(root: Path) -> list[Path]:
    """The sorted label files of a synthetic set; an error that says what to pass when there are none."""
    label_files = sorted((root / "labels").glob("*.npz"))
    if not label_files:
        raise FileNotFoundError(f"{root}/labels has no .npz labels: pass a folder written by `posesynth synth`")
    return label_files


def score_poses(model: torch.nn.Module, crops: np.ndarray, truths: np.ndarray,
                mean_pose: torch.Tensor | None = None, joints2d: np.ndarray | None = None) -> dict:
    """PA-MPJPE and N-MPJPE (mm) of ``model`` (and of the mean-pose baseline) on loaded crops.

    Args:
        crops, truths: from :func:`load_labelled_set` (or :func:`labelled_views`).
        mean_pose: (17, 3) body-frame mean unpaired pose, metres; adds the ``baseline`` entry.
        joints2d: (N, 17, 2) true 2D joints, crop pixels (:func:`labelled_views`); adds the
            model's 2D error ``joints2d_px`` and, with left and right left open per frame,
            ``joints2d_either_side_px``, and the same for the best constant 2D poses as the
            ``constant`` entry (the mean of the true joints, and for the side-open error
            :func:`~posesynth.evaluation.metrics.either_side_constant`).
    Returns:
        ``{"model": {"pa_mpjpe", "n_mpjpe"[, 2D errors]}, "baseline": {...}, "constant": {...},
        "frames": N}``.
    """
    encoded = encode_crops(model, crops)
    pred_mm, gt_mm = encoded["pose_camera"] * 1000, truths * 1000
    result = {"model": _scores(pred_mm, gt_mm), "frames": int(len(gt_mm))}
    if mean_pose is not None:
        result["baseline"] = _scores(baseline_poses(mean_pose, truths) * 1000, gt_mm)
    if joints2d is not None:
        truth2d = torch.as_tensor(joints2d, dtype=torch.float64)
        result["model"].update(joints2d_px=float(joints2d_error(encoded["joints2d"], truth2d).mean()),
                               joints2d_either_side_px=float(
                                   joints2d_error(encoded["joints2d"], truth2d, either_side=True).mean()))
        result["constant"] = {
            "joints2d_px": float(joints2d_error(truth2d.mean(dim=0, keepdim=True), truth2d).mean()),
            "joints2d_either_side_px": float(
                joints2d_error(either_side_constant(truth2d), truth2d, either_side=True).mean())}
    return result


def best_constant_scores(truths: np.ndarray) -> dict[str, float]:
    """PA-MPJPE (mm) of the best constant pose for ``truths``: their own generalised Procrustes mean.

    A stronger bar than the mean unpaired pose: the constant is chosen knowing the evaluated
    people's poses (:func:`~posesynth.evaluation.metrics.procrustes_mean`).

    Args:
        truths: (N, 17, 3) true poses, metres (any frame: PA-MPJPE fits a rotation per pose).
    Returns:
        ``{"pa_mpjpe": mm}``.
    """
    gt_mm = np.asarray(truths, np.float64) * 1000
    return {"pa_mpjpe": float(pa_mpjpe(procrustes_mean(gt_mm), gt_mm).mean())}


def evaluate_synthetic(model: torch.nn.Module, root: str | os.PathLike, *, mean_pose: torch.Tensor | None = None,
                       margin: float = 1.25, stride: int = 1) -> dict:
    """PA-MPJPE and N-MPJPE (mm) of ``model`` (and of the mean-pose baseline) on a synthetic set.

    Args:
        model: a :class:`~posesynth.models.model.PoseSynthModel`; its ``image_size`` is the crop size.
        root: a ``posesynth synth`` output folder (``videos/`` and ``labels/``).
        mean_pose: (17, 3) body-frame mean unpaired pose, metres; adds the ``baseline`` entry.
        margin, stride: see :func:`labelled_crops`.
    Returns:
        ``{"model": {"pa_mpjpe", "n_mpjpe"}, "baseline": {...}, "frames": N, "videos": V}``.
    Raises:
        FileNotFoundError when ``root`` has no labelled videos.
    """
    crops, truths, videos = load_labelled_set(root, model.image_size, margin, stride)
    return {**score_poses(model, crops, truths, mean_pose), "videos": videos}


def _scores(pred_mm: np.ndarray, gt_mm: np.ndarray) -> dict[str, float]:
    return {"pa_mpjpe": float(pa_mpjpe(pred_mm, gt_mm).mean()), "n_mpjpe": float(n_mpjpe(pred_mm, gt_mm).mean())}
