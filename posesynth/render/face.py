"""A face on a painted head: the side a flat imitation painting shows.

A flat painting (:mod:`posesynth.render.paint`) fills each part with one colour, so a body painted
facing the camera and the same 2D skeleton seen from behind (its mirror reading,
:func:`posesynth.skeleton.mirror_interpretation`) are the same picture, and the imitation term can
only leave the side open. Heads are not the same all round: the face is in front, hair covers the
back and the top. That is a prior about people, not a label of any frame, and a painted pose's 3D is
known, so its painting can show it: the head in a hair colour, with a skin-coloured face disc in
front of the head's axis, seen in proportion to how far the face turns towards the camera. The
encoder that imitates such paintings is asked for their true side, which the face now tells.
"""

from __future__ import annotations

import torch

from posesynth.geometry import project
from posesynth.skeleton import JOINT_NAMES

NECK, HEAD, THORAX = (JOINT_NAMES.index(name) for name in ("neck", "head", "thorax"))
RSHOULDER, LSHOULDER = JOINT_NAMES.index("rshoulder"), JOINT_NAMES.index("lshoulder")
FACE_HEIGHT = 0.4      # the face's centre is this share of the way from the neck joint to the head top
FACE_OFFSET_M = 0.06   # and this far in front of the head's axis (head radius ~0.1 m)
FACE_RADIUS_M = 0.075  # the face, brows to chin, is about 15 cm across
# generic ends of human skin tones and hair colours (RGB in [0, 1]); a palette, not the data's
SKIN_LIGHT, SKIN_DARK = (0.95, 0.80, 0.68), (0.36, 0.23, 0.16)
HAIR_DARK, HAIR_LIGHT = (0.05, 0.04, 0.04), (0.52, 0.38, 0.22)
GREY_HAIR_SHARE = 0.2  # this share of heads get grey to white hair instead (0.5-0.85 grey)


def head_forward(joints3d: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """The way the face points: the body's forward at the shoulders.

        f = normalize(u × s),  u = head − thorax (up the neck),  s = right shoulder − left shoulder

    Seen from the front (camera looking along +z, x right, y down) s points to the image's left
    (−x) and u up (−y), so u × s = (−y) × (−x) = −z: towards the camera.

    Args:
        joints3d: (B, 17, 3) any right-handed frame, metres.
    Returns:
        (B, 3) unit vectors in that frame.
    """
    up = joints3d[:, HEAD] - joints3d[:, THORAX]
    across = joints3d[:, RSHOULDER] - joints3d[:, LSHOULDER]
    forward = torch.linalg.cross(up, across, dim=-1)
    return forward / forward.norm(dim=-1, keepdim=True).clamp(min=eps)


def face_anchor(joints3d: torch.Tensor, K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Where a pose's face is drawn, how large, and how much of it the camera sees.

    The face's centre is c = neck + ``FACE_HEIGHT`` · (head − neck) + ``FACE_OFFSET_M`` · f (:func:`head_forward`). Its
    visibility ramps with cos θ = f · (−c)/‖c‖, the cosine between the face's direction and the
    ray back to the camera: 0 for cos θ ≤ −0.1 (turned away), 1 for cos θ ≥ 0.3 (towards the
    camera), linear between, so a profile shows about a quarter of a face.

    Args:
        joints3d: (B, 17, 3) camera frame, metres (z > 0 in front of the camera).
        K: (3, 3) intrinsics, pixels.
    Returns:
        centre (B, 2) pixels, radius (B,) pixels (``FACE_RADIUS_M`` at the centre's depth),
        visibility (B,) in [0, 1].
    """
    forward = head_forward(joints3d)
    neck, top = joints3d[:, NECK], joints3d[:, HEAD]
    centre = neck + FACE_HEIGHT * (top - neck) + FACE_OFFSET_M * forward
    cosine = -(forward * centre).sum(-1) / centre.norm(dim=-1).clamp(min=1e-8)
    visibility = ((cosine + 0.1) / 0.4).clamp(0.0, 1.0)
    radius = K[0, 0] * FACE_RADIUS_M / centre[:, 2].clamp(min=1e-3)
    return project(centre[:, None], K)[:, 0], radius, visibility


def face_palette(count: int, generator: torch.Generator) -> torch.Tensor:
    """Random skin and hair colours for ``count`` painted heads.

    Skin is drawn along the line between ``SKIN_LIGHT`` and ``SKIN_DARK``, hair between
    ``HAIR_DARK`` and ``HAIR_LIGHT`` (weighted towards dark: u² of a uniform u), or for a share
    ``GREY_HAIR_SHARE`` of heads a grey between 0.5 and 0.85.

    Returns:
        (count, 2, 3) RGB in [0, 1]: [:, 0] skin, [:, 1] hair.
    """
    u = torch.rand(count, 4, 1, generator=generator)
    skin = torch.tensor(SKIN_LIGHT) + u[:, 0] * (torch.tensor(SKIN_DARK) - torch.tensor(SKIN_LIGHT))
    hair = torch.tensor(HAIR_DARK) + u[:, 1] ** 2 * (torch.tensor(HAIR_LIGHT) - torch.tensor(HAIR_DARK))
    grey = (0.5 + 0.35 * u[:, 2]).expand(count, 3)
    hair = torch.where(u[:, 3] < GREY_HAIR_SHARE, grey, hair)
    return torch.stack([skin, hair], dim=1)


def head_colours(centre: torch.Tensor, radius: torch.Tensor, visibility: torch.Tensor, palette: torch.Tensor,
                 size: tuple[int, int]) -> torch.Tensor:
    """The colour of a painted head at every pixel: hair, with the face disc in skin.

        colour(x) = hair + v · d(x) · (skin − hair),  d(x) = clamp(½ + r − ‖x − c‖, 0, 1)

    (a disc of radius r with a one-pixel soft edge, v the visibility).

    Args:
        centre: (B, 2) pixels (x, y). radius: (B,) pixels. visibility: (B,) in [0, 1].
        palette: (B, 2, 3) skin and hair (:func:`face_palette`).
        size: (H, W) of the painting.
    Returns:
        (B, 3, H, W) RGB in [0, 1].
    """
    height, width = size
    ys = torch.arange(height, dtype=centre.dtype, device=centre.device)
    xs = torch.arange(width, dtype=centre.dtype, device=centre.device)
    distance = torch.sqrt((xs[None, None, :] - centre[:, 0, None, None]) ** 2
                          + (ys[None, :, None] - centre[:, 1, None, None]) ** 2)      # (B, H, W)
    disc = (0.5 + radius[:, None, None] - distance).clamp(0.0, 1.0) * visibility[:, None, None]
    skin, hair = palette[:, 0, :, None, None], palette[:, 1, :, None, None]           # (B, 3, 1, 1)
    return hair + disc[:, None] * (skin - hair)


__all__ = ["face_anchor", "face_palette", "head_colours", "head_forward"]
