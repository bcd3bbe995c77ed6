"""The whole model: shapes, and every pose and camera parameter gets a gradient through the renderer."""

import pytest
import torch

from posesynth.models.model import PoseSynthModel
from posesynth.skeleton import FLIP_PERMUTATION, canonical_tpose, facing_side


def _tiny_model(**kwargs) -> PoseSynthModel:
    torch.manual_seed(0)
    return PoseSynthModel(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8,
                          appearance_width=8, decoder_width=8, decoder_levels=3, **kwargs)


def test_forward_shapes_and_projection_consistency():
    model = _tiny_model()
    source, target, background = torch.rand(3, 2, 3, 32, 32).unbind(0)
    out = model(source, target, background)
    assert out["synthesis"].shape == (2, 3, 32, 32)
    assert out["target_maps"].shape == (2, 17, 32, 32) and out["appearance"].shape == (2, 16, 8)
    assert out["pose_body"].shape == (2, 17, 3)
    torch.testing.assert_close(out["pose_body"][:, 0], torch.zeros(2, 3))
    # the part maps are drawn where the camera-frame joints project
    u = model.focal * out["joints_camera"][..., 0] / out["joints_camera"][..., 2] + 15.5
    torch.testing.assert_close(out["joints2d"][..., 0], u, atol=1e-4, rtol=0)


def test_start_from_pose_puts_the_person_in_the_crop():
    model = _tiny_model()
    model.start_from_pose(canonical_tpose())
    out = model.encode_pose(torch.rand(2, 3, 32, 32))
    torch.testing.assert_close(out["pose_body"], canonical_tpose().expand(2, 17, 3), atol=2e-2, rtol=0)
    uv = out["joints2d"]
    assert uv.min() > 0 and uv.max() < 31      # the whole body is inside the crop at the start
    height = uv[..., 1].max(-1).values - uv[..., 1].min(-1).values
    assert torch.all((height > 0.5 * 32) & (height < 0.9 * 32))


def test_heatmap_start_facing_any_is_the_mean_over_headings():
    front = _tiny_model(encoder="heatmap")
    front.start_from_pose(canonical_tpose())
    model = _tiny_model(encoder="heatmap", start_facing="any")
    model.start_from_pose(canonical_tpose())
    image = torch.rand(2, 3, 32, 32)
    start, frontal = model.encode_pose(image)["joints2d"], front.encode_pose(image)["joints2d"]
    # left and right coincide (up to perspective), heights are those of the frontal start
    torch.testing.assert_close(start, start[:, list(FLIP_PERMUTATION)], atol=0.15, rtol=0)
    torch.testing.assert_close(start[..., 1], frontal[..., 1], atol=0.3, rtol=0)
    assert (frontal[:, 4, 0] - frontal[:, 1, 0]).abs().min() > 2  # the frontal hips are apart
    with pytest.raises(ValueError, match="start_facing"):
        _tiny_model(start_facing="left")


def test_facing_head_swaps_left_and_right_when_it_says_away():
    model = _tiny_model(encoder="heatmap", lifter=True, facing_head=True)
    model.start_from_pose(canonical_tpose())
    image = torch.rand(2, 3, 32, 32)
    out = model.encode_pose(image)
    assert out["facing_logit"].shape == (2,) and (out["facing_logit"] < 0).all()  # starts facing the camera
    torch.testing.assert_close(out["joints2d"], out["joints2d_frontal"])
    # told that the second person faces away: its joints keep their places and swap their names
    told = model.encode_pose(image, facing=torch.tensor([False, True]))
    torch.testing.assert_close(told["joints2d"][0], out["joints2d"][0])
    torch.testing.assert_close(told["joints2d"][1], out["joints2d"][1, list(FLIP_PERMUTATION)])
    assert facing_side(told["joints2d"][1:]) > 0 > facing_side(out["joints2d"][1:])
    # the 3D turns round with it: the body's back axis points the other way along the camera's z
    assert told["rotation"][1, 2, 2] * out["rotation"][1, 2, 2] < 0
    # a head's decision above zero swaps on its own
    with torch.no_grad():
        model.pose_encoder.facing_head[-1].bias.fill_(3.0)
    torch.testing.assert_close(model.encode_pose(image)["joints2d"], out["joints2d"][:, list(FLIP_PERMUTATION)])
    with pytest.raises(ValueError, match="facing_head"):
        _tiny_model(facing_head=True)  # the kinematic encoder has no frontal labelling


def test_imitation_with_a_facing_head_takes_the_side_from_the_sampled_pose():
    from posesynth.training.imitation_views import sample_views
    model = _tiny_model(encoder="heatmap", lifter=True, facing_head=True)
    model.start_from_pose(canonical_tpose())
    source, target, background = torch.rand(3, 4, 3, 32, 32).unbind(0)
    views = sample_views(canonical_tpose().expand(4, 17, 3), image_size=32, focal=model.focal,
                         generator=torch.Generator().manual_seed(3))
    out = model(source, target, background, imitation_joints=views, flat_share=1.0)
    away = facing_side(out["imitation_true2d"]) > 0
    assert 0 < int(away.sum()) < 4  # both sides among the samples
    expected = model.encode_pose(out["imitation_image"], facing=away)["joints2d"]
    torch.testing.assert_close(out["imitation_joints2d"], expected)


@pytest.mark.parametrize("spatial_head", [False, True])
def test_every_pose_and_camera_parameter_gets_a_finite_gradient_through_the_renderer(spatial_head):
    model = _tiny_model(spatial_head=spatial_head)
    model.start_from_pose(canonical_tpose())
    source, target, background = torch.rand(3, 2, 3, 32, 32).unbind(0)
    out = model(source, target, background)
    # reconstruction only: the pose encoder is reached solely through the part maps
    loss = (out["synthesis"] - target).abs().mean()
    loss.backward()
    for name, parameter in model.pose_encoder.named_parameters():
        assert parameter.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(parameter.grad).all(), f"{name} has a non-finite gradient"
    for name in ("pose_head.2.weight", "camera_head.2.weight"):
        grad = dict(model.pose_encoder.named_parameters())[name].grad
        assert grad.abs().sum() > 0, f"{name}: zero gradient through the renderer"
    for module in (model.appearance_encoder, model.decoder):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in module.parameters())


def test_spatial_head_sees_where_things_are_at_any_crop_size():
    from posesynth.models.pose_encoder import PoseEncoder

    torch.manual_seed(0)
    encoder = PoseEncoder(width=8, stages=3, spatial_head=True)
    for size in (32, 64):                            # 4×4 and 8×8 feature maps → the same 4×4 grid
        out = encoder(torch.rand(2, 3, size, size))
        assert out["local_directions"].shape == (2, 16, 3) and out["rotation"].shape == (2, 3, 3)
    # the grid keeps which side of the crop a blob is on (a global average would mostly lose it)
    left, right = torch.zeros(2, 3, 32, 32), torch.zeros(2, 3, 32, 32)
    left[0, :, 12:20, 2:10], right[0, :, 12:20, 22:30] = 1.0, 1.0
    features = lambda e, x: e.grid(e.body(e.stem(x * 2 - 1))).flatten(1)  # noqa: E731
    assert not torch.allclose(features(encoder, left)[0], features(encoder, right)[0], atol=1e-4)


def test_heatmap_encoder_shapes_and_start_pose():
    model = _tiny_model(encoder="heatmap")
    model.start_from_pose(canonical_tpose())
    out = model.encode_pose(torch.rand(2, 3, 32, 32))
    assert out["joints2d"].shape == (2, 17, 2) and out["heatmaps"].shape == (2, 17, 8, 8)
    assert out["rotation"].shape == (2, 3, 3) and out["local_directions"].shape == (2, 16, 3)
    # back-projection and projection agree: the 3D joints project onto the soft-argmax joints
    u = model.focal * out["joints_camera"][..., 0] / out["joints_camera"][..., 2] + 15.5
    torch.testing.assert_close(out["joints2d"][..., 0], u, atol=1e-4, rtol=0)
    # the start: the T-pose seen frontally (the prior heatmaps are coarse: within a few cm)
    torch.testing.assert_close(out["pose_body"], canonical_tpose().expand(2, 17, 3), atol=6e-2, rtol=0)
    torch.testing.assert_close(out["rotation"], torch.eye(3).expand(2, 3, 3), atol=5e-2, rtol=0)
    eye = torch.eye(3).expand(2, 3, 3)
    torch.testing.assert_close(out["rotation"] @ out["rotation"].transpose(-1, -2), eye, atol=1e-5, rtol=0)


def test_heatmap_encoder_rejects_kinematic_options():
    with pytest.raises(ValueError, match="kinematic encoder"):
        _tiny_model(encoder="heatmap", bone_scaling=True)
    with pytest.raises(ValueError, match="model.encoder"):
        _tiny_model(encoder="regression")


def test_heatmap_encoder_gets_a_gradient_through_the_renderer_alone():
    model = _tiny_model(encoder="heatmap")
    model.start_from_pose(canonical_tpose())
    source, target, background = torch.rand(3, 2, 3, 32, 32).unbind(0)
    out = model(source, target, background)
    (out["synthesis"] - target).abs().mean().backward()
    for name, parameter in model.pose_encoder.named_parameters():
        if name.startswith("root_head"):  # the root depth reaches the puppet only through its size
            continue
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    assert model.pose_encoder.heads.weight.grad.abs().sum() > 0
    assert model.pose_encoder.prior.grad.abs().sum() > 0
