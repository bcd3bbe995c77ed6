"""``posesynth h36m-labels``: Human3.6M training subjects' 3D poses as per-video label files.

Semi-supervised recipes (``configs/h36m_semi.yaml``) train on the original Human3.6M videos with
``data.labels3d`` pointing at a folder of label files. This command writes that folder from any of
the three layouts :mod:`posesynth.datasets.h36m.load` reads, mirroring the videos' paths so each video
finds its own file: ``OUT/S1/Videos/Walking 1.54138969.npz`` holds ``joints3d`` (F, 17, 3) camera
frame, metres, and ``K`` (3, 3) that camera's intrinsics in pixels.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import numpy as np

from posesynth.datasets.h36m.cameras import CAMERAS
from posesynth.datasets.h36m.load import load_h36m
from posesynth.datasets.h36m.types import FORMATS, TRAIN_SUBJECTS

log = logging.getLogger(__name__)


def write_h36m_labels(root: str | os.PathLike, out: str | os.PathLike, *, format: str | None = None,
                      subjects: tuple[str, ...] = TRAIN_SUBJECTS, cameras: tuple[str, ...] = CAMERAS,
                      trust_pickle: bool = False) -> list[Path]:
    """Write one label file per (subject, sequence, camera); returns the files written.

    ``trust_pickle`` allows the pickle-based layouts' files (see :func:`~posesynth.datasets.h36m.load.load_h36m`).
    """
    split = load_h36m(root, format, subjects=subjects, cameras=cameras, trust_pickle=trust_pickle)
    out = Path(out)
    written = []
    for seq in split.sequences:
        path = out / seq.subject / "Videos" / f"{seq.sequence}.{seq.camera}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        joints = np.full((seq.num_mocap_frames, 17, 3), np.nan, np.float32)
        joints[seq.frames] = seq.joints3d / 1000.0  # the readers give millimetres; label files are metres
        extra = {"K": seq.calibration.K()} if seq.calibration is not None else {}
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, joints3d=joints, **extra)
        os.replace(tmp, path)
        written.append(path)
    if split.missing:
        log.warning("no labels for %d camera view(s): %s", len(split.missing), ", ".join(split.missing))
    return written


def add_h36m_labels_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", type=Path, help="Human3.6M root (original release, VideoPose3D npz or mmpose layout)")
    parser.add_argument("--out", type=Path, required=True, help="label folder to write (use as data.labels3d)")
    parser.add_argument("--format", choices=FORMATS, default=None, help="layout of ROOT (default: detected)")
    parser.add_argument("--subjects", default=",".join(TRAIN_SUBJECTS),
                        help=f"comma-separated subjects (default {','.join(TRAIN_SUBJECTS)}, the training split)")
    parser.add_argument("--cameras", default=",".join(CAMERAS), help="comma-separated camera ids (default all four)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="read pickle-based files (VideoPose3D's data_3d_h36m.npz, mmpose's cameras.pkl); "
                             "unpickling a file can run code: trust its source")


def run_h36m_labels(args: argparse.Namespace) -> int:
    written = write_h36m_labels(args.root, args.out, format=args.format, subjects=tuple(args.subjects.split(",")),
                                cameras=tuple(args.cameras.split(",")), trust_pickle=args.trust_pickle)
    print(f"wrote {len(written)} label files to {args.out}; train with data.labels3d={args.out}")
    return 0


__all__ = ["write_h36m_labels", "add_h36m_labels_arguments", "run_h36m_labels"]
