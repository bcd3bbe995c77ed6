"""``posesynth predict RUN VIDEO --out DIR``: a video of any length in, 3D joints and an overlay out.

Two sequential passes over the video, so memory does not grow with its length beyond the
(F, 17, 3)-sized outputs:

1. **predict** — decode, find the person box per frame exactly as training does (a box or
   keypoint sidecar, else the foreground against the median background of each
   ``data.background_window``-frame segment, ``background_samples`` frames per median; or the
   background plate), smooth the boxes over ``smooth_radius`` frames, crop, encode in batches.
   At most ``smooth_radius + 1`` full frames, one batch of crops and two backgrounds are held.
2. **overlay** — decode again and draw the projected skeleton on every frame (``overlay.mp4``,
   the input's size and frame count) and, with ``--side-by-side``, a side and top view of the
   3D pose next to it (``side_by_side.mp4``).

Outputs (``DIR/poses.npz`` and the same in ``DIR/poses.json``, see :data:`FIELDS`; ``--csv``,
``--bvh``: :mod:`posesynth.export`): joints3d are root-relative metres in the video camera's frame,
turned from each crop's virtual camera (docs/architecture.md) with
:func:`~posesynth.data.crops.crop_rotations`. The video camera is the one ``--focal`` names (pixels,
principal point at the frame centre) or, without calibration, an assumed focal length of the
frame's longer side (a 53° field of view across it). The root track places each pose in that
camera: the translation whose projection best fits the frame's 2D joints, with the pose at the
canonical bone lengths (:func:`posesynth.export.motion.root_translation`): metric if the person
has average proportions and the focal length is right; a wrong focal scales depth with it.
joints2d are the model's 3D joints projected with the crop camera and mapped back through the
crop box into the video's pixels.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from posesynth import skeleton
from posesynth.config import Config
from posesynth.data.prepare import warn_no_person
from posesynth.data.crops import (crop_and_resize, crop_rotations, crop_to_frame, foreground_box, foreground_frames,
    initial_boxes)
from posesynth.evaluation.synthetic import encode_crops
from posesynth.export.bvh_writer import write_bvh
from posesynth.export.motion import canonical_size, fixed_lengths, root_translation, smooth_motion, smooth_track
from posesynth.export.table import write_csv
from posesynth.geometry import intrinsics, project
from posesynth.models.loading import load_model, run_config
from posesynth.models.model import PoseSynthModel
from posesynth.video.backgrounds import SegmentBackgrounds, find_plate, read_plate
from posesynth.video.boxes import person_boxes
from posesynth.video.index import VideoInfo, probe_video
from posesynth.video.readers import VideoError, iter_frames, open_video
from posesynth.video.writer import VideoWriter
from posesynth.viz.draw import draw_skeleton, skeleton_view

log = logging.getLogger(__name__)

FIELDS: dict[str, str] = {
    "joints3d": "(F, 17, 3) float32, metres, root-relative (pelvis at 0), the video camera's frame: x right, y down, "
                "z forward",
    "root": "(F, 3) float32, metres, the pelvis in the video camera's frame (depth from the canonical bone lengths "
            "and the focal length)",
    "focal": "float, the video camera's focal length in pixels (--focal, or assumed: the frame's longer side)",
    "joints2d": "(F, 17, 2) float32, pixels (u, v) in the input video, (0, 0) the centre of the top-left pixel",
    "boxes": "(F, 4) int64, square crop boxes x0, y0, x1, y1 (x1, y1 exclusive) in video pixels",
    "fps": "float, the video's frame rate",
    "joint_names": "(17,) Human3.6M joint order",
    "parents": "(17,) parent joint of each joint, -1 for the pelvis",
}
BACKGROUND_SAMPLES = 20  # frames per median background, as in training (FramePairDataset's default)
ASSUMED_FOCAL_PER_SIDE = 1.0  # no calibration: focal = the frame's longer side (53° across it)
SMOOTH_RADIUS = 2        # box smoothing radius in frames, as in training


def video_camera(info: VideoInfo, focal: float | None) -> np.ndarray:
    """The video camera's intrinsics (3, 3): ``focal`` pixels (default :data:`ASSUMED_FOCAL_PER_SIDE` ×
    the longer side), principal point at the frame centre, square pixels, no distortion."""
    f = float(focal) if focal is not None else ASSUMED_FOCAL_PER_SIDE * max(info.width, info.height)
    return intrinsics(f, (info.width - 1) / 2, (info.height - 1) / 2, dtype=torch.float64).numpy()


def iter_person_crops(info: VideoInfo, size: int, *, margin: float, box_source: str, background_window: int,
                      threshold: float = 25.0, radius: int = SMOOTH_RADIUS, keypoints: str | None = None
                      ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Stream a video's person crops, boxes found the way training finds them (``keypoints``: a
    folder of keypoint files looked in before the video's own, as ``data.keypoints2d``).

    Yields:
        (frame index, crop (S, S, 3) uint8, square crop box (4,) int64 video pixels), in order;
        at most ``info.frames`` frames.
    Raises:
        SidecarError, BackgroundPlateError naming the file; VideoError when nothing decodes.
    """
    mode, tight = initial_boxes(info.path, info.frames, box_source, keypoints)
    from_foreground = foreground_frames(mode, tight)
    backgrounds = reader = None
    if from_foreground.any():
        reader = open_video(info.path)
        plate_path = find_plate(info.path)
        plate = read_plate(plate_path, info.width, info.height) if plate_path else None
        backgrounds = SegmentBackgrounds(reader, info.frames, window=background_window, samples=BACKGROUND_SAMPLES,
                                         plate=plate)
    pending: deque[tuple[int, np.ndarray]] = deque()

    def finish(j: int, frame: np.ndarray, known: int) -> tuple[int, np.ndarray, np.ndarray]:
        lo, hi = max(0, j - radius), min(known, j + radius + 1)  # box j: median of tight boxes j ± radius
        box = person_boxes(tight[lo:hi], frame.shape[1], frame.shape[0], margin=margin, radius=radius)[j - lo]
        return j, crop_and_resize(frame, box, size), box

    decoded = people = 0
    try:
        for i, frame in iter_frames(info.path):
            if i >= info.frames:
                break
            if from_foreground[i]:
                found = foreground_box(frame, backgrounds(i), threshold=threshold)
                tight[i] = np.nan if found is None else found
                people += found is not None
            pending.append((i, frame))
            decoded = i + 1
            while pending[0][0] + radius <= i:
                yield finish(*pending.popleft(), known=info.frames)
        if decoded == 0:
            raise VideoError(f"{info.path}: no frame could be decoded")
        if mode == "foreground" and people == 0:
            warn_no_person(info.path)
        while pending:
            yield finish(*pending.popleft(), known=decoded)
    finally:
        if reader is not None:
            reader.close()


@torch.no_grad()
def predict_video(model: PoseSynthModel, video: str | os.PathLike, config: Config, *, batch_size: int = 32,
                  smooth: float = 0.0, focal: float | None = None, progress: bool = True) -> dict[str, np.ndarray]:
    """3D and 2D joints and the root track of every frame of a video (pass 1 of the module docstring).

    Args:
        model: a trained :class:`PoseSynthModel`, eval mode, any device.
        video: the video file.
        config: the run's config (its data section gives the crop settings).
        batch_size: crops encoded at once.
        smooth: Gaussian sigma over time in frames (0: off) for the bone directions of joints3d
            (bone lengths fixed at their medians) and for the root track; joints2d are then the
            smoothed pose placed at each frame's own predicted root and projected.
        focal: the video camera's focal length in pixels (principal point at the frame centre);
            default: assumed, the frame's longer side (:func:`video_camera`).
    Returns:
        ``joints3d`` (F, 17, 3), ``joints2d`` (F, 17, 2), ``root`` (F, 3), ``boxes`` (F, 4), ``fps``,
        ``focal`` — see :data:`FIELDS`.
    Raises:
        VideoError when the video cannot be read; SidecarError / BackgroundPlateError for bad side files.
    """
    info = probe_video(video)
    size, d = model.image_size, config.data
    poses, roots, boxes = [], [], []
    crops: list[np.ndarray] = []

    def flush() -> None:
        encoded = encode_crops(model, np.stack(crops), keys=("pose_camera", "joints_camera"))
        pose, joints = encoded["pose_camera"].astype(np.float64), encoded["joints_camera"].astype(np.float64)
        poses.append(pose)
        roots.append(joints[:, :1] - pose[:, :1])  # the root in the crop camera, (B, 1, 3)
        crops.clear()

    stream = iter_person_crops(info, size, margin=d.margin, box_source=d.box_source,
                               background_window=d.background_window, keypoints=d.keypoints2d)
    for _, crop, box in tqdm(stream, total=info.frames, desc="predict", unit="frame", disable=not progress):
        crops.append(crop)
        boxes.append(box)
        if len(crops) == batch_size:
            flush()
    if crops:
        flush()
    boxes_array = np.stack(boxes).astype(np.int64)
    K = video_camera(info, focal)
    rotation = crop_rotations(K, boxes_array.astype(np.float64))  # X_crop = R · X_video
    joints3d = np.concatenate(poses) @ rotation                   # X_video = Rᵀ · X_crop, row vectors
    if smooth > 0:
        joints3d = smooth_motion(joints3d, smooth)
    crop_pose = joints3d @ rotation.transpose(0, 2, 1)
    crop_joints = project(torch.from_numpy(crop_pose + np.concatenate(roots)), model.K.double().cpu()).numpy()
    joints2d = crop_to_frame(crop_joints, boxes_array.astype(np.float64), size)
    root = smooth_track(root_translation(canonical_size(joints3d), joints2d, K), smooth)
    return {"joints3d": joints3d.astype(np.float32), "joints2d": joints2d.astype(np.float32),
            "root": root.astype(np.float32), "boxes": boxes_array, "fps": np.float64(info.fps),
            "focal": np.float64(K[0, 0])}


def write_overlays(video: str | os.PathLike, result: dict[str, np.ndarray], out: str | os.PathLike, *,
                   side_by_side: bool = False, progress: bool = True) -> list[Path]:
    """Draw the projected skeletons on the video (pass 2 of the module docstring).

    Writes ``out/overlay.mp4`` (same size and frame count as the input; H.264 needs even sizes,
    so an odd height or width gets one replicated row or column) and, with ``side_by_side``,
    ``out/side_by_side.mp4``: the overlay plus side and top views of the 3D pose.

    Returns:
        The written paths.
    """
    out = Path(out)
    frames, fps = len(result["joints2d"]), float(result["fps"])
    paths = [out / "overlay.mp4"] + ([out / "side_by_side.mp4"] if side_by_side else [])
    writers = [VideoWriter(p, fps, preset="veryfast", pad_odd=True) for p in paths]
    written = 0
    try:
        for i, frame in tqdm(iter_frames(video), total=frames, desc="overlay", unit="frame", disable=not progress):
            if i >= frames:
                break
            thickness = max(2.0, min(frame.shape[:2]) / 250)
            drawn = draw_skeleton(frame, result["joints2d"][i], thickness)
            writers[0].write(drawn)
            if side_by_side:  # side view over top view, each half the frame's height
                half = frame.shape[0] // 2
                panel = np.concatenate([skeleton_view(result["joints3d"][i], v, half) for v in ("side", "top")])
                panel = np.pad(panel, ((0, frame.shape[0] - 2 * half), (0, 0), (0, 0)), constant_values=255)
                writers[1].write(np.concatenate([drawn, panel], axis=1))
            written += 1
    finally:
        for writer in writers:
            writer.close()
    if written != frames:
        raise VideoError(f"{video}: decoded {written} frames on the second pass but {frames} on the first")
    return paths


def save_poses(result: dict[str, np.ndarray], out: str | os.PathLike, video: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``out/poses.npz`` and ``out/poses.json`` (the same arrays as lists, plus field docs)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    extra = {"joint_names": np.asarray(skeleton.JOINT_NAMES), "parents": np.asarray(skeleton.PARENTS, np.int64)}
    np.savez(out / "poses.npz", **result, **extra)
    document = {"video": str(video), "frames": int(len(result["joints3d"])), "fields": FIELDS,
                **{k: (v.tolist() if isinstance(v, np.ndarray) else float(v)) for k, v in {**result, **extra}.items()}}
    tmp = out / "poses.json.tmp"
    tmp.write_text(json.dumps(document), encoding="utf-8")
    os.replace(tmp, out / "poses.json")
    return out / "poses.npz", out / "poses.json"


def export_motion(result: dict[str, np.ndarray], out: str | os.PathLike, *, bvh: bool, csv: bool) -> list[Path]:
    """``--bvh`` (``out/poses.bvh``: the motion at fixed bone lengths, root track included) and
    ``--csv`` (``out/poses.csv``, one row per frame). Returns the written paths."""
    out, written = Path(out), []
    if bvh:
        lengths = fixed_lengths(result["joints3d"])
        motion = smooth_motion(result["joints3d"], 0.0, lengths) + result["root"][:, None]
        written.append(write_bvh(out / "poses.bvh", motion, float(result["fps"]), lengths))
    if csv:
        written.append(write_csv(out / "poses.csv", result["joints3d"], result["root"], result["joints2d"],
                                 float(result["fps"])))
    return written


def predict(run: str | os.PathLike, video: str | os.PathLike, out: str | os.PathLike, *, smooth: float = 0.0,
            side_by_side: bool = False, focal: float | None = None, batch_size: int = 32, device: str = "cpu",
            bvh: bool = False, csv: bool = False, progress: bool = True) -> dict[str, np.ndarray]:
    """The whole command: predict, save poses.npz/json (and BVH/CSV), write the overlay video(s). Returns the arrays."""
    model = load_model(run, map_location=device)
    result = predict_video(model, video, run_config(run), batch_size=batch_size, smooth=smooth, focal=focal,
                           progress=progress)
    save_poses(result, out, video)
    export_motion(result, out, bvh=bvh, csv=csv)
    write_overlays(video, result, out, side_by_side=side_by_side, progress=progress)
    return result


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=Path, help="run directory (or its model.pt)")
    parser.add_argument("video", type=Path, help="the video file")
    parser.add_argument("--out", type=Path, required=True, help="output folder (poses.npz, poses.json, overlay.mp4)")
    parser.add_argument("--smooth", type=float, default=0.0, metavar="SIGMA",
                        help="temporal smoothing, sigma in frames: bone directions (lengths stay fixed) and the root "
                             "track (default 0: off; 1.5-3 removes most jitter)")
    parser.add_argument("--bvh", action="store_true",
                        help="also write poses.bvh: the 17-joint skeleton with joint rotations and the root track")
    parser.add_argument("--csv", action="store_true", help="also write poses.csv: one row per frame")
    parser.add_argument("--side-by-side", action="store_true",
                        help="also write side_by_side.mp4: the overlay next to side and top views of the 3D pose")
    parser.add_argument("--focal", type=float, default=None, metavar="PX",
                        help="the video camera's focal length in pixels (default: assumed, the frame's longer side); "
                             "sets the camera frame of joints3d and the depth of the root track")
    parser.add_argument("--batch-size", type=int, default=32, help="crops per forward pass (default 32)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="torch device (default: cuda if available, else cpu)")


def run_predict(args: argparse.Namespace) -> int:
    """Run ``posesynth predict``; errors go to the command's error boundary (``posesynth.cli.main``)."""
    started = time.perf_counter()
    result = predict(args.run, args.video, args.out, smooth=args.smooth, side_by_side=args.side_by_side,
                     focal=args.focal, batch_size=args.batch_size, device=args.device, bvh=args.bvh, csv=args.csv)
    extra = [name for name, wanted in (("poses.bvh", args.bvh), ("poses.csv", args.csv),
                                       ("side_by_side.mp4", args.side_by_side)) if wanted]
    print(f"{len(result['joints3d'])} frames at {float(result['fps']):g} fps in {time.perf_counter() - started:.1f} s: "
          + ", ".join([str(args.out / "poses.npz"), "poses.json", "overlay.mp4", *extra])
          + f" (root track: focal {float(result['focal']):.0f} px{'' if args.focal else ', assumed'})")
    return 0


__all__ = ["FIELDS", "crop_to_frame", "video_camera", "iter_person_crops", "predict_video",
           "write_overlays", "save_poses", "export_motion", "predict", "add_predict_arguments", "run_predict"]
