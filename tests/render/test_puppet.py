import math

import numpy as np
import pytest
import torch
from torch.autograd import gradcheck

from posesynth import geometry as g
from posesynth import skeleton as sk
from posesynth.render import puppet as pp

f64 = torch.float64


def _vertical_limb(size: int = 33, length: float = 12.0, radius: float = 3.0, **kwargs) -> torch.Tensor:
    """One vertical segment through the image centre; returns its (H, W) part map."""
    c = (size - 1) / 2
    start = torch.tensor([[[c, c - length / 2]]], dtype=f64)
    end = torch.tensor([[[c, c + length / 2]]], dtype=f64)
    maps = pp.render_segments(start, end, torch.tensor([[radius]], dtype=f64), torch.zeros(1, 1, dtype=f64),
                              (size, size), **kwargs)
    assert maps.shape == (1, 2, size, size)
    return maps[0]


def _standing_person(batch: int = 2, dtype=torch.float32):
    pose = sk.canonical_tpose(dtype) + torch.tensor([0.0, 0.0, 4.0], dtype=dtype)
    K = g.intrinsics(40.0, 15.5, 15.5, dtype=dtype)
    uv = g.project(pose[None].expand(batch, 17, 3), K)
    return uv, pose[:, 2][None].expand(batch, 17).clone()


def test_tables_are_consistent():
    assert len(pp.PART_NAMES) == len(pp.PART_JOINTS) == len(pp.PART_WIDTHS) == pp.NUM_PARTS == 16
    assert len(pp.PART_COLORS) == pp.NUM_PARTS + 1 and len(set(pp.PART_COLORS)) == pp.NUM_PARTS + 1
    width = dict(zip(pp.PART_NAMES, pp.PART_WIDTHS))
    for name in ("hip", "thigh", "shin", "shoulder", "upperarm", "forearm"):
        assert width["l" + name] == width["r" + name]
    assert width["upper_torso"] > 3 * width["lforearm"] and width["head"] > 2 * width["lforearm"]
    # left parts attach to left joints
    for name, (a, b) in zip(pp.PART_NAMES, pp.PART_JOINTS):
        if name.startswith("l") and name != "lower_torso":
            assert b in sk.LEFT_JOINTS


def test_render_part_maps_shapes_and_partition_of_unity():
    uv, depth = _standing_person()
    maps = pp.render_part_maps(uv, depth, (32, 24), focal=40.0)
    assert maps.shape == (2, 17, 32, 24) and maps.dtype == torch.float32
    torch.testing.assert_close(maps.sum(1), torch.ones(2, 32, 24))
    assert maps.min() >= 0 and maps.max() <= 1
    assert pp.foreground_mask(maps).shape == (2, 1, 32, 24)
    rgb = pp.colorize_part_maps(maps)
    assert rgb.shape == (2, 3, 32, 24) and 0 <= rgb.min() and rgb.max() <= 1
    # per-sample focal and widths are accepted
    per_sample = pp.render_part_maps(uv, depth, (32, 24), focal=torch.tensor([40.0, 40.0]),
                                     widths=torch.tensor(pp.PART_WIDTHS).expand(2, 16))
    torch.testing.assert_close(per_sample, maps)


def test_person_covers_its_torso_not_the_corners():
    uv, depth = _standing_person()
    maps = pp.render_part_maps(uv, depth, (32, 32), focal=40.0)
    torso = pp.PART_NAMES.index("upper_torso")
    mid = (0.5 * (uv[0, 7] + uv[0, 8])).round().long()
    assert maps[0, torso, mid[1], mid[0]] > 0.5
    assert maps[0, -1, 0, 0] > 0.999 and maps[0, -1, -1, -1] > 0.999


def test_widths_are_metres_through_focal_over_depth():
    """Twice as far with twice the focal length: the same image (all joints at one depth)."""
    uv, depth = _standing_person(1)
    depth = torch.full_like(depth, 4.0)
    near = pp.render_part_maps(uv, depth, (32, 32), focal=40.0)
    torch.testing.assert_close(pp.render_part_maps(uv, 2 * depth, (32, 32), focal=80.0), near)
    far = pp.render_part_maps(uv, 2 * depth, (32, 32), focal=40.0)  # thinner limbs
    assert pp.foreground_mask(far).sum() < 0.8 * pp.foreground_mask(near).sum()


def test_single_vertical_limb_closed_form():
    size, radius, kappa = 33, 3.0, 4.0
    c = (size - 1) // 2
    part, background = _vertical_limb(size, radius=radius, sharpness=kappa)
    # peak at the midpoint, value 1 − exp(−κ) (equation (2) with g = 1)
    assert torch.argmax(part).item() == c * size + c
    torch.testing.assert_close(part[c, c], torch.tensor(1 - math.exp(-kappa), dtype=f64))
    # the silhouette (foreground = ½) lies exactly at the radius across the axis
    torch.testing.assert_close(part[c, c + 3], torch.tensor(0.5, dtype=f64))
    # every row along the segment peaks on the axis column and decays monotonically across it
    rows = part[c - 6:c + 7]
    assert (rows.argmax(dim=1) == c).all()
    assert (rows[:, c:c + 8].diff(dim=1) < 0).all() and (rows[:, c:].diff(dim=1) <= 0).all()
    # symmetric about the segment axis (and about its midpoint)
    torch.testing.assert_close(part, part.flip(1))
    torch.testing.assert_close(part, part.flip(0))
    # background is ~1 far away and channels sum to 1
    assert background[0, 0] > 1 - 1e-9
    torch.testing.assert_close(part + background, torch.ones_like(part))


def test_width_prior_sets_the_across_decay():
    thin, wide = _vertical_limb(radius=2.0)[0], _vertical_limb(radius=4.0)[0]
    c = 16
    torch.testing.assert_close(thin[c, c + 2], torch.tensor(0.5, dtype=f64))
    torch.testing.assert_close(wide[c, c + 4], torch.tensor(0.5, dtype=f64))
    assert wide[c, c + 3] > thin[c, c + 3]


def test_along_spread_reaches_past_the_joints():
    part = _vertical_limb(radius=3.0, length=12.0, alpha=0.5)[0]
    c = 16
    # along the axis the silhouette reaches sqrt(R² + (αL)²) = sqrt(9 + 36) ≈ 6.7 px from the midpoint
    assert part[c + 6, c] > 0.5 > part[c + 7, c]


def _crossing(z_vertical: float, z_horizontal: float, parts: slice = slice(None)) -> torch.Tensor:
    """A vertical and a horizontal limb crossing at pixel (8, 8); ``parts`` keeps one of them."""
    c = 8.0
    start = torch.tensor([[[c, c - 6], [c - 6, c]]], dtype=f64)[:, parts]
    end = torch.tensor([[[c, c + 6], [c + 6, c]]], dtype=f64)[:, parts]
    depth = torch.tensor([[z_vertical, z_horizontal]], dtype=f64)[:, parts]
    radius = torch.tensor([2.0, 2.0], dtype=f64)[parts]
    return pp.render_segments(start, end, radius, depth, (17, 17), temperature=0.05)[0]


def test_nearer_limb_wins_at_the_crossing():
    maps = _crossing(3.0, 3.2)  # the vertical limb is 20 cm nearer
    assert maps[0, 8, 8] > 0.95 and maps[1, 8, 8] < 0.05
    # both densities are 1 there, so the ratio is exp(κ·tanh(Δz / 2τ)) exactly (equation (3))
    ratio = torch.tensor(math.exp(4.0 * math.tanh(0.2 / 0.1)), dtype=f64)
    torch.testing.assert_close(maps[0, 8, 8] / maps[1, 8, 8], ratio)
    swapped = _crossing(3.2, 3.0)
    assert swapped[1, 8, 8] > 0.95 and swapped[0, 8, 8] < 0.05
    # away from the crossing each limb is (almost) alone and depth does not matter
    torch.testing.assert_close(maps[0, 2, 8], swapped[0, 2, 8], atol=1e-5, rtol=0)
    torch.testing.assert_close(maps.sum(0), torch.ones(17, 17, dtype=f64))


def test_far_apart_depths_do_not_underflow():
    maps = _crossing(1.0, 100.0)
    assert torch.isfinite(maps).all()
    torch.testing.assert_close(maps.sum(0), torch.ones(17, 17, dtype=f64))
    # far behind, the far limb is as visible as when alone where the near one does not cover it
    alone = _crossing(1.0, 100.0, parts=slice(1, 2))
    torch.testing.assert_close(maps[1, 8, :4], alone[0, 8, :4], atol=1e-3, rtol=0)


def test_bad_arguments_are_named():
    uv, depth = _standing_person()
    with pytest.raises(ValueError, match="sharpness"):
        pp.render_part_maps(uv, depth, (8, 8), focal=40.0, sharpness=0.5)
    with pytest.raises(ValueError, match="joints2d"):
        pp.render_part_maps(uv[:, :16], depth, (8, 8), focal=40.0)
    with pytest.raises(ValueError, match="depth"):
        pp.render_part_maps(uv, depth[:, :16], (8, 8), focal=40.0)
    with pytest.raises(ValueError, match="channels"):
        pp.colorize_part_maps(torch.zeros(1, 5, 4, 4))


def test_gradcheck_render_part_maps():
    torch.manual_seed(0)
    uv = (torch.rand(1, 17, 2, dtype=f64) * 7).requires_grad_()
    depth = (3.0 + 0.3 * torch.rand(1, 17, dtype=f64)).requires_grad_()

    def render(joints2d, z):
        return pp.render_part_maps(joints2d, z, (8, 8), focal=20.0, temperature=0.1)

    assert gradcheck(render, (uv, depth))


def test_gradcheck_render_segments():
    torch.manual_seed(1)
    start = (torch.rand(1, 2, 2, dtype=f64) * 5).requires_grad_()
    end = (torch.rand(1, 2, 2, dtype=f64) * 5).requires_grad_()
    radius = (1.0 + torch.rand(1, 2, dtype=f64)).requires_grad_()
    depth = torch.rand(1, 2, dtype=f64).mul(0.1).requires_grad_()
    assert gradcheck(lambda *x: pp.render_segments(*x, (6, 6)), (start, end, radius, depth))


def test_zero_length_limb_has_finite_gradients():
    uv = torch.full((1, 17, 2), 4.0, dtype=f64, requires_grad=True)  # every joint on one pixel
    depth = torch.full((1, 17), 3.0, dtype=f64, requires_grad=True)
    maps = pp.render_part_maps(uv, depth, (8, 8), focal=20.0)
    assert torch.isfinite(maps).all()
    (maps * torch.rand_like(maps)).sum().backward()
    assert torch.isfinite(uv.grad).all() and torch.isfinite(depth.grad).all()
    # an end-on limb is a disc of its own width
    part = _vertical_limb(length=0.0, radius=3.0)[0]
    torch.testing.assert_close(part, part.transpose(0, 1))
    torch.testing.assert_close(part[16, 19], torch.tensor(0.5, dtype=f64))


# ---- the hands and feet (extremity_segments, render_part_maps(extremities=True)) ----

def test_extremities_of_a_standing_person_closed_form():
    pose = sk.canonical_tpose(f64)[None]                      # facing a camera looking along +z
    start, end = pp.extremity_segments(pose)
    assert start.shape == end.shape == (1, 4, 3)
    lhand, rhand, lfoot, rfoot = range(4)
    # a hand continues its forearm by 0.3 of its length
    torch.testing.assert_close(start[0, lhand], pose[0, 13])
    torch.testing.assert_close(end[0, lhand], pose[0, 13] + 0.3 * (pose[0, 13] - pose[0, 12]))
    torch.testing.assert_close(end[0, rhand], pose[0, 16] + 0.3 * (pose[0, 16] - pose[0, 15]))
    # a straight leg: the heel below and behind the ankle, the toes below and towards the camera
    for foot, ankle in ((lfoot, 6), (rfoot, 3)):
        torch.testing.assert_close(start[0, foot], pose[0, ankle] + torch.tensor([0.0, 0.04, 0.03], dtype=f64))
        torch.testing.assert_close(end[0, foot], pose[0, ankle] + torch.tensor([0.0, 0.045, -0.15], dtype=f64))


def test_a_foot_turns_with_its_shin_and_with_the_body():
    pose = sk.canonical_tpose(f64)
    # kneeling on the right leg: its shin lies level, pointing back (+z); the foot then points down
    kneeling = pose.clone()
    kneeling[3] = kneeling[2] + torch.tensor([0.0, 0.0, 0.4], dtype=f64)
    start, end = pp.extremity_segments(kneeling[None])
    direction = torch.nn.functional.normalize(end[0, 3] - start[0, 3], dim=-1)
    assert direction[1] > 0.98                                 # y is down
    # the whole body turned: every segment turns with it (equivariance under rotation)
    angle = torch.tensor(0.7, dtype=f64)
    R = torch.tensor([[angle.cos(), 0.0, angle.sin()], [0.0, 1.0, 0.0], [-angle.sin(), 0.0, angle.cos()]],
                     dtype=f64)
    turned = pp.extremity_segments((pose @ R.T)[None])
    for a, b in zip(turned, pp.extremity_segments(pose[None])):
        torch.testing.assert_close(a, b @ R.T)


def test_extremities_match_the_synthetic_bodies_feet_and_hands():
    # the generator's feet follow the ankle's own frame; the puppet's only the joints
    from posesynth.synth.body import PART_NAMES as BODY_PARTS
    from posesynth.synth.body import dress
    from posesynth.synth.motion_programs import make_motion
    from posesynth.synth.scene import animate
    from posesynth.synth.subject import make_subject

    subject = make_subject(3)
    joints, frames = animate(subject, make_motion("walking", 24, 25.0, np.random.default_rng(0)))
    capsules = dress(joints, frames, subject)
    start, end = pp.extremity_segments(joints)
    for i, name in enumerate(pp.EXTREMITY_NAMES):
        k = BODY_PARTS.index(name)
        assert (start[:, i] - capsules.a[:, k]).norm(dim=-1).median() < 0.02        # metres
        assert (end[:, i] - capsules.b[:, k]).norm(dim=-1).median() < 0.03
        assert pp.EXTREMITY_WIDTHS[i] == pytest.approx(float(capsules.radius[k]) / subject.girth)


def test_rendered_feet_and_hands_join_their_limbs():
    uv, depth = _standing_person(1, f64)
    plain = pp.render_part_maps(uv, depth, (32, 32), focal=40.0)
    maps = pp.render_part_maps(uv, depth, (32, 32), focal=40.0, extremities=True)
    assert maps.shape == plain.shape == (1, 17, 32, 32)        # no new parts: the decoder is unchanged
    torch.testing.assert_close(maps.sum(1), torch.ones(1, 32, 32, dtype=f64))
    rshin, lforearm = pp.PART_NAMES.index("rshin"), pp.PART_NAMES.index("lforearm")
    # below the right ankle (the sole, 0.045 + 0.036 m down at 4 m: 0.8 px) the shin now covers more
    u, v = uv[0, 3].round().long().tolist()
    below = (slice(None), rshin, v + 1, u)
    assert maps[below] > plain[below] + 0.1
    # past the left wrist along the arm (+u), the forearm now covers more
    u, v = uv[0, 13].round().long().tolist()
    past = (slice(None), lforearm, v, u + 1)
    assert maps[past] > plain[past] + 0.1
    # far from the hands and feet nothing changes but Gaussian tails
    torch.testing.assert_close(maps[..., :12, 10:22], plain[..., :12, 10:22], atol=1e-4, rtol=0)


def test_joins_are_checked():
    start = torch.zeros(1, 3, 2)
    with pytest.raises(ValueError, match="distinct"):
        pp.render_segments(start, start + 1, torch.ones(1, 3), torch.zeros(1, 1), (4, 4), joins=(0, 0))
    with pytest.raises(ValueError, match="segments"):
        pp.render_segments(start, start + 1, torch.ones(1, 3), torch.zeros(1, 2), (4, 4), joins=(0, 1))


def test_gradcheck_render_part_maps_with_extremities():
    torch.manual_seed(2)
    uv = (torch.rand(1, 17, 2, dtype=f64) * 7).requires_grad_()
    depth = (3.0 + 0.3 * torch.rand(1, 17, dtype=f64)).requires_grad_()

    def render(joints2d, z):
        return pp.render_part_maps(joints2d, z, (8, 8), focal=20.0, temperature=0.1, extremities=True)

    assert gradcheck(render, (uv, depth))


def test_gradcheck_extremity_segments():
    torch.manual_seed(3)
    pose = (sk.canonical_tpose(f64) + 0.05 * torch.randn(17, 3, dtype=f64))[None].requires_grad_()
    assert gradcheck(pp.extremity_segments, (pose,))
