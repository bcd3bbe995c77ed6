"""The pose-imitation cycle: sampled views, the loss, the model's painting and re-encoding, training."""

import math
from pathlib import Path

import pytest
import torch

from posesynth.config import ConfigError, load_config

from posesynth.geometry import project
from posesynth.losses.combine import compute_losses
from posesynth.losses.imitation import imitation_loss
from posesynth.models.discriminator import body_frame
from posesynth.models.model import PoseSynthModel
from posesynth.render.face import face_anchor, face_palette, head_colours
from posesynth.render.paint import paint_warped_parts, observed_foreground, paint_parts, part_colours
from posesynth.skeleton import FLIP_PERMUTATION, canonical_tpose
from posesynth.training.imitation_views import CROP_FILL, sample_views
from posesynth.training.train import train
from posesynth.viz.draw import sample_grid
from conftest import TINY, log_rows

def _views(count: int = 256, seed: int = 0) -> torch.Tensor:
    poses = canonical_tpose().expand(count, 17, 3)
    return sample_views(poses, image_size=64, focal=128.0, generator=torch.Generator().manual_seed(seed))

def test_sampled_views_are_centred_fill_the_crop_and_face_every_way():
    joints = _views()
    assert joints[..., 2].min() > 0
    uv = project(joints, torch.tensor([[128.0, 0, 31.5], [0, 128.0, 31.5], [0, 0, 1]]))
    low, high = uv.amin(dim=1), uv.amax(dim=1)
    centre, extent = (low + high) / 2, (high - low).amax(-1)
    assert (centre - 31.5).abs().max() < 0.1 * 64        # box-centred, up to the shift jitter
    # the joints (without the head-top/feet margin) fill about CROP_FILL of the crop
    assert 0.45 * 64 < extent.median() < CROP_FILL * 64
    # the heading (the body's z axis, out of the back, seen from above) covers the full circle
    axis = body_frame(joints - joints[:, :1])[:, 2]
    heading = torch.atan2(axis[:, 0], axis[:, 2])
    counts = torch.histc(heading, bins=4, min=-math.pi, max=math.pi)
    assert counts.min() > 0.15 * len(heading)
    torch.testing.assert_close(_views(seed=3), _views(seed=3))  # a pure function of the generator

def test_sampled_views_look_from_the_camera_elevation():
    """The body's vertical leans towards the camera by exactly the elevation (no lean, no roll)."""
    poses = canonical_tpose().expand(64, 17, 3)
    for degrees in (-5.0, 0.0, 30.0):
        joints = sample_views(poses, image_size=64, focal=128.0, generator=torch.Generator().manual_seed(1),
                              elevation_deg=(degrees, degrees), max_lean_deg=0.0, max_roll=0.0)
        up = joints[:, 8] - joints[:, 0]  # pelvis → thorax, straight up in the T-pose's body frame
        # camera above (elevation > 0): the thorax is nearer the camera than the pelvis, z falls
        toward_camera = torch.rad2deg(torch.asin(-up[:, 2] / up.norm(dim=-1)))
        torch.testing.assert_close(toward_camera, torch.full((64,), degrees), atol=1e-3, rtol=0)
        assert up[:, 0].abs().max() < 1e-5  # the heading turns about the vertical: no sideways tilt
    def toward_camera_deg(joints: torch.Tensor) -> torch.Tensor:
        up = joints[:, 8] - joints[:, 0]
        return torch.rad2deg(torch.asin(-up[:, 2] / up.norm(dim=-1)))

    level = toward_camera_deg(_views(count=512))  # the default: camera level, the body leant by up to ±20°
    assert level.abs().max() < 20.5 and 0.4 < (level > 0).mean(dtype=torch.float32) < 0.6
    above = toward_camera_deg(sample_views(canonical_tpose().expand(512, 17, 3), image_size=64, focal=128.0,
                                           generator=torch.Generator().manual_seed(0), elevation_deg=(-5.0, 35.0),
                                           max_lean_deg=10.0))  # the benchmark's cameras
    assert -15.5 < above.min() < -5 and 35 < above.max() < 45.5
    assert 0.8 < (above > 0).mean(dtype=torch.float32) < 0.95


def test_imitation_loss_closed_form():
    true2d, true3d = torch.zeros(2, 17, 2), torch.rand(2, 17, 3)
    assert imitation_loss(true2d, true3d, true2d, true3d, 32) < 1e-3
    shifted = true2d + torch.tensor([3.2, 0.0])                     # 0.1 crop sides
    assert imitation_loss(shifted, true3d + 5.0, true2d, true3d, 32) == pytest.approx(0.1, abs=1e-3)
    one_joint = true3d.clone()
    one_joint[:, 5, 1] += 0.17                                       # 0.17 m on 1 of 17 joints
    assert imitation_loss(true2d, one_joint, true2d, true3d, 32) == pytest.approx(0.01, abs=1e-3)

def test_imitation_loss_side_open_forgives_the_mirror_reading_only():
    torch.manual_seed(0)
    true2d, true3d = 64 * torch.rand(3, 17, 2), torch.rand(3, 17, 3)
    flip = list(FLIP_PERMUTATION)
    rel = true3d - true3d[:, :1]
    mirror2d, mirror3d = true2d[:, flip], rel[:, flip] * torch.tensor([1.0, 1.0, -1.0])  # the other facing
    assert imitation_loss(mirror2d, mirror3d, true2d, true3d, 64, side_open=True) < 1e-3
    assert imitation_loss(true2d, true3d, true2d, true3d, 64, side_open=True) < 1e-3
    assert imitation_loss(mirror2d, mirror3d, true2d, true3d, 64) > 0.05          # closed side: an error
    # names swapped but depths not reflected is neither reading
    assert imitation_loss(mirror2d, rel[:, flip], true2d, true3d, 64, side_open=True) > 0.01
    # per sample: one truth-read and one mirror-read sample both score zero; a midway reading does not
    mixed2d, mixed3d = torch.cat([true2d[:1], mirror2d[1:2]]), torch.cat([rel[:1], mirror3d[1:2]])
    assert imitation_loss(mixed2d, mixed3d, true2d[:2], true3d[:2], 64, side_open=True) < 1e-3
    midway = imitation_loss((true2d + mirror2d) / 2, (rel + mirror3d) / 2, true2d, true3d, 64, side_open=True)
    assert midway > 0.01


def _read_with_mirrors(**extra):
    """Imitation outputs whose two paintings were both read as their mirror, and a blank batch."""
    torch.manual_seed(1)
    true2d, true3d = 64 * torch.rand(2, 17, 2), torch.rand(2, 17, 3)
    rel = true3d - true3d[:, :1]
    flip = list(FLIP_PERMUTATION)
    outputs = {"synthesis": torch.zeros(2, 3, 64, 64), "imitation_joints2d": true2d[:, flip],
               "imitation_pose_camera": rel[:, flip] * torch.tensor([1.0, 1.0, -1.0]),
               "imitation_true2d": true2d, "imitation_true_pose": true3d, **extra}
    return outputs, {"target": torch.zeros(2, 3, 64, 64), "background": torch.zeros(2, 3, 64, 64)}


def test_compute_losses_passes_the_side_open_setting_to_the_imitation_term():
    outputs, batch = _read_with_mirrors()
    closed = compute_losses(outputs, batch, weights={"imitation": 1.0})["imitation"]
    opened = compute_losses(outputs, batch, weights={"imitation": 1.0}, imitation_side_open=True)["imitation"]
    assert opened < 1e-3 < 0.05 < closed


def test_imitation_loss_side_open_per_sample():
    torch.manual_seed(2)
    true2d, true3d = 64 * torch.rand(3, 17, 2), torch.rand(3, 17, 3)
    rel = true3d - true3d[:, :1]
    flip = list(FLIP_PERMUTATION)
    mirror2d, mirror3d = true2d[:, flip], rel[:, flip] * torch.tensor([1.0, 1.0, -1.0])
    # every painting read with its mirror: forgiven only where the mask leaves the side open
    closed = imitation_loss(mirror2d, mirror3d, true2d, true3d, 64)
    mask = torch.tensor([True, False, True])
    mixed = imitation_loss(mirror2d, mirror3d, true2d, true3d, 64, side_open=mask)
    per_closed = [imitation_loss(mirror2d[i:i + 1], mirror3d[i:i + 1], true2d[i:i + 1], true3d[i:i + 1], 64)
                  for i in range(3)]
    torch.testing.assert_close(mixed, per_closed[1] / 3, rtol=1e-3, atol=2e-4)
    assert imitation_loss(mirror2d, mirror3d, true2d, true3d, 64, side_open=torch.ones(3, dtype=torch.bool)) < 1e-3
    torch.testing.assert_close(imitation_loss(mirror2d, mirror3d, true2d, true3d, 64,
                                              side_open=torch.zeros(3, dtype=torch.bool)), closed)


def test_compute_losses_scores_paintings_that_show_their_side_with_it():
    outputs, batch = _read_with_mirrors(imitation_side_shown=torch.tensor([False, True]))
    closed = compute_losses(outputs, batch, weights={"imitation": 1.0})["imitation"]
    shown = compute_losses(outputs, batch, weights={"imitation": 1.0}, imitation_side_open=True)["imitation"]
    second = imitation_loss(outputs["imitation_joints2d"][1:], outputs["imitation_pose_camera"][1:],
                            outputs["imitation_true2d"][1:], outputs["imitation_true_pose"][1:], 64)
    torch.testing.assert_close(shown, second / 2, rtol=1e-3, atol=2e-4)  # the first forgiven, the second not
    assert 1e-3 < shown < closed


def test_the_facing_head_learns_the_side_of_paintings_with_a_face_only():
    tpose2d = project(canonical_tpose()[None] + torch.tensor([0.0, 0.0, 3.0]), torch.tensor(
        [[64.0, 0.0, 32.0], [0.0, 64.0, 32.0], [0.0, 0.0, 1.0]]))
    true2d = torch.cat([tpose2d, tpose2d[:, list(FLIP_PERMUTATION)], tpose2d])   # towards, away, towards
    outputs = {"imitation_true2d": true2d, "imitation_facing_logit": torch.tensor([-1.0, 0.5, 3.0]),
               "imitation_side_shown": torch.tensor([True, True, False]), "synthesis": torch.zeros(3, 3, 8, 8)}
    batch = {"target": torch.zeros(3, 3, 8, 8), "background": torch.zeros(3, 3, 8, 8)}
    term = compute_losses(outputs, batch, weights={"imitation_facing": 1.0, "l1": 0.0, "ssim": 0.0})["imitation_facing"]
    # BCE over the two paintings with a face: softplus(−1) for "towards" at logit −1, softplus(−0.5) for "away" at 0.5
    expected = 0.5 * (torch.nn.functional.softplus(torch.tensor(-1.0)) + torch.nn.functional.softplus(torch.tensor(-0.5)))
    torch.testing.assert_close(term, expected)


def test_imitation_loss_gradcheck():
    torch.manual_seed(0)
    args = [torch.randn(1, 3, 2, dtype=torch.float64, requires_grad=True),
            torch.randn(1, 3, 3, dtype=torch.float64, requires_grad=True)]
    truth = (torch.randn(1, 3, 2, dtype=torch.float64), torch.randn(1, 3, 3, dtype=torch.float64))
    assert torch.autograd.gradcheck(lambda a, b: imitation_loss(a, b, *truth, 8.0), args)
    truth17 = (torch.randn(2, 17, 2, dtype=torch.float64), torch.randn(2, 17, 3, dtype=torch.float64))
    args17 = [torch.randn(2, 17, 2, dtype=torch.float64, requires_grad=True),
              torch.randn(2, 17, 3, dtype=torch.float64, requires_grad=True)]
    assert torch.autograd.gradcheck(lambda a, b: imitation_loss(a, b, *truth17, 8.0, side_open=True), args17)
    mask = torch.tensor([True, False])
    assert torch.autograd.gradcheck(lambda a, b: imitation_loss(a, b, *truth17, 8.0, side_open=mask), args17)

def test_model_paints_the_sampled_pose_and_encodes_it_again():
    torch.manual_seed(0)
    model = PoseSynthModel(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8,
                           appearance_width=8, decoder_width=8, decoder_levels=3)
    model.start_from_pose(canonical_tpose())
    joints = sample_views(canonical_tpose().expand(2, 17, 3), image_size=32, focal=model.focal,
                          generator=torch.Generator().manual_seed(0))
    source, target, background = torch.rand(3, 2, 3, 32, 32).unbind(0)
    out = model(source, target, background, imitation_joints=joints)
    assert out["imitation_image"].shape == (2, 3, 32, 32) and not out["imitation_image"].requires_grad
    torch.testing.assert_close(out["imitation_true2d"], project(joints, model.K))
    # an encoder told the truth scores zero; the real one gets a gradient only into the pose encoder
    assert imitation_loss(out["imitation_true2d"], joints, out["imitation_true2d"], joints, 32) < 1e-3
    loss = imitation_loss(out["imitation_joints2d"], out["imitation_pose_camera"], out["imitation_true2d"], joints, 32)
    loss.backward()
    assert all(p.grad is None for p in model.decoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.pose_encoder.parameters())
    # flat-coloured paintings: the sampled puppet in the source's part colours, exactly
    flat = model(source, target, background, imitation_joints=joints, flat_share=0.5)
    maps = model.render(flat["imitation_true2d"], joints[..., 2])
    seen = observed_foreground(source[1:], background[1:])
    expected = paint_parts(maps[1:], part_colours(source[1:], flat["source_maps"][1:], seen), background[1:])
    torch.testing.assert_close(flat["imitation_image"][1:], expected)
    torch.testing.assert_close(flat["imitation_image"][:1], out["imitation_image"][:1])
    # part-warped paintings sit between the decoder's and the flat ones: [decoder | warped | flat]
    mixed = model(source.repeat(2, 1, 1, 1), target.repeat(2, 1, 1, 1), background.repeat(2, 1, 1, 1),
                  imitation_joints=joints.repeat(2, 1, 1), flat_share=0.25, warped_share=0.5)
    seen = observed_foreground(source.repeat(2, 1, 1, 1), background.repeat(2, 1, 1, 1))
    colours = part_colours(source.repeat(2, 1, 1, 1), mixed["source_maps"], seen)
    expected = paint_warped_parts(model.render(mixed["imitation_true2d"], joints.repeat(2, 1, 1)[..., 2])[1:3],
                                  source.repeat(2, 1, 1, 1)[1:3], seen[1:3], mixed["source_joints2d"][1:3],
                                  mixed["imitation_true2d"][1:3], colours[1:3], background.repeat(2, 1, 1, 1)[1:3])
    torch.testing.assert_close(mixed["imitation_image"][1:3], expected)
    with pytest.raises(ValueError, match="at most 1"):
        model(source, target, background, imitation_joints=joints, flat_share=0.5, warped_share=1.0)
    # with a palette the flat paintings' heads show a face for the sampled facing, and say so
    palette = face_palette(2, torch.Generator().manual_seed(0))
    faced = model(source, target, background, imitation_joints=joints, flat_share=0.5, face_palette=palette)
    head = head_colours(*face_anchor(joints[1:], model.K), palette[1:], (32, 32))
    seen = observed_foreground(source[1:], background[1:])
    expected = paint_parts(maps[1:], part_colours(source[1:], faced["source_maps"][1:], seen), background[1:],
                           head=head)
    torch.testing.assert_close(faced["imitation_image"][1:], expected)
    torch.testing.assert_close(faced["imitation_image"][:1], out["imitation_image"][:1])
    assert faced["imitation_side_shown"].tolist() == [False, True]
    assert flat["imitation_side_shown"].tolist() == [False, False]
    # the training sample grid gains a fifth column: the painting with the skeleton read back
    grid = sample_grid({"source": source, "target": target}, out, rows=2)
    assert grid.shape == (2 * (128 + 2) + 2, 5 * (128 + 2) + 2, 3)

def _config(data: Path, *extra: str):
    return load_config(None, [f"data.videos={data / 'videos'}", f"data.poses3d={data / 'poses.npy'}", *TINY,
                              "train.checkpoint_every=2", "loss.imitation=1",
                              "loss.imitation_start=1", "loss.proportions=1", "model.lifter=true", "loss.lifting=1",
                              "loss.equivariance=1", "model.facing_head=true", "loss.travel_facing=1",
                              "model.refiner=true", "loss.refining=1", *extra])

def test_lifter_needs_its_loss(tiny_data, tmp_path):
    with pytest.raises(ValueError, match="go together"):
        train(_config(tiny_data, "train.steps=1", "loss.lifting=0"), tmp_path / "x", progress=False)

def test_refiner_needs_its_loss(tiny_data, tmp_path):
    with pytest.raises(ValueError, match="model.refiner and loss.refining"):
        train(_config(tiny_data, "train.steps=1", "loss.refining=0"), tmp_path / "x", progress=False)

def test_travel_facing_needs_the_facing_head(tiny_data, tmp_path):
    with pytest.raises(ConfigError, match="facing_head"):
        _config(tiny_data, "train.steps=1", "model.facing_head=false")

def test_heatmap_encoder_with_imitation_trains_and_resumes_exactly(tiny_data, tmp_path):
    straight = log_rows(train(_config(tiny_data, "train.steps=4"), tmp_path / "straight", progress=False))
    assert "loss/imitation" not in straight[1] and "loss/imitation" in straight[2]  # from imitation_start
    assert "loss/proportions" in straight[4] and "loss/lifting" in straight[1] and "loss/equivariance" in straight[1]
    assert "loss/travel_facing" in straight[1] and "loss/refining" in straight[1]
    halves = tmp_path / "halves"
    train(_config(tiny_data, "train.steps=4"), halves, stop_after=2, progress=False)
    train(_config(tiny_data, "train.steps=4"), halves, resume=True, progress=False)
    resumed = log_rows(halves)
    for step in (3, 4):
        for key in ("loss/total", "loss/imitation", "loss/lifting", "loss/l1", "loss/equivariance", "loss/travel_facing",
                    "loss/refining"):
            assert straight[step][key] == pytest.approx(resumed[step][key], rel=1e-5, abs=1e-7), (step, key)

def test_side_open_imitation_reaches_the_training_loop(tiny_data, tmp_path):
    # step 2 is the first imitation step: both runs have the same weights and paintings there, and
    # the side-open term takes per painting the smaller of the closed term's error and another
    plain = ("train.steps=2", "model.facing_head=false", "loss.travel_facing=0")  # the head would give the true side
    closed = log_rows(train(_config(tiny_data, *plain), tmp_path / "closed", progress=False))
    opened = log_rows(train(_config(tiny_data, *plain, "loss.imitation_side_open=true"), tmp_path / "open",
                         progress=False))
    assert opened[1]["loss/total"] == pytest.approx(closed[1]["loss/total"], rel=1e-6)
    assert opened[2]["loss/imitation"] < closed[2]["loss/imitation"]


def test_faces_on_paintings_need_flat_paintings(tiny_data):
    with pytest.raises(ConfigError, match="imitation_flat"):
        _config(tiny_data, "loss.imitation_face=true")


def test_the_facing_head_on_faces_needs_the_head_and_the_faces(tiny_data):
    with pytest.raises(ConfigError, match="imitation_facing"):
        _config(tiny_data, "loss.imitation_flat=0.5", "loss.imitation_facing=1")
    with pytest.raises(ConfigError, match="imitation_facing"):
        _config(tiny_data, "loss.imitation_flat=0.5", "loss.imitation_face=true", "loss.imitation_facing=1",
                "model.facing_head=false", "loss.travel_facing=0")


@pytest.mark.parametrize("head", [False, True])
def test_faces_on_paintings_reach_the_training_loop_and_resume_exactly(tiny_data, tmp_path, head):
    plain = ("train.steps=4", f"model.facing_head={str(head).lower()}", "loss.travel_facing=0",
             "loss.imitation_side_open=true", "loss.imitation_flat=0.5")
    faces = ("loss.imitation_face=true", *(("loss.imitation_facing=1",) if head else ()))
    opened = log_rows(train(_config(tiny_data, *plain), tmp_path / "open", progress=False))
    faced = log_rows(train(_config(tiny_data, *plain, *faces), tmp_path / "faced", progress=False))
    assert faced[1]["loss/total"] == pytest.approx(opened[1]["loss/total"], rel=1e-6)  # before the first painting
    keys = ("loss/imitation", "loss/imitation_facing") if head else ("loss/imitation",)
    if head:   # the head learns the painted sides from the first painting on
        assert "loss/imitation_facing" not in faced[1] and faced[2]["loss/imitation_facing"] > 0
    else:      # step 2, the same weights: faced heads and half the paintings scored with their side
        assert faced[2]["loss/imitation"] != pytest.approx(opened[2]["loss/imitation"], rel=1e-4)
    halves = tmp_path / "halves"
    train(_config(tiny_data, *plain, *faces), halves, stop_after=2, progress=False)
    train(_config(tiny_data, *plain, *faces), halves, resume=True, progress=False)
    resumed = log_rows(halves)
    for step in (3, 4):
        for key in keys:
            assert faced[step][key] == pytest.approx(resumed[step][key], rel=1e-5, abs=1e-7), (step, key)


def test_facing_verdict_needs_the_facing_head(tiny_data, tmp_path):
    with pytest.raises(ConfigError, match="facing_verdict"):
        _config(tiny_data, "train.steps=1", "model.facing_head=false", "loss.travel_facing=0", "loss.facing_verdict=1")

def test_the_facing_verdict_starts_at_its_step(tiny_data, tmp_path):
    rows = log_rows(train(_config(tiny_data, "train.steps=4", "loss.facing_verdict=1", "loss.facing_verdict_start=2",
                               "loss.facing_verdict_margin=0.05"), tmp_path / "run", progress=False))
    # the log counts steps from 1, the schedule (like imitation_start) from 0
    assert [("loss/facing_verdict" in rows[step]) for step in (1, 2, 3, 4)] == [False, False, True, True]
    with pytest.raises(ConfigError, match="facing_verdict_margin"):
        _config(tiny_data, "loss.facing_verdict=1", "loss.facing_verdict_margin=1")

def test_the_facing_verdict_trains_with_walk_anchors_and_resumes_exactly(tiny_data, tmp_path):
    overrides = ("train.steps=4", "loss.facing_verdict=1")
    straight = log_rows(train(_config(tiny_data, *overrides), tmp_path / "straight", progress=False))
    assert all("loss/facing_verdict" in straight[step] for step in (1, 2, 3, 4))
    halves = tmp_path / "halves"
    train(_config(tiny_data, *overrides), halves, stop_after=2, progress=False)
    train(_config(tiny_data, *overrides), halves, resume=True, progress=False)
    resumed = log_rows(halves)
    for step in (3, 4):
        for key in ("loss/total", "loss/facing_verdict", "loss/l1", "loss/travel_facing"):
            assert straight[step][key] == pytest.approx(resumed[step][key], rel=1e-5, abs=1e-7), (step, key)

def test_the_refiner_is_fitted_further_after_the_last_step_only(tiny_data, tmp_path):
    from posesynth.models.loading import load_model
    plain = train(_config(tiny_data, "train.steps=2"), tmp_path / "plain", progress=False)
    fitted = train(_config(tiny_data, "train.steps=2", "train.refiner_fit_iterations=5"), tmp_path / "fitted",
                   progress=False)
    a, b = load_model(plain).state_dict(), load_model(fitted).state_dict()
    changed = {key for key in a if not torch.equal(a[key], b[key])}
    # the networks trained alike; only the refiner moved after the last step
    assert changed and all(key.startswith("refiner.") for key in changed)
    rows = log_rows(fitted)
    assert "refiner_fit/final_loss" in rows[2] and "refiner_fit/final_loss" not in rows[1]
    assert math.isfinite(rows[2]["refiner_fit/final_loss"]) and "refiner_fit/final_loss" not in log_rows(plain)[2]
    # a pause (stop_after) is not the end: nothing is fitted until the run completes, and the resumed
    # run ends with the same refiner as the straight one
    halves = tmp_path / "halves"
    train(_config(tiny_data, "train.steps=2", "train.refiner_fit_iterations=5"), halves, stop_after=1, progress=False)
    assert "refiner_fit/final_loss" not in log_rows(halves)[1]
    train(_config(tiny_data, "train.steps=2", "train.refiner_fit_iterations=5"), halves, resume=True, progress=False)
    resumed = load_model(halves).state_dict()
    for key in changed:
        torch.testing.assert_close(resumed[key], b[key], rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="refiner_fit_iterations"):
        _config(tiny_data, "model.refiner=false", "loss.refining=0", "train.refiner_fit_iterations=5")


def test_the_refiners_fit_after_the_last_step_samples_its_own_views(tiny_data, tmp_path):
    from posesynth.models.loading import load_model
    fit = ("train.steps=2", "train.refiner_fit_iterations=5")
    level = load_model(train(_config(tiny_data, *fit), tmp_path / "level", progress=False)).state_dict()
    views = ("train.refiner_fit_elevation_min_deg=-5", "train.refiner_fit_elevation_max_deg=35",
             "train.refiner_fit_lean_deg=10")
    elevated = load_model(train(_config(tiny_data, *fit, *views), tmp_path / "elevated", progress=False)).state_dict()
    changed = {key for key in level if not torch.equal(level[key], elevated[key])}
    # the networks trained alike (the run's own views); only the refiner's fit saw other views
    assert changed and all(key.startswith("refiner.") for key in changed)
    with pytest.raises(ConfigError, match="refiner_fit_iterations > 0"):
        _config(tiny_data, "train.steps=2", *views)
