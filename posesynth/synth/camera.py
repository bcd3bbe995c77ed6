"""Static pinhole cameras that keep the whole clip in view.

A camera is placed on a sphere around the clip's centre (azimuth about the vertical,
elevation above the horizontal, distance), looks at that centre with an upright image, and
gets the focal length that makes the clip's joints (plus a body margin) fill ``fill`` of the
half-frame in the worst frame. The principal point is the image centre ((S − 1)/2 with the
top-left pixel's centre at 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from posesynth.geometry import intrinsics, look_at, world_to_camera

ELEVATION_DEG = (-5.0, 35.0)
DISTANCE_M = (3.5, 6.0)
MIN_HEIGHT_M = 0.3
BODY_MARGIN_M = 0.18   # joints are inside the body; its surface reaches this far beyond them


@dataclass(frozen=True)
class SceneCamera:
    """A calibrated static camera.

    K: (3, 3) intrinsics, pixels; R: (3, 3), t: (3,) world→camera, metres (float64);
    azimuth, elevation: radians; distance: metres from the aim point.
    """

    K: torch.Tensor
    R: torch.Tensor
    t: torch.Tensor
    azimuth: float
    elevation: float
    distance: float


def place_camera(target: torch.Tensor, azimuth: float, elevation: float, distance: float
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Extrinsics of a camera aimed at ``target`` (3,) world metres; returns R (3, 3), t (3,).

    Positive elevation puts the camera above the target looking down (world y is down).
    """
    direction = torch.tensor([math.cos(elevation) * math.sin(azimuth), -math.sin(elevation),
                              math.cos(elevation) * math.cos(azimuth)], dtype=torch.float64)
    return look_at(target + distance * direction, target)


def fit_focal(joints_cam: torch.Tensor, size: int, fill: float = 0.9, margin: float = BODY_MARGIN_M) -> float:
    """The focal length (pixels) at which every joint ± ``margin`` lands inside ``fill`` of the frame.

    Args:
        joints_cam: (F, J, 3) camera frame, metres (z > margin).
        size: S, the square image size in pixels.
    """
    x, y, z = joints_cam.unbind(-1)
    extent = torch.maximum(x.abs(), y.abs()) + margin
    tangent = (extent / (z - margin).clamp(min=0.1)).max()
    return float(fill * 0.5 * size / tangent)


def make_camera(joints_world: torch.Tensor, size: int, rng: np.random.Generator, azimuth: float | None = None
                ) -> SceneCamera:
    """A random static camera that sees the whole clip.

    Args:
        joints_world: (F, 17, 3) world frame, metres.
        size: S, square image size in pixels.
        rng: random generator. azimuth: radians; drawn uniformly when None.
    Returns:
        a :class:`SceneCamera`.
    """
    flat = joints_world.reshape(-1, 3)
    target = 0.5 * (flat.amin(0) + flat.amax(0))  # centre of the clip's bounding box
    if azimuth is None:
        azimuth = rng.uniform(0, 2 * math.pi)
    elevation = math.radians(rng.uniform(*ELEVATION_DEG))
    distance = rng.uniform(*DISTANCE_M)
    # keep the camera at least MIN_HEIGHT_M above the floor (y = 0; the target has y < 0)
    elevation = max(elevation, math.asin(min(1.0, (float(target[1]) + MIN_HEIGHT_M) / distance)))
    R, t = place_camera(target, azimuth, elevation, distance)
    focal = fit_focal(world_to_camera(joints_world, R, t), size, fill=rng.uniform(0.8, 0.92))
    centre = (size - 1) / 2.0
    K = intrinsics(focal, centre, centre, dtype=torch.float64)
    return SceneCamera(K=K, R=R, t=t, azimuth=float(azimuth), elevation=elevation, distance=float(distance))
