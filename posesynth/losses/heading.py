"""Heading hypotheses: pull the predicted body heading towards the one whose silhouette fits best.

The learning diagnostics found the predicted heading stuck near its frontal start (circular s.d.
8–12° against the truth's 90°, with the since-removed kinematic encoder; BENCHMARKS.md, "Does it
learn?"). A likely reason: for a roughly
left/right-symmetric body, every 2D width varies as cos(yaw), whose derivative vanishes at the
frontal start, so no 2D loss turns the body from there. Instead of following a vanishing
gradient, this term *searches*: it turns the predicted pose about the camera's vertical axis
through its root to K headings θ_k = 2πk/K, draws each with the puppet, and scores each
against the observed foreground (:func:`~posesynth.losses.reconstruction.silhouette_loss`,
per sample). Where the best turn fits clearly better than the prediction,

    L = mean_b ‖R_b − stopgrad(R_y(θ_k*) R_b)‖²_F,          (only over samples that switch)

pulls the body rotation R_b (body → camera) towards it; the rotation is derived from the hip
and spine joints (``body_frame``), so the pull lands on those joints. It is not a change to the
forward pass. A silhouette cannot tell front from back (θ and θ + π draw
almost the same), so the margin keeps such near-ties from flipping the pose at random.

Measured with the kinematic encoder (BENCHMARKS.md, "Does it learn?"): from scratch it does not work. While the
articulation is wrong, the best turn changes from step to step, and two of three runs collapsed
(the puppet left the crop). It is off by default, meant for fine-tuning a run whose 2D joints
already fit.
"""

from __future__ import annotations

import math

import torch

from posesynth.geometry import project
from posesynth.render.paint import observed_foreground
from posesynth.render.puppet import foreground_mask, render_part_maps


def yaw_matrices(headings: int, dtype: torch.dtype = torch.float32, device: torch.device | None = None) -> torch.Tensor:
    """Rotations about the camera's y axis by 2πk/K, k = 0 … K−1.  → (K, 3, 3)."""
    angles = 2 * math.pi * torch.arange(headings, dtype=torch.float64) / headings
    c, s = angles.cos(), angles.sin()
    z, o = torch.zeros_like(angles), torch.ones_like(angles)
    R = torch.stack([torch.stack([c, z, s], -1), torch.stack([z, o, z], -1), torch.stack([-s, z, c], -1)], -2)
    return R.to(dtype=dtype, device=device)


@torch.no_grad()
def best_headings(pose_camera: torch.Tensor, root: torch.Tensor, K: torch.Tensor, observed: torch.Tensor, *,
                  headings: int = 8, margin: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """For each sample, the heading turn whose puppet silhouette fits the observed foreground best.

    Args:
        pose_camera: (B, 17, 3) root-relative pose in the crop camera's frame, metres.
        root: (B, 3) the root's camera-frame position, metres (z > 0).
        K: (3, 3) the crop camera's intrinsics, pixels.
        observed: (B, 1, S, S) soft observed foreground.
        headings: K, the number of evenly spaced turns tried (including no turn).
        margin: a turn is taken only if its silhouette loss is below (1 − margin) × the unturned one.
    Returns:
        ``index`` (B,) long, the chosen turn (0: keep the prediction), and ``losses`` (B, K)
        per-sample silhouette losses (mean |coverage − observed|).
    """
    batch, size = pose_camera.shape[0], observed.shape[-1]
    turns = yaw_matrices(headings, pose_camera.dtype, pose_camera.device)                 # (K, 3, 3)
    turned = torch.einsum("kij,bnj->kbni", turns, pose_camera) + root[None, :, None]      # (K, B, 17, 3)
    flat = turned.reshape(headings * batch, -1, 3)
    maps = render_part_maps(project(flat, K), flat[..., 2], (size, size), focal=K[0, 0])
    coverage = foreground_mask(maps).reshape(headings, batch, 1, size, size)
    losses = (coverage - observed[None]).abs().mean(dim=(2, 3, 4)).T                      # (B, K)
    best = losses.argmin(dim=1)
    keep = losses.gather(1, best[:, None])[:, 0] >= (1 - margin) * losses[:, 0]
    return torch.where(keep, torch.zeros_like(best), best), losses


def heading_search_loss(rotation: torch.Tensor, pose_camera: torch.Tensor, root: torch.Tensor, K: torch.Tensor,
                        target: torch.Tensor, background: torch.Tensor, *, headings: int = 8,
                        margin: float = 0.1) -> torch.Tensor:
    """The heading-hypothesis term of the module docstring.

    Args:
        rotation: (B, 3, 3) predicted body → camera rotations (the gradient goes here).
        pose_camera: (B, 17, 3) root-relative pose in the crop camera's frame, metres.
        root: (B, 3) camera-frame root position, metres.
        K: (3, 3) crop intrinsics, pixels.
        target, background: (B, 3, S, S) in [0, 1]; their difference is the observed foreground.
        headings, margin: see :func:`best_headings`.
    Returns:
        scalar ≥ 0: mean over the batch of ‖R − stopgrad(R_y(θ_k*) R)‖²_F (0 for samples that keep
        their heading).
    """
    index, _ = best_headings(pose_camera.detach(), root.detach(), K, observed_foreground(target, background),
                             headings=headings, margin=margin)
    goal = (yaw_matrices(headings, rotation.dtype, rotation.device)[index] @ rotation).detach()
    return (rotation - goal).square().sum(dim=(-2, -1)).mean()


__all__ = ["yaw_matrices", "best_headings", "heading_search_loss"]
