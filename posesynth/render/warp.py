"""Move a person within their frame by a 2D similarity: the image side of the equivariance term.

Equivariance (Thewlis et al., ICCV 2017; Jakab et al., NeurIPS 2018 use it for unsupervised
landmarks): if a frame is rotated, scaled and shifted by a similarity ``A``, its 2D joints must
move by the same ``A``. Detected joints that stay put while the image moves — a constant pose, or
one pulled towards the start prior — break it, so the term pushes the encoder to read the joints
off the image. It needs no label.

The person, not the whole frame, is moved: the observed foreground (where the frame differs from
its background plate) is warped and composited over the unwarped background, so the warped frame
has no black corners or smeared borders and looks like another frame of the same video, and the
encoder cannot tell a warped frame from a real one by its edges.

Pixel convention: crop pixels with pixel centres at integers (``(S−1)/2`` is the centre, as the
crop camera's principal point), the convention of kornia's ``warp_affine(align_corners=True)``.
"""

from __future__ import annotations

import math

import torch
from kornia.geometry.transform import get_rotation_matrix2d, warp_affine

from posesynth.render.paint import observed_foreground

MAX_ROTATION_DEG = 30.0  # a tilted camera or a leaning person: still a plausible frame
MAX_LOG_SCALE = math.log(1.2)  # the crop box's size error is about this large
MAX_SHIFT = 0.1  # of the crop side; more would push limbs out of the crop


def random_similarities(count: int, image_size: int, generator: torch.Generator, *,
                        max_rotation_deg: float = MAX_ROTATION_DEG, max_log_scale: float = MAX_LOG_SCALE,
                        max_shift: float = MAX_SHIFT) -> torch.Tensor:
    """Random similarities about the crop centre: rotation, isotropic scale, then a shift.

    Rotation uniform in ±``max_rotation_deg``, log-scale uniform in ±``max_log_scale``, shift
    uniform in ±``max_shift`` × S along each axis.

    Args:
        count: how many.
        image_size: crop side S, pixels.
        generator: the CPU random generator (the result is a pure function of it: exact resume).
    Returns:
        (count, 2, 3) float32 affine matrices mapping crop pixels (x, y) of the frame to crop
        pixels of the warped frame: ``p' = A[:, :2] p + A[:, 2]``.
    """
    uniform = torch.rand(count, 4, generator=generator) * 2 - 1
    angle = uniform[:, 0] * max_rotation_deg
    scale = torch.exp(uniform[:, 1] * max_log_scale)
    centre = torch.full((count, 2), (image_size - 1) / 2)
    affine = get_rotation_matrix2d(centre, angle, torch.stack([scale, scale], dim=-1))
    shift = uniform[:, 2:] * max_shift * image_size
    return torch.cat([affine[:, :, :2], affine[:, :, 2:] + shift[..., None]], dim=-1)


def transform_points(points: torch.Tensor, affine: torch.Tensor) -> torch.Tensor:
    """Apply 2D affine maps to points.  (B, N, 2) px, (B, 2, 3) → (B, N, 2) px."""
    return points @ affine[:, :, :2].transpose(-1, -2) + affine[:, None, :, 2]


def warp_person(image: torch.Tensor, background: torch.Tensor, affine: torch.Tensor) -> torch.Tensor:
    """Move the person in a frame by ``affine`` over the frame's own background.

    Args:
        image, background: (B, 3, S, S) RGB in [0, 1]; ``background`` is the plate of ``image``'s video.
        affine: (B, 2, 3) crop pixels → crop pixels (:func:`random_similarities`).
    Returns:
        (B, 3, S, S) RGB in [0, 1]: the warped foreground composited over the unwarped background.
    """
    size = tuple(image.shape[-2:])
    seen = observed_foreground(image, background)  # (B, 1, S, S), detached
    moved = warp_affine(torch.cat([image * seen, seen], dim=1), affine.to(image), size, align_corners=True)
    colour, alpha = moved[:, :3], moved[:, 3:].clamp(0.0, 1.0)
    # the colour was premultiplied by the mask before the warp, so the blurred edge does not darken
    return colour + (1.0 - alpha) * background


__all__ = ["random_similarities", "transform_points", "warp_person"]
