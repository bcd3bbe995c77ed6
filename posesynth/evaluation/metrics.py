"""3D pose metrics: MPJPE (Protocol #1), PA-MPJPE (Protocol #2), N-MPJPE, 3D-PCK and AUC.

The one implementation the whole project evaluates with (REFERENCE.md, "Protocols and metrics").

Conventions:
- Inputs are ``(..., J, 3)`` tensors (or numpy arrays) in any length unit; ``pred`` and ``gt``
  broadcast against each other. Nothing is modified in place.
- Everything is computed in float64 (errors summed over millions of poses lose digits in float32)
  and every metric returns one float64 value **per pose**, shape ``(...)``, in the input unit.
  The protocol number is the plain mean over poses: ``mpjpe(pred, gt).mean()``. Per-action
  tables take the mean within each action, then the mean over actions.
- ``joints`` picks the evaluated subset (e.g. 14 of 17 joints). Root alignment always uses the
  ``root`` joint of the full input, so a subset without the pelvis can still be root-aligned.
- Large inputs are processed in chunks of poses so float64 temporaries stay bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from posesynth.skeleton import FLIP_PERMUTATION

# MPI-INF-3DHP's AUC averages 3D-PCK over thresholds 0, 5, ..., 150 mm (31 values).
AUC_THRESHOLDS_MM: tuple[float, ...] = tuple(float(t) for t in range(0, 151, 5))

_CHUNK = 16384  # poses per chunk: (16384, 17, 3) float64 is 6.7 MB per temporary (cache-friendly)

ArrayLike = torch.Tensor | np.ndarray


def _as_tensor(x: ArrayLike) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


def _per_pose(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], pred: ArrayLike, gt: ArrayLike
              ) -> torch.Tensor:
    """Broadcast ``pred``/``gt``, flatten to (N, J, 3), apply ``fn`` chunk by chunk in float64.

    ``fn`` maps two (n, J, 3) float64 tensors to an (n, ...) result; the leading batch shape is
    restored afterwards.
    """
    pred, gt = _as_tensor(pred), _as_tensor(gt)
    if pred.shape[-1:] != (3,) or gt.shape[-1:] != (3,) or pred.dim() < 2 or gt.dim() < 2:
        raise ValueError(f"poses must be (..., J, 3), got pred {tuple(pred.shape)} and gt {tuple(gt.shape)}")
    if pred.shape[-2] != gt.shape[-2]:
        raise ValueError(f"pred has {pred.shape[-2]} joints but gt has {gt.shape[-2]}")
    pred, gt = torch.broadcast_tensors(pred, gt)
    batch, joints = pred.shape[:-2], pred.shape[-2]
    pred, gt = pred.reshape(-1, joints, 3), gt.reshape(-1, joints, 3)
    # .to() returns a new tensor whenever the dtype changes; when it does not, fn never writes
    # into its arguments, so the caller's tensors stay untouched either way.
    outs = [fn(p.to(torch.float64), g.to(torch.float64))
            for p, g in zip(pred.split(_CHUNK), gt.split(_CHUNK))]
    out = torch.cat(outs) if outs else torch.zeros((0,), dtype=torch.float64, device=pred.device)
    return out.reshape(tuple(batch) + tuple(out.shape[1:]))


def _root_align(pose: torch.Tensor, root: int | None) -> torch.Tensor:
    """(n, J, 3) → the same with the root joint moved to the origin (unchanged for root=None)."""
    return pose if root is None else pose - pose[:, root:root + 1]


def _select(pose: torch.Tensor, joints: Sequence[int] | None) -> torch.Tensor:
    return pose if joints is None else pose[:, list(joints)]


def joint_errors(pred: ArrayLike, gt: ArrayLike, root: int | None = 0,
                 joints: Sequence[int] | None = None) -> torch.Tensor:
    """Euclidean error of every joint after aligning the roots.

    Args:
        pred, gt: (..., J, 3) poses, same unit (mm or m).
        root: joint moved to the origin in both poses first; None keeps absolute positions.
        joints: indices of the evaluated joints (default all J).
    Returns:
        (..., J') float64 per-joint errors in the input unit (J' = len(joints) or J).
    """
    def fn(p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return _select(_root_align(p, root) - _root_align(g, root), joints).norm(dim=-1)
    return _per_pose(fn, pred, gt)


def mpjpe(pred: ArrayLike, gt: ArrayLike, root: int | None = 0,
          joints: Sequence[int] | None = None) -> torch.Tensor:
    """Protocol #1: mean per-joint position error after aligning the roots (pelvis).

    Args:
        pred, gt: (..., J, 3) poses, same unit (mm or m).
        root: root joint index; None for no alignment (absolute MPJPE).
        joints: indices of the evaluated joints (default all).
    Returns:
        (...,) float64 per-pose error in the input unit; ``.mean()`` is the protocol number.
    """
    return joint_errors(pred, gt, root, joints).mean(-1)


def either_side_constant(truth2d: torch.Tensor, iterations: int = 20) -> torch.Tensor:
    """A good constant 2D pose when each frame may take it or its left↔right relabelling.

    Alternates between relabelling every frame to whichever side is nearer the current pose and
    taking the per-coordinate median of the relabelled frames (k-medians with one centre and a
    flip). It runs twice and keeps the centre with the lower error: from the plain mean, and from
    the median of the frames relabelled so that the first joint of every left↔right pair lies
    left of its partner in the image. Why the second start: the plain mean of people facing every
    way is nearly symmetric, every frame is then as near in either labelling, and the iteration
    can stop there without choosing a side. It is the bar for ``joints2d_error_either_side_px``.

    Args:
        truth2d: (N, 17, 2) crop pixels.
    Returns:
        (1, 17, 2) crop pixels.
    """
    flip = list(FLIP_PERMUTATION)
    mirrored = truth2d[:, flip]
    first = [j for j, partner in enumerate(flip) if partner > j]  # one joint of each left↔right pair
    leftward = (truth2d[:, first, 0] - mirrored[:, first, 0]).sum(-1) <= 0
    starts = (truth2d.mean(dim=0, keepdim=True),
              torch.where(leftward[:, None, None], truth2d, mirrored).median(dim=0, keepdim=True).values)
    best, best_error = starts[0], float("inf")
    for centre in starts:
        for _ in range(iterations):
            keep = (truth2d - centre).norm(dim=-1).mean(-1) <= (mirrored - centre).norm(dim=-1).mean(-1)
            centre = torch.where(keep[:, None, None], truth2d, mirrored).median(dim=0, keepdim=True).values
        error = torch.minimum((truth2d - centre).norm(dim=-1).mean(-1),
                              (mirrored - centre).norm(dim=-1).mean(-1)).mean().item()
        if error < best_error:
            best, best_error = centre, error
    return best


def nearer_side(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Per pose the prediction or its left↔right relabelling, whichever is nearer the truth.

    Args:
        pred, gt: (..., 17, 2) joints, crop pixels.
    Returns:
        (..., 17, 2) the prediction with left and right swapped where that lowers its mean error.
    """
    mirrored = pred[..., list(FLIP_PERMUTATION), :]
    swap = (mirrored - gt).norm(dim=-1).mean(-1) < (pred - gt).norm(dim=-1).mean(-1)
    return torch.where(swap[..., None, None], mirrored, pred)


def joints2d_error(pred: ArrayLike, gt: ArrayLike, either_side: bool = False) -> torch.Tensor:
    """Mean distance of the 2D joints per pose; optionally with left and right left open.

    With ``either_side`` each pose takes the better of the prediction and its left↔right
    relabelling: a model that finds every limb but draws a person seen from behind as if facing
    the camera swaps each left joint with its right one, and this error forgives that.

    Args:
        pred, gt: (..., 17, 2) joints, crop pixels (any unit: the result is in it).
        either_side: forgive a left↔right swap of the whole pose.
    Returns:
        (...,) float64 per-pose error, pixels.
    """
    pred, gt = _as_tensor(pred).to(torch.float64), _as_tensor(gt).to(torch.float64)
    if either_side:
        pred = nearer_side(pred, gt)
    return (pred - gt).norm(dim=-1).mean(-1)


def _procrustes(pred: torch.Tensor, gt: torch.Tensor, scale: bool) -> torch.Tensor:
    """Similarity (or rigid) Procrustes fit of every pred pose onto its gt pose.

    Solves min over s, R ∈ SO(3), t of Σ_j ‖s·R·x_j + t − y_j‖² (Umeyama, PAMI 1991): with the
    centred cross-covariance H = Σ_j x_j y_jᵀ = U S Vᵀ, the optimum is R = V D Uᵀ and
    s = tr(D S) / Σ_j ‖x_j‖², D = diag(1, 1, det(V Uᵀ)). D keeps R a rotation: without it a
    mirrored prediction would be "aligned" by a reflection and score zero error.

    Args:
        pred, gt: (n, J, 3) float64.
    Returns:
        (n, J, 3) the aligned prediction.
    """
    mu_p, mu_g = pred.mean(-2, keepdim=True), gt.mean(-2, keepdim=True)
    x, y = pred - mu_p, gt - mu_g
    U, S, Vh = torch.linalg.svd(x.mT @ y)  # (n, 3, 3): batched over poses, one LAPACK call
    V, Ut = Vh.mT, U.mT
    # a sign, never 0: a degenerate (planar/collinear) pose keeps a proper rotation
    d = torch.where(torch.linalg.det(V @ Ut) < 0, -1.0, 1.0).to(pred.dtype)
    D = torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1)  # (n, 3) diagonal
    R = (V * D.unsqueeze(-2)) @ Ut  # V·diag(D)·Uᵀ
    if scale:
        # a prediction collapsed to one point has no scale to fit: clamp avoids 0/0
        s = (S * D).sum(-1) / (x * x).sum((-2, -1)).clamp_min(torch.finfo(pred.dtype).tiny)
        x = x * s[:, None, None]
    return x @ R.mT + mu_g


def procrustes_align(pred: ArrayLike, gt: ArrayLike, scale: bool = True) -> torch.Tensor:
    """Align each predicted pose onto its ground truth by a similarity (or rigid) transform.

    Reflections are excluded (proper rotations only), see :func:`pa_mpjpe`.

    Args:
        pred, gt: (..., J, 3) poses, same unit.
        scale: fit a scale too (Protocol #2); False for rotation + translation only.
    Returns:
        (..., J, 3) float64 aligned prediction, in gt's frame and unit.
    """
    return _per_pose(lambda p, g: _procrustes(p, g, scale), pred, gt)


def pa_mpjpe(pred: ArrayLike, gt: ArrayLike, joints: Sequence[int] | None = None) -> torch.Tensor:
    """Protocol #2 (P-MPJPE): MPJPE after a per-pose similarity Procrustes fit of pred onto gt.

    Scale, rotation and translation are fitted on the evaluated joints; the rotation is proper
    (det +1), so a left/right mirrored prediction keeps a clearly non-zero error.

    Args:
        pred, gt: (..., J, 3) poses, same unit (mm or m).
        joints: indices of the evaluated (and fitted) joints (default all).
    Returns:
        (...,) float64 per-pose error in the input unit.
    """
    def fn(p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        p, g = _select(p, joints), _select(g, joints)
        return (_procrustes(p, g, scale=True) - g).norm(dim=-1).mean(-1)
    return _per_pose(fn, pred, gt)


def procrustes_mean(poses: ArrayLike, iterations: int = 20) -> torch.Tensor:
    """The best constant pose under Protocol #2: the generalised Procrustes mean of ``poses``.

    Alternates (Gower 1975) between aligning every pose onto the current mean by a similarity
    transform (:func:`procrustes_align`, proper rotations only) and averaging the aligned poses;
    the mean starts as the first pose and is rescaled to unit RMS size each round, since under
    PA-MPJPE a constant's scale is fitted per pose anyway. It minimises the summed *squared*
    aligned distances, so it is the usual stand-in for the constant with the lowest PA-MPJPE (the
    mean of Euclidean distances has no closed form), and what "beats a constant pose" is judged
    against when the constant may be chosen knowing the evaluated poses.

    Args:
        poses: (N, J, 3) poses, any unit.
        iterations: alignment-and-average rounds (the mean stops moving within a few).
    Returns:
        (J, 3) float64 mean pose, centred at its centroid, unit RMS joint distance from it.
    """
    poses = _as_tensor(poses).to(torch.float64)
    if poses.dim() != 3 or poses.shape[-1] != 3 or len(poses) == 0:
        raise ValueError(f"poses must be (N, J, 3) with N ≥ 1, got {tuple(poses.shape)}")

    def normalised(pose: torch.Tensor) -> torch.Tensor:
        pose = pose - pose.mean(-2, keepdim=True)
        return pose / pose.pow(2).sum(-1).mean().sqrt().clamp_min(torch.finfo(pose.dtype).tiny)

    mean = normalised(poses[0])
    for _ in range(iterations):
        mean = normalised(procrustes_align(poses, mean.expand_as(poses)).mean(0))
    return mean


def n_mpjpe(pred: ArrayLike, gt: ArrayLike, root: int | None = 0,
            joints: Sequence[int] | None = None) -> torch.Tensor:
    """N-MPJPE: MPJPE after root alignment and a least-squares scale of the prediction.

    For scale-ambiguous (self-supervised) models: s = ⟨pred, gt⟩ / ⟨pred, pred⟩ per pose, summed
    over the evaluated joints' coordinates after root alignment (the scale minimising
    ‖s·pred − gt‖²); no rotation is fitted.

    Args:
        pred, gt: (..., J, 3) poses, same unit (mm or m).
        root: root joint index; None for no alignment.
        joints: indices of the evaluated (and fitted) joints (default all).
    Returns:
        (...,) float64 per-pose error in the input unit.
    """
    def fn(p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        p, g = _select(_root_align(p, root), joints), _select(_root_align(g, root), joints)
        s = (p * g).sum((-2, -1)) / (p * p).sum((-2, -1)).clamp_min(torch.finfo(p.dtype).tiny)
        return (s[:, None, None] * p - g).norm(dim=-1).mean(-1)
    return _per_pose(fn, pred, gt)


def pck(pred: ArrayLike, gt: ArrayLike, threshold: float = 150.0, root: int | None = 0,
        joints: Sequence[int] | None = None) -> torch.Tensor:
    """3D-PCK: fraction of joints within ``threshold`` of the ground truth, after root alignment.

    "Within" is ``error < threshold``, as in the official MPI-INF-3DHP evaluation
    (``mpii_compute_3d_pck.m``): published PCK and AUC numbers use it. So nothing is within a
    0 mm threshold, and a perfect prediction's AUC over 0, 5, …, 150 mm is 30/31, not 1.

    Args:
        pred, gt: (..., J, 3) poses; the default threshold assumes millimetres.
        threshold: distance in the input unit (150 mm in MPI-INF-3DHP).
        root: root joint index; None for no alignment.
        joints: evaluated joints (MPI-INF-3DHP reports 14 or 17).
    Returns:
        (...,) float64 per-pose fraction in [0, 1]; ``100 * .mean()`` is the reported PCK.
    """
    return (joint_errors(pred, gt, root, joints) < threshold).to(torch.float64).mean(-1)


def auc(pred: ArrayLike, gt: ArrayLike, thresholds: Sequence[float] = AUC_THRESHOLDS_MM,
        root: int | None = 0, joints: Sequence[int] | None = None) -> torch.Tensor:
    """Area under the 3D-PCK curve: PCK averaged over ``thresholds`` (MPI-INF-3DHP: 0..150 mm).

    Args:
        pred, gt: (..., J, 3) poses; the default thresholds assume millimetres.
        thresholds: distances in the input unit (default 0, 5, ..., 150).
        root: root joint index; None for no alignment.
        joints: evaluated joints.
    Returns:
        (...,) float64 per-pose AUC in [0, 1]; ``100 * .mean()`` is the reported AUC.
    """
    if len(thresholds) == 0:
        raise ValueError("auc needs at least one threshold")
    errors = joint_errors(pred, gt, root, joints)  # (..., J')
    limits = torch.as_tensor(sorted(thresholds), dtype=torch.float64, device=errors.device)
    # For each joint, the number of thresholds t with error < t (the official strict test, see
    # pck) is K minus the number of thresholds at or below the error: one binary search instead
    # of K comparisons and an (..., J', K) temporary. The mean of those indicators is the AUC.
    at_or_below = torch.searchsorted(limits, errors.contiguous(), side="right")
    return (len(limits) - at_or_below).to(torch.float64).mean(-1) / len(limits)
