"""Ray casting of textured capsules: every pixel against every capsule at once, nearest hit wins.

The camera sits at the origin of the camera frame (x right, y down, z forward), so each
pixel's ray is o = 0, d = K⁻¹(u, v, 1) normalised. Against a capsule (segment a→b, radius r)
we first intersect the infinite cylinder around the segment; a hit whose foot point falls
outside the segment is replaced by a hit on the end sphere on that side. Taking the minimum
distance over capsules is the z-buffer, so self-occlusion is exact. Shading is Lambertian
with an ambient term; textures are procedural functions of the distance along the limb and
the angle around it.
"""

from __future__ import annotations

import math

import torch

from posesynth.synth.body import HAIR, Capsules
from posesynth.synth.subject import CHECKS, PANEL, PLAIN, RINGS, STRIPES

_MISS = float("inf")


def pixel_rays(K: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Unit ray directions through pixel centres ((0, 0) = centre of the top-left pixel).

    Args:
        K: (3, 3) intrinsics. height, width: image size in pixels.
    Returns:
        (H·W, 3) camera frame, row-major over (v, u).
    """
    v, u = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
                          indexing="ij")
    pix = torch.stack([u, v, torch.ones_like(u)], -1).reshape(-1, 3)
    rays = pix @ torch.linalg.inv(K.double()).T
    return torch.nn.functional.normalize(rays, dim=-1).float()


def _dot(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x * y).sum(-1)


def ray_capsule(rays: torch.Tensor, a: torch.Tensor, b: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Distance along rays from the camera centre to capsules (broadcasting kernel).

    Args:
        rays: (..., 3) unit directions, camera frame.
        a, b: (..., 3) capsule end points, camera frame, metres. radius: (...) metres.
    Returns:
        (...) hit distance in metres along the ray, ``inf`` where the ray misses.
    """
    ba, oa = b - a, -a                            # oa: ray origin (0) minus a
    baba, baoa, oaoa = _dot(ba, ba), _dot(ba, oa), _dot(oa, oa)
    bard, rdoa = _dot(rays, ba), _dot(rays, oa)
    r2 = radius * radius
    # infinite cylinder: |(t·d − a) × ba|² = r²·|ba|², a quadratic A t² + 2 Bq t + C = 0
    A = baba - bard * bard
    Bq = baba * rdoa - baoa * bard
    C = baba * oaoa - baoa * baoa - r2 * baba
    disc = Bq * Bq - A * C
    hit = disc > 0
    t_cyl = (-Bq - disc.clamp(min=0).sqrt()) / A.clamp(min=1e-12)
    foot = baoa + t_cyl * bard                    # where along ba (× |ba|²) the hit projects
    on_body = hit & (foot > 0) & (foot < baba)
    # end caps: the sphere at a if the cylinder hit fell before a, else the sphere at b
    before = foot <= 0
    rdoc = torch.where(before, rdoa, rdoa - bard)
    ococ = torch.where(before, oaoa, _dot(b, b))
    disc_cap = rdoc * rdoc - (ococ - r2)
    t_cap = -rdoc - disc_cap.clamp(min=0).sqrt()
    t = torch.where(on_body, t_cyl, torch.where(hit & (disc_cap > 0), t_cap, _MISS))
    return torch.where(t > 0, t, _MISS)


def intersect_capsules(rays: torch.Tensor, a: torch.Tensor, b: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Every ray against every capsule (dense; the reference for :func:`nearest_hits`).

    Args:
        rays: (N, 3) unit directions, camera frame.
        a, b: (B, P, 3) capsule end points, camera frame, metres. radius: (P,) metres.
    Returns:
        (B, N, P) hit distances in metres along the rays, ``inf`` for misses.
    """
    return ray_capsule(rays[None, :, None], a[:, None], b[:, None], radius)


def nearest_hits(rays: torch.Tensor, a: torch.Tensor, b: torch.Tensor, radius: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest capsule along each ray: the z-buffer.

    A cheap bounding-sphere test (ray passes within |b − a|/2 + r of the capsule's midpoint)
    first selects the (ray, capsule) pairs worth the exact test; most pairs fail it.

    Args:
        rays: (N, 3) unit directions. a, b: (B, P, 3) camera frame, metres. radius: (P,) metres.
    Returns:
        t (B, N) distance to the nearest hit (``inf`` for none) and index (B, N) long, the
        capsule hit (0 where none).
    """
    frames, count = a.shape[0], rays.shape[0]
    centre = 0.5 * (a + b)
    bound = 0.5 * (b - a).norm(dim=-1) + radius                       # (B, P)
    along = torch.einsum("nc,bpc->bnp", rays, centre)                 # (B, N, P)
    close = _dot(centre, centre).unsqueeze(1) - along * along < (bound * bound).unsqueeze(1)
    f, n, p = close.nonzero(as_tuple=True)
    t_pair = ray_capsule(rays[n], a[f, p], b[f, p], radius[p])
    pixel = f * count + n
    t = torch.full((frames * count,), _MISS).scatter_reduce(0, pixel, t_pair, "amin")
    win = (t_pair == t[pixel]) & torch.isfinite(t_pair)
    index = torch.zeros(frames * count, dtype=torch.long)
    index[pixel[win]] = p[win]
    return t.view(frames, count), index.view(frames, count)


def _stripe(x: torch.Tensor) -> torch.Tensor:
    """A square wave from a phase (radians) with softened edges (less aliasing), values in [0, 1]."""
    return (0.5 + 2.0 * torch.sin(x)).clamp(0.0, 1.0)


def _accent_weight(pattern: torch.Tensor, along_m: torch.Tensor, angle: torch.Tensor, cos_back: torch.Tensor,
                   cos_up: torch.Tensor, f_along: torch.Tensor, f_around: torch.Tensor, front: torch.Tensor
                   ) -> torch.Tensor:
    """How much accent colour each hit shows (0 = base colour), per pattern id, plus front marks.  All (M,)."""
    rings = _stripe(2 * math.pi * f_along * along_m)
    stripes = _stripe(f_around * angle)
    candidates = {
        PLAIN: torch.zeros_like(rings),
        RINGS: rings,
        STRIPES: stripes,
        CHECKS: rings + stripes - 2 * rings * stripes,            # xor of the two
        PANEL: (0.5 - 4.0 * (cos_back + 0.35)).clamp(0.0, 1.0),   # the front of the torso
        HAIR: torch.maximum((0.5 + 4.0 * (cos_back + 0.1)).clamp(0, 1), (0.5 + 6.0 * (cos_up - 0.55)).clamp(0, 1)),
    }
    table = torch.stack([candidates[k] for k in sorted(candidates)], -1)  # ids are 0..5
    weight = table.gather(-1, pattern.unsqueeze(-1)).squeeze(-1)
    # front marks: the surface facing straight forward (the front ~40°); on the head only a band at
    # eye height (the face), elsewhere a strip down the part (a placket or print on the chest)
    frontal = (0.5 - 6.0 * (cos_back + 0.85)).clamp(0.0, 1.0)
    eyes = (0.5 - 8.0 * ((cos_up - 0.15).abs() - 0.12)).clamp(0.0, 1.0)
    mark = front * frontal * torch.where(pattern == HAIR, eyes, torch.ones_like(eyes))
    return torch.maximum(weight, mark)


def shade_hits(rays: torch.Tensor, t: torch.Tensor, index: torch.Tensor, caps: Capsules, light: torch.Tensor,
               ambient: float = 0.35) -> torch.Tensor:
    """Colour of the nearest hits.

    Args:
        rays: (N, 3) unit directions. t: (B, N) hit distances (finite). index: (B, N) capsule ids.
        caps: capsules in the camera frame. light: (3,) unit direction *towards* the light, camera
            frame. ambient: the unlit fraction of the colour.
    Returns:
        (B, N, 3) RGB in [0, 1].
    """
    batch = torch.arange(t.shape[0]).unsqueeze(1)
    a, b, ref = caps.a[batch, index], caps.b[batch, index], caps.ref[batch, index]  # (B, N, 3)
    point = t.unsqueeze(-1) * rays
    length = (b - a).norm(dim=-1, keepdim=True).clamp(min=1e-9)
    axis = (b - a) / length
    s = ((point - a) * axis).sum(-1, keepdim=True).clamp(min=0.0).minimum(length)
    normal = torch.nn.functional.normalize(point - (a + s * axis), dim=-1)
    side = torch.cross(axis, ref, dim=-1)
    cos_back = (normal * ref).sum(-1)
    angle = torch.atan2((normal * side).sum(-1), cos_back)
    cos_up = -(normal * axis).sum(-1)  # only hair uses it: the head's a→b points down
    weight = _accent_weight(caps.pattern[index], s.squeeze(-1), angle, cos_back, cos_up,
                            caps.along[index], caps.around[index], caps.front[index]).unsqueeze(-1)
    albedo = caps.colour[index] * (1 - weight) + caps.accent[index] * weight
    lambert = (normal * light).sum(-1, keepdim=True).clamp(min=0.0)
    return albedo * (ambient + (1 - ambient) * lambert)


def _screen_box(K: torch.Tensor, caps: Capsules, height: int, width: int) -> tuple[int, int, int, int]:
    """Pixel rows/cols [y0, y1) × [x0, x1) that can see any capsule in the batch (a bound, not tight).

    Each end sphere projects inside a square of half-size f·r/(z − r) around its centre's
    projection; the convex hull of the two end spheres bounds the capsule.
    """
    centres = torch.cat([caps.a, caps.b], 1)                         # (B, 2P, 3)
    radius = torch.cat([caps.radius, caps.radius]).unsqueeze(0)
    z = centres[..., 2].clamp(min=1e-3)
    u = K[0, 0] * centres[..., 0] / z + K[0, 2]
    v = K[1, 1] * centres[..., 1] / z + K[1, 2]
    half = K[0, 0] * radius / (z - radius).clamp(min=1e-3) + 2.0   # +2 px: rounding slack
    x0 = int(torch.floor((u - half).min()).clamp(0, width)); x1 = int(torch.ceil((u + half).max()).clamp(0, width)) + 1
    y0 = int(torch.floor((v - half).min()).clamp(0, height)); y1 = int(torch.ceil((v + half).max()).clamp(0, height)) + 1
    return y0, min(y1, height), x0, min(x1, width)


def render_capsules(K: torch.Tensor, height: int, width: int, caps: Capsules, light: torch.Tensor, chunk: int = 4
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Render the body over a transparent background.

    Only the pixels inside the batch's screen-space bound are ray cast (the body covers a small
    part of the frame), which is most of the speed on CPU.

    Args:
        K: (3, 3) intrinsics. height, width: image size, pixels.
        caps: (F frames) capsules in the camera frame (in front of the camera).
        light: (3,) unit direction towards the light, camera frame.
        chunk: frames per batch (memory ≈ chunk·pixels·P·40 bytes; small chunks give tight bounds).
    Returns:
        colour (F, H, W, 3) RGB in [0, 1] (0 where no hit) and depth (F, H, W) camera z in
        metres (``inf`` where no hit).
    """
    frames = caps.a.shape[0]
    rays = pixel_rays(K, height, width).reshape(height, width, 3)
    colour = torch.zeros(frames, height, width, 3)
    depth = torch.full((frames, height, width), _MISS)
    for start in range(0, frames, chunk):
        sl = slice(start, start + chunk)
        part = Capsules(caps.a[sl], caps.b[sl], caps.radius, caps.ref[sl], caps.colour, caps.accent,
                        caps.pattern, caps.along, caps.around, caps.front)
        y0, y1, x0, x1 = _screen_box(K.float(), part, height, width)
        if y1 <= y0 or x1 <= x0:
            continue
        window = rays[y0:y1, x0:x1].reshape(-1, 3)
        t, index = nearest_hits(window, part.a, part.b, part.radius)
        hit = torch.isfinite(t)
        shaded = shade_hits(window, torch.where(hit, t, 1.0), index, part, light)
        n = part.a.shape[0]
        colour[sl, y0:y1, x0:x1] = torch.where(hit.unsqueeze(-1), shaded, 0.0).reshape(n, y1 - y0, x1 - x0, 3)
        depth[sl, y0:y1, x0:x1] = (t * window[:, 2]).reshape(n, y1 - y0, x1 - x0)  # unit-ray distance → z
    return colour, depth
