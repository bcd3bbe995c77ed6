"""One synthetic scene: a subject performing a motion, seen by one or more static cameras.

Pipeline: motion (angle tracks) → forward kinematics → ground the feet on the floor →
capsules → for each camera: background once, body per frame (supersampled, box-filtered) →
uint8 frames plus exact labels (joints in world, camera and pixel coordinates, masks, boxes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from posesynth.geometry import project, world_to_camera
from posesynth.synth.backdrop import Backdrop, render_backdrop, sample_backdrop
from posesynth.synth.body import Capsules, dress, lowest_point
from posesynth.synth.camera import SceneCamera, make_camera
from posesynth.synth.joint_angles import angles_to_joints, rest_offsets
from posesynth.synth.motion_programs import Motion, make_motion
from posesynth.synth.raycast import pixel_rays, render_capsules
from posesynth.synth.subject import Subject, make_subject

VISIBILITY_TOLERANCE_M = 0.15  # a joint lies inside its limb, up to about this far behind the surface


@dataclass(frozen=True)
class View:
    """One camera's video and labels.

    frames: (F, S, S, 3) uint8 RGB; mask: (F, S, S) bool, pixels at least half covered by the
    body; camera: the calibrated camera; joints3d: (F, 17, 3) float32 camera frame, metres;
    joints2d: (F, 17, 2) float32 pixels, the projection of ``joints3d`` with ``camera.K``;
    visible: (F, 17) bool, joint not hidden behind another body part (approximate);
    boxes: (F, 4) float32 x0, y0, x1, y1 pixel edges of the mask (NaN when empty);
    background: (S, S, 3) uint8 RGB, the empty scene (what a perfect median background finds).
    """

    frames: np.ndarray
    mask: np.ndarray
    camera: SceneCamera
    joints3d: np.ndarray
    joints2d: np.ndarray
    visible: np.ndarray
    boxes: np.ndarray
    background: np.ndarray


@dataclass(frozen=True)
class Scene:
    """A rendered scene: subject, motion, world joints (F, 17, 3) float32 metres, and its views."""

    subject: Subject
    motion: Motion
    joints_world: np.ndarray
    views: list[View]


def animate(subject: Subject, motion: Motion) -> tuple[torch.Tensor, torch.Tensor]:
    """World joints and joint frames of a subject performing a motion, feet on the floor.

    Returns:
        joints (F, 17, 3) float64 world, metres (y down, floor y = 0) and global frames
        (F, 17, 3, 3).
    """
    angles, yaw = torch.from_numpy(motion.angles), torch.from_numpy(motion.yaw)
    root = torch.zeros(len(yaw), 3, dtype=torch.float64)
    root[:, [0, 2]] = torch.from_numpy(motion.root_xz)
    joints, frames = angles_to_joints(angles, yaw, root, rest_offsets(subject.bone_lengths))
    # the lowest foot touches the floor in every frame: squats and sits lower the pelvis
    joints = joints - lowest_point(joints, frames).view(-1, 1, 1) * torch.tensor([0.0, 1.0, 0.0], dtype=joints.dtype)
    return joints, frames


def _box_filter(images: torch.Tensor, factor: int) -> torch.Tensor:
    """Average ``factor``×``factor`` blocks: (F, H·f, W·f, C) → (F, H, W, C)."""
    if factor == 1:
        return images
    n, h, w, c = images.shape
    return images.reshape(n, h // factor, factor, w // factor, factor, c).mean(dim=(2, 4))


def supersampled_intrinsics(K: torch.Tensor, factor: int) -> torch.Tensor:
    """Intrinsics of the same camera at ``factor``× resolution, pixel centres kept consistent.

    Pixel u covers [u − ½, u + ½]; at ``factor``× its sub-pixels are centred at
    (u + ½)·factor − ½ + k, so c' = (c + ½)·factor − ½ and f' = f·factor.
    """
    Ks = K.clone()
    Ks[:2, :2] *= factor
    Ks[:2, 2] = (K[:2, 2] + 0.5) * factor - 0.5
    return Ks


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    """RGB in [0, 1] → uint8, rounded."""
    return (image * 255 + 0.5).clamp(0, 255).to(torch.uint8).numpy()


def _boxes(mask: np.ndarray) -> np.ndarray:
    """(F, H, W) bool → (F, 4) x0, y0, x1, y1 pixel edges of the True region, NaN if empty."""
    boxes = np.full((mask.shape[0], 4), np.nan, dtype=np.float32)
    for f, m in enumerate(mask):
        rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
        if len(rows):
            boxes[f] = (cols[0] - 0.5, rows[0] - 0.5, cols[-1] + 0.5, rows[-1] + 0.5)
    return boxes


def render_view(caps: Capsules, joints_world: torch.Tensor, camera: SceneCamera, backdrop: Backdrop, size: int,
                supersample: int = 2) -> View:
    """Render one camera's video and labels.

    Args:
        caps: body capsules, world frame (F frames). joints_world: (F, 17, 3) world, metres.
        camera: a static camera. backdrop: the background. size: S, output pixels.
        supersample: rays per pixel along each axis (anti-aliasing).
    Returns:
        a :class:`View`.
    """
    big = size * supersample
    K_big = supersampled_intrinsics(camera.K, supersample)
    background = render_backdrop(backdrop, pixel_rays(K_big, big, big), camera.R, camera.t).reshape(big, big, 3)
    light = (camera.R @ torch.from_numpy(backdrop.light)).float()
    colour, depth = render_capsules(K_big, big, big, caps.transformed(camera.R, camera.t), light)
    hit = torch.isfinite(depth).unsqueeze(-1)
    image = _box_filter(torch.where(hit, colour, background), supersample)
    coverage = _box_filter(hit.float(), supersample)[..., 0]
    frames = len(depth)
    nearest = -torch.nn.functional.max_pool2d(-depth.unsqueeze(1), supersample)[:, 0]

    joints3d = world_to_camera(joints_world, camera.R, camera.t).float()
    K = camera.K.float()
    # the 2D labels are the projection of the stored (float32) 3D labels, computed in float64
    joints2d = project(joints3d.double(), K.double()).float()
    pix = joints2d.round().long().clamp(0, size - 1)
    surface = nearest[torch.arange(frames).unsqueeze(1), pix[..., 1], pix[..., 0]]
    visible = surface >= joints3d[..., 2] - VISIBILITY_TOLERANCE_M
    mask = (coverage >= 0.5).numpy()
    empty = _box_filter(background.unsqueeze(0), supersample)[0]
    return View(frames=_to_uint8(image), mask=mask, camera=camera, joints3d=joints3d.numpy(),
                joints2d=joints2d.numpy(), visible=visible.numpy(), boxes=_boxes(mask), background=_to_uint8(empty))


def make_scene(subject_id: int, action: str, frames: int, fps: float, size: int, rng: np.random.Generator,
               views: int = 1, supersample: int = 2) -> Scene:
    """Simulate and render one scene.

    Args:
        subject_id: who (see ``subject.make_subject``). action: a key of ``motion.ACTIONS``.
        frames: F. fps: frames per second. size: S, even, square output pixels.
        rng: the scene's random generator (motion, cameras, background).
        views: V cameras seeing the same instants; their azimuths are spread around the circle.
        supersample: anti-aliasing factor.
    Returns:
        a :class:`Scene` with V views.
    """
    subject = make_subject(subject_id)
    motion = make_motion(action, frames, fps, rng)
    joints, joint_frames = animate(subject, motion)
    caps = dress(joints, joint_frames, subject)
    backdrop = sample_backdrop(rng)
    first = rng.uniform(0, 2 * math.pi)
    cameras = [make_camera(joints, size, rng, azimuth=first + 2 * math.pi * k / views + rng.uniform(-0.3, 0.3))
               for k in range(views)]
    rendered = [render_view(caps, joints, cam, backdrop, size, supersample) for cam in cameras]
    return Scene(subject=subject, motion=motion, joints_world=joints.float().numpy(), views=rendered)
