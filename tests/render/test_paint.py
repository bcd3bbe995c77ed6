"""Flat-colour painting of part maps: closed forms, and it puts the colours where the maps are."""

import torch

from posesynth.geometry import intrinsics, project
from posesynth.render.paint import opacity, paint_parts, part_colours
from posesynth.render.puppet import PART_JOINTS, foreground_mask, render_part_maps
from posesynth.skeleton import canonical_tpose


def _maps(size: int = 32) -> torch.Tensor:
    K = intrinsics(64.0, 15.5, 15.5)
    joints = canonical_tpose()[None] + torch.tensor([0.0, 0.0, 4.0])
    return render_part_maps(project(joints, K), joints[..., 2], (size, size), focal=64.0)


def test_uniform_image_gives_its_colour_to_every_part():
    image = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1).expand(1, 3, 32, 32)
    colours = part_colours(image, _maps())
    torch.testing.assert_close(colours, torch.tensor([0.2, 0.5, 0.9]).expand(1, 16, 3))


def test_a_part_takes_the_colour_under_it():
    maps = torch.zeros(1, 17, 4, 4)
    maps[0, 3, :2] = 1.0                     # part 3 covers the top half
    maps[0, -1, 2:] = 1.0                    # background below
    image = torch.zeros(1, 3, 4, 4)
    image[0, 0, :2] = 1.0                    # red on top
    assert torch.allclose(part_colours(image, maps)[0, 3], torch.tensor([1.0, 0.0, 0.0]), atol=1e-3)


def test_painting_is_the_background_off_the_person_and_opaque_part_colours_on_it():
    maps = _maps()
    colours = torch.rand(1, 16, 3)
    background = torch.rand(1, 3, 32, 32)
    painted = paint_parts(maps, colours, background)
    coverage = foreground_mask(maps)[0, 0]
    off, inside = coverage < 0.35, coverage > 0.65
    assert off.any() and inside.any()
    torch.testing.assert_close(painted[0][:, off], background[0][:, off])
    # a single-colour puppet is exactly that colour where it is opaque, whatever the background
    one = paint_parts(maps, torch.full((1, 16, 3), 0.7), background)
    torch.testing.assert_close(one[0][:, inside], torch.full_like(one[0][:, inside], 0.7))
    assert painted.min() >= 0 and painted.max() <= 1
    torch.testing.assert_close(opacity(torch.tensor([0.0, 0.35, 0.5, 0.65, 1.0])),
                               torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0]))


def test_bone_similarities_closed_forms():
    from posesynth.render.paint import bone_similarities
    joints = torch.rand(2, 17, 2) * 20 + 5
    identity = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    torch.testing.assert_close(bone_similarities(joints, joints), identity.expand(2, 16, 2, 3), atol=1e-5, rtol=0)
    # the whole pose turned a quarter about (3, 4) and grown by 1.5: every bone's map is that similarity
    centre = torch.tensor([3.0, 4.0])
    turned = centre + 1.5 * (joints - centre) @ torch.tensor([[0.0, 1.0], [-1.0, 0.0]])  # (x, y) → (−y, x)
    maps = bone_similarities(joints, turned, soft_length=1e-4)
    expected = torch.tensor([[0.0, -1.5, 3.0 + 1.5 * 4.0], [1.5, 0.0, 4.0 - 1.5 * 3.0]])
    long = (joints[:, list(b for _, b in PART_JOINTS)] - joints[:, list(a for a, _ in PART_JOINTS)]).norm(dim=-1) > 1
    torch.testing.assert_close(maps[long], expected.expand(int(long.sum()), 2, 3), atol=1e-3, rtol=0)
    # growth beyond max_scale is clamped
    grown = bone_similarities(joints, 5.0 * joints, soft_length=1e-4)
    sizes = grown[..., 0, :2].norm(dim=-1)
    assert sizes[long].max() <= 2.0 + 1e-4


def test_warped_painting_of_the_same_pose_is_the_source_and_falls_back_to_flat_colours():
    from posesynth.render.paint import paint_warped_parts
    K = intrinsics(64.0, 15.5, 15.5)
    joints = canonical_tpose()[None] + torch.tensor([0.0, 0.0, 4.0])
    joints2d = project(joints, K)
    maps = _maps()
    source, background = torch.rand(2, 1, 3, 32, 32).unbind(0)
    colours = torch.rand(1, 16, 3)
    inside = foreground_mask(maps)[0, 0] > 0.65
    # the same pose, all of the source seen: the painting is the source wherever the parts are opaque
    same = paint_warped_parts(maps, source, torch.ones(1, 1, 32, 32), joints2d, joints2d, colours, background)
    torch.testing.assert_close(same[0][:, inside], source[0][:, inside], atol=1e-4, rtol=0)
    # nothing of the person seen: exactly the flat painting
    none = paint_warped_parts(maps, source, torch.zeros(1, 1, 32, 32), joints2d, joints2d, colours, background)
    torch.testing.assert_close(none, paint_parts(maps, colours, background), atol=1e-5, rtol=0)
    assert same.min() >= 0 and same.max() <= 1
