"""Photometric and mirror augmentation of person crops, with their labels kept consistent.

With 3D labels the pose encoder fits its training subjects long before it generalises to new
ones (BENCHMARKS.md, "Does it learn?"). Two standard remedies, both cheap on a batch of crops
(``scripts/diagnose_supervised.py --augment``; within 3,000 CPU steps they slowed fitting more
than they helped generalisation, so the trainer does not use them yet):

- **colour jitter** (kornia.enhance): brightness, contrast, saturation and hue drawn per
  sample, the same draw applied to every image of a sample (source, target and background of a
  pair must stay one scene, or the decoder could not transfer appearance);
- **mirroring**: a crop flipped left↔right is another valid person. In the crop camera (principal
  point at the crop centre) the image flip is x → −x in 3D, and the person's left becomes their
  right, so 3D labels go through :func:`posesynth.skeleton.flip_pose` and 2D keypoints through
  :func:`flip_keypoints`.
"""

from __future__ import annotations

import math

import kornia.enhance as ke
import torch

from posesynth.skeleton import FLIP_PERMUTATION, flip_pose


def jitter_parameters(batch: int, strength: float, generator: torch.Generator | None = None
                      ) -> dict[str, torch.Tensor]:
    """Per-sample colour-jitter draws.

    Args:
        batch: B.
        strength: 0 (identity) … 1 (brightness ±0.2, contrast and saturation ×[0.6, 1.4], hue ±0.1 turn).
        generator: for reproducible draws (the trainer passes one seeded by step).
    Returns:
        ``brightness`` (B,) additive, ``contrast`` and ``saturation`` (B,) factors, ``hue`` (B,) radians.
    """
    u = torch.rand(4, batch, generator=generator) * 2 - 1          # uniform in [−1, 1]
    return {"brightness": 0.2 * strength * u[0], "contrast": 1 + 0.4 * strength * u[1],
            "saturation": 1 + 0.4 * strength * u[2], "hue": 0.1 * 2 * math.pi * strength * u[3]}


def colour_jitter(images: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Apply :func:`jitter_parameters` draws.

    Args:
        images: (B, 3, H, W) RGB in [0, 1].
        params: draws for B samples (reuse them for every image of a sample).
    Returns:
        (B, 3, H, W) in [0, 1].
    """
    dev = images.device
    out = ke.adjust_saturation(images, params["saturation"].to(dev))
    out = ke.adjust_hue(out, params["hue"].to(dev))
    out = ke.adjust_contrast(out, params["contrast"].to(dev))
    return ke.adjust_brightness(out, params["brightness"].to(dev)).clamp(0, 1)


def flip_images(images: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Mirror the samples where ``flip`` is true.  (B, C, H, W), (B,) bool → (B, C, H, W)."""
    return torch.where(flip.to(images.device)[:, None, None, None], images.flip(-1), images)


def flip_poses(pose: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Mirror 3D poses in the crop camera frame where ``flip`` is true.  (B, 17, 3), (B,) → (B, 17, 3)."""
    return torch.where(flip.to(pose.device)[:, None, None], flip_pose(pose), pose)


def flip_keypoints(keypoints: torch.Tensor, flip: torch.Tensor, width: int) -> torch.Tensor:
    """Mirror 2D keypoints (or any per-joint (..., 17, C≥1) data whose channel 0 is x) where ``flip`` is true.

    Args:
        keypoints: (B, 17, C) with x in crop pixels in channel 0 ((0, 0) the top-left pixel's centre).
        flip: (B,) bool.
        width: crop width W, pixels: x → W − 1 − x.
    Returns:
        (B, 17, C), joints swapped left↔right.
    """
    mirrored = keypoints[:, list(FLIP_PERMUTATION)].clone()
    mirrored[..., 0] = width - 1 - mirrored[..., 0]
    return torch.where(flip.to(keypoints.device)[:, None, None], mirrored, keypoints)


__all__ = ["jitter_parameters", "colour_jitter", "flip_images", "flip_poses", "flip_keypoints"]
