"""The face drawn on flat imitation paintings: its direction, anchor, palette and colours."""

import math

import pytest
import torch

from posesynth.geometry import intrinsics, project
from posesynth.render.face import (FACE_HEIGHT, FACE_OFFSET_M, FACE_RADIUS_M, GREY_HAIR_SHARE, HEAD, NECK, face_anchor,
                                   face_palette, head_colours, head_forward)
from posesynth.render.paint import HEAD_PART, paint_parts
from posesynth.render.puppet import render_part_maps
from posesynth.skeleton import canonical_tpose, facing_side


def _turned(yaw_deg: float, depth: float = 3.0, dtype=torch.float32) -> torch.Tensor:
    """The T-pose turned about the vertical (y) by ``yaw_deg`` and placed ``depth`` m in front of the camera."""
    a = math.radians(yaw_deg)
    rotation = torch.tensor([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]],
                            dtype=dtype)
    return (canonical_tpose(dtype) @ rotation.T + torch.tensor([0.0, 0.0, depth], dtype=dtype))[None]


def test_head_forward_points_at_the_camera_for_a_frontal_body_and_turns_with_it():
    torch.testing.assert_close(head_forward(_turned(0)), torch.tensor([[0.0, 0.0, -1.0]]))
    torch.testing.assert_close(head_forward(_turned(180)), torch.tensor([[0.0, 0.0, 1.0]]), atol=1e-6, rtol=0)
    # turned by +90° about y, the body's forward (−z) goes to −x
    torch.testing.assert_close(head_forward(_turned(90)), torch.tensor([[-1.0, 0.0, 0.0]]), atol=1e-6, rtol=0)
    assert head_forward(torch.randn(5, 17, 3)).norm(dim=-1).sub(1).abs().max() < 1e-5


def test_head_forward_gradcheck():
    joints = torch.randn(2, 17, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(head_forward, (joints,))


def test_face_anchor_closed_form():
    K = intrinsics(100.0, 32.0, 32.0)
    joints = _turned(0, depth=3.0)
    centre, radius, visibility = face_anchor(joints, K)
    neck, top = joints[0, NECK], joints[0, HEAD]
    point = neck + FACE_HEIGHT * (top - neck) + FACE_OFFSET_M * torch.tensor([0.0, 0.0, -1.0])
    torch.testing.assert_close(centre, project(point[None, None], K)[:, 0])
    torch.testing.assert_close(radius, torch.tensor([100.0 * FACE_RADIUS_M / point[2].item()]))
    assert visibility.item() == 1.0                            # facing the camera: all of the face
    assert face_anchor(_turned(180), K)[2].item() == 0.0       # facing away: none
    side = face_anchor(_turned(90), K)[2].item()               # in profile: about a quarter
    assert 0.15 < side < 0.4


def test_face_visibility_agrees_with_the_side_the_2d_shows():
    K = intrinsics(128.0, 32.0, 32.0)
    joints = torch.cat([_turned(yaw) for yaw in range(-170, 180, 20)])
    visible = face_anchor(joints, K)[2] > 0.5
    towards = facing_side(project(joints, K)) < 0
    assert visible.tolist() == towards.tolist()


def test_face_palette_is_reproducible_and_in_range():
    palette = face_palette(4000, torch.Generator().manual_seed(0))
    assert palette.shape == (4000, 2, 3) and palette.min() >= 0 and palette.max() <= 1
    torch.testing.assert_close(palette[:5], face_palette(5, torch.Generator().manual_seed(0))[:5])
    grey = (palette[:, 1, 0] == palette[:, 1, 1]) & (palette[:, 1, 1] == palette[:, 1, 2])
    assert abs(grey.float().mean().item() - GREY_HAIR_SHARE) < 0.03
    skin, hair = palette[:, 0], palette[~grey, 1]
    assert (skin[:, 0] >= skin[:, 1]).all() and (skin[:, 1] >= skin[:, 2]).all()  # skin is warm
    assert hair.mean() < skin.mean()                                               # non-grey hair is darker


def test_head_colours_closed_form():
    palette = torch.tensor([[[0.9, 0.7, 0.6], [0.1, 0.1, 0.1]]]).expand(2, 2, 3)
    centre = torch.tensor([[5.0, 6.0], [5.0, 6.0]])
    colours = head_colours(centre, torch.tensor([2.0, 2.0]), torch.tensor([1.0, 0.0]), palette, (12, 10))
    assert colours.shape == (2, 3, 12, 10)
    torch.testing.assert_close(colours[0, :, 6, 5], palette[0, 0])       # the face's centre: skin
    torch.testing.assert_close(colours[0, :, 6, 7], 0.5 * (palette[0, 0] + palette[0, 1]))  # its soft edge: half
    torch.testing.assert_close(colours[0, :, 0, 0], palette[0, 1])       # beyond it: hair
    torch.testing.assert_close(colours[1], palette[1, 1, :, None, None].expand(3, 12, 10))  # turned away: hair only


def test_paint_parts_with_a_head_recolours_only_the_head():
    joints = _turned(0)
    K = intrinsics(64.0, 32.0, 32.0)
    maps = render_part_maps(project(joints, K), joints[..., 2], (64, 64), focal=64.0)
    colours, background = torch.rand(1, maps.shape[1] - 1, 3), torch.rand(1, 3, 64, 64)
    plain = paint_parts(maps, colours, background)
    # the head's own flat colour everywhere changes nothing
    same = paint_parts(maps, colours, background, head=colours[:, HEAD_PART, :, None, None].expand(1, 3, 64, 64))
    torch.testing.assert_close(same, plain)
    painted = paint_parts(maps, colours, background, head=torch.zeros(1, 3, 64, 64))
    share = maps[:, HEAD_PART] / (1 - maps[:, -1]).clamp(min=1e-6)
    changed = (painted - plain).abs().amax(dim=1)
    opaque_head = (share > 0.9) & (maps[:, -1] < 0.35)
    assert (changed <= share + 1e-6).all() and changed[opaque_head].min() > 0  # in proportion to the head's share


@pytest.mark.parametrize("yaw", [0.0, 180.0])
def test_a_painted_face_shows_only_for_a_body_that_faces_the_camera(yaw):
    joints = _turned(yaw)
    K = intrinsics(128.0, 32.0, 32.0)
    maps = render_part_maps(project(joints, K), joints[..., 2], (64, 64), focal=128.0)
    palette = torch.tensor([[[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]])   # white skin, black hair
    head = head_colours(*face_anchor(joints, K), palette, (64, 64))
    painted = paint_parts(maps, torch.full((1, maps.shape[1] - 1, 3), 0.5), torch.full((1, 3, 64, 64), 0.5),
                          head=head)
    coverage = 1 - maps[0, -1]
    on_head = (maps[0, HEAD_PART] / coverage.clamp(min=1e-6) > 0.9) & (coverage > 0.65)  # opaque head pixels
    brightest = painted[0, 0][on_head].max().item()
    assert brightest > 0.9 if yaw == 0 else brightest < 0.1
