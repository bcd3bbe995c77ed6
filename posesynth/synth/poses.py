"""Unpaired 3D poses from the synthetic motion generator (no rendering).

The adversarial prior needs real-looking 3D poses that are *not* paired with the training
videos. Where no mocap is at hand (the demo, tests, benchmarks), posesynth samples them from
its own motion programs and subjects with a seed of their own, so they share the motion
vocabulary with the videos but not the frames.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from posesynth.synth.motion_programs import ACTIONS, make_motion
from posesynth.synth.scene import animate
from posesynth.synth.subject import make_subject


def sample_poses(clips: int = 32, frames: int = 96, fps: float = 25.0, seed: int = 0,
                 subjects: Sequence[int] = (1, 2, 3, 4, 5), actions: Sequence[str] | None = None,
                 frame_step: int = 2) -> np.ndarray:
    """Simulate ``clips`` motion clips and return their poses.

    Args:
        clips: number of simulated clips; clip i uses ``subjects[i % len]`` and a random action.
        frames, fps: length and rate of each clip.
        seed: seeds the action choice and the motions.
        subjects: subject ids (body proportions).
        actions: keys of ``motion.ACTIONS`` to draw from (default all).
        frame_step: keep every k-th frame (neighbouring frames are nearly identical).
    Returns:
        (N, 17, 3) float32, world frame (y down), metres, pelvis at the origin.
    """
    rng = np.random.default_rng(seed)
    names = list(actions or ACTIONS)
    poses = []
    for i in range(clips):
        action = names[rng.integers(len(names))]
        joints, _ = animate(make_subject(int(subjects[i % len(subjects)])), make_motion(action, frames, fps, rng))
        joints = joints[::frame_step].float().numpy()
        poses.append(joints - joints[:, :1])
    return np.concatenate(poses)
