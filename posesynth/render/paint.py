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
from einops import rearrange, repeat
from kornia.geometry.transform import warp_affine

from posesynth.render.puppet import PART_JOINTS, PART_NAMES

HEAD_PART = PART_NAMES.index("head")


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


def paint_parts(maps: torch.Tensor, colours: torch.Tensor, background: torch.Tensor,
                head: torch.Tensor | None = None) -> torch.Tensor:
    """Composite flat-coloured, opaque parts over a background.

    The puppet's coverage is soft (its edge, where it is ½, is the limb's visible width by design,
    :mod:`posesynth.render.puppet`), and blending with it directly would paint a half-transparent
    ghost. So the parts are made opaque inside: the opacity ramps from 0 at coverage 0.35 to 1 at
    0.65, the colour inside is each part's share of the coverage.

    Args:
        maps: (B, P+1, S, S) part maps, background channel last (channels sum to 1).
        colours: (B, P, 3) RGB in [0, 1], one per part.
        background: (B, 3, S, S) RGB in [0, 1].
        head: optional (B, 3, S, S) RGB in [0, 1]: the head part's colour per pixel instead of its
            flat one (a face and hair, :func:`posesynth.render.face.head_colours`).
    Returns:
        (B, 3, S, S) RGB in [0, 1].
    """
    coverage = 1.0 - maps[:, -1:]
    shares = maps[:, :-1] / coverage.clamp(min=1e-6)
    alpha = opacity(coverage)
    inside = torch.einsum("bpyx,bpc->bcyx", shares, colours)
    if head is not None:
        inside = inside + shares[:, HEAD_PART, None] * (head - colours[:, HEAD_PART, :, None, None])
    return alpha * inside + (1.0 - alpha) * background


def bone_similarities(source2d: torch.Tensor, target2d: torch.Tensor, soft_length: float = 3.0,
                      max_scale: float = 2.0) -> torch.Tensor:
    """The 2D similarity that carries each source bone onto the target's, as affine maps.

    In complex numbers a similarity is z ↦ s·z + t; for a bone a→b carried onto a'→b',
    s = (b'−a')·conj(b−a) / |b−a|², and t puts the source midpoint on the target's. A bone seen
    end-on has no direction, so s is softened towards 1 (a plain shift):
    s = ((b'−a')·conj(b−a) + ℓ²) / (|b−a|² + ℓ²) with ℓ = ``soft_length`` pixels, and its size is
    clamped to [1/max_scale, max_scale] so a foreshortened source limb is not blown up into a smear.

    Args:
        source2d, target2d: (B, 17, 2) joints, crop pixels.
    Returns:
        (B, P, 2, 3) affine maps, source crop pixels → target crop pixels, one per part (bone).
    """
    a, b = (list(index) for index in zip(*PART_JOINTS))
    src = torch.view_as_complex((source2d[:, b] - source2d[:, a]).contiguous())      # (B, P)
    dst = torch.view_as_complex((target2d[:, b] - target2d[:, a]).contiguous())
    scale = (dst * src.conj() + soft_length ** 2) / (src.abs() ** 2 + soft_length ** 2)
    size = scale.abs().clamp(min=1e-6)
    scale = scale / size * size.clamp(1.0 / max_scale, max_scale)
    source_mid = torch.view_as_complex((0.5 * (source2d[:, a] + source2d[:, b])).contiguous())
    target_mid = torch.view_as_complex((0.5 * (target2d[:, a] + target2d[:, b])).contiguous())
    shift = target_mid - scale * source_mid
    row0 = torch.stack([scale.real, -scale.imag, shift.real], dim=-1)
    row1 = torch.stack([scale.imag, scale.real, shift.imag], dim=-1)
    return torch.stack([row0, row1], dim=-2)


def paint_warped_parts(maps: torch.Tensor, source: torch.Tensor, seen: torch.Tensor, source2d: torch.Tensor,
                       target2d: torch.Tensor, colours: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Paint a pose's part maps with the source person's own pixels, moved bone by bone.

    Each part is filled with the source frame's observed person carried by its bone's similarity
    (:func:`bone_similarities`): the limb's texture, shading and marks travel with it (Balakrishnan
    et al., CVPR 2018, synthesise new poses by such part-wise warps). Where the moved source shows
    no person (the observed foreground ``seen`` warped along is low), the part falls back to its
    flat colour; the parts are then composited like :func:`paint_parts`.

    Args:
        maps: (B, P+1, S, S) the pose's part maps, background channel last.
        source: (B, 3, S, S) RGB in [0, 1], the frame whose person is moved.
        seen: (B, 1, S, S) in [0, 1], its observed foreground (:func:`observed_foreground`).
        source2d: (B, 17, 2) the source's joints (the predicted puppet), crop pixels.
        target2d: (B, 17, 2) the painted pose's joints, crop pixels.
        colours: (B, P, 3) flat part colours for where the source shows nothing (:func:`part_colours`).
        background: (B, 3, S, S) RGB in [0, 1].
    Returns:
        (B, 3, S, S) RGB in [0, 1].
    """
    batch, parts = colours.shape[:2]
    size = tuple(source.shape[-2:])
    affine = rearrange(bone_similarities(source2d, target2d), "b p r c -> (b p) r c")
    layers = repeat(torch.cat([source * seen, seen], dim=1), "b c h w -> (b p) c h w", p=parts)
    moved = rearrange(warp_affine(layers, affine.to(source), size, align_corners=True),
                      "(b p) c h w -> b p c h w", b=batch)
    alpha = moved[:, :, 3:].clamp(0.0, 1.0)
    texture = moved[:, :, :3] + (1.0 - alpha) * colours[..., None, None]         # (B, P, 3, S, S)
    coverage = 1.0 - maps[:, -1:]
    shares = maps[:, :-1] / coverage.clamp(min=1e-6)
    painted = torch.einsum("bpyx,bpcyx->bcyx", shares, texture)
    opaque = opacity(coverage)
    return (opaque * painted + (1.0 - opaque) * background).clamp(0.0, 1.0)


def opacity(coverage: torch.Tensor) -> torch.Tensor:
    """Opaque parts from soft coverage: 0 below 0.35, 1 above 0.65, linear between.  Any shape → same."""
    return ((coverage - 0.35) / 0.3).clamp(0.0, 1.0)
