"""Why a run does not learn: one number per suspect, on labelled synthetic data.

The model/trainer issue asks, when held-out error does not beat the mean pose, whether the cause
is the renderer's gradient, a collapse, left/right or front/back flips, or depth ambiguity.
Each function here measures one of those from a trained model's predictions and the labels of
a ``posesynth synth`` set (:func:`~posesynth.evaluation.synthetic.labelled_views`);
:func:`diagnose` runs them all (``scripts/diagnose_learning.py`` is its command line).
"""

from __future__ import annotations

import numpy as np
import torch
from einops import rearrange

from posesynth.evaluation.metrics import either_side_constant, joints2d_error, nearer_side, pa_mpjpe
from posesynth.losses.facing import travel_facing_labels
from posesynth.losses.reconstruction import (
    foreground_error_per_frame, foreground_weight, l1_loss, silhouette_loss, ssim_loss,
)
from posesynth.models.discriminator import body_frame
from posesynth.models.model import PoseSynthModel, pair_reading
from posesynth.render.paint import observed_foreground
from posesynth.render.puppet import foreground_mask
from posesynth.skeleton import BONES, facing_side, flip_pose, swap_sides


def yaw_degrees(pose: torch.Tensor) -> torch.Tensor:
    """Heading of the body's forward axis about the camera's vertical (y) axis.

    Args:
        pose: (N, 17, 3) camera frame (x right, y down, z forward), any units.
    Returns:
        (N,) degrees in (−180, 180]; 0 when the person faces the camera (forward = −z).
    """
    forward = -body_frame(pose)[:, 2]          # the body frame's z points out of the back
    return torch.rad2deg(torch.atan2(forward[:, 0], -forward[:, 2]))


def yaw_error_degrees(prediction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Signed heading error, wrapped.  (N, 17, 3) twice, camera frame → (N,) degrees in [−180, 180)."""
    return (yaw_degrees(prediction) - yaw_degrees(truth) + 180.0) % 360.0 - 180.0


def circular_spread_degrees(angles_deg: torch.Tensor) -> float:
    """Circular standard deviation sqrt(−2 ln R), R the mean resultant length.  (N,) degrees → degrees.

    0 when every angle is the same; about 76° for angles uniform over ±120°; it grows without
    bound as the angles cover the whole circle evenly (R → 0).
    """
    radians = torch.deg2rad(angles_deg.double())
    resultant = torch.stack([radians.cos().mean(), radians.sin().mean()]).norm().clamp(min=1e-12)
    return float(torch.rad2deg(torch.sqrt(-2 * torch.log(resultant))))


def depth_sign_agreement(prediction: torch.Tensor, truth: torch.Tensor, min_difference: float = 0.05) -> float:
    """How often the predicted pose gets each bone's depth direction right (chance: 0.5).

    Only bones whose two ends differ in true depth by more than ``min_difference`` count: the
    others have no well-defined direction.

    Args:
        prediction, truth: (N, 17, 3) camera frame, metres (z = depth).
        min_difference: metres.
    Returns:
        the fraction of counted bones with sign(Δz_pred) = sign(Δz_true); NaN when none counts.
    """
    parent, child = (list(x) for x in zip(*BONES))
    true_dz = truth[:, child, 2] - truth[:, parent, 2]
    pred_dz = prediction[:, child, 2] - prediction[:, parent, 2]
    counted = true_dz.abs() > min_difference
    if not counted.any():
        return float("nan")
    return float(((true_dz * pred_dz) > 0)[counted].float().mean())


def spread_ratio(prediction: torch.Tensor, truth: torch.Tensor) -> float:
    """Variety of the predicted articulation relative to the truth's (0: collapsed to one pose).

    Both sets are rotated into their own body frames first, so orientation does not count.

    Args:
        prediction, truth: (N, 17, 3) root-relative, any rigid frame, metres.
    Returns:
        mean over joints of the per-joint standard deviation (norm over x, y, z) of the
        prediction, divided by the same for the truth.
    """
    def spread(pose: torch.Tensor) -> torch.Tensor:
        body = pose @ body_frame(pose).transpose(-1, -2)
        return body.std(0).norm(dim=-1).mean()

    return float(spread(prediction) / spread(truth))


def mirror_better_fraction(prediction_mm: np.ndarray, truth_mm: np.ndarray) -> float:
    """Fraction of frames whose left↔right mirrored prediction has the lower PA-MPJPE.

    About 0 when left and right are assigned right, about 0.5 when they are assigned at random,
    about 1 when they are systematically swapped.

    Args:
        prediction_mm, truth_mm: (N, 17, 3) root-relative, camera frame, mm.
    """
    mirrored = flip_pose(torch.as_tensor(prediction_mm)).numpy()
    return float(np.mean(np.asarray(pa_mpjpe(mirrored, truth_mm) < pa_mpjpe(prediction_mm, truth_mm))))


def pa_mpjpe_either_side(prediction_mm: np.ndarray, truth_mm: np.ndarray) -> float:
    """Mean PA-MPJPE (mm) when each frame may take its prediction or the mirrored one.

    An oracle for the side alone: how far the 3D would get if only the facing (left↔right) were
    fixed. Compare with ``pa_mpjpe`` and the baseline's.

    Args:
        prediction_mm, truth_mm: (N, 17, 3) root-relative, camera frame, mm.
    """
    return float(_pa_mpjpe_both_sides(prediction_mm, truth_mm).min(0).mean())


def pa_mpjpe_wrong_side(prediction_mm: np.ndarray, truth_mm: np.ndarray) -> float:
    """Mean PA-MPJPE (mm) when each frame takes the worse of its prediction and the mirrored one.

    The other end of :func:`pa_mpjpe_either_side`: a facing decision that is right in a fraction
    p of the frames (and wrong at random otherwise) scores about
    ``p · either_side + (1 − p) · wrong_side``, which turns a facing accuracy into 3D.

    Args:
        prediction_mm, truth_mm: (N, 17, 3) root-relative, camera frame, mm.
    """
    return float(_pa_mpjpe_both_sides(prediction_mm, truth_mm).max(0).mean())


def _pa_mpjpe_both_sides(prediction_mm: np.ndarray, truth_mm: np.ndarray) -> np.ndarray:
    """(2, N) per-frame PA-MPJPE (mm) of the prediction and of its left↔right mirror."""
    mirrored = flip_pose(torch.as_tensor(prediction_mm)).numpy()
    return np.stack([np.asarray(pa_mpjpe(prediction_mm, truth_mm)), np.asarray(pa_mpjpe(mirrored, truth_mm))])


def joints2d_bias(pred2d: torch.Tensor, truth2d: torch.Tensor) -> dict[str, float]:
    """What part of the 2D error is a constant offset, and what part is left and right.

    A model that draws every person facing the camera puts each right joint on the image's left
    even for people seen from behind: a per-joint offset over the whole set that no image
    evidence can undo. These numbers split it off.

    Args:
        pred2d, truth2d: (N, 17, 2) crop pixels.
    Returns:
        ``joints2d_bias_px``: mean over joints of the length of the joint's mean error vector;
        ``joints2d_error_debiased_px``: the 2D error once each joint's mean error is removed
        (compare with ``joints2d_error_constant_px``: below it, the image-dependent part localises);
        ``joints2d_error_either_side_px``: per frame the better of the prediction and its
        left↔right relabelling (localisation with the facing left open).
    """
    offset = (pred2d - truth2d).mean(dim=0, keepdim=True)                              # (1, 17, 2)
    either = joints2d_error(pred2d, truth2d, either_side=True)
    constant_either = joints2d_error(either_side_constant(truth2d), truth2d, either_side=True)
    return {"joints2d_bias_px": float(offset.norm(dim=-1).mean()),
            "joints2d_error_debiased_px": float((pred2d - offset - truth2d).norm(dim=-1).mean()),
            "joints2d_error_either_side_px": float(either.mean()),
            "joints2d_error_either_side_constant_px": float(constant_either.mean())}


def limb_end_overshoot(pred2d: torch.Tensor, truth2d: torch.Tensor) -> dict[str, float]:
    """How far the ankles and wrists land past the true ones, along the limb that ends there.

    The skeleton ends at the ankles and wrists but bodies go on to the soles and fingertips. A
    puppet that does not draw them lets the reconstruction pull each end joint outwards onto the
    extremity (docs/learning.md, "The puppet's hands and feet"); exact 2D labels leave ~0.
    Each frame takes the better of the prediction and its left↔right relabelling first, so a
    front/back flip does not count.

    Args:
        pred2d, truth2d: (N, 17, 2) crop pixels.
    Returns:
        ``ankle_overshoot_px``, ``wrist_overshoot_px``: mean signed error along the true
        knee→ankle and elbow→wrist directions, pixels (positive: past the joint, away from the body).
    """
    error = nearer_side(pred2d, truth2d) - truth2d                                       # (N, 17, 2)

    def along(ends: list[int], parents: list[int]) -> float:
        direction = torch.nn.functional.normalize(truth2d[:, ends] - truth2d[:, parents], dim=-1)
        return float((error[:, ends] * direction).sum(-1).mean())

    return {"ankle_overshoot_px": along([3, 6], [2, 5]), "wrist_overshoot_px": along([13, 16], [12, 15])}


def _normalised_shape(joints2d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N, 17, 2) px → the shape centred and at unit RMS size, its centroid (N, 1, 2) and size (N, 1, 1), px."""
    centroid = joints2d.mean(1, keepdim=True)
    size = (joints2d - centroid).pow(2).sum(-1).mean(-1).sqrt()[:, None, None].clamp_min(1e-6)
    return (joints2d - centroid) / size, centroid, size


def shape_slope(pred2d: torch.Tensor, truth2d: torch.Tensor) -> float:
    """How much of the true 2D pose's departure from the mean pose the prediction follows.

    Both are centred and scaled to unit size per frame (position and size are the camera's, not
    the pose's); m is the truth's mean shape over the set. The slope of the least-squares line
    through the prediction's departures from m against the truth's,
    Σ ⟨p − m, t − m⟩ / Σ |t − m|², is 1 for a prediction that follows every pose and 0 for a
    constant one: the pull towards the mean that a mean pixel error hides.

    Args:
        pred2d, truth2d: (N, 17, 2) crop pixels, the same labelling
            (:func:`~posesynth.evaluation.metrics.nearer_side`).
    Returns:
        the slope, unitless.
    """
    pred, _, _ = _normalised_shape(pred2d)
    truth, _, _ = _normalised_shape(truth2d)
    mean = truth.mean(0, keepdim=True)
    return float(((pred - mean) * (truth - mean)).sum() / (truth - mean).pow(2).sum().clamp_min(1e-12))


def lifting_sensitivity(model: PoseSynthModel, raw: dict[str, torch.Tensor], truth2d: torch.Tensor,
                        truth_mm: np.ndarray, seed: int = 0) -> dict[str, float]:
    """What the 2D error costs in 3D, through the model's own 2D → 3D path, split by its kind.

    The model's reported 3D pose is built from its 2D joints (by the lifter or, in eval mode, the
    refiner) with the encoder's root depth. Feeding that same path other 2D joints says how much
    of the 3D error is the 2D's and what kind of 2D error costs it: the true joints, the true
    joints plus isotropic Gaussian noise of the prediction's own mean error, and the true shapes
    pulled towards the mean shape by the prediction's :func:`shape_slope`. The prediction's side
    is forgiven throughout (chosen per frame by the true 2D), so these compare with each other
    and not with ``pa_mpjpe``.

    Args:
        model: in eval mode. raw: its pose encoder's outputs on the set's crops
            (:class:`~posesynth.models.heatmap_encoder.HeatmapPoseEncoder`, N frames).
        truth2d: (N, 17, 2) true joints, crop pixels. truth_mm: (N, 17, 3) true poses in the
            frame the model predicts in, millimetres.
        seed: the noise draw.
    Returns:
        ``joints2d_shape_slope``; ``pa_mpjpe_from_predicted2d`` (side forgiven),
        ``pa_mpjpe_from_true2d``, ``pa_mpjpe_from_true2d_noisy``, ``pa_mpjpe_from_true2d_pulled``, mm.
    """
    keep_sides = torch.zeros(len(truth2d), dtype=torch.bool)    # the joints are given with their sides

    def lifted(joints2d: torch.Tensor) -> float:
        with torch.no_grad():
            pose = model.pose_from({**raw, "joints2d": joints2d}, keep_sides)["pose_camera"]
        return float(pa_mpjpe(pose.double().numpy() * 1000, truth_mm).mean())

    pred2d = nearer_side(raw["joints2d"], truth2d)
    slope = shape_slope(pred2d, truth2d)
    error = (pred2d - truth2d).norm(dim=-1).mean()
    noise = torch.randn(truth2d.shape, generator=torch.Generator().manual_seed(seed))
    noise = noise * error / noise.norm(dim=-1).mean()
    shape, centroid, size = _normalised_shape(truth2d)
    mean = shape.mean(0, keepdim=True)
    pulled = (mean + slope * (shape - mean)) * size + centroid
    return {"joints2d_shape_slope": slope,
            "pa_mpjpe_from_predicted2d": lifted(pred2d),
            "pa_mpjpe_from_true2d": lifted(truth2d),
            "pa_mpjpe_from_true2d_noisy": lifted(truth2d + noise),
            "pa_mpjpe_from_true2d_pulled": lifted(pulled)}


def true_puppet_depth(pose3d: torch.Tensor, true_focal: torch.Tensor, model_focal: float) -> torch.Tensor:
    """Depths at which the model's puppet draws the true limbs at their true pixel widths.

    The puppet takes the 2D joints as given (here the true ones) and uses depth only for the
    occlusion order and for limb widths, radius·f/z with the model's fixed focal f_model. The
    crop's real focal length f_true differs per crop; scaling depth by f_model / f_true makes
    radius·f_model/z' = radius·f_true/z, the width the person really has in the crop, and keeps
    the depth order.

    Args:
        pose3d: (N, 17, 3) camera frame, metres. true_focal: (N,) pixels.
    Returns:
        (N, 17) depths in the model's units.
    """
    return pose3d[..., 2] * (model_focal / true_focal)[:, None]


def puppet_reconstruction(model: PoseSynthModel, source: torch.Tensor, target: torch.Tensor,
                          background: torch.Tensor, joints2d: torch.Tensor, depth: torch.Tensor,
                          source_maps: torch.Tensor) -> torch.Tensor:
    """Per-sample training reconstruction loss with the target puppet drawn from given joints.

    Args:
        model: a trained :class:`PoseSynthModel` (its appearance encoder and decoder are used).
        source, target, background: (B, 3, S, S) in [0, 1].
        joints2d: (B, 17, 2) crop pixels and depth (B, 17) model units: the target puppet.
        source_maps: (B, P + 1, S, S) the source puppet the appearance is pooled in.
    Returns:
        (B,) foreground-weighted L1 + SSIM loss (the training terms at weight 1).
    """
    maps = model.render(joints2d, depth)
    appearance = model.appearance_encoder(source, source_maps[:, :-1])
    image = model.decoder(maps, appearance, background, coverage=foreground_mask(maps))["image"]
    weight = foreground_weight(target, background)
    return torch.stack([l1_loss(image[i:i + 1], target[i:i + 1], weight[i:i + 1])
                        + ssim_loss(image[i:i + 1], target[i:i + 1], weight=weight[i:i + 1])
                        for i in range(len(image))])


def facing_agreement(pred2d: torch.Tensor, true2d: torch.Tensor) -> dict[str, float]:
    """Which way the 2D puppets face, against the truth (:func:`~posesynth.skeleton.facing_side`).

    Args:
        pred2d, true2d: (N, 17, 2) crop pixels.
    Returns:
        ``facing_right_fraction``: frames whose side (towards / away from the camera) is the true
        one (an encoder that draws everyone facing the camera scores the share of people who do);
        ``facing_toward_fraction`` and ``facing_toward_fraction_truth``: frames drawn / truly
        facing the camera.
    """
    pred_side, true_side = facing_side(pred2d), facing_side(true2d)
    return {"facing_right_fraction": float(((pred_side < 0) == (true_side < 0)).float().mean()),
            "facing_toward_fraction": float((pred_side < 0).float().mean()),
            "facing_toward_fraction_truth": float((true_side < 0).float().mean())}


def verdict_quality(model: PoseSynthModel, source: torch.Tensor, target: torch.Tensor, background: torch.Tensor,
                    source_true2d: torch.Tensor, target_true2d: torch.Tensor) -> dict[str, float]:
    """How good the reconstruction's verdict on the side is (``loss.facing_verdict``), on labelled pairs.

    Args:
        model: a :class:`PoseSynthModel` with the facing head.
        source, target, background: (B, 3, S, S) in [0, 1], as in training (the target's background).
        source_true2d, target_true2d: (B, 17, 2) the true joints, crop pixels.
    Returns:
        ``verdict_right_fraction``: frames (targets and sources) the verdict (no margin: the reading
        with the smallest error) draws with their true side (:func:`~posesynth.skeleton.facing_side`);
        ``head_right_fraction``: the same for the facing head's own side;
        ``verdict_overrides_fraction``: pairs where the best reading is not the head's;
        ``verdict_gain_median``: over those, the median of 1 − best error / the head's reading's
        error, the scale a ``loss.facing_verdict_margin`` acts on;
        ``verdict_right_fraction_true2d``: the verdict's score when its readings are the true
        joints' frontal labelling instead of the encoder's (its depths stay): whether the decoder
        tells front from back once the 2D is exact.
    """
    errors: list[torch.Tensor] = []
    def record(*args) -> torch.Tensor:
        errors.append(foreground_error_per_frame(*args))
        return errors[-1]
    with torch.no_grad():
        raw = model.pose_encoder(torch.cat([target, source]))
        away = model.facing_verdict(raw, source, target, background, record)
        head = raw["facing_logit"] > 0
        true2d = torch.cat([target_true2d, source_true2d])
        truth = facing_side(true2d) < 0                                   # facing the camera
        exact = {**raw, "joints2d": swap_sides(true2d, ~truth)}           # the truth's frontal labelling
        exact_away = model.facing_verdict(exact, source, target, background, foreground_error_per_frame)
    def right(sides: torch.Tensor, frontal: torch.Tensor = raw["joints2d"]) -> float:
        return float(((facing_side(swap_sides(frontal, sides)) < 0) == truth).float().mean())
    table = torch.stack(errors, dim=1)                                   # (B, 4), index 2·source + target
    held = table.gather(1, pair_reading(head)[:, None])[:, 0]
    lowest = table.min(dim=1).values
    overrides = lowest < held
    gain = 1 - lowest[overrides] / held[overrides]
    return {"verdict_right_fraction": right(away), "head_right_fraction": right(head),
            "verdict_overrides_fraction": float(overrides.float().mean()),
            "verdict_gain_median": float(gain.median()) if overrides.any() else 0.0,
            "verdict_right_fraction_true2d": right(exact_away, exact["joints2d"])}


def pa_mpjpe_by_facing(prediction_mm: np.ndarray, truth_mm: np.ndarray, true2d: torch.Tensor) -> dict[str, float]:
    """PA-MPJPE over the frames whose person truly faces the camera, and over the others.

    An encoder that draws everyone facing the camera can only be right about the first group; the
    split says how good its 3D is where its side is right, and how much the rest costs.

    Args:
        prediction_mm, truth_mm: (N, 17, 3) poses, mm.
        true2d: (N, 17, 2) the true joints in crop pixels (their side: :func:`~posesynth.skeleton.facing_side`).
    Returns:
        ``pa_mpjpe_facing_camera`` and ``pa_mpjpe_facing_away`` (NaN for an empty group).
    """
    toward = (facing_side(true2d) < 0).numpy()
    errors = np.asarray(pa_mpjpe(prediction_mm, truth_mm))
    return {"pa_mpjpe_facing_camera": float(errors[toward].mean()) if toward.any() else float("nan"),
            "pa_mpjpe_facing_away": float(errors[~toward].mean()) if (~toward).any() else float("nan")}


def travel_label_quality(pred2d: torch.Tensor, true2d: torch.Tensor, boxes: torch.Tensor, video: np.ndarray,
                         gap: int, crop_size: int) -> dict[str, float]:
    """How often the walking-direction facing label (:mod:`posesynth.losses.facing`) exists and is right.

    Pairs are (i, i + gap) kept frames of one video, the later frame labelled; right means the
    label's side is the later frame's true side.

    Args:
        pred2d, true2d: (N, 17, 2) crop pixels. boxes: (N, 4) crop boxes, video pixels.
        video: (N,) video index of each frame. gap: in kept frames. crop_size: S, pixels.
    Returns:
        ``travel_label_coverage`` (labelled pairs / pairs), ``travel_label_precision`` from the
        predicted ankles and ``travel_label_precision_true_feet`` from the true ones (NaN with no label).
    """
    first = torch.as_tensor([i for i in range(len(video) - gap) if video[i] == video[i + gap]], dtype=torch.long)
    if len(first) == 0:
        return {}
    second = first + gap
    truth_away = facing_side(true2d[second]) > 0

    def labels(joints: torch.Tensor) -> torch.Tensor:
        return travel_facing_labels(joints[second], boxes[second], second, joints[first], boxes[first], first,
                                    crop_size)

    def precision(label: torch.Tensor) -> float:
        known = label != 0
        return float(((label[known] > 0) == truth_away[known]).float().mean()) if known.any() else float("nan")

    predicted = labels(pred2d)
    return {"travel_label_coverage": float((predicted != 0).float().mean()),
            "travel_label_precision": precision(predicted),
            "travel_label_precision_true_feet": precision(labels(true2d))}


def diagnose(model: PoseSynthModel, start: PoseSynthModel, views: dict[str, np.ndarray], *, gap: int = 8,
             pairs: int = 48, seed: int = 0) -> dict[str, float]:
    """All the numbers, for one trained model on one labelled set.

    Args:
        model: the trained model (evaluated in eval mode, not changed).
        start: the same architecture where training started (``start_from_pose`` of the mean
            unpaired pose), for the "did it move at all" reference.
        views: :func:`~posesynth.evaluation.synthetic.labelled_views` of the set.
        gap: source → target distance for the reconstruction pairs, in kept frames.
        pairs: how many (source, target) pairs of one video to test the renderer on.
        seed: the shuffle of the truths and the choice of pairs.
    Returns:
        name → value; see ``docs/learning.md`` for how to read each.
    """
    model.eval()
    images = rearrange(torch.from_numpy(views["crops"]), "n h w c -> n c h w").float() / 255
    backgrounds = rearrange(torch.from_numpy(views["backgrounds"]), "n h w c -> n c h w").float() / 255
    pose3d = torch.from_numpy(views["pose3d"]).float()
    truth = torch.from_numpy(views["truth"]).float()     # the frame the model predicts in
    truth2d = torch.from_numpy(views["joints2d"]).float()
    with torch.no_grad():
        raws = [model.pose_encoder(chunk) for chunk in images.split(64)]
        raw = {k: torch.cat([r[k] for r in raws]) for k in raws[0]}
        outputs = [model.pose_from(r) for r in raws]       # = encode_pose, with the network's outputs kept
        pred = {k: torch.cat([o[k] for o in outputs]) for k in ("pose_camera", "joints2d", "depth")}
        initial = [start.eval().encode_pose(chunk) for chunk in images.split(64)]
        initial2d = torch.cat([o["joints2d"] for o in initial])
        initial_mm = torch.cat([o["pose_camera"] for o in initial]).double().numpy() * 1000
    rng = np.random.default_rng(seed)
    pred_mm, truth_mm = pred["pose_camera"].double().numpy() * 1000, truth.double().numpy() * 1000
    yaw = yaw_error_degrees(pred["pose_camera"], truth).abs()
    report = {
        "frames": float(len(truth)),
        # 2D alignment: the best constant 2D pose (the mean of the true crops' joints) is the bar
        "joints2d_error_px": float((pred["joints2d"] - truth2d).norm(dim=-1).mean()),
        "joints2d_error_initial_px": float((initial2d - truth2d).norm(dim=-1).mean()),
        "joints2d_error_constant_px": float((truth2d.mean(0, keepdim=True) - truth2d).norm(dim=-1).mean()),
        **joints2d_bias(pred["joints2d"], truth2d),
        **limb_end_overshoot(pred["joints2d"], truth2d),
        **lifting_sensitivity(model, raw, truth2d, truth.double().numpy() * 1000, seed),
        "depth_sign_agreement": depth_sign_agreement(pred["pose_camera"], truth),
        "spread_ratio": spread_ratio(pred["pose_camera"], truth),
        "pa_mpjpe": float(pa_mpjpe(pred_mm, truth_mm).mean()),
        # the start is the mean unpaired pose: the mean-pose baseline on exactly these frames
        "pa_mpjpe_start": float(pa_mpjpe(initial_mm, truth_mm).mean()),
        "pa_mpjpe_shuffled_truth": float(pa_mpjpe(pred_mm, truth_mm[rng.permutation(len(truth_mm))]).mean()),
        # a heading that never changes gives ~0 spread whatever the truth's spread is
        "yaw_spread_deg": circular_spread_degrees(yaw_degrees(pred["pose_camera"])),
        "yaw_spread_truth_deg": circular_spread_degrees(yaw_degrees(truth)),
        "yaw_error_median_deg": float(yaw.median()),
        "yaw_within_45deg": float((yaw < 45).float().mean()),
        "yaw_beyond_135deg": float((yaw > 135).float().mean()),
        "mirror_better_fraction": mirror_better_fraction(pred_mm, truth_mm),
        "pa_mpjpe_either_side": pa_mpjpe_either_side(pred_mm, truth_mm),
        "pa_mpjpe_wrong_side": pa_mpjpe_wrong_side(pred_mm, truth_mm),
        **facing_agreement(pred["joints2d"], truth2d),
        **pa_mpjpe_by_facing(pred_mm, truth_mm, truth2d),
        # the start is the mean unpaired pose: its PA-MPJPE is the mean-pose baseline's, per group
        **{f"{k}_start": v for k, v in pa_mpjpe_by_facing(initial_mm, truth_mm, truth2d).items()},
    }
    if "boxes" in views:
        report.update(travel_label_quality(pred["joints2d"], truth2d, torch.from_numpy(views["boxes"]).float(),
                                           views["video"], gap, model.image_size))

    # the renderer: same-video pairs; only the target puppet changes between the three losses
    video = views["video"]
    candidates = [i for i in range(len(video) - gap) if video[i] == video[i + gap]]
    if not candidates:
        return report
    src = torch.as_tensor(rng.permutation(candidates)[:pairs])
    tgt = src + gap
    depth_true = true_puppet_depth(pose3d, torch.from_numpy(views["focal"]).float(), model.focal)
    with torch.no_grad():
        source_maps = model.render(pred["joints2d"][src], pred["depth"][src])
    args = (model, images[src], images[tgt], backgrounds[tgt])
    joints = pred["joints2d"][tgt].clone().requires_grad_(True)
    loss_pred = puppet_reconstruction(*args, joints, pred["depth"][tgt], source_maps)
    (gradient,) = torch.autograd.grad(loss_pred.sum(), joints)
    # the decoder-free reference: the silhouette term's descent direction at the same puppet
    joints_sil = pred["joints2d"][tgt].clone().requires_grad_(True)
    coverage = foreground_mask(model.render(joints_sil, pred["depth"][tgt]))
    (gradient_sil,) = torch.autograd.grad(
        silhouette_loss(coverage, observed_foreground(images[tgt], backgrounds[tgt])), joints_sil)
    with torch.no_grad():
        loss_true = puppet_reconstruction(*args, truth2d[tgt], depth_true[tgt], source_maps)
        loss_initial = puppet_reconstruction(*args, initial2d[tgt], pred["depth"][tgt], source_maps)
        correction = truth2d[tgt] - pred["joints2d"][tgt]
        cosine = torch.nn.functional.cosine_similarity(-gradient.flatten(1), correction.flatten(1), dim=1)
        cosine_sil = torch.nn.functional.cosine_similarity(-gradient_sil.flatten(1), correction.flatten(1), dim=1)
    if getattr(model.pose_encoder, "facing_head", None) is not None:
        report.update(verdict_quality(model, *args[1:], truth2d[src], truth2d[tgt]))
    report.update(
        pairs=float(len(src)),
        recon_loss_predicted_pose=float(loss_pred.detach().mean()),
        recon_loss_true_pose=float(loss_true.mean()),
        recon_loss_initial_pose=float(loss_initial.mean()),
        recon_true_better_fraction=float((loss_true < loss_pred.detach()).float().mean()),
        gradient_cosine_to_truth=float(cosine.mean()),
        silhouette_gradient_cosine_to_truth=float(cosine_sil.mean()),
    )
    return report


__all__ = ["yaw_degrees", "yaw_error_degrees", "circular_spread_degrees", "depth_sign_agreement", "spread_ratio",
           "mirror_better_fraction", "pa_mpjpe_either_side", "pa_mpjpe_wrong_side", "pa_mpjpe_by_facing",
           "verdict_quality", "joints2d_bias", "limb_end_overshoot", "shape_slope",
           "lifting_sensitivity", "true_puppet_depth", "puppet_reconstruction",
           "diagnose"]
