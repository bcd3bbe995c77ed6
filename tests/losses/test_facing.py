"""The travel-facing term: walking direction → facing label → left/right pseudo-label."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posesynth.data.crops import crop_matrix, crop_to_frame
from posesynth.losses.combine import compute_losses
from posesynth.losses.facing import facing_classification_loss, travel_facing, travel_facing_labels
from posesynth.losses.reconstruction import foreground_error_per_frame
from posesynth.models.model import PoseSynthModel
from posesynth.skeleton import FLIP_PERMUTATION, canonical_tpose, facing_side, swap_sides


def _frontal(width: float = 10.0) -> torch.Tensor:
    """(17, 2) a stick person facing the camera: its right side on the image's left."""
    joints = torch.zeros(17, 2)
    joints[:, 0] = 32.0
    for right, left, y in ((1, 4, 40.0), (2, 5, 48.0), (3, 6, 56.0), (14, 11, 22.0), (15, 12, 30.0), (16, 13, 38.0)):
        joints[right] = torch.tensor([32.0 - width / 2, y])
        joints[left] = torch.tensor([32.0 + width / 2, y])
    joints[[0, 7, 8, 9, 10], 1] = torch.tensor([40.0, 32.0, 22.0, 18.0, 12.0])
    return joints


def test_crop_to_frame_inverts_crop_matrix_for_batched_tensors():
    box = np.array([100.0, 40.0, 228.0, 168.0])
    points = torch.tensor([[[0.0, 0.0], [63.0, 31.5], [10.25, 50.0]]])
    video = crop_to_frame(points, torch.as_tensor(box, dtype=torch.float32)[None], 64)
    A = crop_matrix(box, 64)
    back = (A[:2, :2] @ video[0].numpy().T).T + A[:2, 2]
    np.testing.assert_allclose(back, points[0].numpy(), atol=1e-4)


def test_facing_side_sign():
    front = _frontal()
    assert facing_side(front[None]).item() == pytest.approx(-20.0)  # two pairs, each 10 px the wrong way round
    assert facing_side(front[list(FLIP_PERMUTATION)][None]).item() == pytest.approx(20.0)  # relabelled: away


@pytest.mark.parametrize("dv, du, expected", [
    (20.0, 0.0, -1.0),    # feet move down the image: coming towards the camera, facing it
    (-20.0, 5.0, 1.0),    # feet move up: going away
    (20.0, 60.0, 0.0),    # mostly sideways: no label
    (5.0, 0.0, 0.0),      # too small against the box side (0.08 × 100 = 8 px)
    (0.0, 0.0, 0.0),
])
def test_travel_facing_closed_forms(dv, du, expected):
    first = torch.tensor([[50.0, 200.0]])
    second = first + torch.tensor([[du, dv]])
    assert travel_facing(first, second, torch.tensor([100.0])).item() == expected


def test_travel_facing_labels_orders_the_frames_by_time():
    joints = _frontal()[None].repeat(2, 1, 1)
    box = torch.tensor([[0.0, 0.0, 128.0, 128.0], [0.0, 0.0, 128.0, 128.0]])
    lower = box + torch.tensor([0.0, 30.0, 0.0, 30.0])  # the same crop 30 px further down the video
    # the target is the later frame in pair 0, the earlier in pair 1; its feet are lower in both
    labels = travel_facing_labels(joints, lower, torch.tensor([40, 10]), joints, box, torch.tensor([10, 40]), 64)
    torch.testing.assert_close(labels, torch.tensor([-1.0, 1.0]))


def test_facing_classification_loss_closed_form_and_unlabelled_frames():
    logits = torch.tensor([0.0, 2.0, -1.0, 5.0], requires_grad=True)
    labels = torch.tensor([1.0, -1.0, 0.0, 0.0])  # away, towards, unknown, unknown
    loss = facing_classification_loss(logits, labels)
    expected = (torch.log(torch.tensor(2.0)) + torch.nn.functional.softplus(torch.tensor(2.0))) / 2
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    assert logits.grad[0] < 0 and logits.grad[1] > 0 and (logits.grad[2:] == 0).all()
    # nothing labelled: zero, and still a tensor the optimiser can take
    none = facing_classification_loss(logits, torch.zeros(4))
    assert none.item() == 0.0 and none.requires_grad


def test_facing_classification_loss_gradcheck():
    logits = torch.randn(5, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    labels = torch.tensor([1.0, -1.0, 0.0, 1.0, -1.0], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda z: facing_classification_loss(z, labels), (logits,))


def test_facing_classification_loss_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="labels"):
        facing_classification_loss(torch.zeros(2), torch.zeros(3))


def test_compute_losses_term_trains_the_facing_head():
    torch.manual_seed(0)
    model = PoseSynthModel(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8,
                           appearance_width=8, decoder_width=8, facing_head=True)
    model.start_from_pose(canonical_tpose())  # a frontal start, as training has it
    source, target, background = torch.rand(3, 4, 3, 32, 32).unbind(0)
    out = model(source, target, background)
    box = torch.tensor([[0.0, 0.0, 64.0, 64.0]]).repeat(4, 1)
    # every pair walks: feet 20 px further down (towards) or up (away) in the later frame
    shift = torch.tensor([20.0, -20.0, 20.0, -20.0])[:, None] * torch.tensor([0.0, 1.0, 0.0, 1.0])
    batch = {"target": target, "background": background, "box": box + shift, "source_box": box,
             "target_index": torch.tensor([30, 30, 30, 30]), "source_index": torch.tensor([0, 0, 0, 0])}
    terms = compute_losses(out, batch, weights={"travel_facing": 1.0})
    assert set(terms) == {"travel_facing", "total"}
    # the head starts sure everyone faces the camera: the two pairs walking away cost log(1 + e³) each
    assert out["facing_logit"].tolist() == pytest.approx([-3.0] * 4, abs=0.05)
    expected = (2 * torch.nn.functional.softplus(torch.tensor(3.0)) + 2 * torch.nn.functional.softplus(torch.tensor(-3.0))) / 4
    assert terms["total"].item() == pytest.approx(expected.item(), rel=0.05)
    terms["total"].backward()
    head = model.pose_encoder.facing_head[-1]
    assert head.bias.grad.item() < 0  # descent raises the "away" logit: the away labels cost most
    assert all(p.grad is None for p in model.decoder.parameters())


def _verdict_model() -> PoseSynthModel:
    torch.manual_seed(0)
    model = PoseSynthModel(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8,
                           appearance_width=8, decoder_width=8, facing_head=True)
    model.start_from_pose(canonical_tpose())
    return model


def test_facing_verdict_picks_the_reading_with_the_smallest_error_and_anchors_override_it():
    model = _verdict_model()
    source, target, background = torch.rand(3, 2, 3, 32, 32).unbind(0)
    # the four readings come in the order (source F, target F), (F, M), (M, F), (M, M)
    errors = iter([torch.tensor([5.0, 5.0]), torch.tensor([1.0, 5.0]), torch.tensor([5.0, 0.5]),
                   torch.tensor([5.0, 5.0])])
    raw = model.pose_encoder(torch.cat([target, source]))
    away = model.facing_verdict(raw, source, target, background, error=lambda *args: next(errors))
    # pair 0: (F, M) wins, its target faces away; pair 1: (M, F) wins, its source faces away
    assert away.tolist() == [True, False, False, True]
    errors = iter([torch.tensor([5.0, 5.0]), torch.tensor([1.0, 5.0]), torch.tensor([5.0, 0.5]),
                   torch.tensor([5.0, 5.0])])
    seen = []
    anchored = model.facing_verdict(raw, source, target, background, error=lambda *args: next(errors),
                                    anchor=lambda t2d, s2d: seen.append((t2d, s2d)) or torch.tensor([-1.0, 0.0]))
    assert anchored.tolist() == [False, False, False, True]  # pair 0 walks towards the camera: both frontal
    # the anchor sees the frontal reading: the heatmaps' own labelling
    torch.testing.assert_close(seen[0][0], raw["joints2d"][:2])


def test_a_verdict_margin_keeps_the_heads_sides_unless_another_reading_wins_clearly():
    model = _verdict_model()
    source, target, background = torch.rand(3, 2, 3, 32, 32).unbind(0)
    raw = model.pose_encoder(torch.cat([target, source]))
    # the head's sides: pair 0 (target F, source F), pair 1 (target M, source F) → readings 0 and 1
    raw["facing_logit"] = torch.tensor([-2.0, 2.0, -2.0, -2.0])
    table = [torch.tensor([10.0, 9.0]), torch.tensor([9.5, 7.0]), torch.tensor([7.0, 9.5]), torch.tensor([8.0, 8.0])]
    def verdict(margin):
        errors = iter(table)
        return model.facing_verdict(raw, source, target, background, error=lambda *args: next(errors),
                                    margin=margin).tolist()
    # no margin: the smallest error wins, (M, F) for pair 0 and the head's own (F, M) for pair 1
    assert verdict(0.0) == [False, True, True, False]
    # pair 0's winner is 30 % below the head's 10: it passes a 0.2 margin, not a 0.4 one
    assert verdict(0.2) == [False, True, True, False]
    assert verdict(0.4) == [False, True, False, False]


def test_forward_draws_the_verdicts_sides_and_the_head_learns_them():
    model = _verdict_model()
    source, target, background = torch.rand(3, 4, 3, 32, 32).unbind(0)
    out = model(source, target, background, verdict_error=foreground_error_per_frame)
    assert out["facing_verdict"].shape == (4,) and out["facing_verdict"].dtype == torch.bool
    # the drawn joints are the frontal heatmaps with left and right swapped where the verdict says away
    torch.testing.assert_close(out["joints2d"], swap_sides(out["joints2d_frontal"], out["facing_verdict"]))
    torch.testing.assert_close(out["source_joints2d"], swap_sides(
        model.pose_encoder(source)["joints2d"], out["source_facing_verdict"]), rtol=1e-4, atol=1e-4)
    terms = compute_losses(out, {"target": target, "background": background}, weights={"facing_verdict": 1.0})
    chosen = torch.cat([out["facing_verdict"], out["source_facing_verdict"]]).float()
    logits = torch.cat([out["facing_logit"], out["source_facing_logit"]])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, chosen)
    assert terms["facing_verdict"].item() == pytest.approx(expected.item(), rel=1e-6)
    terms["total"].backward()
    assert model.pose_encoder.facing_head[-1].bias.grad is not None
    plain = PoseSynthModel(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8,
                           appearance_width=8, decoder_width=8)
    with pytest.raises(ValueError, match="facing_head"):
        plain(source, target, background, verdict_error=foreground_error_per_frame)


def test_reconstruction_error_per_frame_is_the_batch_terms_of_each_frame():
    from posesynth.losses.reconstruction import l1_loss, reconstruction_error_per_frame, ssim_loss
    g = torch.Generator().manual_seed(3)
    prediction, target = torch.rand(2, 3, 3, 16, 16, generator=g).unbind(0)
    weight = 1 + 4 * (torch.rand(3, 1, 16, 16, generator=g) > 0.5).float()
    per_frame = reconstruction_error_per_frame(prediction, target, weight)
    for i in range(3):
        one = slice(i, i + 1)
        expected = l1_loss(prediction[one], target[one], weight[one]) + ssim_loss(prediction[one], target[one],
                                                                                  weight=weight[one])
        assert per_frame[i].item() == pytest.approx(expected.item(), rel=1e-5)
