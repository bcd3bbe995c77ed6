"""The multi-view terms of one training step (Li et al., AAAI 2020), on a batch of view pairs.

The trainer runs the model once over both views of every instant, stacked as
``[view i of each pair; view j of each pair]`` (:func:`stack_views`), so the usual single-view
terms apply to all 2B crops and this module adds what needs the pairs:

- ``multiview_consistency``: view i's root-relative pose rotated into camera j equals view j's;
- ``transform_reprojection``: view i's pose, placed in camera i by the closed-form root
  translation that fits its 2D (the "root branch" that keeps absolute scale), moved into camera j
  and projected, lands on view j's 2D keypoints (or, without keypoints, view j's own predicted
  2D, detached) — and the same from j to i;
- ``cross_view``: view j's frame synthesised from view i's transformed pose (part maps rendered
  in camera j) with view j's appearance and background: the synthesis must then be right for a
  pose the network predicted from another camera.

Every term is a function of tensors. The training step computes what they need from the
networks (``pair_root`` from :func:`pair_roots`, ``cross_view_synthesis`` from the poses of
:func:`cross_view_poses` rendered and decoded) and adds it to the outputs.
"""

from __future__ import annotations

import torch

from posesynth.geometry import world_to_camera
from posesynth.losses.reconstruction import foreground_weight, l1_loss, ssim_loss
from posesynth.losses.reprojection import (multiview_consistency_loss, solve_root_translation,
                                           transform_reprojection_loss)

MULTIVIEW_TERMS = ("multiview_consistency", "transform_reprojection", "cross_view")
MIN_ROOT_DEPTH_M, MAX_ROOT_DEPTH_M = 0.5, 50.0  # where a person in a crop can physically be


def stack_views(batch: dict) -> dict:
    """A :class:`~posesynth.data.multiview_dataset.MultiViewDataset` batch as one batch of 2B crops.

    Returns:
        every tensor key of ``view_i``/``view_j`` concatenated (view i's B rows first), plus
        ``R_ij`` (B, 3, 3) and ``t_ij`` (B, 3) metres, X_j = R_ij·X_i + t_ij between crop cameras.
    """
    first, second = batch["view_i"], batch["view_j"]
    stacked = {key: torch.cat([first[key], second[key]]) for key in first
               if isinstance(first[key], torch.Tensor) and key in second}
    stacked.update(R_ij=batch["R_ij"], t_ij=batch["t_ij"])
    return stacked


def _reverse(R: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(R_ji, t_ji) of (R_ij, t_ij): X_i = R_ijᵀ·(X_j − t_ij)."""
    R_ji = R.transpose(-1, -2)
    return R_ji, -(R_ji @ t.unsqueeze(-1)).squeeze(-1)


def swap_halves(x: torch.Tensor) -> torch.Tensor:
    """``[view j rows; view i rows]`` of a stacked ``[view i; view j]`` tensor (2B, …)."""
    half = x.shape[0] // 2
    return torch.cat([x[half:], x[:half]])


def pair_keypoints(outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The 2D each view's pose must explain: (2B, 17, 2) crop pixels and (2B, 17) confidences or None."""
    if "target_keypoints" in batch:
        return batch["target_keypoints"], batch["target_keypoint_scores"]
    # no detector: each view's own 2D is the other's target (Li et al.'s self-supervised case)
    return outputs["joints2d"].detach(), None


def pair_roots(outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The root branch: where each view's pose must sit in its own camera to explain its 2D.

    An early, wrong pose can fit its 2D only at an absurd depth (at or behind the camera, which
    projects to millions of pixels), so the depth is kept in a physical range.

    Returns:
        (2B, 3) camera-frame root positions, metres.
    """
    keypoints, confidence = pair_keypoints(outputs, batch)
    root = solve_root_translation(outputs["pose_camera"], keypoints, batch["K_crop"], confidence)
    return torch.cat([root[:, :2], root[:, 2:].clamp(MIN_ROOT_DEPTH_M, MAX_ROOT_DEPTH_M)], dim=-1)


def cross_view_poses(pose: torch.Tensor, root: torch.Tensor, R_ij: torch.Tensor, t_ij: torch.Tensor,
                     K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """View i's pose in camera j, then view j's in camera i, for the cross-view synthesis.

    Args:
        pose: (2B, 17, 3) root-relative poses, each in its own crop camera, metres.
        root: (2B, 3) their roots (:func:`pair_roots`), metres.
        R_ij, t_ij: (B, 3, 3), (B, 3) metres: X_j = R_ij·X_i + t_ij.
        K: (2B, 3, 3) crop intrinsics, pixels.
    Returns:
        ``moved`` (2B, 17, 3) camera frame of the other view, metres, and that view's ``K`` (2B, 3, 3).
    """
    half = R_ij.shape[0]
    R_ij, t_ij = R_ij.to(pose), t_ij.to(pose)
    R_ji, t_ji = _reverse(R_ij, t_ij)
    moved = torch.cat([world_to_camera(pose[:half] + root[:half, None], R_ij, t_ij),
                       world_to_camera(pose[half:] + root[half:, None], R_ji, t_ji)])
    return moved, swap_halves(K)


def multiview_losses(outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], *,
                     weights: dict[str, float], foreground_boost: float = 4.0) -> dict[str, torch.Tensor]:
    """The pair terms with a non-zero weight (unweighted; see the module docstring).

    Args:
        outputs: the model's outputs on :func:`stack_views`'s 2B crops; with ``transform_reprojection``
            or ``cross_view``, ``pair_root`` (2B, 3) from :func:`pair_roots`; with ``cross_view``,
            ``cross_view_synthesis`` (2B, 3, S, S): each view's frame synthesised from the other
            view's pose (:func:`cross_view_poses`) with its own appearance and background.
        batch: :func:`stack_views`'s output: ``K_crop`` (2B, 3, 3) crop intrinsics in pixels,
            ``R_ij``, ``t_ij``, ``target``, ``background``; optional ``target_keypoints``
            (2B, 17, 2) crop pixels with ``target_keypoint_scores`` (2B, 17).
        weights: term name → weight (names in :data:`MULTIVIEW_TERMS`).
        foreground_boost: pixel weighting of the cross-view reconstruction, as the main one.
    Returns:
        name → scalar tensor.
    """
    half = batch["R_ij"].shape[0]
    pose, K, S = outputs["pose_camera"], batch["K_crop"], batch["target"].shape[-1]
    R_ij, t_ij = batch["R_ij"].to(pose), batch["t_ij"].to(pose)
    R_ji, t_ji = _reverse(R_ij, t_ij)
    terms: dict[str, torch.Tensor] = {}
    if weights.get("multiview_consistency", 0):
        terms["multiview_consistency"] = multiview_consistency_loss(pose[:half], pose[half:], R_ij)
    if weights.get("transform_reprojection", 0):
        # each joint's re-projection error is capped at one crop side
        keypoints, confidence = pair_keypoints(outputs, batch)
        root = outputs["pair_root"] if "pair_root" in outputs else pair_roots(outputs, batch)
        conf_i, conf_j = (None, None) if confidence is None else (confidence[:half], confidence[half:])
        forward = transform_reprojection_loss(pose[:half], root[:half], R_ij, t_ij, K[half:], keypoints[half:],
                                              conf_j, normalizer=S, cap=1.0)
        backward = transform_reprojection_loss(pose[half:], root[half:], R_ji, t_ji, K[:half], keypoints[:half],
                                               conf_i, normalizer=S, cap=1.0)
        terms["transform_reprojection"] = 0.5 * (forward + backward)
    if weights.get("cross_view", 0):
        if "cross_view_synthesis" not in outputs:
            raise ValueError("loss.cross_view needs outputs['cross_view_synthesis']: the training step renders and "
                             "decodes the poses of cross_view_poses() (posesynth.training.train.multiview_outputs)")
        synthesis = outputs["cross_view_synthesis"]
        target, background = swap_halves(batch["target"]), swap_halves(batch["background"])
        weight = foreground_weight(target, background, boost=foreground_boost) if foreground_boost else None
        terms["cross_view"] = l1_loss(synthesis, target, weight) + ssim_loss(synthesis, target, weight=weight)
    return terms


__all__ = ["MULTIVIEW_TERMS", "stack_views", "swap_halves", "pair_keypoints", "pair_roots", "cross_view_poses",
           "multiview_losses"]
