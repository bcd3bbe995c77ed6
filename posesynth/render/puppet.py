"""The part-based 2D puppet: projected joints → soft part maps with a soft depth order.

Kundu et al. (AAAI 2020, CVPR 2020) render each limb as an anisotropic Gaussian centred at the
limb midpoint, rotated to the limb angle, spread along the limb by α·(limb length) and across it
by a per-limb width prior. posesynth has one part per bone of the 17-joint skeleton (16 parts)
and writes that Gaussian without angles, as a rank-one covariance (pixels², per part p):

    Σ_p = (R_p² · I + α² · d_p d_pᵀ) / E²,      d_p = b_p − a_p (the projected bone),

so the part reaches R_p across its bone and sqrt(R_p² + α²|d_p|²) along it (semi-axes of the
ellipse where a lone part's foreground is ½, see E² below), and a bone seen end-on
(|d_p| → 0) smoothly becomes a disc of its own width — no angle, no division by |d_p|, finite
gradients with no epsilon. By Sherman–Morrison, with r = x − m_p (m_p the midpoint),

    Q_p(x) = rᵀ Σ_p⁻¹ r = E²/R_p² · ( |r|² − α² (r·d_p)² / (R_p² + α²|d_p|²) ),
    g_p(x) = exp(−Q_p(x) / 2).                                                                   (1)

Coverage and depth order (our formulation; the papers do not publish theirs). Treat κ·g_p as
an opacity density, as in volume rendering: the light that passes part q is exp(−κ g_q), so

    foreground(x) = 1 − exp(−κ Σ_q g_q(x))                          soft union of the parts   (2)
    share_p(x)    = softmax_p( log g_p(x) − κ Σ_{q≠p} w_pq g_q(x) ) soft z-buffer             (3)
    w_pq          = sigmoid((z_p − z_q) / τ)                        "q is in front of p"
    map_p         = foreground · share_p,    background = 1 − foreground                      (4)

(3) weights each part by its own density times the transmittance exp(−κ Σ_q w_pq g_q) of the
parts in front of it (with a hard order, w ∈ {0, 1}, this is front-to-back alpha compositing).
z_p is the mean camera depth of the part's two joints and τ (metres) the depth difference over
which the order softens. A part is only hidden where a nearer part actually covers the pixel —
a far part is not dimmed by a near part's Gaussian tail — and at a full overlap the nearer of
two parts takes the fraction 1 / (1 + exp(−κ·tanh(Δz / 2τ))) of the pixel. Everything is in log
space, so nothing underflows however far apart the parts are; the channels sum to 1.

κ ("sharpness") also sets how crisp silhouettes are: E² = 2·ln(κ / ln 2) in (1) makes a lone
part's foreground exactly ½ on the ellipse with semi-axes R_p (across) and sqrt(R_p² + α²|d_p|²)
(along), so R_p is the visible half-width of the limb whatever κ is.

Width priors are limb radii in metres (close to the synthetic bodies' capsule radii, girth 1);
``render_part_maps`` turns them into pixels with the focal length and the part's depth,
R_p = radius_p · f / z_p, so a limb keeps its width when foreshortened.
"""

from __future__ import annotations

import math

import torch
from einops import rearrange

from posesynth import skeleton
from posesynth.geometry import intrinsics, project, unproject

# one part per bone, in skeleton.BONES order (part p is bone p)
PART_NAMES: tuple[str, ...] = (
    "rhip", "rthigh", "rshin", "lhip", "lthigh", "lshin", "lower_torso", "upper_torso",
    "neck", "head", "lshoulder", "lupperarm", "lforearm", "rshoulder", "rupperarm", "rforearm",
)
PART_JOINTS: tuple[tuple[int, int], ...] = skeleton.BONES
NUM_PARTS = len(PART_NAMES)

_LOG_DENSITY_FLOOR = -50.0  # see render_segments: keeps exp() out of the denormal range

_RADIUS_M: dict[str, float] = {
    "hip": 0.10, "thigh": 0.075, "shin": 0.055,
    "lower_torso": 0.15, "upper_torso": 0.15,  # the torso is ~0.3 m wide
    "neck": 0.05, "head": 0.10, "shoulder": 0.07, "upperarm": 0.05, "forearm": 0.04,
}
# visible half-width of each part, metres; equal left and right
PART_WIDTHS: tuple[float, ...] = tuple(_RADIUS_M[n if n in _RADIUS_M else n[1:]] for n in PART_NAMES)

# The hands and feet: the 17 joints end at the wrists and ankles, but bodies do not. A puppet
# without them lets the reconstruction drag each ankle onto the sole of the shoe (measured: the
# 2.5D recipe's ankles ended 2.3-2.4 px past the true ones along the shin at 64 px, where exact
# 2D labels leave 0.0 px; docs/learning.md, "The puppet's hands and feet"). Each is one more
# segment drawn into its limb's part (``render_segments``' ``joins``), so the part maps and the
# decoder keep their 16 parts. Sizes are an adult's and those of posesynth.synth.body's capsules.
EXTREMITY_NAMES: tuple[str, ...] = ("lhand", "rhand", "lfoot", "rfoot")
EXTREMITY_PARTS: tuple[int, ...] = tuple(PART_NAMES.index(n) for n in ("lforearm", "rforearm", "lshin", "rshin"))
EXTREMITY_WIDTHS: tuple[float, ...] = (0.036, 0.036, 0.036, 0.036)  # half-widths, metres
HAND_REACH = 0.3             # the hand ends 0.3 forearm lengths past the wrist
FOOT_HEEL_M = (0.04, -0.03)  # (below the ankle along the shin, forwards), metres
FOOT_TOE_M = (0.045, 0.15)

# RGB in [0, 1] per part, then the background (black); left warm, right cool, trunk neutral
PART_COLORS: tuple[tuple[float, float, float], ...] = (
    (0.20, 0.45, 0.90), (0.10, 0.70, 0.95), (0.45, 0.85, 1.00),   # rhip, rthigh, rshin
    (0.90, 0.35, 0.20), (1.00, 0.60, 0.10), (1.00, 0.85, 0.30),   # lhip, lthigh, lshin
    (0.55, 0.55, 0.55), (0.80, 0.80, 0.80), (0.60, 0.30, 0.60),   # lower/upper torso, neck
    (0.95, 0.75, 0.85),                                           # head
    (0.85, 0.15, 0.45), (0.95, 0.30, 0.30), (1.00, 0.55, 0.60),   # lshoulder, lupperarm, lforearm
    (0.15, 0.55, 0.35), (0.20, 0.80, 0.40), (0.60, 0.95, 0.50),   # rshoulder, rupperarm, rforearm
    (0.00, 0.00, 0.00),                                           # background
)


def render_segments(start: torch.Tensor, end: torch.Tensor, radius: torch.Tensor, depth: torch.Tensor,
                    size: tuple[int, int], *, alpha: float = 0.5, sharpness: float = 4.0,
                    temperature: float = 0.05, joins: tuple[int, ...] = ()) -> torch.Tensor:
    """Soft maps of P segment-shaped parts plus a background, equations (1)–(4) above.

    Vectorised over batch, parts and pixels. The quadratic form (1) is expanded as
    A·Δu² + 2B·Δu·Δv + C·Δv², whose per-row and per-column terms are (B, P, H) and (B, P, W)
    tensors; the whole (B, P, H, W) field is then one batched rank-3 matrix product. The
    occlusion sum in (3) is one batched matmul over parts, (B, P, P) @ (B, P, H·W).

    Args:
        start, end: (B, P + E, 2) segment end points, pixels (u, v), (0, 0) the top-left pixel's centre.
        radius: (B, P + E) or (P + E,) visible half-width R_p, pixels, > 0.
        depth: (B, P) camera depth of each part, metres (only differences matter).
        size: (H, W) output size, pixels.
        alpha: spread along the segment: the silhouette reaches sqrt(R² + α²L²) from the midpoint
            (0.5: just past both joints, like a capsule's rounded ends).
        sharpness: κ in (2), > ln 2; larger is a crisper silhouette (edge position unchanged).
        temperature: τ in (3), metres; smaller is a harder depth order.
        joins: E distinct part indices: the last E segments are no parts of their own, segment
            P + e adds its density to part ``joins[e]`` (g_p of (1) becomes a sum over the part's
            segments), e.g. a foot to its shin. Empty: one segment per part.
    Returns:
        (B, P + 1, H, W) maps in [0, 1], parts then background, summing to 1 at every pixel.
    """
    if len(set(joins)) != len(joins):
        raise ValueError(f"joins must name distinct parts, got {joins}")
    if start.shape[1] != depth.shape[-1] + len(joins):
        raise ValueError(f"{start.shape[1]} segments for {depth.shape[-1]} parts and {len(joins)} joins")
    if sharpness <= math.log(2.0):
        raise ValueError(f"sharpness must exceed ln 2 ≈ 0.693, got {sharpness}")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    height, width = size
    dtype, device = start.dtype, start.device
    edge2 = 2.0 * math.log(sharpness / math.log(2.0))  # E² of (1)

    mid = 0.5 * (start + end)                                    # (B, P, 2)
    d = end - start
    r2 = radius.to(start).expand(start.shape[:2]) ** 2           # (B, P + E)
    k = alpha ** 2 / (r2 + alpha ** 2 * (d ** 2).sum(-1))        # Sherman–Morrison factor
    s = edge2 / r2
    coef_uu = s * (1.0 - k * d[..., 0] ** 2)                     # A, B, C of (1)
    coef_uv = -s * k * d[..., 0] * d[..., 1]
    coef_vv = s * (1.0 - k * d[..., 1] ** 2)

    # −Q/2 of (1) for every pixel as one rank-3 product per part: [half_v, 1, cross_v] · [1, half_u, Δu]
    du = torch.arange(width, dtype=dtype, device=device) - mid[..., 0:1]   # (B, P, W)
    dv = torch.arange(height, dtype=dtype, device=device) - mid[..., 1:2]  # (B, P, H)
    half_u = -0.5 * coef_uu.unsqueeze(-1) * du ** 2
    half_v = -0.5 * coef_vv.unsqueeze(-1) * dv ** 2
    cross_v = -coef_uv.unsqueeze(-1) * dv
    rows = torch.stack([half_v, torch.ones_like(dv), cross_v], dim=-1)     # (B, P, H, 3)
    cols = torch.stack([torch.ones_like(du), half_u, du], dim=-2)          # (B, P, 3, W)
    # floor the log-density: g < e⁻⁵⁰ is nothing, while exp() of far pixels' −Q/2 would land in
    # float32's denormal range (below e⁻⁸⁷), which runs ~100× slower on CPUs
    log_g = (rows @ cols).clamp(min=_LOG_DENSITY_FLOOR)                   # (B, P + E, H, W)
    if joins:  # a part drawn as several segments: its density is their sum
        parts = depth.shape[-1]
        index = torch.tensor(joins, device=device)
        own, extra = log_g[:, :parts], log_g[:, parts:]
        log_g = own.index_copy(1, index, torch.logaddexp(own[:, index], extra))  # (B, P, H, W)

    density = log_g.exp()                                                            # g_p
    foreground = 1.0 - torch.exp(-sharpness * density.sum(1, keepdim=True))          # (2)
    in_front = torch.sigmoid((depth.unsqueeze(-1) - depth.unsqueeze(-2)) / temperature)  # w_pq
    in_front = in_front * (1.0 - torch.eye(depth.shape[-1], dtype=dtype, device=device))
    # logits of (3) = log g_p − κ Σ_q w_pq g_q, one fused batched matmul-add over the parts
    logits = torch.baddbmm(rearrange(log_g, "b p h w -> b p (h w)"), in_front,
                           rearrange(density, "b p h w -> b p (h w)"), alpha=-sharpness)
    share = torch.softmax(rearrange(logits, "b p (h w) -> b p h w", h=height), dim=1)  # (3)
    return torch.cat([foreground * share, 1.0 - foreground], dim=1)                     # (4)


def extremity_segments(joints3d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The hands and feet as segments, from the 3D joints (``EXTREMITY_NAMES`` order).

    A hand continues its forearm by ``HAND_REACH`` of its length. A foot runs from the heel to
    the toes, ``FOOT_HEEL_M`` and ``FOOT_TOE_M`` from the ankle along the shin s and along the
    foot's forward direction f = normalize(s × x), x the hip axis from the right hip to the left:
    perpendicular to the shin in the leg's plane of flexion, so the body's forward for a straight
    leg, turned with the shin when the knee bends (pointing down under a kneeling body's level
    shin). Against posesynth.synth.body's feet over every generated action: heel 0.2 cm, toes
    0.5 cm off (medians; 90th percentile 3.7 cm).

    Args:
        joints3d: (B, 17, 3) joints in any right-handed frame (e.g. the camera's), metres.
    Returns:
        start, end: (B, 4, 3) segment end points, metres, same frame.
    """
    j = joints3d
    hip_axis = torch.nn.functional.normalize(j[:, 4] - j[:, 1], dim=-1, eps=1e-9)
    wrists, elbows = j[:, [13, 16]], j[:, [12, 15]]
    ankles, knees = j[:, [6, 3]], j[:, [5, 2]]
    shin = torch.nn.functional.normalize(ankles - knees, dim=-1, eps=1e-9)                       # (B, 2, 3)
    forward = torch.nn.functional.normalize(torch.linalg.cross(shin, hip_axis.unsqueeze(1).expand_as(shin)),
                                            dim=-1, eps=1e-9)
    heel = ankles + FOOT_HEEL_M[0] * shin + FOOT_HEEL_M[1] * forward
    toes = ankles + FOOT_TOE_M[0] * shin + FOOT_TOE_M[1] * forward
    fingertips = wrists + HAND_REACH * (wrists - elbows)
    return torch.cat([wrists, heel], dim=1), torch.cat([fingertips, toes], dim=1)


def render_part_maps(joints2d: torch.Tensor, depth: torch.Tensor, size: tuple[int, int], *,
                     focal: float | torch.Tensor, widths: torch.Tensor | None = None,
                     alpha: float = 0.5, sharpness: float = 4.0, temperature: float = 0.05,
                     min_radius: float = 0.5, min_depth: float = 1e-3, extremities: bool = False) -> torch.Tensor:
    """Render the puppet's 16 part maps and a background from projected joints.

    Args:
        joints2d: (B, 17, 2) pixels in the crop, (0, 0) the top-left pixel's centre.
        depth: (B, 17) camera z of each joint, metres (clamped to ``min_depth``).
        size: (H, W) output size, pixels.
        focal: crop focal length, pixels; a float or (B,).
        widths: (16,) or (B, 16) visible half-widths, metres; default ``PART_WIDTHS``.
        alpha, sharpness, temperature: see :func:`render_segments`.
        min_radius: pixels, added in quadrature to every part's radius, sqrt(R² + min²): a smooth
            floor so far or thin parts stay at least a pixel wide instead of aliasing away.
        min_depth: metres, floor on a part's depth before dividing by it.
        extremities: also draw the hands and feet (:func:`extremity_segments`, widths
            ``EXTREMITY_WIDTHS``) into the forearms and shins. The joints are back-projected
            through the crop camera (principal point at the crop centre) to place them.
    Returns:
        (B, 17, H, W) maps in [0, 1]: parts in ``PART_NAMES`` order, then the background;
        they sum to 1 at every pixel.
    """
    if joints2d.ndim != 3 or joints2d.shape[1:] != (skeleton.NUM_JOINTS, 2):
        raise ValueError(f"joints2d must have shape (B, {skeleton.NUM_JOINTS}, 2), got {tuple(joints2d.shape)}")
    if depth.shape != joints2d.shape[:2]:
        raise ValueError(f"depth must have shape {tuple(joints2d.shape[:2])}, got {tuple(depth.shape)}")
    a, b = zip(*PART_JOINTS)
    a, b = list(a), list(b)
    part_depth = (0.5 * (depth[:, a] + depth[:, b])).clamp(min=min_depth)          # (B, P)
    if widths is None:
        widths = torch.tensor(PART_WIDTHS)
    focal = torch.as_tensor(focal).to(joints2d).reshape(-1, 1)
    radius = torch.sqrt((widths.to(joints2d) * focal / part_depth) ** 2 + min_radius ** 2)
    start, end, joins = joints2d[:, a], joints2d[:, b], ()
    if extremities:
        K = intrinsics(focal[:, 0], focal.new_tensor((size[1] - 1) / 2), focal.new_tensor((size[0] - 1) / 2),
                       dtype=joints2d.dtype)                                                # (B or 1, 3, 3)
        heel_hand, toe_tip = extremity_segments(unproject(joints2d, depth.clamp(min=min_depth), K))
        ends_depth = (0.5 * (heel_hand[..., 2] + toe_tip[..., 2])).clamp(min=min_depth)     # (B, 4)
        ends_radius = torch.sqrt((torch.tensor(EXTREMITY_WIDTHS).to(joints2d) * focal / ends_depth) ** 2
                                 + min_radius ** 2)
        start = torch.cat([start, project(heel_hand, K, eps=min_depth)], dim=1)
        end = torch.cat([end, project(toe_tip, K, eps=min_depth)], dim=1)
        radius, joins = torch.cat([radius, ends_radius], dim=1), EXTREMITY_PARTS
    return render_segments(start, end, radius, part_depth, size,
                           alpha=alpha, sharpness=sharpness, temperature=temperature, joins=joins)


def foreground_mask(maps: torch.Tensor) -> torch.Tensor:
    """Soft person mask, 1 − background.  maps: (B, P + 1, H, W) → (B, 1, H, W) in [0, 1]."""
    return 1.0 - maps[:, -1:]


def colorize_part_maps(maps: torch.Tensor) -> torch.Tensor:
    """Paint part maps with ``PART_COLORS`` (background black), for sample grids.

    Args:
        maps: (B, 17, H, W) from :func:`render_part_maps`.
    Returns:
        (B, 3, H, W) RGB in [0, 1].
    """
    if maps.shape[1] != len(PART_COLORS):
        raise ValueError(f"maps must have {len(PART_COLORS)} channels (parts + background), got {maps.shape[1]}")
    palette = torch.tensor(PART_COLORS, dtype=maps.dtype, device=maps.device)  # (P + 1, 3)
    return torch.einsum("bphw,pc->bchw", maps, palette).clamp(0.0, 1.0)
