"""The puppet body: the 17 joints dressed as textured capsules.

A capsule is the set of points within ``radius`` of the segment a→b. Each capsule also
carries a texture reference direction (a body-fixed axis perpendicular to the segment, so
patterns turn with the limb) and a material (colour, accent, pattern). The torso is three
capsules side by side so it is wider than deep; the head is a short vertical capsule with
hair at the back and top and a darker band across the face (eyes and brows), the feet point
forwards, and most shirts carry a front mark (a placket or print down the chest): the facing
cues real people carry, without which a person seen from the front and the mirrored person seen
from the back look the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from posesynth.synth.subject import PANEL, PLAIN, Garment, Subject

HAIR = 5  # render-only pattern id: accent (hair) at the back and top of the head

# name: (radius in metres at girth 1, frame joint, frame axis for the texture reference)
# the frame joint's global rotation G_j (joint_angles.angles_to_joints) orients the texture
_PARTS: dict[str, tuple[float, int, int]] = {
    "pelvis": (0.10, 0, 2), "belly": (0.115, 7, 2), "ltorso": (0.095, 7, 2), "rtorso": (0.095, 7, 2),
    "shoulders": (0.062, 8, 2), "neck": (0.045, 9, 2), "head": (0.095, 9, 2),
    "lupperarm": (0.048, 11, 2), "rupperarm": (0.048, 14, 2),
    "lforearm": (0.038, 12, 2), "rforearm": (0.038, 15, 2),
    "lhand": (0.036, 12, 2), "rhand": (0.036, 15, 2),
    "lthigh": (0.072, 4, 2), "rthigh": (0.072, 1, 2),
    "lshin": (0.052, 5, 2), "rshin": (0.052, 2, 2),
    "lfoot": (0.036, 6, 1), "rfoot": (0.036, 3, 1),
}
PART_NAMES: tuple[str, ...] = tuple(_PARTS)
FOOT_RADIUS_M = _PARTS["lfoot"][0]


@dataclass(frozen=True)
class Capsules:
    """A batch of posed capsules.

    a, b: (F, P, 3) segment end points, metres; radius: (P,) metres; ref: (F, P, 3) unit texture
    reference directions (perpendicular to b − a); colour, accent: (P, 3) RGB in [0, 1];
    pattern: (P,) long pattern ids; along: (P,) cycles per metre; around: (P,) cycles per turn;
    front: (P,) 1 where the part shows a front mark in its accent colour (face band, placket), else 0.
    All tensors float32 except ``pattern``; a, b, ref share one frame (world or camera).
    """

    a: torch.Tensor
    b: torch.Tensor
    radius: torch.Tensor
    ref: torch.Tensor
    colour: torch.Tensor
    accent: torch.Tensor
    pattern: torch.Tensor
    along: torch.Tensor
    around: torch.Tensor
    front: torch.Tensor

    def transformed(self, R: torch.Tensor, t: torch.Tensor) -> Capsules:
        """The same capsules in another frame, X' = R·X + t (R: (3, 3), t: (3,))."""
        R, t = R.to(self.a), t.to(self.a)
        return Capsules(self.a @ R.T + t, self.b @ R.T + t, self.radius, self.ref @ R.T, self.colour,
                        self.accent, self.pattern, self.along, self.around, self.front)


def _segments(joints: torch.Tensor, frames: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """End points of every part from joints (F, 17, 3) and global frames (F, 17, 3, 3), metres."""
    j = joints

    def along(i: int, k: int, s: float) -> torch.Tensor:
        return j[:, i] + s * (j[:, k] - j[:, i])

    def local(joint: int, offset: tuple[float, float, float]) -> torch.Tensor:
        return j[:, joint] + frames[:, joint] @ torch.tensor(offset, dtype=j.dtype)

    # the torso sides run from near each hip (raised towards the spine) to near each shoulder
    lift = 0.35 * (j[:, 7] - j[:, 0])
    head_up = j[:, 10] - j[:, 9]
    head_centre = 0.5 * (j[:, 9] + j[:, 10]) + frames[:, 9] @ torch.tensor([0.0, 0.0, 0.03], dtype=j.dtype)
    return {
        "pelvis": (j[:, 1], j[:, 4]),
        "belly": (j[:, 0] + 0.2 * (j[:, 7] - j[:, 0]), j[:, 8]),
        "ltorso": (along(0, 4, 0.55) + lift, along(8, 11, 0.5) + 0.25 * (j[:, 7] - j[:, 8])),
        "rtorso": (along(0, 1, 0.55) + lift, along(8, 14, 0.5) + 0.25 * (j[:, 7] - j[:, 8])),
        "shoulders": (j[:, 11], j[:, 14]),
        "neck": (j[:, 8], along(8, 9, 0.8)),
        "head": (head_centre + 0.25 * head_up, head_centre - 0.15 * head_up),
        "lupperarm": (j[:, 11], j[:, 12]), "rupperarm": (j[:, 14], j[:, 15]),
        "lforearm": (j[:, 12], j[:, 13]), "rforearm": (j[:, 15], j[:, 16]),
        "lhand": (j[:, 13], along(12, 13, 1.3)), "rhand": (j[:, 16], along(15, 16, 1.3)),
        "lthigh": (j[:, 4], j[:, 5]), "rthigh": (j[:, 1], j[:, 2]),
        "lshin": (j[:, 5], j[:, 6]), "rshin": (j[:, 2], j[:, 3]),
        "lfoot": (local(6, (0.0, 0.04, 0.03)), local(6, (0.0, 0.045, -0.15))),
        "rfoot": (local(3, (0.0, 0.04, 0.03)), local(3, (0.0, 0.045, -0.15))),
    }


def lowest_point(joints: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Height of the lowest foot surface per frame (world y grows downwards).

    Args:
        joints: (F, 17, 3) world, metres. frames: (F, 17, 3, 3) global joint frames.
    Returns:
        (F,) the largest y of any foot surface, metres.
    """
    seg = _segments(joints, frames)
    ends = torch.stack([*seg["lfoot"], *seg["rfoot"]], dim=1)  # (F, 4, 3)
    return ends[..., 1].amax(dim=1) + FOOT_RADIUS_M


def _garment_for(part: str, subject: Subject) -> Garment | None:
    """The garment a part wears, or None for bare skin (head and shoes are special)."""
    if part in ("belly", "ltorso", "rtorso", "shoulders", "lupperarm", "rupperarm"):
        return subject.shirt
    if part in ("lforearm", "rforearm"):
        return subject.shirt if subject.long_sleeves else None
    if part in ("pelvis", "lthigh", "rthigh"):
        return subject.trousers
    if part in ("lshin", "rshin"):
        return subject.trousers if subject.long_trousers else None
    return None


def dress(joints: torch.Tensor, frames: torch.Tensor, subject: Subject) -> Capsules:
    """Capsules of the posed body.

    Args:
        joints: (F, 17, 3) world, metres. frames: (F, 17, 3, 3) global joint frames.
        subject: proportions (girth) and clothing.
    Returns:
        :class:`Capsules` in the world frame, P = len(PART_NAMES).
    """
    seg = _segments(joints, frames)
    a = torch.stack([seg[p][0] for p in PART_NAMES], 1).float()
    b = torch.stack([seg[p][1] for p in PART_NAMES], 1).float()
    ref = torch.stack([frames[:, _PARTS[p][1], :, _PARTS[p][2]] for p in PART_NAMES], 1).float()
    axis = torch.nn.functional.normalize(b - a, dim=-1)
    ref = torch.nn.functional.normalize(ref - (ref * axis).sum(-1, keepdim=True) * axis, dim=-1)
    radius = torch.tensor([_PARTS[p][0] * (subject.girth if p != "head" else 1.0) for p in PART_NAMES])
    colour, accent, pattern, freq_along, freq_around = [], [], [], [], []
    front = [1.0 if part == "head" or (part == "belly" and subject.front_mark) else 0.0 for part in PART_NAMES]
    for part in PART_NAMES:
        garment = _garment_for(part, subject)
        if garment is not None:
            colour.append(garment.colour), accent.append(garment.accent)
            # a front panel only reads as such on the torso; elsewhere use plain cloth
            torso = part in ("belly", "ltorso", "rtorso")
            pattern.append(PLAIN if garment.pattern == PANEL and not torso else garment.pattern)
            freq_along.append(garment.along), freq_around.append(garment.around)
            continue
        if part == "head":
            colour.append(subject.skin), accent.append(subject.hair), pattern.append(HAIR)
        elif part in ("lfoot", "rfoot"):
            colour.append(subject.shoes), accent.append(subject.shoes), pattern.append(PLAIN)
        else:
            colour.append(subject.skin), accent.append(subject.skin), pattern.append(PLAIN)
        freq_along.append(1.0), freq_around.append(1)
    return Capsules(a=a, b=b, radius=radius.float(), ref=ref,
                    colour=torch.tensor(np.stack(colour), dtype=torch.float32),
                    accent=torch.tensor(np.stack(accent), dtype=torch.float32),
                    pattern=torch.tensor(pattern, dtype=torch.long),
                    along=torch.tensor(freq_along, dtype=torch.float32),
                    around=torch.tensor(freq_around, dtype=torch.float32),
                    front=torch.tensor(front, dtype=torch.float32))
