"""MediaPipe Pose's 33 landmarks → the Human3.6M 17 joints, with a joint-definition correction.

The two skeletons name the same body parts but put some joints elsewhere: MediaPipe's (BlazePose's)
hips are narrower and lower than Human3.6M's hip-joint centres, its shoulders wider, Human3.6M's
thorax sits above the line of its shoulder joints, its head joint on top of the head, and
MediaPipe has no pelvis, spine, thorax or head-top landmark. Knees, ankles, elbows and wrists are
the same anatomical points in both and are taken over as they are, and the nose stands for
Human3.6M's neck/nose joint. The rest is rebuilt from the Human3.6M reference skeleton, scaled to
the person:

1. scale ``k`` = the person's shins (knee→ankle) and forearms (elbow→wrist), the bones both
   skeletons define alike, over the reference person's;
2. hips: about MediaPipe's mid-hip, along its hip line, ``k·half_hips_m`` to each side;
3. pelvis height: the pelvis and hips move along the torso axis (mid-hips → thorax) until
   |pelvis→thorax| : mean thigh is the reference ``torso_to_thigh``;
4. thorax = MediaPipe's mid-shoulders + ``k·thorax_from_mid_shoulders_m`` in the torso frame
   (:func:`torso_frame`: left, up, forward); shoulders along MediaPipe's shoulder line,
   ``k·half_shoulders_m`` to each side of the mid-shoulders;
5. spine on pelvis→thorax at ``spine_fraction``;
6. neck/nose = the nose; head = the nose + ``k·head_from_neck_m`` in the torso frame.

The numbers (:data:`FITTED`) come from Human3.6M's own motion capture, never from images: 4,609
poses of subject S1 (Walking 1, and Directions 1 from 5 s in) through forward kinematics of the
standard 32-joint offset table (:mod:`posesynth.detect.reference`, reproduced by
``scripts/fit_keypoint_correction.py``). The four real Human3.6M test frames are not part of it.
The one assumption that no data here can check is that MediaPipe's mid-shoulders are Human3.6M's,
and its nose Human3.6M's neck/nose joint.

The geometry runs on MediaPipe's *world* landmarks (metric 3D, so foreshortened limbs keep their
lengths), and each rebuilt joint is its image anchor (mid-hips, mid-shoulders, nose) plus the
world displacement mapped into the image by the frame's affine camera: the least-squares fit of
image landmarks ≈ A · world landmarks + b, weighted by visibility. MediaPipe's image-landmark z is
not used (its scale varies too much from frame to frame).

A joint's score is the smallest MediaPipe visibility of the landmarks it is built from.
"""

from __future__ import annotations

import numpy as np

from posesynth import skeleton

# MediaPipe Pose landmark indices (the 33 of BlazePose's topology) used here
NOSE, LEFT_EAR, RIGHT_EAR = 0, 7, 8
LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_ELBOW, RIGHT_ELBOW, LEFT_WRIST, RIGHT_WRIST = 11, 12, 13, 14, 15, 16
LEFT_HIP, RIGHT_HIP, LEFT_KNEE, RIGHT_KNEE, LEFT_ANKLE, RIGHT_ANKLE = 23, 24, 25, 26, 27, 28
NUM_LANDMARKS = 33

_J = {name: i for i, name in enumerate(skeleton.JOINT_NAMES)}
# Human3.6M reference geometry fitted on its motion capture (module docstring): lengths in metres
# of the reference person (subject S1), offsets (left, up, forward) in the torso frame.
# Printed by scripts/fit_keypoint_correction.py; tests/test_keypoints_detect.py checks they agree.
FITTED: dict[str, object] = {
    "frames": 4609,
    "shin_m": 0.4542,
    "forearm_m": 0.2517,
    "half_hips_m": 0.1329,
    "half_shoulders_m": 0.1372,
    "torso_to_thigh": 1.1008,
    "spine_fraction": 0.4756,
    "thorax_from_mid_shoulders_m": (0.0, 0.0601, 0.0062),
    "head_from_neck_m": (0.0, 0.0948, -0.049),
}
TORSO_TO_THIGH = float(FITTED["torso_to_thigh"])
SPINE_FRACTION = float(FITTED["spine_fraction"])
HALF_HIPS_M = float(FITTED["half_hips_m"])
HALF_SHOULDERS_M = float(FITTED["half_shoulders_m"])
THORAX_FROM_MID_SHOULDERS_M = np.array(FITTED["thorax_from_mid_shoulders_m"])
HEAD_FROM_NECK_M = np.array(FITTED["head_from_neck_m"])
MAX_PELVIS_SHIFT_M = 0.15  # step 3 searches this far up and down the torso (in reference metres)
# bones both skeletons define with the same end points: (landmark a, landmark b, reference length m)
SCALE_BONES: tuple[tuple[int, int, float], ...] = (
    (LEFT_KNEE, LEFT_ANKLE, float(FITTED["shin_m"])), (RIGHT_KNEE, RIGHT_ANKLE, float(FITTED["shin_m"])),
    (LEFT_ELBOW, LEFT_WRIST, float(FITTED["forearm_m"])), (RIGHT_ELBOW, RIGHT_WRIST, float(FITTED["forearm_m"])),
)
# H36M joints taken over from one landmark: joint name → landmark
DIRECT: dict[str, int] = {"rknee": RIGHT_KNEE, "rankle": RIGHT_ANKLE, "lknee": LEFT_KNEE, "lankle": LEFT_ANKLE,
                          "lelbow": LEFT_ELBOW, "lwrist": LEFT_WRIST, "relbow": RIGHT_ELBOW, "rwrist": RIGHT_WRIST,
                          "neck": NOSE}
_TORSO = (LEFT_HIP, RIGHT_HIP, LEFT_SHOULDER, RIGHT_SHOULDER)
# landmarks each H36M joint is built from (its score is their smallest visibility)
SOURCES: dict[str, tuple[int, ...]] = {
    **{name: (index,) for name, index in DIRECT.items()},
    **{name: _TORSO + (LEFT_KNEE, RIGHT_KNEE) for name in ("pelvis", "rhip", "lhip", "spine")},
    "thorax": _TORSO,
    **{name: (LEFT_SHOULDER, RIGHT_SHOULDER) for name in ("lshoulder", "rshoulder")},
    "head": (NOSE,) + _TORSO,
}


def _unit(vectors: np.ndarray) -> np.ndarray:
    """(..., 3) vectors scaled to length 1 (zero vectors stay zero)."""
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, norm, out=np.zeros_like(vectors), where=norm > 0)


def torso_frame(left_hip: np.ndarray, right_hip: np.ndarray, left_shoulder: np.ndarray,
                right_shoulder: np.ndarray) -> np.ndarray:
    """Per frame, the body's (left, up, forward) unit axes as the rows of a (F, 3, 3) rotation.

    Up is mid-hips → mid-shoulders; left is the mean of the hip and shoulder lines (right → left)
    made perpendicular to up; forward = left × up (the side the face is on, in any right-handed
    coordinate system: Human3.6M's y-up millimetres and MediaPipe's y-down world landmarks alike).

    Args:
        left_hip, right_hip, left_shoulder, right_shoulder: (F, 3).
    """
    up = _unit((left_shoulder + right_shoulder) / 2 - (left_hip + right_hip) / 2)
    left = (left_hip - right_hip) + (left_shoulder - right_shoulder)
    left = _unit(left - np.sum(left * up, axis=-1, keepdims=True) * up)
    return np.stack([left, up, np.cross(left, up)], axis=1)


def affine_cameras(image: np.ndarray, world: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per frame, the 2×3 linear part A of the weighted least-squares fit ``image ≈ A·world + b``.

    Args:
        image: (F, N, 2) pixels; world: (F, N, 3) metres; weights: (F, N) ≥ 0 (visibility).
    Returns:
        (F, 2, 3) pixels per metre.
    """
    design = np.concatenate([world, np.ones(world.shape[:2] + (1,))], axis=-1)  # (F, N, 4)
    weighted = design * weights[..., None]
    normal = np.einsum("fni,fnj->fij", weighted, design) + 1e-9 * np.eye(4)
    solution = np.linalg.solve(normal, np.einsum("fni,fnj->fij", weighted, image))  # (F, 4, 2)
    return solution[:, :3].transpose(0, 2, 1)


def person_scale(world: np.ndarray) -> np.ndarray:
    """Step 1: the person's size relative to the canonical skeleton, (F,) from (F, 33, 3) metres."""
    measured = sum(np.linalg.norm(world[:, a] - world[:, b], axis=-1) for a, b, _ in SCALE_BONES)
    return measured / sum(length for _, _, length in SCALE_BONES)


def pelvis_shift(mid_hip: np.ndarray, half_hips: np.ndarray, thorax: np.ndarray, knees: np.ndarray,
                 scale: np.ndarray, iterations: int = 40) -> np.ndarray:
    """Step 3: the shift δ along the torso axis giving torso : mean thigh = :data:`TORSO_TO_THIGH`.

    Moving the pelvis up shortens the torso and lengthens the thighs, so the ratio falls with δ
    and bisection over ±``MAX_PELVIS_SHIFT_M``·scale finds it (or stops at the nearer end).

    Args:
        mid_hip, thorax: (F, 3); half_hips: (F, 3) pelvis → left hip; knees: (F, 2, 3) right, left;
        scale: (F,) from :func:`person_scale`. All metres.
    Returns:
        (F,) δ in metres along the unit torso axis (positive: towards the thorax).
    """
    up = _unit(thorax - mid_hip)

    def ratio(shift: np.ndarray) -> np.ndarray:
        pelvis = mid_hip + shift[:, None] * up
        hips = np.stack([pelvis - half_hips, pelvis + half_hips], axis=1)
        thigh = np.linalg.norm(hips - knees, axis=-1).mean(axis=1)
        return np.linalg.norm(thorax - pelvis, axis=-1) / np.maximum(thigh, 1e-9)

    low, high = -MAX_PELVIS_SHIFT_M * scale, MAX_PELVIS_SHIFT_M * scale
    for _ in range(iterations):
        middle = (low + high) / 2
        too_long = ratio(middle) > TORSO_TO_THIGH  # the torso is still too long: move further up
        low, high = np.where(too_long, middle, low), np.where(too_long, high, middle)
    return (low + high) / 2


def blazepose_to_h36m(image: np.ndarray, world: np.ndarray, visibility: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The corrected Human3.6M-17 joints of MediaPipe landmarks (the module docstring's steps).

    Args:
        image: (F, 33, 2) MediaPipe image landmarks in pixels (u, v).
        world: (F, 33, 3) MediaPipe world landmarks, metres.
        visibility: (F, 33) per-landmark visibility in [0, 1].
    Returns:
        keypoints (F, 17, 2) float32 pixels (u, v) and scores (F, 17) float32 in [0, 1], H36M order.
    """
    image, world = np.asarray(image, np.float64), np.asarray(world, np.float64)
    visibility = np.clip(np.asarray(visibility, np.float64), 0.0, 1.0)
    A = affine_cameras(image, world, visibility)
    k = person_scale(world)
    to_image = lambda displacement: np.einsum("fij,fj->fi", A, displacement)  # noqa: E731 — metres → pixels

    joints = np.zeros((len(image), skeleton.NUM_JOINTS, 2))
    for name, index in DIRECT.items():
        joints[:, _J[name]] = image[:, index]
    mid_hip_w = (world[:, LEFT_HIP] + world[:, RIGHT_HIP]) / 2
    mid_shoulder_w = (world[:, LEFT_SHOULDER] + world[:, RIGHT_SHOULDER]) / 2
    frame = torso_frame(world[:, LEFT_HIP], world[:, RIGHT_HIP], world[:, LEFT_SHOULDER], world[:, RIGHT_SHOULDER])
    # (left, up, forward) reference metres in the torso frame → this person's world metres
    from_frame = lambda offset: k[:, None] * np.einsum("fji,j->fi", frame, offset)  # noqa: E731
    thorax_shift = from_frame(THORAX_FROM_MID_SHOULDERS_M)
    thorax_w = mid_shoulder_w + thorax_shift
    half_hips = _unit(world[:, LEFT_HIP] - world[:, RIGHT_HIP]) * (HALF_HIPS_M * k)[:, None]
    shift = pelvis_shift(mid_hip_w, half_hips, thorax_w, world[:, [RIGHT_KNEE, LEFT_KNEE]], k)
    pelvis = (image[:, LEFT_HIP] + image[:, RIGHT_HIP]) / 2 + to_image(shift[:, None] * _unit(thorax_w - mid_hip_w))
    mid_shoulders = (image[:, LEFT_SHOULDER] + image[:, RIGHT_SHOULDER]) / 2
    thorax = mid_shoulders + to_image(thorax_shift)
    half_shoulders = _unit(world[:, LEFT_SHOULDER] - world[:, RIGHT_SHOULDER]) * (HALF_SHOULDERS_M * k)[:, None]
    joints[:, _J["pelvis"]] = pelvis
    joints[:, _J["lhip"]], joints[:, _J["rhip"]] = pelvis + to_image(half_hips), pelvis - to_image(half_hips)
    joints[:, _J["thorax"]] = thorax
    joints[:, _J["lshoulder"]] = mid_shoulders + to_image(half_shoulders)
    joints[:, _J["rshoulder"]] = mid_shoulders - to_image(half_shoulders)
    joints[:, _J["spine"]] = pelvis + SPINE_FRACTION * (thorax - pelvis)
    joints[:, _J["head"]] = image[:, NOSE] + to_image(from_frame(HEAD_FROM_NECK_M))
    return joints.astype(np.float32), joint_scores(visibility).astype(np.float32)


def joint_scores(visibility: np.ndarray) -> np.ndarray:
    """(F, 17) joint scores from (F, 33) landmark visibilities: the minimum over each joint's :data:`SOURCES`."""
    return np.stack([visibility[:, list(SOURCES[name])].min(axis=1) for name in skeleton.JOINT_NAMES], axis=1)


def uncorrected_h36m(image: np.ndarray) -> np.ndarray:
    """The plain name-for-name mapping, for comparison: pelvis = mid-hips, thorax = mid-shoulders,
    spine = their midpoint, hips and shoulders as detected, neck/nose = nose, head = mid-ears.

    Args:
        image: (F, 33, 2) pixels.
    Returns:
        (F, 17, 2) float32 pixels.
    """
    image = np.asarray(image, np.float64)
    direct = {**DIRECT, "rhip": RIGHT_HIP, "lhip": LEFT_HIP, "lshoulder": LEFT_SHOULDER, "rshoulder": RIGHT_SHOULDER}
    joints = np.zeros((len(image), skeleton.NUM_JOINTS, 2))
    for name, index in direct.items():
        joints[:, _J[name]] = image[:, index]
    joints[:, _J["pelvis"]] = (image[:, LEFT_HIP] + image[:, RIGHT_HIP]) / 2
    joints[:, _J["thorax"]] = (image[:, LEFT_SHOULDER] + image[:, RIGHT_SHOULDER]) / 2
    joints[:, _J["spine"]] = (joints[:, _J["pelvis"]] + joints[:, _J["thorax"]]) / 2
    joints[:, _J["head"]] = (image[:, LEFT_EAR] + image[:, RIGHT_EAR]) / 2
    return joints.astype(np.float32)


__all__ = ["NUM_LANDMARKS", "FITTED", "SCALE_BONES", "DIRECT", "SOURCES", "TORSO_TO_THIGH", "SPINE_FRACTION",
           "HALF_HIPS_M", "HALF_SHOULDERS_M", "THORAX_FROM_MID_SHOULDERS_M", "HEAD_FROM_NECK_M", "torso_frame",
           "affine_cameras", "person_scale", "pelvis_shift", "blazepose_to_h36m", "joint_scores", "uncorrected_h36m"]
