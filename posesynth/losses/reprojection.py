"""Multi-view geometric losses (Li et al., AAAI 2020, "Geometry-driven self-supervised method for
3D human pose estimation") and the closed-form root translation that keeps their absolute scale.

Li et al. lift 2D poses to 3D with two branches: a root-relative pose and the root's position,
so that the pose can be placed in the camera, moved into another calibrated view and projected:

- L_reproj   = Σ_k w_k ‖x_k − ρ(Y_k)‖²                    (:func:`reprojection_loss`)
- L_t-reproj = Σ_k w_k^j ‖x_k^j − ρ(τ_ij(Y_k^i))‖²         (:func:`transform_reprojection_loss`)
- pre-training: ‖τ_ij(Y^i) − Y^j‖²                         (:func:`multiview_consistency_loss`)

with ρ the perspective projection, τ_ij the rigid map from camera i into camera j and w the 2D
detector's per-joint confidences. posesynth's pose encoder gives the root-relative pose; the root
comes from :func:`solve_root_translation` (least squares against 2D keypoints, differentiable).

All functions are pure; points use the camera convention of docs/architecture.md (x right, y
down, z forward, metres), pixels (u, v). Batch-mean reductions; confidences of zero drop a joint.
"""

from __future__ import annotations

import torch

from posesynth.geometry import project, unproject, world_to_camera


def _weights(confidence: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    """(B, J) non-negative joint weights; all ones when ``confidence`` is None."""
    if confidence is None:
        return torch.ones(like.shape[:-1], dtype=like.dtype, device=like.device)
    return confidence.to(like.dtype).clamp(min=0)


def _weighted_mean(squared: torch.Tensor, weights: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Σ_k w_k·e_k / Σ_k w_k per sample, then the batch mean.  (B, J), (B, J) → scalar."""
    return ((weights * squared).sum(-1) / weights.sum(-1).clamp(min=eps)).mean()


def reprojection_loss(points: torch.Tensor, K: torch.Tensor, keypoints: torch.Tensor,
                      confidence: torch.Tensor | None = None, normalizer: float = 1.0,
                      cap: float | None = None) -> torch.Tensor:
    """Confidence-weighted squared distance between projected 3D joints and 2D keypoints (L_reproj).

    Args:
        points: (B, J, 3) joints in the camera frame (absolute, z > 0), metres.
        K: (B, 3, 3) or (3, 3) intrinsics of the image ``keypoints`` live in, pixels.
        keypoints: (B, J, 2) target pixels.
        confidence: (B, J) per-joint weights ≥ 0 (a detector's scores), or None for equal weights.
        normalizer: pixels per unit of residual (e.g. the crop side S, so the loss is in crop
            fractions squared and independent of resolution).
        cap: optional ceiling on each joint's squared normalised residual. A pose placed behind
            or at the camera projects to huge pixels; capped, such a joint stops dominating the
            batch (and stops pulling: the ceiling has zero gradient).
    Returns:
        scalar: mean over the batch of Σ_k w_k ‖(ρ(X_k) − x_k)/normalizer‖² / Σ_k w_k.
    """
    residual = (project(points, K) - keypoints) / normalizer
    squared = residual.square().sum(-1)
    if cap is not None:
        squared = squared.clamp(max=cap)
    return _weighted_mean(squared, _weights(confidence, points))


def transform_reprojection_loss(pose_i: torch.Tensor, root_i: torch.Tensor, R_ij: torch.Tensor,
                                t_ij: torch.Tensor, K_j: torch.Tensor, keypoints_j: torch.Tensor,
                                confidence_j: torch.Tensor | None = None, normalizer: float = 1.0,
                                cap: float | None = None) -> torch.Tensor:
    """View i's pose placed in camera i, moved into camera j and projected, against view j's 2D (L_t-reproj).

    τ_ij(Y) = R_ij·Y + t_ij (:func:`posesynth.geometry.relative_transform`; Li et al. print the
    same map in camera-centre form). Without 2D keypoints for view j, pass view j's own predicted
    2D joints as ``keypoints_j`` (detached to use them as a target, or not to pull both views
    together) and ``confidence_j=None``.

    Args:
        pose_i: (B, J, 3) root-relative pose in camera i's frame, metres.
        root_i: (B, 3) the root's position in camera i's frame, metres (e.g. from
            :func:`solve_root_translation` on view i's 2D).
        R_ij: (B, 3, 3) or (3, 3), t_ij: (B, 3) or (3,) metres: X_j = R_ij·X_i + t_ij.
        K_j: (B, 3, 3) or (3, 3) intrinsics of view j's image, pixels.
        keypoints_j: (B, J, 2) view j's 2D joints, pixels. confidence_j: (B, J) or None.
        normalizer, cap: as :func:`reprojection_loss`.
    Returns:
        scalar, as :func:`reprojection_loss`.
    """
    R_ij, t_ij = R_ij.expand(pose_i.shape[0], 3, 3), t_ij.expand(pose_i.shape[0], 3)
    in_j = world_to_camera(pose_i + root_i[:, None], R_ij, t_ij)  # camera i plays the "world" of camera j
    return reprojection_loss(in_j, K_j, keypoints_j, confidence_j, normalizer, cap)


def multiview_consistency_loss(pose_i: torch.Tensor, pose_j: torch.Tensor, R_ij: torch.Tensor,
                               t_ij: torch.Tensor | None = None, confidence: torch.Tensor | None = None
                               ) -> torch.Tensor:
    """View i's 3D pose moved into camera j must equal view j's: mean ‖τ_ij(Y^i) − Y^j‖² (m²).

    For root-relative poses (``t_ij=None``) only the rotation matters: X_j − X_j,root =
    R_ij·(X_i − X_i,root), the translation cancels in the difference, so both poses are centred on
    their root (joint 0) here and no root depth or scale is needed. The loss is then symmetric
    (‖R·a − b‖ = ‖a − Rᵀ·b‖). With ``t_ij`` the poses are taken as absolute, camera-frame joints.

    Args:
        pose_i, pose_j: (B, J, 3) joints in camera i's and camera j's frames, metres.
        R_ij: (B, 3, 3) or (3, 3). t_ij: (B, 3) or (3,) metres, or None (root-relative).
        confidence: (B, J) per-joint weights (e.g. the product of both views' scores), or None.
    Returns:
        scalar: batch mean of Σ_k w_k ‖R_ij·Y_k^i [+ t_ij] − Y_k^j‖² / Σ_k w_k, metres².
    """
    if t_ij is None:
        pose_i, pose_j = pose_i - pose_i[:, :1], pose_j - pose_j[:, :1]
        t_ij = torch.zeros(3, dtype=pose_i.dtype, device=pose_i.device)
    R_ij, t_ij = R_ij.expand(pose_i.shape[0], 3, 3), t_ij.expand(pose_i.shape[0], 3)
    moved = world_to_camera(pose_i, R_ij, t_ij)
    return _weighted_mean((moved - pose_j).square().sum(-1), _weights(confidence, pose_i))


def solve_root_translation(pose: torch.Tensor, keypoints: torch.Tensor, K: torch.Tensor,
                           confidence: torch.Tensor | None = None, eps: float = 1e-9) -> torch.Tensor:
    """The root position T that places a root-relative pose on its 2D keypoints (least squares, closed form).

    With normalised image coordinates (x̂_k, ŷ_k) = K⁻¹·(u_k, v_k, 1), joint k lies on its ray when
    (X_k + T_x) − x̂_k·(Z_k + T_z) = 0 and (Y_k + T_y) − ŷ_k·(Z_k + T_z) = 0: two equations linear
    in T per joint. T minimises their confidence-weighted squares (the algebraic error, i.e. the
    reprojection error scaled by depth) through the 3×3 normal equations — one batched
    ``torch.linalg.solve``, differentiable in every input. This is the "root branch" that gives
    the pose its absolute depth (Li et al. AAAI 2020 learn it instead).

    Args:
        pose: (B, J, 3) root-relative joints in the camera frame, metres (their scale is trusted:
            the encoder's metric pose, sized by its root depth).
        keypoints: (B, J, 2) pixels. K: (B, 3, 3) or (3, 3) intrinsics, pixels.
        confidence: (B, J) weights ≥ 0 (at least two joints with weight > 0 on distinct rays), or None.
        eps: ridge on the normal equations, relative to their trace, for near-degenerate inputs.
    Returns:
        (B, 3) the root position in the camera frame, metres; ``pose + T[:, None]`` projects onto
        the keypoints when they are consistent.
    """
    K = K.expand(pose.shape[0], 3, 3)
    rays = unproject(keypoints, torch.ones_like(keypoints[..., 0]), K)  # (B, J, 3) at z = 1
    x, y = rays[..., 0], rays[..., 1]
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    # rows of A (B, J, 2, 3) and b (B, J, 2): A·T = b per joint
    A = torch.stack([torch.stack([one, zero, -x], -1), torch.stack([zero, one, -y], -1)], -2)
    b = torch.stack([x * pose[..., 2] - pose[..., 0], y * pose[..., 2] - pose[..., 1]], -1)
    w = _weights(confidence, pose)[..., None, None]
    normal = (A.transpose(-1, -2) @ (w * A)).sum(1)  # (B, 3, 3)
    rhs = (A.transpose(-1, -2) @ (w * b.unsqueeze(-1))).sum(1)  # (B, 3, 1)
    ridge = eps * normal.diagonal(dim1=-2, dim2=-1).sum(-1)[:, None, None] * torch.eye(3, dtype=pose.dtype,
                                                                                        device=pose.device)
    return torch.linalg.solve(normal + ridge, rhs).squeeze(-1)


__all__ = ["reprojection_loss", "transform_reprojection_loss", "multiview_consistency_loss", "solve_root_translation"]
