"""The whole model: shapes, the start, and every pose parameter gets a gradient through the renderer."""

import pytest
import torch

from posesynth.models.model import PoseSynthModel
from posesynth.skeleton import FLIP_PERMUTATION, canonical_tpose, facing_side


def _tiny_model(**kwargs) -> PoseSynthModel:
    torch.manual_seed(0)
    return PoseSynthModel(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8,
                          appearance_width=8, decoder_width=8, decoder_levels=3, **kwargs)


def _saved_and_loaded(kwargs: dict, path):
    """A model.pt written with these keyword arguments (fresh weights), loaded back as eval/predict load it."""
    from posesynth.models.loading import load_model
    torch.save({"model_kwargs": kwargs, "state_dict": PoseSynthModel(**kwargs).state_dict(), "step": 0}, path)
    return load_model(path)


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
    # the prior heatmaps are coarse: within a few cm
    torch.testing.assert_close(out["pose_body"], canonical_tpose().expand(2, 17, 3), atol=6e-2, rtol=0)
    uv = out["joints2d"]
    assert uv.min() > 0 and uv.max() < 31      # the whole body is inside the crop at the start
    height = uv[..., 1].max(-1).values - uv[..., 1].min(-1).values
    assert torch.all((height > 0.5 * 32) & (height < 0.9 * 32))


def test_heatmap_start_facing_any_is_the_mean_over_headings():
    front = _tiny_model()
    front.start_from_pose(canonical_tpose())
    model = _tiny_model(start_facing="any")
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
    model = _tiny_model(lifter=True, facing_head=True)
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
        _tiny_model(facing_head=True, start_facing="any")  # no frontal labelling to swap


def test_imitation_with_a_facing_head_takes_the_side_from_the_sampled_pose():
    from posesynth.training.imitation_views import sample_views
    model = _tiny_model(lifter=True, facing_head=True)
    model.start_from_pose(canonical_tpose())
    source, target, background = torch.rand(3, 4, 3, 32, 32).unbind(0)
    views = sample_views(canonical_tpose().expand(4, 17, 3), image_size=32, focal=model.focal,
                         generator=torch.Generator().manual_seed(3))
    out = model(source, target, background, imitation_joints=views, flat_share=1.0)
    away = facing_side(out["imitation_true2d"]) > 0
    assert 0 < int(away.sum()) < 4  # both sides among the samples
    expected = model.encode_pose(out["imitation_image"], facing=away)["joints2d"]
    torch.testing.assert_close(out["imitation_joints2d"], expected)


def test_heatmap_encoder_shapes_and_start_pose():
    model = _tiny_model()
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


def test_cleared_depth_maps_leave_the_2d_and_root_and_give_flat_depths():
    model = _tiny_model()
    model.start_from_pose(canonical_tpose())
    with torch.no_grad():
        model.pose_encoder.heads.weight.normal_()  # a trained encoder's depth maps are anything but flat
    image = torch.rand(2, 3, 32, 32)
    before = model.pose_encoder(image)
    assert before["relative_depth"].abs().max() > 0.1
    model.pose_encoder.clear_depth_maps()
    after = model.pose_encoder(image)
    torch.testing.assert_close(after["relative_depth"], torch.zeros(2, 17))
    torch.testing.assert_close(after["joints2d"], before["joints2d"])
    torch.testing.assert_close(after["log_depth"], before["log_depth"])


def test_a_run_written_with_the_removed_kinematic_settings_still_loads(tmp_path):
    from posesynth.config import ConfigError
    from posesynth.models.loading import load_model

    model = _tiny_model()
    kwargs = dict(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8, appearance_width=8,
                  decoder_width=8, decoder_levels=3)
    legacy = {**kwargs, "encoder": "heatmap", "bone_scaling": False, "spatial_head": False}
    torch.save({"model_kwargs": legacy, "state_dict": model.state_dict()}, tmp_path / "model.pt")
    loaded = load_model(tmp_path / "model.pt")
    image = torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(loaded.encode_pose(image)["joints2d"], model.eval().encode_pose(image)["joints2d"])
    # a kinematic encoder's weights cannot be read any more: one line that says so
    torch.save({"model_kwargs": {**kwargs, "encoder": "kinematic"}, "state_dict": {}}, tmp_path / "old.pt")
    with pytest.raises(ConfigError, match=r"old\.pt: encoder='kinematic' belongs to the kinematic pose encoder"):
        load_model(tmp_path / "old.pt")
    # the oldest runs name no encoder at all: their weights give them away, also as a train.init
    from posesynth.training.checkpoints import init_weights
    oldest = {"model_kwargs": {**kwargs, "bone_scaling": False}, "state_dict": {"pose_encoder.pose_head.0.weight": 0}}
    torch.save(oldest, tmp_path / "oldest.pt")
    for read in (load_model, lambda path: init_weights(_tiny_model(), path)):
        with pytest.raises(ConfigError, match=r"oldest\.pt holds a kinematic pose encoder"):
            read(tmp_path / "oldest.pt")


def test_every_pose_parameter_gets_a_finite_gradient_through_the_renderer_alone():
    model = _tiny_model()
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
    for module in (model.appearance_encoder, model.decoder):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in module.parameters())


def test_the_occlusion_temperature_reaches_the_puppet():
    from posesynth.render.puppet import render_part_maps
    g = torch.Generator().manual_seed(0)
    joints2d = 16 + 32 * torch.rand(2, 17, 2, generator=g)
    depth = 4 + 0.3 * torch.rand(2, 17, generator=g)
    for temperature in (0.05, 1000.0):
        model = PoseSynthModel(image_size=64, occlusion_temperature=temperature)
        expected = render_part_maps(joints2d, depth, (64, 64), focal=model.focal, temperature=temperature)
        assert torch.equal(model.render(joints2d, depth), expected)
    # with no order, moving a part from just behind to just before the others changes only its
    # radius (R = width · f / z, a few per cent), not which part takes the overlap
    unordered = PoseSynthModel(image_size=64, occlusion_temperature=1000.0)
    ordered = PoseSynthModel(image_size=64)
    nearer, farther = depth.clone(), depth.clone()
    nearer[:, 9:11], farther[:, 9:11] = depth.min() - 0.01, depth.max() + 0.01  # the head part in front / behind
    change_unordered = (unordered.render(joints2d, nearer) - unordered.render(joints2d, farther)).abs().max()
    change_ordered = (ordered.render(joints2d, nearer) - ordered.render(joints2d, farther)).abs().max()
    assert change_ordered > 0.5 and change_unordered < 0.15
    with pytest.raises(ValueError, match="occlusion_temperature"):
        PoseSynthModel(occlusion_temperature=0.0)


def test_the_occlusion_temperature_is_a_config_key_stored_with_the_model(tmp_path):
    from posesynth.config import load_config
    from posesynth.training.checkpoints import model_kwargs
    kwargs = model_kwargs(load_config(None, ["model.occlusion_temperature=1000"]))
    assert kwargs["occlusion_temperature"] == 1000.0
    assert _saved_and_loaded(kwargs, tmp_path / "model.pt").occlusion_temperature == 1000.0


def test_the_puppets_hands_and_feet_are_a_config_key_stored_with_the_model(tmp_path):
    from posesynth.config import load_config
    from posesynth.models.loading import load_model
    from posesynth.render.puppet import render_part_maps
    from posesynth.training.checkpoints import model_kwargs
    g = torch.Generator().manual_seed(0)
    joints2d, depth = 16 + 32 * torch.rand(2, 17, 2, generator=g), 4 + 0.3 * torch.rand(2, 17, generator=g)
    kwargs = model_kwargs(load_config(None, ["model.puppet_extremities=true"]))
    assert kwargs["puppet_extremities"] is True
    model = PoseSynthModel(**kwargs)
    expected = render_part_maps(joints2d, depth, (64, 64), focal=model.focal, extremities=True)
    assert torch.equal(model.render(joints2d, depth), expected)
    assert not torch.equal(PoseSynthModel().render(joints2d, depth), expected)   # off by default
    torch.save({"model_kwargs": kwargs, "state_dict": model.state_dict(), "step": 0}, tmp_path / "model.pt")
    assert load_model(tmp_path / "model.pt").puppet_extremities is True
    # runs written before the key existed load with the puppet they were trained with
    old = {k: v for k, v in kwargs.items() if k != "puppet_extremities"}
    torch.save({"model_kwargs": old, "state_dict": model.state_dict(), "step": 0}, tmp_path / "old.pt")
    assert load_model(tmp_path / "old.pt").puppet_extremities is False


def test_a_wider_heatmap_prior_starts_at_the_same_pose_and_pulls_less(tmp_path):
    from posesynth.config import load_config
    from posesynth.geometry import project
    from posesynth.training.checkpoints import model_kwargs
    pose = canonical_tpose()
    target = project(pose + torch.tensor([0.0, 0.0, _tiny_model().nominal_depth]), _tiny_model().K)
    ranges = []
    for sigma in (1.5, 4.0):
        model = _tiny_model(heatmap_prior_sigma=sigma)
        model.start_from_pose(pose)
        with torch.no_grad():
            start = model.pose_encoder(torch.rand(2, 3, 32, 32))["joints2d"]
        torch.testing.assert_close(start, target.expand(2, 17, 2), atol=0.1, rtol=0)   # pixels
        prior = model.pose_encoder.prior.detach().flatten(1)
        ranges.append(float((prior.max(1).values - prior.min(1).values).median()))
    # a Gaussian's logit range over the map falls with σ (as 1/σ² at fixed centres; the centres
    # of border joints move outwards with σ): the steep prior caps how far a joint can move
    assert ranges[1] < ranges[0] / 2
    with pytest.raises(ValueError, match="heatmap_prior_sigma"):
        _tiny_model(heatmap_prior_sigma=0.0)
    kwargs = model_kwargs(load_config(None, ["model.heatmap_prior_sigma=4"]))
    assert kwargs["heatmap_prior_sigma"] == 4.0
    assert _saved_and_loaded(kwargs, tmp_path / "model.pt").pose_encoder.prior_sigma == 4.0


def test_eval_reads_the_heatmaps_sharper_and_training_does_not(tmp_path):
    from posesynth.config import load_config
    from posesynth.models.integral import heatmap_grid
    from posesynth.training.checkpoints import model_kwargs
    model = _tiny_model(readout_sharpness=4.0)
    encoder = model.pose_encoder
    with torch.no_grad():   # no image dependence: each heatmap is its prior, two cells apart by 1 logit
        encoder.heads.weight.zero_()
        encoder.heads.bias.zero_()
        encoder.prior.fill_(-1e4)
        encoder.prior[:, 2, 3] = 1.0
        encoder.prior[:, 5, 6] = 0.0
    grid = heatmap_grid(8, 8, 32, dtype=torch.float32)
    peak, other = grid[2, 3], grid[5, 6]
    image = torch.rand(2, 3, 32, 32)

    def expected(k: float) -> torch.Tensor:   # softmax of (k, 0) over the two cells: the expectation
        w = torch.sigmoid(torch.tensor(k))
        return w * peak + (1 - w) * other

    with torch.no_grad():
        trained, read = encoder.train()(image), encoder.eval()(image)
    torch.testing.assert_close(trained["joints2d"], expected(1.0).expand(2, 17, 2))
    torch.testing.assert_close(read["joints2d"], expected(4.0).expand(2, 17, 2))
    # nearer the peak: 0.98 of the mass on it instead of 0.73
    assert float((read["joints2d"] - peak).norm(dim=-1).max()) < 0.1 * float((peak - other).norm())
    torch.testing.assert_close(read["heatmaps"].sum(dim=(-2, -1)), torch.ones(2, 17))
    # the reported pose follows: encode_pose in eval mode draws from the sharper joints
    with torch.no_grad():
        torch.testing.assert_close(model.eval().encode_pose(image)["joints2d"], read["joints2d"])
    with pytest.raises(ValueError, match="readout_sharpness"):
        _tiny_model(readout_sharpness=0.0)
    kwargs = model_kwargs(load_config(None, ["model.readout_sharpness=4"]))
    assert kwargs["readout_sharpness"] == 4.0
    assert _saved_and_loaded(kwargs, tmp_path / "model.pt").pose_encoder.readout_sharpness == 4.0
    old = {key: value for key, value in kwargs.items() if key != "readout_sharpness"}   # written before the key
    assert _saved_and_loaded(old, tmp_path / "old.pt").pose_encoder.readout_sharpness == 1.0
