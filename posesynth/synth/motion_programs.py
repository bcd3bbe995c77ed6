"""Procedural human motion: primitives composed into per-video motion programs.

A *primitive* maps local time τ (seconds) and its random parameters to full angle tracks
(radians, ``kinematics.ANGLE_NAMES``) plus two root tracks: ``speed`` (m/s, along the facing
direction) and ``yaw_rate`` (rad/s, about the vertical). A video's *action* picks a sequence of
primitives; neighbours cross-fade over ``BLEND_S`` seconds, the root is integrated from the
blended velocities (so turns and walks stay smooth), and every angle is clipped to the human
limits. Ankles are given relative to a flat foot and made absolute at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from posesynth.synth.joint_angles import ANGLE_INDEX, ANGLE_NAMES, clip_angles

Tracks = dict[str, np.ndarray]
BLEND_S = 0.6          # cross-fade between primitives, seconds
MAX_PATH_RADIUS_M = 0.8  # walking paths are shrunk to stay this close to their centre


def _deg(x: float | np.ndarray) -> np.ndarray:
    return np.radians(x)


def _rest(t: np.ndarray) -> Tracks:
    """Standing relaxed: arms slightly away from the body so they do not sink into the torso."""
    tracks = {name: np.zeros_like(t) for name in ANGLE_NAMES}
    tracks.update(speed=np.zeros_like(t), yaw_rate=np.zeros_like(t))
    tracks["lshoulder_abd"] = tracks["rshoulder_abd"] = np.full_like(t, _deg(12.0))
    tracks["lelbow"] = tracks["relbow"] = np.full_like(t, _deg(12.0))
    tracks["lknee"] = tracks["rknee"] = np.full_like(t, _deg(4.0))
    tracks["lhip_flex"] = tracks["rhip_flex"] = np.full_like(t, _deg(2.0))
    return tracks


def _bump(x: np.ndarray) -> np.ndarray:
    """max(0, x) — the positive half of a sinusoid drives one-sided joints."""
    return np.maximum(x, 0.0)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def idle(t: np.ndarray, rng: np.random.Generator, duration: float) -> Tracks:
    """Standing: slight sway, breathing and a slow look around."""
    tr = _rest(t)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    tr["spine_bend"] = _deg(3.0) * np.sin(2 * np.pi * 0.2 * t + phase[0])
    tr["chest_flex"] = _deg(2.0) * np.sin(2 * np.pi * 0.25 * t + phase[1])
    tr["neck_turn"] = _deg(rng.uniform(15, 45)) * np.sin(2 * np.pi * 0.15 * t + phase[2])
    return tr


def walk(t: np.ndarray, rng: np.random.Generator, duration: float) -> Tracks:
    """Walking with arm swing and counter-rotation, possibly along a curve.

    φ is the gait phase: the right hip flexes as sin φ grows, the left leg is half a cycle
    behind, each arm swings with the opposite leg, and a knee flexes during its leg's swing.
    """
    tr = _rest(t)
    stride_hz = rng.uniform(0.75, 1.0)
    phi = 2 * np.pi * stride_hz * t + rng.uniform(0, 2 * np.pi)
    hip, knee, arm = _deg(rng.uniform(18, 28)), _deg(rng.uniform(35, 55)), _deg(rng.uniform(12, 35))
    s = np.sin(phi)
    tr["rhip_flex"], tr["lhip_flex"] = _deg(4.0) + hip * s, _deg(4.0) - hip * s
    tr["rknee"] = _deg(6.0) + knee * _bump(np.cos(phi - 0.4)) ** 1.5
    tr["lknee"] = _deg(6.0) + knee * _bump(-np.cos(phi - 0.4)) ** 1.5
    tr["lshoulder_flex"], tr["rshoulder_flex"] = arm * s, -arm * s
    tr["lelbow"] = _deg(12.0) + _deg(18.0) * _bump(s)
    tr["relbow"] = _deg(12.0) + _deg(18.0) * _bump(-s)
    tr["lshoulder_abd"] = tr["rshoulder_abd"] = np.full_like(t, _deg(8.0))
    tr["spine_twist"] = _deg(5.0) * s            # pelvis and chest counter-rotate
    tr["chest_twist"] = -_deg(4.0) * s
    tr["spine_flex"] = np.full_like(t, _deg(4.0))
    # negative ankle = toes down: the trailing foot pushes off
    tr["rankle"], tr["lankle"] = -_deg(12.0) * _bump(-s), -_deg(12.0) * _bump(s)
    tr["speed"] = np.full_like(t, rng.uniform(0.2, 0.6))
    tr["yaw_rate"] = np.full_like(t, rng.uniform(-0.5, 0.5))
    return tr


def turn(t: np.ndarray, rng: np.random.Generator, duration: float) -> Tracks:
    """Turning on the spot by 60–180° with small steps, the head leading the turn."""
    tr = _rest(t)
    total = _deg(rng.uniform(60, 180)) * rng.choice([-1.0, 1.0])
    u = np.clip(t / duration, 0.0, 1.0)
    inside = (t >= 0) & (t <= duration)
    tr["yaw_rate"] = np.where(inside, total * np.pi / (2 * duration) * np.sin(np.pi * u), 0.0)
    step = np.sin(2 * np.pi * 1.6 * t) * np.sin(np.pi * u) * inside
    tr["rhip_flex"] = _deg(3.0) + _deg(14.0) * _bump(step)
    tr["lhip_flex"] = _deg(3.0) + _deg(14.0) * _bump(-step)
    tr["rknee"] = _deg(5.0) + _deg(28.0) * _bump(step)
    tr["lknee"] = _deg(5.0) + _deg(28.0) * _bump(-step)
    tr["neck_turn"] = np.sign(total) * _deg(25.0) * np.sin(np.pi * u) * inside
    return tr


def arm_swing(t: np.ndarray, rng: np.random.Generator, duration: float) -> Tracks:
    """Big arm swings: alternating, together (forwards/backwards) or sideways."""
    tr = _rest(t)
    phi = 2 * np.pi * rng.uniform(0.4, 0.9) * t + rng.uniform(0, 2 * np.pi)
    amp = _deg(rng.uniform(30, 70))
    mode = rng.integers(3)
    if mode == 2:  # sideways: both arms up and down together, like jumping-jack arms
        lift = amp * (0.5 - 0.5 * np.cos(phi)) * 1.6
        tr["lshoulder_abd"] = tr["rshoulder_abd"] = _deg(10.0) + lift
    else:
        sign = -1.0 if mode == 0 else 1.0
        tr["lshoulder_flex"] = _deg(15.0) + amp * np.sin(phi)
        tr["rshoulder_flex"] = _deg(15.0) + sign * amp * np.sin(phi)
    elbow = _deg(rng.uniform(5, 45))
    tr["lelbow"] = tr["relbow"] = np.full_like(t, elbow)
    tr["spine_twist"] = _deg(6.0) * np.sin(phi) * (mode == 0)
    return tr


def arm_raise(t: np.ndarray, rng: np.random.Generator, duration: float) -> Tracks:
    """Raising one or both arms forwards or sideways, then lowering them."""
    tr = _rest(t)
    period = rng.uniform(1.8, 3.0)
    lift = 0.5 - 0.5 * np.cos(2 * np.pi * np.clip(t, 0.0, None) / period)
    which = rng.integers(3)  # 0 left, 1 right, 2 both
    sides = [s for s, on in (("l", which != 1), ("r", which != 0)) if on]
    forward = rng.random() < 0.5
    top = _deg(rng.uniform(80, 170) if forward else rng.uniform(70, 150))
    for side in sides:
        if forward:
            tr[f"{side}shoulder_flex"] = top * lift
        else:
            tr[f"{side}shoulder_abd"] = _deg(12.0) + top * lift
        tr[f"{side}elbow"] = _deg(rng.uniform(5, 30)) * np.ones_like(t)
    tr["spine_flex"] = -_deg(5.0) * lift  # lean back a little as the arms go up
    return tr


def leg_swing(t: np.ndarray, rng: np.random.Generator, duration: float) -> Tracks:
    """One leg swings forwards/backwards or sideways; arms go out for balance."""
    tr = _rest(t)
    side = "l" if rng.random() < 0.5 else "r"
    phi = 2 * np.pi * rng.uniform(0.5, 0.9) * t + rng.uniform(0, 2 * np.pi)
    if rng.random() < 0.6:
        tr[f"{side}hip_flex"] = _deg(10.0) + _deg(rng.uniform(25, 45)) * np.sin(phi)
        tr[f"{side}knee"] = _deg(8.0) + _deg(rng.uniform(10, 40)) * _bump(np.sin(phi))
    else:
        tr[f"{side}hip_abd"] = _deg(rng.uniform(15, 40)) * (0.5 - 0.5 * np.cos(phi))
        tr[f"{side}knee"] = np.full_like(t, _deg(6.0))
    other = "r" if side == "l" else "l"
    tr["spine_bend"] = _deg(6.0) * (1.0 if side == "r" else -1.0) * np.ones_like(t)  # lean over stance leg
    tr["lshoulder_abd"] = tr["rshoulder_abd"] = np.full_like(t, _deg(rng.uniform(25, 60)))
    tr[f"{other}knee"] = np.full_like(t, _deg(4.0))
    return tr


def squat(t: np.ndarray, rng: np.random.Generator, duration: float) -> Tracks:
    """Repeated squats; the shins lean forwards (knee flexion exceeds hip flexion)."""
    tr = _rest(t)
    depth = rng.uniform(0.5, 1.0)
    e = depth * (0.5 - 0.5 * np.cos(2 * np.pi * np.clip(t, 0.0, None) / rng.uniform(2.0, 3.2)))
    tr["lhip_flex"] = tr["rhip_flex"] = _deg(2.0) + _deg(100.0) * e
    tr["lknee"] = tr["rknee"] = _deg(4.0) + _deg(125.0) * e
    tr["lhip_abd"] = tr["rhip_abd"] = _deg(12.0) * e
    tr["spine_flex"] = _deg(30.0) * e
    tr["lshoulder_flex"] = tr["rshoulder_flex"] = _deg(rng.uniform(40, 90)) * e
    return tr


def sit(t: np.ndarray, rng: np.random.Generator, duration: float) -> Tracks:
    """Sitting down on an (invisible) stool, staying seated, standing up again."""
    tr = _rest(t)
    u = t / duration
    seat = _smoothstep((u - 0.1) / 0.3) - _smoothstep((u - 0.65) / 0.3)
    moving = 4.0 * seat * (1.0 - seat)  # peaks mid-transition: lean forwards to shift weight
    tr["lhip_flex"] = tr["rhip_flex"] = _deg(2.0) + _deg(88.0) * seat
    tr["lknee"] = tr["rknee"] = _deg(4.0) + _deg(90.0) * seat
    tr["spine_flex"] = _deg(8.0) * seat + _deg(30.0) * moving
    tr["lshoulder_flex"] = tr["rshoulder_flex"] = _deg(30.0) * seat + _deg(20.0) * moving
    tr["lelbow"] = tr["relbow"] = _deg(12.0) + _deg(40.0) * seat
    return tr


Primitive = Callable[[np.ndarray, np.random.Generator, float], Tracks]
PRIMITIVES: dict[str, Primitive] = {
    "idle": idle, "walk": walk, "turn": turn, "arm_swing": arm_swing, "arm_raise": arm_raise,
    "leg_swing": leg_swing, "squat": squat, "sit": sit,
}
# an action (the video-level motion label) draws its segments from a pool of primitives
ACTIONS: dict[str, tuple[str, ...]] = {
    "walking": ("walk",),
    "turning": ("turn", "walk", "idle"),
    "arms": ("arm_swing", "arm_raise"),
    "legs": ("leg_swing",),
    "squats": ("squat", "idle"),
    "sitting": ("sit",),
    "mixed": ("walk", "turn", "arm_swing", "arm_raise", "leg_swing", "squat", "sit"),
}
_DURATION_S: dict[str, tuple[float, float]] = {"sit": (3.0, 4.5), "turn": (1.5, 2.5), "idle": (1.0, 2.0)}


@dataclass(frozen=True)
class Motion:
    """A motion clip in the world frame (y down, floor y = 0).

    angles: (F, A) radians, ``ANGLE_NAMES`` order, within the human limits; yaw: (F,) radians,
    heading about the vertical; root_xz: (F, 2) horizontal pelvis position (x, z), metres,
    centred on the origin; action: the video-level label; segments: the primitives in order.
    """

    angles: np.ndarray
    yaw: np.ndarray
    root_xz: np.ndarray
    action: str
    segments: tuple[str, ...]


def _plan(action: str, total_s: float, rng: np.random.Generator) -> list[tuple[str, float]]:
    """Primitive names and durations (s) covering ``total_s``, cycling a shuffled pool."""
    pool = list(rng.permutation(ACTIONS[action]))
    plan, elapsed = [], 0.0
    while elapsed < total_s:
        name = str(pool[len(plan) % len(pool)])
        duration = rng.uniform(*_DURATION_S.get(name, (2.0, 3.5)))
        plan.append((name, duration))
        elapsed += duration
    return plan


def blend_weights(t: np.ndarray, starts: np.ndarray, blend: float = BLEND_S) -> np.ndarray:
    """Cross-fade weights of consecutive segments; they sum to one at every instant.

    Args:
        t: (F,) seconds. starts: (K,) segment start times, seconds, increasing, starts[0] = 0.
    Returns:
        (K, F) weights in [0, 1].
    """
    # on[k](t): how far segment k has taken over from its predecessor (segment 0 always on)
    on = np.stack([np.ones_like(t)] + [_smoothstep((t - s) / blend + 0.5) for s in starts[1:]])
    off = np.concatenate([on[1:], np.zeros_like(t)[None]])
    return on - off


def make_motion(action: str, frames: int, fps: float, rng: np.random.Generator) -> Motion:
    """Compose a motion for one video.

    Args:
        action: a key of ``ACTIONS``.
        frames: F, number of frames. fps: frames per second.
        rng: the video's random generator.
    Returns:
        a :class:`Motion` with F frames.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; choose from {sorted(ACTIONS)}")
    t = np.arange(frames) / fps
    plan = _plan(action, frames / fps, rng)
    starts = np.cumsum([0.0] + [d for _, d in plan[:-1]])
    weights = blend_weights(t, starts)
    blended: Tracks = {}
    for (name, duration), start, w in zip(plan, starts, weights):
        tracks = PRIMITIVES[name](t - start, rng, duration)
        for key, value in tracks.items():
            blended[key] = blended.get(key, 0.0) + w * value
    angles = np.stack([blended[name] for name in ANGLE_NAMES], axis=1)
    # ankles: relative to a flat foot, so feet stay flat in squats and sits unless pitched
    for side in "lr":
        knee, hip = angles[:, ANGLE_INDEX[f"{side}knee"]], angles[:, ANGLE_INDEX[f"{side}hip_flex"]]
        angles[:, ANGLE_INDEX[f"{side}ankle"]] += knee - hip + angles[:, ANGLE_INDEX["pelvis_tilt"]]
    angles = clip_angles(angles)
    yaw = rng.uniform(0, 2 * np.pi) + np.concatenate([[0.0], np.cumsum(blended["yaw_rate"][:-1]) / fps])
    forward = np.stack([-np.sin(yaw), -np.cos(yaw)], axis=1)  # the body faces −z at yaw 0
    steps = blended["speed"][:, None] * forward / fps
    root = np.concatenate([np.zeros((1, 2)), np.cumsum(steps[:-1], axis=0)])
    root -= 0.5 * (root.min(0) + root.max(0))
    radius = np.linalg.norm(root, axis=1).max()
    if radius > MAX_PATH_RADIUS_M:  # keep the person near the camera's aim (some foot slide)
        root *= MAX_PATH_RADIUS_M / radius
    return Motion(angles=angles, yaw=yaw, root_xz=root, action=action, segments=tuple(n for n, _ in plan))
