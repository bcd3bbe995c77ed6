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


def part_colours(image: torch.Tensor, maps: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Mean colour of an image under each part map.

    Args:
        image: (B, 3, S, S) RGB in [0, 1].
        maps: (B, P+1, S, S) part maps of the person in ``image`` (background channel last).
    Returns:
        (B, P, 3) RGB in [0, 1]; a part that covers nothing gets the image's mean colour.
    """
    weights = maps[:, :-1]
    mass = weights.sum(dim=(2, 3))                                      # (B, P)
    summed = torch.einsum("bpyx,bcyx->bpc", weights, image)
    fallback = image.mean(dim=(2, 3))[:, None]                          # (B, 1, 3)
    return (summed + eps * fallback) / (mass[..., None] + eps)


def paint_parts(maps: torch.Tensor, colours: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Composite flat-coloured parts over a background (the maps' channels sum to 1).

    Args:
        maps: (B, P+1, S, S) part maps, background channel last.
        colours: (B, P, 3) RGB in [0, 1], one per part.
        background: (B, 3, S, S) RGB in [0, 1].
    Returns:
        (B, 3, S, S) RGB in [0, 1].
    """
    return torch.einsum("bpyx,bpc->bcyx", maps[:, :-1], colours) + maps[:, -1:] * background
