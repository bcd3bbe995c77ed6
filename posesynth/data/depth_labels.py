"""Relative-depth labels from 2D keypoints and perspective knowledge (after WSP, Qiu et al. 2023).

WSP pre-trains a network on "joint i is closer to / farther from the camera than joint j" labels
made from 2D annotations alone; its exact rule was not published (REFERENCE.md), so this is ours.
Every bone's depth extent (child − parent, metres) is estimated as a Gaussian, the joints' depths
follow by summing along the kinematic tree, and a pair gets a label when the difference
D_ij = z_j − z_i is probably ordered or probably equal. The cues:

* **Foreshortening** (Taylor, CVIU 2000). Under weak perspective with s pixels per metre, a bone
  of canonical length L whose image is l pixels long has |Δz| = L·√(1 − (l / sL)²). s is the
  second-largest l / L over the long bones (a long bone usually lies near the image plane);
  proportions, scale and annotation noise make l / sL uncertain by ±(0.1 + 2 px / sL), which
  gives each |Δz| an interval, i.e. a mean and a spread.
* **Body structure** for the sign of a limb's |Δz|. Joint ranges are lopsided: hips flex far
  more than they extend, shoulders flex forward, elbows bend the forearm forward, the trunk
  bends forward, knees bend the shin backward. A foreshortened bone therefore points to the
  body's front with probability ``FORWARD_PRIOR`` — toward the camera when the person faces it.
  Facing comes from the left/right order of shoulders and hips across the torso axis (for a
  person facing the camera their left side is on the image's right); the prior is scaled by
  |cos yaw| (in a side view a foreshortened limb points sideways, and the prior says nothing).
* **Yaw sign** for the hip and shoulder bones: the girdle's foreshortening gives |sin yaw|, and
  the nose, which lies in front of the thorax, is displaced in the image toward the side that
  turns away from the camera.
* **Ground plane**: for a person standing on a floor seen from above the feet, the ankle lower in
  the image is closer: D ≈ k·Δv / s with k = distance / camera height (≈ 2.5). It is fused with
  the tree estimate of the ankle pair (product of Gaussians) when the torso is upright.

A label's confidence is its probability under this model: Φ(|μ| / σ) that an ordered label's
sign is right, P(|D| < equal_m) for an equal one. Labels follow :mod:`posesynth.losses.relative_depth`:
``relation[i, j] = +1`` when i is closer than j (z_i < z_j), −1 farther, 0 equal.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from posesynth import skeleton
from posesynth.data.keypoints2d import FACE_STAND_INS, KeypointsError, load_coco_keypoints
from posesynth.kinematics import ancestor_matrix

EQUAL_DEPTH_M = 0.1
NONE, BONE, CHAIN, GROUND = 0, 1, 2, 3  # label kinds: no label, one bone, a path of bones, ground plane
KIND_NAMES = {BONE: "bone", CHAIN: "chain", GROUND: "ground"}

# (joint a, joint b, metres) spans whose image length bounds the scale: long bones, torso, girdles
_SCALE_SPANS = ((1, 2, 0.443), (4, 5, 0.443), (2, 3, 0.4433), (5, 6, 0.4433), (0, 8, 0.4907),
                (11, 12, 0.2772), (14, 15, 0.2772), (12, 13, 0.248), (15, 16, 0.248),
                (11, 14, 0.3016), (1, 4, 0.2674))
# P(a foreshortened bone points to the body's front), by bone index (skeleton.BONES)
FORWARD_PRIOR: dict[int, float] = {1: 0.8, 4: 0.8,      # thighs: hip flexion (~120°) ≫ extension (~30°)
                                   2: 0.3, 5: 0.3,      # shins: the knee bends backwards
                                   6: 0.65, 7: 0.65,    # the trunk bends forward more than back
                                   8: 0.9, 9: 0.3,      # nose in front of the thorax, head top behind it
                                   11: 0.6, 14: 0.6,    # upper arms: flexion (180°) > extension (60°), but arms swing
                                   12: 0.85, 15: 0.85}  # forearms: the elbow bends forward
# girdles: (left joint, right joint, left bone, right bone, left-right span in metres)
_GIRDLES = ((11, 14, 10, 13, 0.3016), (4, 1, 3, 0, 0.2674))
KEYPOINT_NOISE_M = 0.025  # 2D keypoint error, in metres at the person (≈ 1.5 % of body height)
# spreads of the cues besides keypoint noise: facing (cos yaw), nose offset (m), bone length
# (relative: proportions differ between people), ground-plane depth (m)
_FACING_SIGMA, _NOSE_SIGMA_M, _LENGTH_SIGMA, _GROUND_SIGMA_M = 0.15, 0.03, 0.1, 0.1
_GROUND_K = 2.5  # depth / image drop of the feet ≈ camera distance / camera height
_ADJACENT = torch.zeros(skeleton.NUM_JOINTS, skeleton.NUM_JOINTS, dtype=torch.bool)
for _p, _c in skeleton.BONES:
    _ADJACENT[_p, _c] = _ADJACENT[_c, _p] = True


@dataclass(frozen=True)
class DepthLabels:
    """Pairwise depth labels of N people (sign convention: module docstring).

    relation (N, 17, 17) int8 antisymmetric; confidence (N, 17, 17) float32 symmetric, 0 = no
    label; kind (N, 17, 17) uint8 (NONE, BONE, CHAIN, GROUND: which cue made the label).
    """

    relation: np.ndarray
    confidence: np.ndarray
    kind: np.ndarray


def _phi(x: torch.Tensor) -> torch.Tensor:
    """The standard normal CDF."""
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def usable_joints(scores: torch.Tensor, derived: torch.Tensor | None, min_score: float) -> torch.Tensor:
    """(N, 17) bool: scored at least ``min_score`` and not one of COCO's face stand-ins."""
    ok = scores >= min_score
    if derived is not None:
        ok[:, [j for j in FACE_STAND_INS if bool(derived[j])]] = False
    return ok


def keypoint_person_scale(keypoints: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """Pixels per metre of each person: the second-largest image/canonical length ratio of the
    long bones, torso and girdles (the largest when only one is known).

    Args:
        keypoints: (N, 17, 2) pixels; ok: (N, 17) bool usable joints.
    Returns:
        (N,) pixels per metre, NaN when no span is known.
    """
    a, b, length = (torch.tensor(x) for x in zip(*_SCALE_SPANS))
    ratio = (keypoints[:, a] - keypoints[:, b]).norm(dim=-1) / length.to(keypoints)
    ratio = torch.where(ok[:, a] & ok[:, b], ratio, torch.full_like(ratio, float("nan")))
    top = ratio.nan_to_num(-1.0).topk(2, dim=1).values
    scale = torch.where(top[:, 1] > 0, top[:, 1], top[:, 0])
    return torch.where(scale > 0, scale, torch.full_like(scale, float("nan")))


def _body_axes(keypoints: torch.Tensor, ok: torch.Tensor, scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit image directions (N, 2) of the body's up and, perpendicular to it, its "right"
    ((1, 0) for an upright person: where a camera-facing subject's left side lies).

    Up is pelvis → thorax, pulled toward the image's up when the torso is short in the image,
    so the cues below work for leaning (not only upright) people."""
    known = (ok[:, 0] & ok[:, 8])[:, None]
    torso = torch.where(known, keypoints[:, 8] - keypoints[:, 0], torch.zeros_like(keypoints[:, 0]))
    up = torso + torch.stack([torch.zeros_like(scale), -0.05 * scale], dim=-1)
    up = up / up.norm(dim=-1, keepdim=True).clamp(min=1e-9)
    return up, torch.stack([-up[:, 1], up[:, 0]], dim=-1)


def bone_depths(keypoints: torch.Tensor, scores: torch.Tensor, derived: torch.Tensor | None = None,
                min_score: float = 0.3, noise_m: float = KEYPOINT_NOISE_M
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gaussian estimates of the depth of every joint relative to the pelvis, as independent parts.

    The parts are the 12 non-girdle bones (Δz = z_child − z_parent) and the two girdles' left −
    right depth differences Y (the left bone's Δz is +Y/2, the right one's −Y/2: perfectly
    anticorrelated, so they are one variable). ``design`` maps parts to joint depths.

    Args:
        keypoints: (N, 17, 2) pixels, H36M order; scores: (N, 17) in [0, 1].
        derived: (17,) bool (keypoints2d's mask); the face stand-ins of COCO input are not used
            for foreshortening.
        min_score: joints scored below this are unknown.
        noise_m: 2D keypoint error in metres at the person (a difference of two points: ×√2).
    Returns:
        mean (N, 14) and variance (N, 14) of the parts, metres / metres², and design (17, 14):
        z_j − z_pelvis = design[j] · parts.
    """
    keypoints = keypoints.double()
    ok = usable_joints(scores, derived, min_score)
    scale = keypoint_person_scale(keypoints, ok)
    up, right = _body_axes(keypoints, ok, scale)
    parents, children = (list(x) for x in zip(*skeleton.BONES))
    lengths = skeleton.bone_lengths_tensor(torch.float64)

    # facing: cos yaw from the left-minus-right spans across the torso axis (both girdles)
    cosines = torch.stack([((keypoints[:, l] - keypoints[:, r]) * right).sum(-1) / (scale * span)
                           for l, r, _, _, span in _GIRDLES], dim=1)
    known = torch.stack([ok[:, l] & ok[:, r] for l, r, *_ in _GIRDLES], dim=1) & scale.isfinite()[:, None]
    cos_yaw = (torch.where(known, cosines, 0.0).sum(1) / known.sum(1).clamp(min=1)).clamp(-1, 1)
    facing_sigma = math.hypot(_FACING_SIGMA, math.sqrt(2) * noise_m / 0.28)  # 0.28 m: mean girdle span
    trust_facing = (2 * _phi(cos_yaw.abs() / facing_sigma) - 1) * cos_yaw.abs()

    # foreshortening: |Δz| interval from l / sL ± δ, δ = length uncertainty + keypoint noise
    image_length = (keypoints[:, children] - keypoints[:, parents]).norm(dim=-1)
    rho = image_length / (scale[:, None] * lengths)
    delta = _LENGTH_SIGMA + math.sqrt(2) * noise_m / lengths
    low = lengths * (1 - (rho + delta).clamp(0, 1).pow(2)).sqrt()
    high = lengths * (1 - (rho - delta).clamp(0, 1).pow(2)).sqrt()
    magnitude, spread = (low + high) / 2, (high - low) / 2

    # sign: forward prior → toward the camera (Δz < 0) when facing it (cos yaw > 0)
    prior = torch.tensor([FORWARD_PRIOR.get(b, 0.5) for b in range(skeleton.NUM_BONES)], dtype=torch.float64)
    p_forward = 0.5 + (prior - 0.5) * trust_facing[:, None]
    mean = -torch.sign(cos_yaw)[:, None] * (2 * p_forward - 1) * magnitude
    variance = magnitude.pow(2) + spread.pow(2) - mean.pow(2)
    bone_known = ok[:, parents] & ok[:, children] & scale.isfinite()[:, None]
    mean = torch.where(bone_known, mean, 0.0)
    variance = torch.where(bone_known, variance, lengths.pow(2) / 3)  # a random direction: E[Δz²] = L²/3

    # girdles: |Y| from the span's foreshortening, sign(Y) = sign(sin yaw) from the nose offset
    nose = ((keypoints[:, 9] - keypoints[:, 8]) * right).sum(-1) / scale
    nose_sigma = math.hypot(_NOSE_SIGMA_M, math.sqrt(2) * noise_m)
    trust_nose = torch.where(ok[:, 9] & ok[:, 8], 2 * _phi(nose.abs() / nose_sigma) - 1, 0.0)
    girdle_mean, girdle_var = [], []
    for weight, (l, r, _, _, span) in zip((1.0, 0.8), _GIRDLES):  # the hips twist away from the shoulders
        rho_g = (keypoints[:, l] - keypoints[:, r]).norm(dim=-1) / (scale * span)
        d = _LENGTH_SIGMA + math.sqrt(2) * noise_m / span
        lo, hi = (span * (1 - (rho_g + sign * d).clamp(0, 1).pow(2)).sqrt() for sign in (1, -1))
        m, sd = (lo + hi) / 2, (hi - lo) / 2
        mu = torch.sign(nose) * weight * trust_nose * m
        good = ok[:, l] & ok[:, r] & scale.isfinite()
        girdle_mean.append(torch.where(good, mu, 0.0))
        girdle_var.append(torch.where(good, m.pow(2) + sd.pow(2) - mu.pow(2), span ** 2 / 3))

    lateral = [b for _, _, lb, rb, _ in _GIRDLES for b in (lb, rb)]
    free = [b for b in range(skeleton.NUM_BONES) if b not in lateral]
    A = ancestor_matrix(torch.float64)
    design = torch.cat([A[:, free]] + [0.5 * (A[:, lb] - A[:, rb])[:, None] for _, _, lb, rb, _ in _GIRDLES], dim=1)
    parts_mean = torch.cat([mean[:, free], torch.stack(girdle_mean, 1)], dim=1)
    parts_var = torch.cat([variance[:, free], torch.stack(girdle_var, 1)], dim=1).clamp(min=0)
    return parts_mean, parts_var, design


def ground_plane(keypoints: torch.Tensor, scores: torch.Tensor, min_score: float = 0.3,
                 noise_m: float = KEYPOINT_NOISE_M) -> tuple[torch.Tensor, torch.Tensor]:
    """The ground-plane estimate of D = z_lankle − z_rankle (lower in the image ⇒ closer).

    Returns:
        mean (N,) metres and variance (N,) metres² (infinite where the cue does not apply: an
        ankle unknown, or a torso more than 45° from upright).
    """
    keypoints, scores = keypoints.double(), scores.double()
    ok = scores >= min_score
    scale = keypoint_person_scale(keypoints, ok)
    up, _ = _body_axes(keypoints, ok, scale)
    drop = (keypoints[:, 3, 1] - keypoints[:, 6, 1]) / scale  # right ankle lower ⇒ right closer ⇒ D > 0
    mean = _GROUND_K * drop
    # k varies with the camera (≈ 1.5–5 in the synthetic set): a spread proportional to the estimate
    variance = _GROUND_SIGMA_M ** 2 + 2 * (_GROUND_K * noise_m) ** 2 + (0.5 * mean).pow(2)
    usable = ok[:, 3] & ok[:, 6] & scale.isfinite() & (up[:, 1] < -math.sqrt(0.5))
    return torch.where(usable, mean, 0.0), torch.where(usable, variance, math.inf)


def depth_labels(keypoints: np.ndarray | torch.Tensor, scores: np.ndarray | torch.Tensor,
                 derived: np.ndarray | None = None, *, min_score: float = 0.3, min_confidence: float = 0.6,
                 equal_m: float = EQUAL_DEPTH_M, noise_m: float = KEYPOINT_NOISE_M) -> DepthLabels:
    """Closer / farther / equal labels with confidences for every joint pair of every person.

    Args:
        keypoints: (N, 17, 2) pixels, H36M-17 order (:mod:`posesynth.data.keypoints2d`).
        scores: (N, 17) confidences in [0, 1]; joints below ``min_score`` get no labels.
        derived: (17,) bool from keypoints2d; COCO's face stand-ins then get no labels.
        min_confidence: labels less probable than this are dropped.
        equal_m: |z_i − z_j| below this many metres counts as equal.
        noise_m: 2D keypoint error in metres at the person (detector or annotation noise).
    Returns:
        :class:`DepthLabels`.
    """
    keypoints, scores = torch.as_tensor(keypoints).double(), torch.as_tensor(scores).double()
    derived_t = None if derived is None else torch.as_tensor(derived, dtype=torch.bool)
    mean, variance, design = bone_depths(keypoints, scores, derived_t, min_score, noise_m)
    depth = mean @ design.T                                        # (N, 17) z_j − z_pelvis
    diff = design[None, :, :] - design[:, None, :]                 # (17, 17, parts): D_ij = z_j − z_i
    mu = depth[:, None, :] - depth[:, :, None]                     # (N, 17, 17)
    var = torch.einsum("ijk,nk->nij", diff.pow(2), variance)
    kind = torch.where(_ADJACENT, BONE, CHAIN).expand_as(mu).clone()

    g_mean, g_var = ground_plane(keypoints, scores, min_score, noise_m)    # fuse into the ankle pair (3, 6)
    t_mean, t_var = mu[:, 3, 6].clone(), var[:, 3, 6].clone()
    fused_var = 1 / (1 / t_var.clamp(min=1e-12) + 1 / g_var)
    fused_mean = fused_var * (t_mean / t_var.clamp(min=1e-12) + g_mean / g_var)
    mu[:, 3, 6], var[:, 3, 6], mu[:, 6, 3], var[:, 6, 3] = fused_mean, fused_var, -fused_mean, fused_var
    kind[:, 3, 6] = kind[:, 6, 3] = torch.where(g_var < t_var, GROUND, CHAIN)

    sigma = var.sqrt().clamp(min=1e-3)
    p_closer = 1 - _phi((equal_m - mu) / sigma)                    # D > equal_m: i is closer
    p_farther = _phi((-equal_m - mu) / sigma)
    p_equal = 1 - p_closer - p_farther
    relation = torch.where(p_closer > p_farther, 1, -1)
    confidence = _phi(mu.abs() / sigma)                            # P(the sign is right)
    equal = p_equal > torch.maximum(p_closer, p_farther)
    relation = torch.where(equal, 0, relation)
    confidence = torch.where(equal, p_equal, confidence)

    ok = usable_joints(scores, derived_t, min_score)
    ok &= keypoint_person_scale(keypoints, ok).isfinite()[:, None]
    keep = ok[:, :, None] & ok[:, None, :] & (confidence >= min_confidence) & ~torch.eye(17, dtype=torch.bool)
    return DepthLabels(relation=torch.where(keep, relation, 0).to(torch.int8).numpy(),
                       confidence=torch.where(keep, confidence, 0.0).float().numpy(),
                       kind=torch.where(keep, kind, NONE).to(torch.uint8).numpy())


def true_relations(joints3d: np.ndarray | torch.Tensor, equal_m: float = EQUAL_DEPTH_M) -> np.ndarray:
    """Ground-truth relations from camera-frame joints (for measuring labels).

    Args:
        joints3d: (N, 17, 3) camera frame, metres.
    Returns:
        (N, 17, 17) int8: +1 where z_j − z_i > equal_m (i closer), −1 where < −equal_m, else 0.
    """
    z = torch.as_tensor(joints3d).double()[..., 2]
    d = z[:, None, :] - z[:, :, None]
    return torch.where(d > equal_m, 1, torch.where(d < -equal_m, -1, 0)).to(torch.int8).numpy()


# --- files and the command ----------------------------------------------------------------------

def save_depth_labels(path: str | os.PathLike, labels: DepthLabels, **extra: np.ndarray) -> Path:
    """Write labels (plus any ``extra`` arrays, e.g. the keypoints) to an npz, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, relation=labels.relation, confidence=labels.confidence.astype(np.float16),
                        kind=labels.kind, **extra)
    os.replace(tmp, path)
    return path


def load_depth_labels(path: str | os.PathLike) -> tuple[DepthLabels, dict[str, np.ndarray]]:
    """Read :func:`save_depth_labels` output: the labels and the other arrays by name."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    missing = {"relation", "confidence", "kind"} - set(arrays)
    if missing:
        raise ValueError(f"{path}: not a depth-label file (missing {sorted(missing)}); make one with "
                         f"`posesynth depth-labels ANNOTATIONS.json --out LABELS.npz`")
    labels = DepthLabels(arrays.pop("relation"), arrays.pop("confidence").astype(np.float32), arrays.pop("kind"))
    return labels, arrays


def summarize_labels(labels: DepthLabels) -> dict:
    """Counts of a label set: people, labelled pairs per person, and by kind × ordered/equal."""
    upper = np.triu(np.ones((17, 17), bool), 1)
    labelled = (labels.confidence > 0) & upper
    out = {"people": int(len(labels.relation)),
           "pairs_per_person": float(labelled.sum() / max(1, len(labels.relation)))}
    for code, name in KIND_NAMES.items():
        of_kind = labelled & (labels.kind == code)
        out[f"{name}_ordered"] = int((of_kind & (labels.relation != 0)).sum())
        out[f"{name}_equal"] = int((of_kind & (labels.relation == 0)).sum())
    return out


def add_depth_labels_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``posesynth depth-labels``."""
    parser.add_argument("annotations", type=Path, help="COCO-style keypoint annotations (JSON)")
    parser.add_argument("--out", type=Path, required=True, help="output .npz")
    parser.add_argument("--layout", choices=("coco17", "h36m17"), default=None,
                        help="keypoint order (default: from the file's category names, else coco17)")
    parser.add_argument("--min-score", type=float, default=0.3,
                        help="joints scored below this get no labels (default 0.3)")
    parser.add_argument("--min-confidence", type=float, default=0.6,
                        help="drop labels less probable than this (default 0.6)")
    parser.add_argument("--equal-depth", type=float, default=EQUAL_DEPTH_M,
                        help=f"|depth difference| in metres counted as equal (default {EQUAL_DEPTH_M})")


def run_depth_labels(args: argparse.Namespace) -> int:
    """Run ``posesynth depth-labels``; returns the exit status."""
    try:
        people = load_coco_keypoints(args.annotations, layout=args.layout)
    except KeypointsError as error:
        print(f"posesynth depth-labels: error: {error}", file=sys.stderr)
        return 2
    if not len(people):
        print(f"posesynth depth-labels: error: {args.annotations} has no person with keypoints", file=sys.stderr)
        return 2
    kp = people.keypoints
    labels = depth_labels(kp.keypoints, kp.scores, kp.derived, min_score=args.min_score,
                          min_confidence=args.min_confidence, equal_m=args.equal_depth)
    save_depth_labels(args.out, labels, keypoints=kp.keypoints, scores=kp.scores, derived=kp.derived,
                      images=np.asarray(people.images), image_ids=people.image_ids,
                      annotation_ids=people.annotation_ids, boxes=people.boxes)
    stats = summarize_labels(labels)
    print(f"{stats['people']} people, {stats['pairs_per_person']:.1f} labelled pairs each (of 136): "
          + ", ".join(f"{name} {stats[f'{name}_ordered']} ordered / {stats[f'{name}_equal']} equal"
                      for name in KIND_NAMES.values()) + f"; wrote {args.out}")
    return 0
