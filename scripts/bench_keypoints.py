"""How close are the bundled detector's Human3.6M-17 keypoints to Human3.6M's own 2D joints, and how fast?

Runs MediaPipe Pose (``posesynth[detect]``) on the four real Human3.6M frames of
``../shared/realdata/mmpose/h36m`` (S1 Directions, S5 SittingDown, S7 Greeting, S8 WalkDog; each
image detected on its own) and compares with their ground-truth 2D joints (``part``): mean error
in pixels per joint and per frame, with the joint-definition correction of
:mod:`posesynth.detect.mapping` and with the plain name-for-name mapping. These frames are a test
only: the correction's numbers (``mapping.FITTED``) are fitted on Human3.6M motion capture of
subject S1 (:mod:`posesynth.detect.reference`, ``scripts/fit_keypoint_correction.py``), which holds
none of them; the JSON output records the fit data. Speed: frames per second of tracking mode on
``body3d_demo.mp4`` (the Human3.6M clip, 1000×1002), decoding included.

    python scripts/bench_keypoints.py --out runs/bench_keypoints.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from skimage.io import imread

from posesynth import skeleton
from posesynth.detect.mapping import FITTED, blazepose_to_h36m, uncorrected_h36m
from posesynth.detect.mediapipe_pose import PoseDetector
from posesynth.detect.reference import FIT_SOURCES
from posesynth.video.readers import iter_frames

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "mmpose"


def frame_errors(folder: Path) -> dict:
    """Per-joint and per-frame mean 2D errors (px) of the corrected and the plain mapping."""
    with np.load(folder / "test_h36m_body3d.npz") as data:
        names = [str(n).rsplit("/", 1)[-1] for n in data["imgname"]]
        truth = data["part"][..., :2]
    with PoseDetector(video=False) as detect:
        found = [detect(imread(folder / name)) for name in names]
    if any(f is None for f in found):
        raise RuntimeError(f"no person found in {[n for n, f in zip(names, found) if f is None]}")
    stack = lambda field: np.stack([getattr(f, field) for f in found])  # noqa: E731
    corrected, _ = blazepose_to_h36m(stack("image"), stack("world"), stack("visibility"))
    results = {}
    for label, keypoints in (("corrected", corrected), ("uncorrected", uncorrected_h36m(stack("image")))):
        error = np.linalg.norm(keypoints - truth, axis=-1)
        results[label] = {"mean_px": float(error.mean()),
                          "per_joint_px": dict(zip(skeleton.JOINT_NAMES, np.round(error.mean(0), 2).tolist())),
                          "per_frame_px": dict(zip(names, np.round(error.mean(1), 2).tolist()))}
    return results


def tracking_speed(video: Path, frames: int) -> float:
    """Frames per second of MediaPipe's tracking mode over the first ``frames`` frames, decoding included."""
    with PoseDetector(video=True) as detect:
        start, count = time.perf_counter(), 0
        for i, frame in iter_frames(video):
            if i >= frames:
                break
            detect(frame)
            count += 1
        return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--frames", type=int, default=399, help="video frames timed (default: the whole clip)")
    args = parser.parse_args()
    results = {"frames": frame_errors(REALDATA / "h36m"),
               "tracking_fps": round(tracking_speed(REALDATA / "body3d_demo.mp4", args.frames), 1),
               "correction_fitted_on": {"motion_capture": [f"realdata/dmgnn/{name} from row {first}"
                                                           for name, first in FIT_SOURCES],
                                        "numbers": FITTED}}
    for label in ("corrected", "uncorrected"):
        r = results["frames"][label]
        print(f"{label:12s} mean {r['mean_px']:.2f} px  per frame {r['per_frame_px']}")
        print(f"{'':12s} per joint {r['per_joint_px']}")
    print(f"tracking: {results['tracking_fps']} frames/s")
    print("correction fitted on:", ", ".join(results["correction_fitted_on"]["motion_capture"]))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
