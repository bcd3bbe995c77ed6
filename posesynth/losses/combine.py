"""All training terms of one step, by name, and their weighted total.

Every term is computed by a pure function elsewhere in :mod:`posesynth.losses`; this module only
decides which apply (weight > 0) and sums them. Terms are returned unweighted so logs show the
raw values (``loss/<name>``); ``total`` is Σ weight·term.
"""

from __future__ import annotations

import torch

from posesynth.losses.equivariance import equivariance_loss
from posesynth.losses.facing import facing_classification_loss, travel_facing_labels
from posesynth.losses.geometric import bone_ratio_loss, proportions_loss
from posesynth.losses.heading import heading_search_loss
from posesynth.losses.imitation import imitation_loss, lifting_loss
from posesynth.losses.keypoint_reprojection import keypoint_loss
from posesynth.losses.multiview_terms import MULTIVIEW_TERMS, multiview_losses
from posesynth.losses.priors import articulation_loss, generator_loss
from posesynth.losses.reconstruction import (
    foreground_weight, l1_loss, lpips_loss, silhouette_loss, ssim_loss,
)
from posesynth.losses.relative_depth import relative_depth_loss
from posesynth.losses.supervised import pose3d_loss
from posesynth.render.paint import observed_foreground
from posesynth.render.puppet import foreground_mask
from posesynth.skeleton import facing_side


def compute_losses(outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], *,
                   weights: dict[str, float],
                   foreground_boost: float = 4.0, lpips_options: dict | None = None,
                   crop_K: torch.Tensor | None = None,
                   imitation_side_open: bool = False) -> dict[str, torch.Tensor]:
    """The pose-encoder / generator side losses of one batch.

    Args:
        outputs: :meth:`PoseSynthModel.forward` outputs, plus what the training step computed with
            other networks: ``prior_logits`` (2B,) the pose discriminator on the target and source
            poses (for ``adversarial``), and the multi-view inputs below.
        batch: ``target`` and ``background`` (B, 3, S, S) in [0, 1].
        weights: term name → weight; names: l1, ssim, lpips, adversarial, articulation, mask,
            silhouette, heading_search (needs ``crop_K``), pose3d (needs ``*_pose3d`` labels in the
            batch), reprojection (needs ``*_keypoints``), relative_depth (needs
            ``*_depth_relation``), bone_ratio, proportions, imitation (needs the ``imitation_*`` outputs), lifting
            (needs ``lifting_*`` outputs), equivariance (needs ``warped_joints2d``), travel_facing (needs
            ``facing_logit`` outputs, and ``box``, ``source_box``, ``target_index``, ``source_index`` in the batch),
            facing_verdict (needs ``facing_verdict`` outputs), imitation_facing (needs
            ``imitation_facing_logit`` and ``imitation_side_shown``), and on stacked view pairs
            (``R_ij`` in the batch) the terms of :mod:`posesynth.losses.multiview_terms` (their network-made
            inputs, ``pair_root`` and ``cross_view_synthesis``, among the outputs).
        foreground_boost: see :func:`~posesynth.losses.reconstruction.foreground_weight`.
        lpips_options: keyword arguments of :func:`~posesynth.losses.reconstruction.lpips_loss`.
        crop_K: (3, 3) the model's crop-camera intrinsics, pixels, for the heading-search term.
        imitation_side_open: the imitation term forgives a painting read with the other side
            (``loss.imitation_side_open``, :func:`~posesynth.losses.imitation.imitation_loss`), except
            the paintings ``imitation_side_shown`` marks.
    Returns:
        name → scalar tensor for every term with a non-zero weight, plus ``total``.
    """
    target, synthesis = batch["target"], outputs["synthesis"]
    pixel_weight = foreground_weight(target, batch["background"], boost=foreground_boost) if foreground_boost else None
    terms: dict[str, torch.Tensor] = {}
    if weights.get("l1", 0):
        terms["l1"] = l1_loss(synthesis, target, pixel_weight)
    if weights.get("ssim", 0):
        terms["ssim"] = ssim_loss(synthesis, target, weight=pixel_weight)
    if weights.get("lpips", 0):
        terms["lpips"] = lpips_loss(synthesis, target, **(lpips_options or {}))
    if weights.get("adversarial", 0) and "prior_logits" in outputs:
        terms["adversarial"] = generator_loss(outputs["prior_logits"])
    if weights.get("articulation", 0):
        terms["articulation"] = articulation_loss(torch.cat([outputs["pose_body"], outputs["source_pose_body"]]))
    if weights.get("mask", 0):
        # the decoder's person mask should agree with where the puppet says the person is
        terms["mask"] = (outputs["mask"] - foreground_mask(outputs["target_maps"])).abs().mean()
    if weights.get("silhouette", 0):
        # the puppet should cover exactly where the target differs from its background
        terms["silhouette"] = silhouette_loss(foreground_mask(outputs["target_maps"]),
                                              observed_foreground(target, batch["background"]))

    if weights.get("heading_search", 0) and crop_K is not None:
        # a search over turned puppets, scored by silhouette: the heading has no gradient at the start
        terms["heading_search"] = heading_search_loss(outputs["rotation"], outputs["pose_camera"],
                                                      outputs["joints_camera"][:, 0], crop_K, target,
                                                      batch["background"])

    def both(key: str) -> torch.Tensor:  # target and source frames, in the order the outputs use
        return torch.cat([batch[f"target_{key}"], batch[f"source_{key}"]])

    if weights.get("reprojection", 0) and "target_keypoints" in batch:
        terms["reprojection"] = keypoint_loss(torch.cat([outputs["joints2d"], outputs["source_joints2d"]]),
                                              both("keypoints"), both("keypoint_scores"), target.shape[-1])
    if weights.get("relative_depth", 0) and "target_depth_relation" in batch:
        terms["relative_depth"] = relative_depth_loss(torch.cat([outputs["depth"], outputs["source_depth"]]),
                                                      both("depth_relation"), both("depth_confidence"))
    if weights.get("pose3d", 0) and "target_pose3d" in batch:
        terms["pose3d"] = pose3d_loss(torch.cat([outputs["pose_camera"], outputs["source_pose_camera"]]),
                                      both("pose3d"), both("pose3d_valid"))
    if weights.get("bone_ratio", 0):
        terms["bone_ratio"] = bone_ratio_loss(torch.cat([outputs["pose_camera"], outputs["source_pose_camera"]]))
    if weights.get("proportions", 0):
        # all bones in one group: the canonical proportions, at any overall size (the encoder's bones are free)
        terms["proportions"] = proportions_loss(torch.cat([outputs["pose_camera"], outputs["source_pose_camera"]]))
    if weights.get("imitation", 0) and "imitation_joints2d" in outputs:
        # a painting that shows its face is scored with its side (loss.imitation_face)
        side_open = (imitation_side_open & ~outputs["imitation_side_shown"]
                     if imitation_side_open and "imitation_side_shown" in outputs else imitation_side_open)
        terms["imitation"] = imitation_loss(outputs["imitation_joints2d"], outputs["imitation_pose_camera"],
                                            outputs["imitation_true2d"], outputs["imitation_true_pose"],
                                            target.shape[-1], side_open=side_open)
    if weights.get("equivariance", 0) and "warped_joints2d" in outputs:
        terms["equivariance"] = equivariance_loss(outputs["warped_joints2d"], outputs["joints2d"], outputs["warp"],
                                                  target.shape[-1])
    if weights.get("travel_facing", 0) and "source_box" in batch and "source_index" in batch:
        # the pair's walking direction labels the facing of both its frames (losses/facing.py)
        labels = travel_facing_labels(outputs["joints2d"], batch["box"], batch["target_index"],
                                      outputs["source_joints2d"], batch["source_box"], batch["source_index"],
                                      target.shape[-1])
        terms["travel_facing"] = facing_classification_loss(
            torch.cat([outputs["facing_logit"], outputs["source_facing_logit"]]), torch.cat([labels, labels]))
    if weights.get("imitation_facing", 0) and "imitation_facing_logit" in outputs:
        # a painting with a face shows its side: the head learns it there (render/face.py); ±1 labels, 0 unknown
        away = facing_side(outputs["imitation_true2d"]) > 0
        labels = (away.float() * 2 - 1) * outputs["imitation_side_shown"].float()
        terms["imitation_facing"] = facing_classification_loss(outputs["imitation_facing_logit"], labels)
    if weights.get("facing_verdict", 0) and "facing_verdict" in outputs:
        # the head learns the side the reconstruction chose (PoseSynthModel.facing_verdict): ±1 labels
        chosen = torch.cat([outputs["facing_verdict"], outputs["source_facing_verdict"]]).float() * 2 - 1
        terms["facing_verdict"] = facing_classification_loss(
            torch.cat([outputs["facing_logit"], outputs["source_facing_logit"]]), chosen)
    if weights.get("lifting", 0) and "lifting_pred" in outputs:
        terms["lifting"] = lifting_loss(outputs["lifting_pred"], outputs["lifting_true"])
    if weights.get("refining", 0) and "refining_pred" in outputs:
        terms["refining"] = lifting_loss(outputs["refining_pred"], outputs["refining_true"])
    if "R_ij" in batch and any(weights.get(name, 0) for name in MULTIVIEW_TERMS):
        terms.update(multiview_losses(outputs, batch, weights=weights, foreground_boost=foreground_boost))
    total = sum(weights[name] * value for name, value in terms.items())
    terms["total"] = total if isinstance(total, torch.Tensor) else torch.zeros((), device=target.device)
    return terms
