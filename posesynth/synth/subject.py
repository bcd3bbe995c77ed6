"""Synthetic subjects: body proportions and clothing, a pure function of the subject id.

A subject looks the same in every video and under every ``--seed``, so a held-out split by
subject id holds out both a body shape and a wardrobe.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from posesynth import skeleton

# pattern ids of a garment (see render.py): plain; rings along the limb; stripes running along
# the limb (around-limb variation); checks; a front panel that differs from the back
PLAIN, RINGS, STRIPES, CHECKS, PANEL = 0, 1, 2, 3, 4
NUM_PATTERNS = 5

_SKIN_TONES = np.array([[0.96, 0.80, 0.69], [0.87, 0.67, 0.52], [0.72, 0.52, 0.38],
                        [0.55, 0.38, 0.26], [0.36, 0.24, 0.16]])
_HAIR_COLOURS = np.array([[0.08, 0.06, 0.05], [0.28, 0.18, 0.10], [0.55, 0.40, 0.22],
                          [0.80, 0.68, 0.45], [0.55, 0.25, 0.12], [0.62, 0.62, 0.60]])


@dataclass(frozen=True)
class Garment:
    """A procedural cloth texture.

    colour, accent: (3,) RGB in [0, 1]; pattern: one of PLAIN … PANEL; along: stripe frequency
    along the limb, cycles per metre; around: cycles per turn around the limb (integer).
    """

    colour: np.ndarray
    accent: np.ndarray
    pattern: int
    along: float
    around: int


@dataclass(frozen=True)
class Subject:
    """One synthetic person.

    subject_id: the id names and splits use; bone_lengths: (16,) metres, ordered like
    ``skeleton.BONES``, left/right symmetric; girth: scale of all limb radii (1 = average);
    skin, hair, shoes: (3,) RGB in [0, 1]; shirt, trousers: garments; long_sleeves /
    long_trousers: whether forearms / shins wear the garment or show skin.
    """

    subject_id: int
    bone_lengths: np.ndarray
    girth: float
    skin: np.ndarray
    hair: np.ndarray
    shoes: np.ndarray
    shirt: Garment
    trousers: Garment
    long_sleeves: bool
    long_trousers: bool
    front_mark: bool = True


def _bone_scales(rng: np.random.Generator) -> np.ndarray:
    """Per-bone length factors (16,): one overall height scale times per-group ratios.

    Groups share one factor, so left and right bones stay equal.
    """
    height = rng.uniform(0.88, 1.12)
    groups = {  # child joints of the bones in each group
        (1, 4): rng.uniform(0.88, 1.15),          # hip width
        (2, 3, 5, 6): rng.uniform(0.93, 1.07),    # legs
        (7, 8): rng.uniform(0.93, 1.07),          # torso
        (9, 10): rng.uniform(0.93, 1.07),         # neck and head
        (11, 14): rng.uniform(0.88, 1.15),        # shoulder width
        (12, 13, 15, 16): rng.uniform(0.93, 1.07),  # arms
    }
    scale = np.ones(skeleton.NUM_BONES)
    for children, factor in groups.items():
        for c in children:
            scale[c - 1] = height * factor  # bone b ends at joint b + 1
    return scale


def _random_colour(rng: np.random.Generator, saturation: tuple[float, float], value: tuple[float, float]) -> np.ndarray:
    hue = rng.uniform(0.0, 1.0)
    return np.array(colorsys.hsv_to_rgb(hue, rng.uniform(*saturation), rng.uniform(*value)))


def _garment(rng: np.random.Generator) -> Garment:
    colour = _random_colour(rng, (0.2, 0.9), (0.25, 0.95))
    # accent: a clearly different value so patterns survive video compression and shading
    accent = _random_colour(rng, (0.1, 0.9), (0.15, 0.95))
    if abs(accent.mean() - colour.mean()) < 0.25:
        accent = np.clip(1.0 - colour * rng.uniform(0.6, 1.0), 0.0, 1.0)
    return Garment(colour=colour, accent=accent, pattern=int(rng.integers(NUM_PATTERNS)),
                   along=float(rng.uniform(4.0, 10.0)), around=int(rng.integers(2, 5)))


def make_subject(subject_id: int) -> Subject:
    """The subject with this id (deterministic; independent of any dataset seed).

    Args:
        subject_id: any non-negative int.
    Returns:
        a :class:`Subject`.
    """
    if subject_id < 0:
        raise ValueError(f"subject ids must be non-negative, got {subject_id}")
    rng = np.random.default_rng([subject_id, 0x5EED])
    bone_lengths = np.asarray(skeleton.BONE_LENGTHS_M) * _bone_scales(rng)
    mix = rng.uniform(0, len(_SKIN_TONES) - 1)
    low = int(mix)
    skin = _SKIN_TONES[low] * (1 - (mix - low)) + _SKIN_TONES[min(low + 1, len(_SKIN_TONES) - 1)] * (mix - low)
    return Subject(
        subject_id=subject_id,
        bone_lengths=bone_lengths,
        girth=float(rng.uniform(0.85, 1.2)),
        skin=skin,
        hair=_HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))],
        shoes=_random_colour(rng, (0.0, 0.6), (0.1, 0.6)),
        shirt=_garment(rng),
        trousers=_garment(rng),
        long_sleeves=bool(rng.random() < 0.6),
        long_trousers=bool(rng.random() < 0.75),
        front_mark=bool(rng.random() < 0.8),  # drawn last: earlier draws (and old subjects' looks) unchanged
    )
