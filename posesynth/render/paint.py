"""Paint part maps with flat colours: a decoder-free picture of a puppet.

Each part gets one colour, the mean of an image's pixels under that part's map (the appearance
of the person the maps were drawn for), and a pose's part maps are then filled with those colours
over a background, the background channel showing the background. It is the crudest renderer of
a person with a given appearance, and it is exact from the first step, unlike the learned
decoder, whose early paintings are faint grey ghosts; the pose-imitation cycle uses it for part
of its paintings so the encoder sees a recognisable person in the sampled pose from the start.
"""

from __future__ import annotations

import torch


def part_colours(image: torch.Tensor, maps: torch.Tensor, foreground: torch.Tensor | None = None,
                 eps: float = 1e-3) -> torch.Tensor:
    """Mean colour of an image under each part map (and, if given, under the observed foreground).

    Args:
        image: (B, 3, S, S) RGB in [0, 1].
        maps: (B, P+1, S, S) part maps of the person in ``image`` (background channel last).
        foreground: (B, 1, S, S) in [0, 1], where the person is seen (:func:`observed_foreground`):
            a predicted puppet that half misses the person would otherwise mix the background's
            colour into every part.
    Returns:
        (B, P, 3) RGB in [0, 1]; a part that covers nothing gets the image's mean colour.
    """
    weights = maps[:, :-1] if foreground is None else maps[:, :-1] * foreground
    mass = weights.sum(dim=(2, 3))                                      # (B, P)
    summed = torch.einsum("bpyx,bcyx->bpc", weights, image)
    fallback = image.mean(dim=(2, 3))[:, None]                          # (B, 1, 3)
    return (summed + eps * fallback) / (mass[..., None] + eps)


def observed_foreground(image: torch.Tensor, background: torch.Tensor, threshold: float = 0.08,
                        slope: float = 100.0) -> torch.Tensor:
    """Soft mask of where a frame differs from its background: the person, seen by the camera.

    Args:
        image, background: (B, 3, H, W) in [0, 1].
        threshold: colour difference (max over channels) at which the mask is ½.
        slope: steepness of the soft step.
    Returns:
        (B, 1, H, W) in [0, 1], detached.
    """
    difference = (image - background).abs().amax(dim=1, keepdim=True)
    return torch.sigmoid((difference - threshold) * slope).detach()


def paint_parts(maps: torch.Tensor, colours: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Composite flat-coloured, opaque parts over a background.

    The puppet's coverage is soft (its edge, where it is ½, is the limb's visible width by design,
    :mod:`posesynth.render.puppet`), and blending with it directly would paint a half-transparent
    ghost. So the parts are made opaque inside: the opacity ramps from 0 at coverage 0.35 to 1 at
    0.65, the colour inside is each part's share of the coverage.

    Args:
        maps: (B, P+1, S, S) part maps, background channel last (channels sum to 1).
        colours: (B, P, 3) RGB in [0, 1], one per part.
        background: (B, 3, S, S) RGB in [0, 1].
    Returns:
        (B, 3, S, S) RGB in [0, 1].
    """
    coverage = 1.0 - maps[:, -1:]
    shares = maps[:, :-1] / coverage.clamp(min=1e-6)
    alpha = opacity(coverage)
    return alpha * torch.einsum("bpyx,bpc->bcyx", shares, colours) + (1.0 - alpha) * background


def opacity(coverage: torch.Tensor) -> torch.Tensor:
    """Opaque parts from soft coverage: 0 below 0.35, 1 above 0.65, linear between.  Any shape → same."""
    return ((coverage - 0.35) / 0.3).clamp(0.0, 1.0)
