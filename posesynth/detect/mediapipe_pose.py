"""The bundled 2D detector: MediaPipe Pose 0.10.21, ``model_complexity=1``, never a download.

``mediapipe==0.10.21`` (Apache-2.0) ships ``pose_detection.tflite`` and ``pose_landmark_full.tflite``
inside its wheel, and ``model_complexity=1`` uses exactly those. The other complexities, and the
newer wheels (0.10.30+, 1.x), fetch their models from the network at run time, so posesynth never
asks for them and checks that the bundled model file is there before MediaPipe could try.

MediaPipe pins numpy<2 and protobuf<5: it is the optional extra ``posesynth[detect]``, best kept
in a virtual environment of its own (README.md, "Your own video").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

INSTALL_HINT = 'pip install "posesynth[detect]"'
MODEL_FILE = Path("modules") / "pose_landmark" / "pose_landmark_full.tflite"  # inside the mediapipe package
MODEL_COMPLEXITY = 1  # the only complexity whose model the wheel ships


class DetectorUnavailableError(RuntimeError):
    """MediaPipe (the ``detect`` extra) is missing or lacks its bundled model; the message says what to install."""


@dataclass(frozen=True)
class Landmarks:
    """MediaPipe Pose's 33 landmarks of one person in one image.

    Attributes:
        image: (33, 2) float64 pixels (u, v), (0, 0) the centre of the top-left pixel.
        world: (33, 3) float64 metres, origin between the hips (MediaPipe's world landmarks).
        visibility: (33,) float64 in [0, 1].
    """

    image: np.ndarray
    world: np.ndarray
    visibility: np.ndarray


def import_mediapipe():
    """The ``mediapipe`` module, or :class:`DetectorUnavailableError` naming the extra to install."""
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ info lines on every start
    try:
        import mediapipe
    except ImportError as error:
        raise DetectorUnavailableError(
            f"2D keypoint detection needs MediaPipe, an optional extra: {INSTALL_HINT} (mediapipe 0.10.21, which "
            f"pins numpy<2 and protobuf<5: best in a virtual environment of its own)") from error
    model = Path(mediapipe.__file__).parent / MODEL_FILE
    if not model.is_file():
        raise DetectorUnavailableError(
            f"{model} is missing: this mediapipe ({getattr(mediapipe, '__version__', '?')}) does not ship its pose "
            f"model and would download it, which posesynth never does; {INSTALL_HINT} (mediapipe==0.10.21)")
    return mediapipe


class PoseDetector:
    """MediaPipe Pose on RGB frames: one person per frame, or None where there is nobody.

    Args:
        video: True for consecutive frames of one video (MediaPipe tracks the person from frame to
            frame and smooths the landmarks), False for unrelated images (each detected afresh).
        min_confidence: MediaPipe's detection and tracking thresholds.
    Raises:
        DetectorUnavailableError when the extra is not installed.
    """

    def __init__(self, video: bool, min_confidence: float = 0.5):
        solutions = import_mediapipe().solutions
        self._pose = solutions.pose.Pose(static_image_mode=not video, model_complexity=MODEL_COMPLEXITY,
                                         smooth_landmarks=video, enable_segmentation=False,
                                         min_detection_confidence=min_confidence,
                                         min_tracking_confidence=min_confidence)

    def __call__(self, frame: np.ndarray) -> Landmarks | None:
        """Detect the person in one (H, W, 3) uint8 RGB frame."""
        result = self._pose.process(np.ascontiguousarray(frame))
        if result.pose_landmarks is None or result.pose_world_landmarks is None:
            return None
        height, width = frame.shape[:2]
        points = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark], np.float64)
        world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark], np.float64)
        # MediaPipe's normalised coordinates run from the image's left/top edge (0) to its right/bottom edge (1)
        image = points[:, :2] * [width, height] - 0.5
        return Landmarks(image, world, np.clip(points[:, 2], 0.0, 1.0))

    def close(self) -> None:
        self._pose.close()

    def __enter__(self) -> "PoseDetector":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


__all__ = ["INSTALL_HINT", "DetectorUnavailableError", "Landmarks", "import_mediapipe", "PoseDetector"]
