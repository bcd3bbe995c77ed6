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


def refiner_fit_views(elevation_deg: tuple[float, float], max_lean_deg: float, fit_elevation_min_deg: float | None,
                      fit_elevation_max_deg: float | None, fit_lean_deg: float | None) -> dict[str, object]:
    """The views the refiner's fit after a run samples: the fit's own where given, else the run's.

    The run's views (``loss.imitation_elevation_*_deg``, ``loss.imitation_lean_deg``) teach the
    lifter, the refiner and the imitation cycle during training. The fit after the last step may
    use others (``train.refiner_fit_elevation_*_deg``, ``train.refiner_fit_lean_deg``): once the
    side stage names each crop's side, views from the cameras' elevation cut the N-MPJPE by 8–15 %
    but cost held-out PA-MPJPE 0.02–0.03 (BENCHMARKS.md, "The refiner's views after the side stage").

    Args:
        elevation_deg: (low, high) the run's camera elevation range, degrees. max_lean_deg: its lean, ± degrees.
        fit_elevation_min_deg, fit_elevation_max_deg, fit_lean_deg: the fit's own, or None.
    Returns:
        ``elevation_deg`` and ``max_lean_deg`` keyword arguments for :func:`fit_refiner`.
    """
    if fit_elevation_min_deg is not None and fit_elevation_max_deg is not None:
        elevation_deg = (fit_elevation_min_deg, fit_elevation_max_deg)
    return {"elevation_deg": tuple(elevation_deg),
            "max_lean_deg": max_lean_deg if fit_lean_deg is None else fit_lean_deg}


__all__ = ["fit_refiner", "refiner_fit_views"]
