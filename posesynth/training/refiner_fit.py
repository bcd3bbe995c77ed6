"""Fit a refiner on its own, from unpaired poses only (no image, no label).

The refiner (``model.refiner``, a :class:`~posesynth.models.lifter.DepthLifter` with
``refine_2d``) never sees an image: it learns from projections of unpaired 3D poses turned to
random headings, plus Gaussian 2D noise, to give back the clean pose — exactly what the trainer's
``loss.refining`` term teaches it. So it can be fitted apart from a run and added to a trained
model afterwards (``scripts/make_demo_checkpoint.py``). Measured (BENCHMARKS.md, "The demo's
checkpoint"): 3,000 batches take the demo runs' reported 3D from 77.8 / 79.4 to 70.8 / 71.4 mm.
"""

from __future__ import annotations

import torch

from posesynth.geometry import project
from posesynth.losses.imitation import lifting_loss
from posesynth.models.lifter import DepthLifter, refined_targets
from posesynth.training.imitation_views import BODY_LEAN_DEG, CAMERA_ELEVATION_DEG, sample_views


def fit_refiner(refiner: DepthLifter, poses_body: torch.Tensor, *, K: torch.Tensor, image_size: int,
                iterations: int, noise_px: float = 2.0, batch: int = 256, lr: float = 1e-3,
                seed: int = 0, elevation_deg: tuple[float, float] = CAMERA_ELEVATION_DEG,
                max_lean_deg: float = BODY_LEAN_DEG) -> list[float]:
    """Train ``refiner`` in place on noisy projections of unpaired poses (``loss.refining``'s task).

    Args:
        refiner: a ``DepthLifter(refine_2d=True)``.
        poses_body: (N, 17, 3) unpaired poses, root-relative, body frame, metres
            (:func:`~posesynth.training.inputs.canonical_poses`).
        K: (3, 3) the model's crop intrinsics, pixels. image_size: crop side S, pixels.
        iterations: optimiser steps. noise_px: σ of the Gaussian noise on the 2D joints, crop pixels.
        batch: poses a step. lr: AdamW learning rate (held constant). seed: the sampling generator's.
        elevation_deg, max_lean_deg: the views' camera elevation range and body lean, degrees
            (``loss.imitation_elevation_*_deg``, ``loss.imitation_lean_deg``).
    Returns:
        the loss of every step (units of the 2D scale).
    """
    if not refiner.refine_2d:
        raise ValueError("fit_refiner needs a DepthLifter(refine_2d=True): a depth-only lifter learns loss.lifting")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(refiner.parameters(), lr=lr)
    focal = float(K[0, 0])
    refiner.train()
    losses = []
    for _ in range(iterations):
        chosen = poses_body[torch.randint(len(poses_body), (batch,), generator=generator)]
        joints = sample_views(chosen, image_size=image_size, focal=focal, generator=generator,
                              elevation_deg=elevation_deg, max_lean_deg=max_lean_deg)
        clean2d = project(joints, K)
        noisy2d = clean2d + noise_px * torch.randn(clean2d.shape, generator=generator)
        loss = lifting_loss(refiner(noisy2d), refined_targets(joints, clean2d, noisy2d, focal))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


__all__ = ["fit_refiner"]
