"""Write a prediction as a CSV table: one row per frame, one column per number.

Columns: ``frame``, ``time_s``; ``root_x_m``, ``root_y_m``, ``root_z_m`` (the pelvis in the camera
frame, metres); ``<joint>_x_m``, ``<joint>_y_m``, ``<joint>_z_m`` for the 17 Human3.6M joints
(root-relative, camera frame, metres: add the root for camera coordinates); ``<joint>_u_px``,
``<joint>_v_px`` (the joints in the video's pixels).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from posesynth import skeleton


def csv_header() -> list[str]:
    """The column names, in order."""
    joints3d = [f"{name}_{axis}_m" for name in skeleton.JOINT_NAMES for axis in "xyz"]
    joints2d = [f"{name}_{axis}_px" for name in skeleton.JOINT_NAMES for axis in "uv"]
    return ["frame", "time_s", "root_x_m", "root_y_m", "root_z_m", *joints3d, *joints2d]


def write_csv(path: str | os.PathLike, joints3d: np.ndarray, root: np.ndarray, joints2d: np.ndarray,
              fps: float) -> Path:
    """Write the table (module docstring).

    Args:
        joints3d: (F, 17, 3) root-relative, camera frame, metres; root: (F, 3) metres;
        joints2d: (F, 17, 2) pixels; fps: frames per second.
    Returns:
        The path.
    """
    frames = len(joints3d)
    numbers = np.concatenate([root.reshape(frames, 3), joints3d.reshape(frames, -1), joints2d.reshape(frames, -1)],
                             axis=1)
    path = Path(path)
    temp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    with open(temp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(csv_header())
        for i, row in enumerate(numbers):
            writer.writerow([i, f"{i / fps:.6f}", *(f"{v:.6f}" for v in row)])
    os.replace(temp, path)
    return path


__all__ = ["csv_header", "write_csv"]
