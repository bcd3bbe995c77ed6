"""The learning diagnostics: closed-form values per measure, and one run on a tiny labelled set."""

import math

import numpy as np
import pytest
import torch

from posesynth.evaluation.metrics import pa_mpjpe
from posesynth.evaluation.synthetic import labelled_views
from posesynth.models.model import PoseSynthModel
from posesynth.skeleton import FLIP_PERMUTATION, canonical_tpose, flip_pose, swap_sides
from posesynth.synth.dataset import generate_dataset, load_labels
from posesynth.synth.poses import sample_poses
from posesynth.training.diagnostics import (circular_spread_degrees, depth_sign_agreement, diagnose,
    facing_agreement, joints2d_bias, lifting_sensitivity, limb_end_overshoot, pa_mpjpe_by_facing,
    travel_label_quality, mirror_better_fraction, shape_slope,
    pa_mpjpe_either_side, pa_mpjpe_wrong_side, spread_ratio, true_puppet_depth, verdict_quality, yaw_degrees, yaw_error_degrees)
from posesynth.training.inputs import canonical_poses


def _yaw(pose: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate (N, 17, 3) poses about the camera's vertical (y) axis."""
    a = math.radians(degrees)
    R = torch.tensor([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])
    return pose @ R.T


@pytest.fixture(scope="module")
def poses() -> torch.Tensor:
    """(N, 17, 3) varied, articulated, root-relative poses facing the camera, metres."""
    return canonical_poses(torch.as_tensor(sample_poses(clips=4, seed=1)[::7], dtype=torch.float32))


def test_yaw_is_zero_facing_the_camera_and_follows_a_turn():
    pose = canonical_tpose()[None]
    assert yaw_degrees(pose).item() == pytest.approx(0.0, abs=1e-4)
    turned = _yaw(pose, 90.0)
    assert abs(yaw_degrees(turned).item()) == pytest.approx(90.0, abs=1e-3)
    # wrapping: a half turn is ±180, a −170 vs +170 pair is 20 apart, not 340
    assert abs(yaw_error_degrees(_yaw(pose, 180.0), pose).item()) == pytest.approx(180.0, abs=1e-3)
    assert abs(yaw_error_degrees(_yaw(pose, 170.0), _yaw(pose, -170.0)).item()) == pytest.approx(20.0, abs=1e-3)


def test_circular_spread():
    assert circular_spread_degrees(torch.full((5,), 170.0)) == pytest.approx(0.0, abs=1e-3)
    # two angles 10° apart: R = cos 5°, sqrt(−2 ln cos 5°) ≈ 5° — and wrapping at ±180 changes nothing
    assert circular_spread_degrees(torch.tensor([10.0, 20.0])) == pytest.approx(5.003, abs=1e-3)
    assert circular_spread_degrees(torch.tensor([175.0, -175.0])) == pytest.approx(5.003, abs=1e-3)


def test_depth_sign_agreement(poses):
    assert depth_sign_agreement(poses, poses) == 1.0
    mirrored_in_depth = poses * torch.tensor([1.0, 1.0, -1.0])
    assert depth_sign_agreement(mirrored_in_depth, poses) == 0.0
    flat = poses * torch.tensor([1.0, 1.0, 0.0])
    assert math.isnan(depth_sign_agreement(poses, flat))


def test_spread_ratio(poses):
    assert spread_ratio(poses, poses) == pytest.approx(1.0)
    assert spread_ratio(2 * poses, poses) == pytest.approx(2.0, rel=1e-5)
    collapsed = poses[:1].expand_as(poses)
    assert spread_ratio(collapsed, poses) == pytest.approx(0.0, abs=1e-6)
    # orientation does not count as variety
    assert spread_ratio(_yaw(poses, 60.0), poses) == pytest.approx(1.0, rel=1e-5)


def test_mirror_better_fraction(poses):
    mm = poses.double().numpy() * 1000
    assert mirror_better_fraction(mm, mm) == 0.0
    assert mirror_better_fraction(flip_pose(poses).double().numpy() * 1000, mm) == 1.0


def test_true_puppet_depth_keeps_the_projection():
    pose = torch.tensor([[[0.3, -0.2, 4.0], [0.1, 0.5, 5.0]]])
    true_focal, model_focal = torch.tensor([150.0]), 128.0
    depth = true_puppet_depth(pose, true_focal, model_focal)
    # a limb of radius r is drawn r·f_model/z' pixels wide: the true r·f_true/z
    radius = 0.07
    assert torch.allclose(radius * model_focal / depth, radius * true_focal / pose[..., 2])
    assert torch.allclose(depth, pose[..., 2] * 128.0 / 150.0)


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("diag")
    generate_dataset(root, videos=2, frames=12, size=64, seed=5, progress=False)
    return root


def test_labelled_views_are_consistent_crop_projections(tiny_set):
    views = labelled_views(tiny_set, 32, 1.25, stride=3)
    n = len(views["crops"])
    assert n == 8 and views["crops"].shape == views["backgrounds"].shape == (n, 32, 32, 3)
    assert views["pose3d"].shape == (n, 17, 3) and views["joints2d"].shape == (n, 17, 2)
    assert views["video"].tolist() == [0] * 4 + [1] * 4
    assert views["boxes"].shape == (n, 4)
    np.testing.assert_allclose(views["boxes"][:, 2] - views["boxes"][:, 0], views["boxes"][:, 3] - views["boxes"][:, 1])
    # the crop's 2D = f·X/Z + principal point, one principal point per frame: the focal is right
    pose, uv = views["pose3d"], views["joints2d"]
    principal = uv - views["focal"][:, None, None] * pose[..., :2] / pose[..., 2:]
    assert np.abs(principal - principal.mean(1, keepdims=True)).max() < 0.05
    # and the joints land inside the crop, around its centre
    assert (uv > -2).all() and (uv < 34).all()
    labels = load_labels(sorted((tiny_set / "labels").glob("*.npz"))[0])
    assert np.allclose(views["pose3d"][:4], labels["joints3d"][::3][:4])


@pytest.mark.parametrize("facing_head", [False, True])
def test_diagnose_runs_and_is_self_consistent(tiny_set, facing_head):
    torch.manual_seed(0)
    views = labelled_views(tiny_set, 32, 1.25, stride=2)
    model = PoseSynthModel(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8,
                           appearance_width=8, decoder_width=8, facing_head=facing_head)
    model.start_from_pose(canonical_tpose())
    report = diagnose(model, model, views, gap=2, pairs=4)
    # a precision is NaN where no pair walks far enough to be labelled
    assert all(np.isfinite(v) for k, v in report.items() if not k.startswith("travel_label_precision"))
    # the start is the model itself: same 2D error; an untrained model predicts one pose
    assert report["joints2d_error_px"] == pytest.approx(report["joints2d_error_initial_px"])
    assert report["spread_ratio"] < 0.1  # the heatmap prior dominates an untrained encoder's output
    assert report["pa_mpjpe"] == pytest.approx(report["pa_mpjpe_start"])
    assert report["pa_mpjpe_either_side"] <= report["pa_mpjpe"] <= report["pa_mpjpe_wrong_side"]
    assert report["recon_loss_predicted_pose"] == pytest.approx(report["recon_loss_initial_pose"], rel=1e-5)
    assert -1.0 <= report["gradient_cosine_to_truth"] <= 1.0
    assert -1.0 <= report["silhouette_gradient_cosine_to_truth"] <= 1.0
    assert 0.0 <= report["recon_true_better_fraction"] <= 1.0
    # the frontal start draws everyone facing the camera
    assert report["facing_toward_fraction"] == 1.0
    assert report["facing_right_fraction"] == pytest.approx(report["facing_toward_fraction_truth"])
    assert 0.0 <= report["travel_label_coverage"] <= 1.0
    # the verdict's numbers come with a facing head only (closed forms: the test below)
    assert ("verdict_right_fraction" in report) == facing_head


def test_verdict_quality_scores_the_verdict_and_the_head_against_the_true_sides():
    torch.manual_seed(0)
    model = PoseSynthModel(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8,
                           appearance_width=8, decoder_width=8, facing_head=True).eval()
    model.start_from_pose(canonical_tpose())
    source, target, background = torch.rand(3, 4, 3, 32, 32).unbind(0)
    with torch.no_grad():
        frontal = model.pose_encoder(torch.cat([target, source]))["joints2d"]
    # the truth is the frontal reading: the head, sure at the start that everyone faces the camera, is right
    facing = verdict_quality(model, source, target, background, frontal[4:], frontal[:4])
    assert facing["head_right_fraction"] == 1.0
    everyone = torch.ones(8, dtype=torch.bool)
    away = swap_sides(frontal, everyone)
    turned = verdict_quality(model, source, target, background, away[4:], away[:4])
    assert turned["head_right_fraction"] == 0.0
    # the verdict does not see the truth: what it gets right on one it gets wrong on the other
    assert facing["verdict_right_fraction"] + turned["verdict_right_fraction"] == pytest.approx(1.0)
    # the truth's frontal labelling is the encoder's reading here in both cases: the same verdict
    assert facing["verdict_right_fraction_true2d"] == facing["verdict_right_fraction"]
    assert turned["verdict_right_fraction_true2d"] == turned["verdict_right_fraction"]
    assert 0.0 <= facing["verdict_overrides_fraction"] <= 1.0 and 0.0 <= facing["verdict_gain_median"] < 1.0


def test_joints2d_bias_closed_forms():
    truth = torch.rand(8, 17, 2, generator=torch.Generator().manual_seed(0)) * 40
    # a constant offset of (3, 4) px: all bias, nothing left once it is removed
    shifted = joints2d_bias(truth + torch.tensor([3.0, 4.0]), truth)
    assert shifted["joints2d_bias_px"] == pytest.approx(5.0, abs=1e-4)
    assert shifted["joints2d_error_debiased_px"] == pytest.approx(0.0, abs=1e-4)
    # left and right swapped in every frame: wrong, but right once either side is allowed
    swapped = joints2d_bias(truth[:, list(FLIP_PERMUTATION)], truth)
    assert swapped["joints2d_error_either_side_px"] == pytest.approx(0.0, abs=1e-5)
    assert swapped["joints2d_error_debiased_px"] > 1.0
    # half the frames relabelled: a constant that may flip fits both halves exactly
    pose = truth[:1]
    mixed = torch.cat([pose.expand(4, 17, 2), pose[:, list(FLIP_PERMUTATION)].expand(4, 17, 2)])
    assert joints2d_bias(mixed, mixed)["joints2d_error_either_side_constant_px"] == pytest.approx(0.0, abs=1e-5)


def test_limb_end_overshoot_closed_forms():
    truth = torch.rand(6, 17, 2, generator=torch.Generator().manual_seed(1)) * 40
    assert limb_end_overshoot(truth, truth) == {"ankle_overshoot_px": 0.0, "wrist_overshoot_px": 0.0}
    # every ankle moved 2 px further along its shin, every wrist 1 px back towards its elbow
    moved = truth.clone()
    for end, parent, step in ((3, 2, 2.0), (6, 5, 2.0), (13, 12, -1.0), (16, 15, -1.0)):
        direction = torch.nn.functional.normalize(truth[:, end] - truth[:, parent], dim=-1)
        moved[:, end] = truth[:, end] + step * direction
    out = limb_end_overshoot(moved, truth)
    assert out["ankle_overshoot_px"] == pytest.approx(2.0, abs=1e-5)
    assert out["wrist_overshoot_px"] == pytest.approx(-1.0, abs=1e-5)
    # a whole-body left↔right relabelling (a front/back flip) does not count
    flipped = limb_end_overshoot(moved[:, list(FLIP_PERMUTATION)], truth)
    assert flipped["ankle_overshoot_px"] == pytest.approx(2.0, abs=1e-5)


def test_shape_slope_closed_forms():
    g = torch.Generator().manual_seed(2)
    # one body shape, varied a little per frame, then moved and scaled per frame like crops are
    truth = 20 * torch.rand(1, 17, 2, generator=g) + 2 * torch.randn(10, 17, 2, generator=g)
    assert shape_slope(truth, truth) == pytest.approx(1.0)
    scaled = truth * torch.linspace(0.5, 2.0, 10)[:, None, None] + torch.tensor([5.0, -3.0])
    assert shape_slope(scaled, truth) == pytest.approx(1.0, abs=1e-5)
    # one pose for every frame (the mean shape) follows nothing; half way to it follows about half
    centred = truth - truth.mean(1, keepdim=True)
    shape = centred / centred.pow(2).sum(-1).mean(-1).sqrt()[:, None, None]
    mean = shape.mean(0, keepdim=True)
    assert shape_slope(mean.expand_as(truth) * 10, truth) == pytest.approx(0.0, abs=1e-5)
    assert shape_slope(mean + 0.5 * (shape - mean), truth) == pytest.approx(0.5, abs=0.05)
    assert shape_slope(mean - 0.5 * (shape - mean), truth) == pytest.approx(-0.5, abs=0.05)


def test_lifting_sensitivity_splits_the_3d_cost_of_the_2d(poses):
    model = PoseSynthModel(image_size=32, encoder_width=4, encoder_stages=3, appearance_channels=4,
                           appearance_width=4, decoder_width=4, decoder_levels=2, lifter=True).eval()
    images = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        raw = model.pose_encoder(images)
    truth2d = raw["joints2d"] + torch.randn(6, 17, 2, generator=torch.Generator().manual_seed(1))
    truth_mm = (poses[:6] * 1000).double().numpy()
    out = lifting_sensitivity(model, raw, truth2d, truth_mm)
    assert set(out) == {"joints2d_shape_slope", "pa_mpjpe_from_predicted2d", "pa_mpjpe_from_true2d",
                        "pa_mpjpe_from_true2d_noisy", "pa_mpjpe_from_true2d_pulled"}
    assert all(np.isfinite(v) for v in out.values())
    # a prediction equal to the truth: every route is the true 2D's, the slope 1
    exact = lifting_sensitivity(model, {**raw, "joints2d": truth2d}, truth2d, truth_mm)
    assert exact["joints2d_shape_slope"] == pytest.approx(1.0)
    for key in ("pa_mpjpe_from_predicted2d", "pa_mpjpe_from_true2d_noisy", "pa_mpjpe_from_true2d_pulled"):
        assert exact[key] == pytest.approx(exact["pa_mpjpe_from_true2d"], rel=1e-4)
    # a left↔right relabelled prediction is forgiven
    flipped = lifting_sensitivity(model, {**raw, "joints2d": truth2d[:, list(FLIP_PERMUTATION)]}, truth2d, truth_mm)
    assert flipped["pa_mpjpe_from_predicted2d"] == pytest.approx(exact["pa_mpjpe_from_true2d"], rel=1e-4)


def test_pa_mpjpe_either_side_forgives_the_side_only(poses):
    truth = poses.double().numpy() * 1000
    mirrored = flip_pose(poses).double().numpy() * 1000
    assert pa_mpjpe_either_side(mirrored, truth) == pytest.approx(0.0, abs=1e-3)
    noisy = truth + np.random.default_rng(0).normal(0, 20, truth.shape)
    assert 0 < pa_mpjpe_either_side(noisy, truth) <= float(pa_mpjpe(noisy, truth).mean()) + 1e-9


def test_pa_mpjpe_wrong_side_is_the_mirror_of_a_right_prediction(poses):
    truth = poses.double().numpy() * 1000
    mirrored = flip_pose(poses).double().numpy() * 1000
    # right or mirrored, the worse side is the mirror's error and the better one 0
    assert pa_mpjpe_wrong_side(truth, truth) == pytest.approx(float(pa_mpjpe(mirrored, truth).mean()))
    assert pa_mpjpe_wrong_side(mirrored, truth) == pytest.approx(float(pa_mpjpe(mirrored, truth).mean()))
    noisy = truth + np.random.default_rng(0).normal(0, 20, truth.shape)
    assert pa_mpjpe_either_side(noisy, truth) <= float(pa_mpjpe(noisy, truth).mean()) <= pa_mpjpe_wrong_side(noisy, truth)


def test_facing_agreement_closed_forms():
    truth = torch.zeros(4, 17, 2)
    truth[:, [1, 14], 0], truth[:, [4, 11], 0] = 10.0, 20.0   # right side on the image's left: facing the camera
    truth[2:] = truth[2:, list(FLIP_PERMUTATION)]             # the last two face away
    scores = facing_agreement(truth, truth)
    assert scores == {"facing_right_fraction": 1.0, "facing_toward_fraction": 0.5, "facing_toward_fraction_truth": 0.5}
    frontal = truth[:1].expand(4, 17, 2)
    assert facing_agreement(frontal, truth)["facing_right_fraction"] == 0.5


def test_pa_mpjpe_by_facing_splits_on_the_true_side(poses):
    truth2d = torch.zeros(4, 17, 2)
    truth2d[:, [1, 14], 0], truth2d[:, [4, 11], 0] = 10.0, 20.0   # facing the camera
    truth2d[2:] = truth2d[2:, list(FLIP_PERMUTATION)]             # the last two face away
    truth = poses[:4].double().numpy() * 1000
    prediction = truth.copy()
    prediction[2:] = truth[2:][:, list(FLIP_PERMUTATION)]         # wrong only where the person faces away
    scores = pa_mpjpe_by_facing(prediction, truth, truth2d)
    assert scores["pa_mpjpe_facing_camera"] == pytest.approx(0.0, abs=1e-6)
    assert scores["pa_mpjpe_facing_away"] > 10.0
    assert math.isnan(pa_mpjpe_by_facing(truth[:2], truth[:2], truth2d[:2])["pa_mpjpe_facing_away"])


def test_travel_label_quality_closed_forms():
    # one video, four frames walking away (feet 20 px higher per frame), people facing away
    pose = torch.zeros(17, 2)
    pose[[1, 14], 0], pose[[4, 11], 0] = 20.0, 10.0
    pose[[3, 6], 1] = 60.0
    joints = pose.expand(4, 17, 2)
    boxes = torch.tensor([[0.0, 100.0 - 20 * i, 64.0, 164.0 - 20 * i] for i in range(4)])
    video = np.zeros(4, int)
    right = travel_label_quality(joints, joints, boxes, video, gap=1, crop_size=64)
    assert right == {"travel_label_coverage": 1.0, "travel_label_precision": 1.0,
                     "travel_label_precision_true_feet": 1.0}
    # the same walk of a person facing the camera, walking backwards: every label is wrong
    turned = joints[:, list(FLIP_PERMUTATION)]
    assert travel_label_quality(turned, turned, boxes, video, gap=1, crop_size=64)["travel_label_precision"] == 0.0
    # standing still: no label
    still = travel_label_quality(joints, joints, boxes[:1].expand(4, 4), video, gap=1, crop_size=64)
    assert still["travel_label_coverage"] == 0.0 and math.isnan(still["travel_label_precision"])
