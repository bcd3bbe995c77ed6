"""What a training run uses where its config leaves it open: unpaired 3D poses and 2D keypoints.

So that ``posesynth train data.videos=DIR`` works with nothing but the folder:

* **Unpaired 3D poses.** Without ``data.poses3d`` the adversarial prior (and the imitation and
  lifting terms) get poses sampled from posesynth's own motion generator
  (:func:`posesynth.synth.poses.sample_poses`: walking, turning, arm swings, squats, sitting; a
  seed of their own), as ``posesynth demo`` does. Real mocap is better: set ``data.poses3d``.
* **2D keypoints** (``data.auto_keypoints``, on by default). Keypoint files are looked for in
  ``data.keypoints2d``, in ``CACHE/keypoints`` of a cache prepared with ``--keypoints``, and beside
  each video. When training on raw videos (``data.videos``) without ``data.keypoints2d``, videos
  that have none are run through the bundled detector (``posesynth[detect]``, if installed) into
  ``RUN/keypoints`` — once: a resumed run reuses them. When any video then has keypoints and both
  ``loss.reprojection`` and ``loss.relative_depth`` are 0, they become 1.0 and 0.1 (Li et al.'s
  confidence-weighted reprojection, WSP's depth order), the weights of ``configs/h36m_weak.yaml``.

Everything chosen here is logged and lands in the run's resolved ``config.yaml``.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from posesynth.config import Config, DataConfig
from posesynth.data.cache import KEYPOINTS_FOLDER, FrameCache
from posesynth.data.keypoints2d import find_keypoints
from posesynth.data.poses3d import load_poses3d
from posesynth.kinematics import forward_kinematics, pose_to_directions
from posesynth.models.discriminator import body_frame
from posesynth.synth.poses import sample_poses
from posesynth.video.index import index_videos, probe_video

log = logging.getLogger(__name__)

GENERATED_CLIPS, GENERATED_SEED = 64, 20_200_616  # as posesynth demo: 3072 poses, a seed of their own
KEYPOINT_WEIGHTS = {"reprojection": 1.0, "relative_depth": 0.1}  # as configs/h36m_weak.yaml


def unpaired_poses(data: DataConfig) -> np.ndarray:
    """The unpaired 3D poses of a run: ``data.poses3d``, or the motion generator's when it is unset.

    Returns:
        (N, 17, 3) metres.
    """
    if data.poses3d is not None:
        return load_poses3d(data.poses3d, frame_step=data.poses3d_frame_step, trust_pickle=data.trust_pickle)
    poses = sample_poses(clips=GENERATED_CLIPS, seed=GENERATED_SEED)
    log.info("data.poses3d is not set: using %d unpaired 3D poses from posesynth's motion generator "
             "(posesynth.synth.poses.sample_poses, %d clips, seed %d); real mocap is better: data.poses3d=FILE_OR_DIR",
             len(poses), GENERATED_CLIPS, GENERATED_SEED)
    return poses


def training_videos(data: DataConfig) -> list[Path]:
    """The source videos a run trains on (the cache's sources, or the indexed raw videos)."""
    if data.cache is not None:
        return [Path(v["source"]) for v in FrameCache(data.cache).videos]
    return [v.path for v in index_videos(data.videos, min_frames=data.min_gap + 1).videos]


def keypoint_folder(data: DataConfig) -> str | None:
    """``data.keypoints2d``, else the ``keypoints/`` folder of a cache prepared with ``--keypoints``."""
    if data.keypoints2d is not None or data.cache is None:
        return data.keypoints2d
    folder = Path(data.cache) / KEYPOINTS_FOLDER
    return str(folder) if folder.is_dir() else None


def detect_missing(videos: list[Path], folder: Path) -> bool:
    """Detect keypoints into ``folder`` for ``videos`` without any; False when the extra is missing."""
    from posesynth.detect.keypoints import detect_videos
    from posesynth.detect.mediapipe_pose import DetectorUnavailableError, import_mediapipe

    try:
        import_mediapipe()
    except DetectorUnavailableError as error:
        log.info("no 2D keypoints for %d video(s) and %s: training without the keypoint terms", len(videos), error)
        return False
    log.info("detecting 2D keypoints of %d video(s) into %s (posesynth[detect])", len(videos), folder)
    detect_videos([probe_video(v) for v in videos], folder, progress=True)
    return True


def resolve_keypoints(config: Config, run: Path, *, main_process: bool = True,
                      wait: Callable[[], None] = lambda: None) -> Config:
    """``data.auto_keypoints``: find (or detect) the run's 2D keypoints and switch their terms on.

    Every process calls it; only the main one detects, the others ``wait`` for it.

    Returns:
        ``config`` with ``data.keypoints2d`` (the folder used, if any) and the keypoint loss
        weights filled in (module docstring); unchanged when ``data.auto_keypoints`` is false.
    """
    data, loss = config.data, config.loss
    if not data.auto_keypoints or data.calibration is not None:  # multi-view sets bring their own
        return config
    if (data.videos is None) == (data.cache is None):  # the dataset says what is wrong
        return config
    folder = keypoint_folder(data)
    videos = training_videos(data)
    missing = [v for v in videos if find_keypoints(v, folder) is None]
    if missing and data.videos is not None and folder is None:
        folder = str(run / KEYPOINTS_FOLDER)
        missing = [v for v in missing if find_keypoints(v, folder) is None]
        if missing and main_process:
            detect_missing(missing, Path(folder))
        wait()
        if not any(find_keypoints(v, folder) for v in videos):
            folder = None
    have = sum(find_keypoints(v, folder) is not None for v in videos)
    if have == 0:
        return config
    log.info("2D keypoints for %d of %d video(s) (%s)", have, len(videos), folder or "beside the videos")
    weights = {}
    if not (loss.reprojection or loss.relative_depth):
        weights = KEYPOINT_WEIGHTS
        log.info("switched on the keypoint terms: %s (data.auto_keypoints=false keeps them off)",
                 ", ".join(f"loss.{k}={v:g}" for k, v in weights.items()))
    return dataclasses.replace(config, data=dataclasses.replace(data, keypoints2d=folder),
                               loss=dataclasses.replace(loss, **weights))



# --- statistics of the unpaired poses ---------------------------------------------------------

def canonical_poses(poses: torch.Tensor) -> torch.Tensor:
    """Root-relative poses rotated into their own body frame (x left, y down, z out of the back).

    Args:
        poses: (N, 17, 3) any rigid frame, metres.
    Returns:
        (N, 17, 3) metres.
    """
    centred = poses - poses[:, :1]
    return centred @ body_frame(centred).transpose(-1, -2)


def mean_pose(poses: torch.Tensor) -> torch.Tensor:
    """The mean unpaired pose: mean canonical bone directions, canonical bone lengths.

    Averaging directions (not joints) keeps the result a valid skeleton with the canonical bone
    lengths, the pose the encoder's heatmap prior starts from.

    Args:
        poses: (N, 17, 3) metres, any frame.
    Returns:
        (17, 3) metres, body frame, pelvis at the origin.
    """
    directions, _ = pose_to_directions(canonical_poses(poses.double()))
    return forward_kinematics(directions.mean(0, keepdim=True))[0].float()


__all__ = ["GENERATED_CLIPS", "GENERATED_SEED", "KEYPOINT_WEIGHTS", "unpaired_poses", "training_videos",
           "keypoint_folder", "detect_missing", "resolve_keypoints", "canonical_poses", "mean_pose"]
