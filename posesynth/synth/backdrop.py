"""Static procedural backgrounds: a textured floor inside a round, textured wall.

World frame: y down, the floor is y = 0, the wall is the vertical cylinder of radius
``wall_radius`` around the world's vertical axis (the motion is centred there), so any camera
azimuth sees a wall. The background is rendered once per camera because the camera is static.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np
import torch

from posesynth.geometry import camera_center

FLOOR_TILES, FLOOR_PLANKS, FLOOR_PLAIN = 0, 1, 2


@dataclass(frozen=True)
class Backdrop:
    """Parameters of one background.

    floor_kind: FLOOR_TILES / FLOOR_PLANKS / FLOOR_PLAIN; floor_a, floor_b, wall_a, wall_b: (3,)
    RGB in [0, 1]; tile: tile or plank width, metres; wall_radius: metres; stripe: wallpaper
    period along the wall, metres (0 = no stripes); noise: (64, 64) smooth noise table in
    [−1, 1]; light: (3,) unit direction towards the light, world frame.
    """

    floor_kind: int
    floor_a: np.ndarray
    floor_b: np.ndarray
    wall_a: np.ndarray
    wall_b: np.ndarray
    tile: float
    wall_radius: float
    stripe: float
    noise: np.ndarray
    light: np.ndarray


def _colour(rng: np.random.Generator, value: tuple[float, float], saturation: float = 0.5) -> np.ndarray:
    hue = rng.uniform(0, 1)
    return np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.0, saturation), rng.uniform(*value)))


def sample_backdrop(rng: np.random.Generator) -> Backdrop:
    """A random background (floor pattern, colours, wall, light)."""
    floor_a = _colour(rng, (0.3, 0.8))
    floor_b = np.clip(floor_a * rng.uniform(0.55, 0.85), 0, 1)
    # smooth noise: random lattice blurred by averaging shifted copies (periodic, no seams)
    grid = rng.uniform(-1, 1, size=(64, 64))
    for axis in (0, 1):
        grid = (grid + np.roll(grid, 1, axis) + np.roll(grid, -1, axis)) / 3
    grid /= np.abs(grid).max()
    elevation, azimuth = rng.uniform(0.6, 1.2), rng.uniform(0, 2 * math.pi)
    light = np.array([math.cos(elevation) * math.sin(azimuth), -math.sin(elevation), math.cos(elevation) * math.cos(azimuth)])
    return Backdrop(
        floor_kind=int(rng.integers(3)), floor_a=floor_a, floor_b=floor_b,
        wall_a=_colour(rng, (0.45, 0.95)), wall_b=_colour(rng, (0.2, 0.7)),
        tile=float(rng.uniform(0.3, 0.9)), wall_radius=float(rng.uniform(7.5, 11.0)),
        stripe=float(rng.choice([0.0, rng.uniform(0.3, 1.2)])), noise=grid, light=light,
    )


def _noise(table: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Bilinear lookup into a periodic (S, S) table at continuous coordinates (table cells)."""
    size = table.shape[0]
    x0, y0 = torch.floor(x), torch.floor(y)
    fx, fy = x - x0, y - y0
    i0, j0 = x0.long() % size, y0.long() % size
    i1, j1 = (i0 + 1) % size, (j0 + 1) % size
    top = table[j0, i0] * (1 - fx) + table[j0, i1] * fx
    bottom = table[j1, i0] * (1 - fx) + table[j1, i1] * fx
    return top * (1 - fy) + bottom * fy


def _floor_colour(bd: Backdrop, x: torch.Tensor, z: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Floor albedo (M, 3) at world points (x, z), metres."""
    u, v = x / bd.tile, z / bd.tile
    if bd.floor_kind == FLOOR_TILES:
        mix = ((torch.floor(u) + torch.floor(v)) % 2).float()
    elif bd.floor_kind == FLOOR_PLANKS:
        # planks along x, staggered; each plank has its own shade from the noise table
        row = torch.floor(v * 2)
        mix = 0.5 + 0.5 * _noise(noise, torch.floor(u / 3 + 0.5 * row) * 7.0, row * 5.0)
        mix = torch.where((v * 2 - row) < 0.06, torch.ones_like(mix), mix * 0.6)  # dark seams
    else:
        mix = 0.5 + 0.5 * _noise(noise, u * 4, v * 4)
    a, b = torch.tensor(bd.floor_a).float(), torch.tensor(bd.floor_b).float()
    grain = 1.0 + 0.08 * _noise(noise, x * 9.0, z * 9.0)
    return (a * (1 - mix.unsqueeze(-1)) + b * mix.unsqueeze(-1)) * grain.unsqueeze(-1)


def _wall_colour(bd: Backdrop, arc: torch.Tensor, height: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Wall albedo (M, 3) at arc length ``arc`` (m) and height above the floor (m)."""
    a, b = torch.tensor(bd.wall_a).float(), torch.tensor(bd.wall_b).float()
    gradient = (height / 3.0).clamp(0, 1).unsqueeze(-1)
    colour = a * (1 - 0.35 * gradient) + b * 0.35 * gradient
    if bd.stripe > 0:
        stripes = (torch.sin(2 * math.pi * arc / bd.stripe) > 0.6).float().unsqueeze(-1)
        colour = colour * (1 - 0.5 * stripes) + b * 0.5 * stripes
    skirting = (height < 0.15).float().unsqueeze(-1)
    colour = colour * (1 - skirting) + b * 0.6 * skirting
    return colour * (1.0 + 0.06 * _noise(noise, arc * 3.0, height * 3.0)).unsqueeze(-1)


def render_backdrop(bd: Backdrop, rays: torch.Tensor, R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Render the background seen by one static camera.

    Args:
        bd: background parameters. rays: (N, 3) unit pixel rays, camera frame.
        R: (3, 3), t: (3,) world→camera extrinsics (camera above the floor, inside the wall).
    Returns:
        (N, 3) RGB in [0, 1].
    """
    R, t = R.double(), t.double()
    origin = camera_center(R, t)                 # (3,) world
    d = rays.double() @ R                        # world directions, Rᵀ·d
    noise = torch.tensor(bd.noise)
    # floor y = 0 (the camera has y < 0, rays with d_y > 0 go down towards it)
    t_floor = torch.where(d[:, 1] > 1e-9, -origin[1] / d[:, 1].clamp(min=1e-9), torch.full_like(d[:, 1], math.inf))
    # wall: |(o + s·d)_xz| = radius, the positive root (the camera is inside the cylinder)
    dxz, oxz = d[:, [0, 2]], origin[[0, 2]]
    qa = (dxz * dxz).sum(-1).clamp(min=1e-12)
    qb = (dxz * oxz).sum(-1)
    qc = (oxz * oxz).sum() - bd.wall_radius ** 2
    t_wall = (-qb + (qb * qb - qa * qc).clamp(min=0).sqrt()) / qa
    on_floor = t_floor < t_wall
    hit = origin + torch.minimum(t_floor, t_wall).unsqueeze(-1) * d
    floor = _floor_colour(bd, hit[:, 0], hit[:, 2], noise)
    arc = torch.atan2(hit[:, 2], hit[:, 0]) * bd.wall_radius
    wall = _wall_colour(bd, arc, -hit[:, 1], noise)
    # the floor is lit from above; far floor fades towards its mean colour (cheap anti-aliasing)
    light = torch.tensor(bd.light)
    floor = floor * (0.45 + 0.55 * max(0.0, float(-light[1])))
    fade = (torch.minimum(t_floor, t_wall) / 12.0).clamp(0, 0.6).unsqueeze(-1)
    floor = floor * (1 - fade) + fade * torch.tensor(0.5 * (bd.floor_a + bd.floor_b))
    # walls face the centre: lit by the horizontal part of the light
    normal = -torch.nn.functional.normalize(torch.stack([hit[:, 0], torch.zeros_like(hit[:, 0]), hit[:, 2]], -1), dim=-1)
    wall = wall * (0.55 + 0.45 * (normal @ light).clamp(min=0)).unsqueeze(-1)
    return torch.where(on_floor.unsqueeze(-1), floor, wall).clamp(0, 1).float()
