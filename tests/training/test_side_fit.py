"""The side stage: the classifier, faced paintings in a model's own colours, its fit, the model's use, training."""

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from posesynth.config import ConfigError, load_config
from posesynth.geometry import project
from posesynth.models.model import PoseSynthModel
from posesynth.models.side_classifier import SideClassifier
from posesynth.render.face import face_anchor, face_palette, head_colours
from posesynth.render.paint import observed_foreground, paint_parts, part_colours
from posesynth.skeleton import facing_side, swap_sides
from posesynth.synth.poses import sample_poses
from posesynth.training.imitation_views import sample_views
from posesynth.training.inputs import canonical_poses
from posesynth.training.side_fit import donor_pairs, faced_paintings, fit_side_classifier, own_puppet_colours
from posesynth.training.train import train
from conftest import TINY, log_rows

SIZE = 32


def _model(**kwargs) -> PoseSynthModel:
    torch.manual_seed(0)
    return PoseSynthModel(image_size=SIZE, encoder_width=8, encoder_stages=3, appearance_channels=8,
                          appearance_width=8, decoder_width=8, **kwargs).eval()


def _poses() -> torch.Tensor:
    return canonical_poses(torch.as_tensor(sample_poses(clips=2, frames=16, seed=3), dtype=torch.float32))


def _donors(count: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(5)
    backgrounds = torch.rand(count, 3, SIZE, SIZE, generator=generator)
    crops = backgrounds.clone()
    crops[..., 8:24, 12:20] = torch.rand(count, 3, 1, 1, generator=generator)   # a person-sized block
    return crops, backgrounds


def test_the_classifier_gives_one_logit_per_crop_at_any_size():
    net = SideClassifier(width=4)
    for size in (32, 64):
        assert net(torch.rand(3, 3, size, size)).shape == (3,)


def test_the_classifier_s_gradient_in_float64():
    torch.manual_seed(0)
    net = SideClassifier(width=2).double()
    image = torch.rand(2, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(net, (image,), eps=1e-6, atol=1e-4)


def test_own_puppet_colours_are_the_flat_paintings_colours_under_the_model_s_puppets():
    model = _model()
    crops, backgrounds = _donors()
    colours = own_puppet_colours(model, crops, backgrounds)
    with torch.no_grad():
        pose = model.encode_pose(crops)
        expected = part_colours(crops, model.render(pose["joints2d"], pose["depth"]),
                                observed_foreground(crops, backgrounds))
    assert colours.shape == (6, expected.shape[1], 3)
    torch.testing.assert_close(colours, expected)
    torch.testing.assert_close(own_puppet_colours(model, crops, backgrounds, chunk=4), expected)  # chunks alike


def test_faced_paintings_carry_their_pose_s_facing_and_are_pure_in_the_generator():
    model = _model()
    crops, backgrounds = _donors()
    colours = own_puppet_colours(model, crops, backgrounds)
    poses = _poses()
    options = dict(render=model.render, K=model.K, image_size=SIZE)
    images, towards = faced_paintings(poses, colours, backgrounds, 16, generator=torch.Generator().manual_seed(3),
                                      **options)
    again, _ = faced_paintings(poses, colours, backgrounds, 16, generator=torch.Generator().manual_seed(3), **options)
    assert images.shape == (16, 3, SIZE, SIZE) and 0 <= images.min() and images.max() <= 1
    assert torch.equal(images, again)
    # replay the generator's draws: the labels are the sampled poses' facing, the images their
    # faced flat paintings, mirrored where the last draw says so
    generator = torch.Generator().manual_seed(3)
    chosen = poses[torch.randint(len(poses), (16,), generator=generator)]
    joints = sample_views(chosen, image_size=SIZE, focal=model.focal, generator=generator)
    joints2d = project(joints, model.K)
    donor = torch.randint(len(colours), (16,), generator=generator)
    head = head_colours(*face_anchor(joints, model.K), face_palette(16, generator), (SIZE, SIZE))
    painted = paint_parts(model.render(joints2d, joints[..., 2]), colours[donor], backgrounds[donor], head=head)
    mirror = torch.rand(16, generator=generator) < 0.5
    assert torch.equal(towards, (facing_side(joints2d) < 0).float()) and 0 < towards.sum() < 16
    assert 0 < mirror.sum() < 16
    torch.testing.assert_close(images, torch.where(mirror[:, None, None, None], painted.flip(-1), painted))


def test_fitting_trains_the_classifier_only_and_the_same_seed_fits_the_same_weights():
    model = _model(side_classifier=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    crops, backgrounds = _donors()
    fitted = []
    for _ in range(2):
        torch.manual_seed(1)
        net = SideClassifier(width=4)
        losses = fit_side_classifier(net, model, crops, backgrounds, _poses(), iterations=3, batch=8, seed=2)
        assert len(losses) == 3 and all(math.isfinite(x) for x in losses) and not net.training
        fitted.append(torch.cat([p.flatten() for p in net.parameters()]))
    assert torch.equal(*fitted) and not torch.equal(fitted[0], torch.cat([p.flatten() for p in
                                                                           SideClassifier(width=4).parameters()]))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())   # the model is untouched


def test_a_fitted_classifier_chooses_each_crop_s_side_in_eval_mode_only():
    model = _model(side_classifier=True)
    image = torch.rand(4, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        frontal = model.encode_pose(image)
        assert "facing_logit" not in frontal   # not fitted yet: everyone is read facing the camera
        model.side_fitted.fill_(True)
        towards = torch.tensor([3.0, -3.0, 2.0, -1.0])
        model.side_classifier.forward = lambda crops: towards   # a classifier that says who faces the camera
        sided = model.encode_pose(image)
        away = towards < 0
        torch.testing.assert_close(sided["joints2d"], swap_sides(frontal["joints2d"], away))
        torch.testing.assert_close(sided["joints2d_frontal"], frontal["joints2d"])
        torch.testing.assert_close(sided["facing_logit"], -towards)
        # given sides win, and training reads every crop frontally (the classifier is not a loss's)
        given = model.encode_pose(image, facing=torch.zeros(4, dtype=torch.bool))
        assert "facing_logit" not in given and torch.equal(given["joints2d"], frontal["joints2d"])
        model.train()
        assert "facing_logit" not in model.encode_pose(image)


def test_the_classifier_is_frozen_and_leaves_the_other_networks_starting_alike():
    plain, sided = _model(), _model(side_classifier=True)
    assert not any(p.requires_grad for p in sided.side_classifier.parameters())
    shared = plain.state_dict()
    assert all(torch.equal(shared[k], v) for k, v in sided.state_dict().items() if k in shared)
    assert set(sided.state_dict()) - set(shared) == {k for k in sided.state_dict()
                                                     if k.startswith("side_classifier.") or k == "side_fitted"}
    with pytest.raises(ValueError, match="facing_head"):
        _model(side_classifier=True, facing_head=True)


def _config(data: Path, *extra: str):
    return load_config(None, [f"data.videos={data / 'videos'}", f"data.poses3d={data / 'poses.npy'}", *TINY,
                              "train.checkpoint_every=2", "train.steps=2", "loss.imitation=1", *extra])


SIDED = ("model.side_classifier=true", "train.side_fit_iterations=4")


def test_training_fits_the_classifier_after_the_last_step_only_and_resumes_exactly(tiny_data, tmp_path):
    from posesynth.models.loading import load_model
    held = f"data.eval_synthetic={Path(__file__).resolve().parents[2] / 'assets' / 'demo' / 'heldout'}"
    plain = load_model(train(_config(tiny_data, held), tmp_path / "plain", progress=False))
    run = train(_config(tiny_data, held, *SIDED), tmp_path / "sided", progress=False)
    sided = load_model(run)
    # the networks trained alike; the classifier moved after the last step and is in use
    shared = plain.state_dict()
    assert all(torch.equal(shared[k], v) for k, v in sided.state_dict().items() if k in shared)
    assert bool(sided.side_fitted)
    unfitted = _model(side_classifier=True).side_classifier.state_dict()
    assert any(not torch.equal(unfitted[k], v) for k, v in sided.side_classifier.state_dict().items())
    rows = log_rows(run)
    assert "side_fit/final_loss" in rows[2] and "side_fit/final_loss" not in rows[1]
    assert math.isfinite(rows[2]["side_fit/final_loss"])
    with torch.no_grad():
        assert "facing_logit" in sided.encode_pose(torch.rand(2, 3, SIZE, SIZE))
    # scripts/refit_sides.py on the plain run fits the very classifier the trainer did
    script = Path(__file__).resolve().parents[2] / "scripts" / "refit_sides.py"
    refit = subprocess.run([sys.executable, str(script), "--run", str(tmp_path / "plain"), "--iterations", "4",
                            "--out", str(tmp_path / "refit")], capture_output=True, text=True, timeout=600)
    assert refit.returncode == 0, refit.stderr
    refitted = load_model(tmp_path / "refit").state_dict()
    assert all(torch.equal(refitted[k], v) for k, v in sided.state_dict().items())
    # a pause is not the end: nothing is fitted until the run completes, then the same classifier
    halves = tmp_path / "halves"
    train(_config(tiny_data, *SIDED), halves, stop_after=1, progress=False)
    assert not bool(load_model(halves).side_fitted) and "side_fit/final_loss" not in log_rows(halves)[1]
    train(_config(tiny_data, *SIDED), halves, resume=True, progress=False)
    resumed = load_model(halves).state_dict()
    for key, value in sided.state_dict().items():
        torch.testing.assert_close(resumed[key], value, rtol=1e-5, atol=1e-6)


def test_donor_pairs_are_evenly_spaced_training_targets(tiny_data):
    from posesynth.data.pairs import FramePairDataset
    dataset = FramePairDataset(videos=tiny_data / "videos", size=SIZE, min_gap=2, max_gap=8, pairs_per_epoch=10)
    crops, backgrounds = donor_pairs(dataset, count=4)
    assert crops.shape == backgrounds.shape == (4, 3, SIZE, SIZE)
    for k, i in enumerate((0, 3, 6, 9)):   # linspace(0, 9, 4), rounded
        torch.testing.assert_close(crops[k], dataset[i]["target"])
        torch.testing.assert_close(backgrounds[k], dataset[i]["background"])
    assert len(donor_pairs(dataset, count=100)[0]) == 10   # never more than the pairs there are


@pytest.mark.parametrize("overrides, match", [
    (("train.side_fit_iterations=4",), "side_classifier"),
    (("model.side_classifier=true",), "side_fit_iterations"),
    ((*SIDED, "model.facing_head=true"), "facing_head"),
    ((*SIDED, "data.calibration=cameras.json"), "calibration"),
])
def test_the_side_stage_s_config_errors_name_the_keys(tiny_data, overrides, match):
    with pytest.raises(ConfigError, match=match):
        _config(tiny_data, *overrides)
