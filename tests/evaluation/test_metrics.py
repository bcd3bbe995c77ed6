"""Tests for posesynth.evaluation.metrics: closed-form values, invariances, batching and real Human3.6M poses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from posesynth import skeleton as sk
from posesynth.evaluation import metrics as M


def random_rotation(n: int, generator: torch.Generator) -> torch.Tensor:
    """(n, 3, 3) proper rotations from QR of Gaussian matrices (sign-fixed, det +1)."""
    q, r = torch.linalg.qr(torch.randn(n, 3, 3, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    q[torch.linalg.det(q) < 0, :, 0] *= -1
    return q


def poses(n: int = 8, seed: int = 0) -> torch.Tensor:
    """(n, 17, 3) float64, mm: the canonical T-pose plus per-joint noise (non-degenerate)."""
    g = torch.Generator().manual_seed(seed)
    base = sk.canonical_tpose(torch.float64) * 1000.0
    return base + 60.0 * torch.randn(n, 17, 3, generator=g, dtype=torch.float64)


def naive_pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Reference PA-MPJPE for one (J, 3) pose, written out step by step in numpy."""
    x, y = pred - pred.mean(0), gt - gt.mean(0)
    u, s, vt = np.linalg.svd(x.T @ y)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    rot = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    scale = (s * [1.0, 1.0, d]).sum() / (x ** 2).sum()
    aligned = scale * x @ rot.T + gt.mean(0)
    return float(np.linalg.norm(aligned - gt, axis=-1).mean())


def test_mpjpe_closed_form_on_a_hand_made_example():
    gt = torch.zeros(1, 3, 3)
    gt[0, 1] = torch.tensor([100.0, 0.0, 0.0])
    gt[0, 2] = torch.tensor([0.0, 100.0, 0.0])
    pred = gt.clone()
    pred[0, 1, 0] += 30.0  # 30 mm off
    pred[0, 2] += torch.tensor([30.0, 0.0, 40.0])  # 50 mm off
    # root errors 0, 30, 50 → mean 80 / 3
    torch.testing.assert_close(M.mpjpe(pred, gt), torch.tensor([80.0 / 3], dtype=torch.float64))
    torch.testing.assert_close(M.joint_errors(pred, gt)[0], torch.tensor([0.0, 30.0, 50.0], dtype=torch.float64))
    torch.testing.assert_close(M.mpjpe(pred, gt, joints=[2]), torch.tensor([50.0], dtype=torch.float64))
    assert M.mpjpe(pred, gt).dtype == torch.float64


def test_translation_vanishes_under_root_alignment_but_not_without():
    gt = poses()
    moved = gt + torch.tensor([250.0, -40.0, 1200.0], dtype=torch.float64)
    torch.testing.assert_close(M.mpjpe(moved, gt), torch.zeros(8, dtype=torch.float64))
    torch.testing.assert_close(M.mpjpe(moved, gt, root=None), torch.full((8,), math.dist((0, 0, 0), (250, -40, 1200)),
                                                                      dtype=torch.float64))


def test_scale_error_vanishes_under_n_mpjpe_but_not_mpjpe():
    gt = poses()
    gt = gt - gt[:, :1]
    scaled = 0.8 * gt + 500.0  # smaller and elsewhere
    assert (M.mpjpe(scaled, gt) > 10.0).all()
    torch.testing.assert_close(M.n_mpjpe(scaled, gt), torch.zeros(8, dtype=torch.float64), atol=1e-9, rtol=0)


def test_similarity_transform_vanishes_under_pa_mpjpe():
    gt = poses(16)
    g = torch.Generator().manual_seed(1)
    R = random_rotation(16, g)
    s = 0.5 + torch.rand(16, 1, 1, generator=g, dtype=torch.float64)
    t = 1000.0 * torch.randn(16, 1, 3, generator=g, dtype=torch.float64)
    pred = s * gt @ R.mT + t
    assert (M.mpjpe(pred, gt) > 10.0).all()
    torch.testing.assert_close(M.pa_mpjpe(pred, gt), torch.zeros(16, dtype=torch.float64), atol=1e-8, rtol=0)
    torch.testing.assert_close(M.procrustes_align(pred, gt), gt)
    # rigid alignment cannot undo a scale change
    assert (M.mpjpe(M.procrustes_align(pred, gt, scale=False), gt, root=None) > 1.0).all()


def test_mirrored_prediction_is_not_aligned_away():
    gt = poses(16)
    mirrored = gt * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)  # a reflection, det −1
    assert (M.pa_mpjpe(mirrored, gt) > 20.0).all()
    # the rotation part of the fit is proper
    aligned = M.procrustes_align(mirrored, gt)
    assert torch.isfinite(aligned).all()


def test_batched_pa_mpjpe_matches_naive_per_pose_loop():
    gt = poses(64, seed=3)
    pred = gt @ random_rotation(64, torch.Generator().manual_seed(4)).mT + 40.0 * torch.randn_like(gt)
    pred[::7] *= torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)  # some mirrored, to hit det < 0
    naive = torch.tensor([naive_pa_mpjpe(p.numpy(), g.numpy()) for p, g in zip(pred, gt)], dtype=torch.float64)
    torch.testing.assert_close(M.pa_mpjpe(pred, gt), naive, rtol=1e-10, atol=1e-9)


def test_procrustes_fit_never_has_more_squared_error_than_no_fit():
    # the fit minimises the summed squared error (not the mean distance), so compare that
    gt = poses(32, seed=5)
    pred = gt + 30.0 * torch.randn(gt.shape, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    centred = lambda x: x - x.mean(-2, keepdim=True)  # noqa: E731
    fitted = ((M.procrustes_align(pred, gt) - gt) ** 2).sum((-2, -1))
    unfitted = ((centred(pred) - centred(gt)) ** 2).sum((-2, -1))
    assert (fitted <= unfitted + 1e-9).all()


def test_inputs_are_not_modified():
    gt32 = poses(4).float()
    pred32 = gt32 + 10.0
    gt64, pred64 = poses(4), poses(4, seed=9)
    for pred, gt in ((pred32, gt32), (pred64, gt64)):
        before = (pred.clone(), gt.clone())
        for fn in (M.mpjpe, M.pa_mpjpe, M.n_mpjpe, M.pck, M.auc, M.procrustes_align, M.joint_errors):
            fn(pred, gt)
        torch.testing.assert_close(pred, before[0], rtol=0, atol=0)
        torch.testing.assert_close(gt, before[1], rtol=0, atol=0)


def test_pck_and_auc_closed_form():
    gt = poses(3)
    torch.testing.assert_close(M.pck(gt, gt), torch.ones(3, dtype=torch.float64))
    # the official strict test: a 0 mm error is not within the 0 mm threshold
    torch.testing.assert_close(M.auc(gt, gt), torch.full((3,), 30 / 31, dtype=torch.float64))
    torch.testing.assert_close(M.pck(gt, gt, threshold=0.0), torch.zeros(3, dtype=torch.float64))
    # every non-root joint 200 mm off (root stays put, so exclude it from the evaluated joints)
    far = gt.clone()
    far[:, 1:, 0] += 200.0
    rest = list(range(1, 17))
    torch.testing.assert_close(M.pck(far, gt, joints=rest), torch.zeros(3, dtype=torch.float64))
    torch.testing.assert_close(M.auc(far, gt, joints=rest), torch.zeros(3, dtype=torch.float64))
    # exactly on a threshold is outside it: 100 mm errors are within 105..150 only (10 of 31)
    origin = torch.zeros(3, 17, 3, dtype=torch.float64)
    edge = origin.clone()
    edge[:, 1:, 1] = 100.0                            # errors of exactly 100 mm, no round-off
    torch.testing.assert_close(M.auc(edge, origin, joints=rest), torch.full((3,), 10 / 31, dtype=torch.float64))
    torch.testing.assert_close(M.pck(edge, origin, threshold=100.0, joints=rest), torch.zeros(3, dtype=torch.float64))
    # 102.5 mm errors: inside 150, and inside the 10 thresholds 105..150 of the 31
    mid = gt.clone()
    mid[:, 1:, 1] += 102.5
    torch.testing.assert_close(M.pck(mid, gt, joints=rest), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(M.auc(mid, gt, joints=rest), torch.full((3,), 10 / 31, dtype=torch.float64))
    # half the joints off: PCK 0.5 (root included and counted as correct)
    half = gt.clone()
    half[:, 9:, 2] += 400.0
    torch.testing.assert_close(M.pck(half, gt, joints=list(range(1, 17))), torch.full((3,), 0.5, dtype=torch.float64))
    assert len(M.AUC_THRESHOLDS_MM) == 31 and M.AUC_THRESHOLDS_MM[-1] == 150.0


def test_auc_matches_the_mean_of_pck_over_thresholds():
    gt = poses(10)
    pred = gt + 60.0 * torch.randn_like(gt)
    curve = torch.stack([M.pck(pred, gt, threshold=t) for t in M.AUC_THRESHOLDS_MM], -1)
    torch.testing.assert_close(M.auc(pred, gt), curve.mean(-1))


def test_shapes_broadcast_over_batch_and_time():
    gt = poses(6).reshape(2, 3, 17, 3)  # (B, T, J, 3)
    pred = gt + 5.0
    for fn in (M.mpjpe, M.pa_mpjpe, M.n_mpjpe, M.pck, M.auc):
        assert fn(pred, gt).shape == (2, 3)
        assert fn(pred[0], gt[0]).shape == (3,)
        assert fn(pred[0, 0], gt[0, 0]).shape == ()
    assert M.procrustes_align(pred, gt).shape == (2, 3, 17, 3)
    assert M.joint_errors(pred, gt, joints=[0, 3]).shape == (2, 3, 2)
    # one ground truth against many predictions broadcasts
    assert M.mpjpe(pred, gt[0, 0]).shape == (2, 3)
    # numpy inputs work too
    assert M.mpjpe(pred.numpy(), gt.numpy()).shape == (2, 3)


def test_chunked_evaluation_matches_one_shot(monkeypatch):
    gt = poses(50)
    pred = gt + 30.0 * torch.randn_like(gt)
    whole = M.pa_mpjpe(pred, gt)
    monkeypatch.setattr(M, "_CHUNK", 7)
    torch.testing.assert_close(M.pa_mpjpe(pred, gt), whole)


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match=r"\(\.\.\., J, 3\)"):
        M.mpjpe(torch.zeros(4, 17, 2), torch.zeros(4, 17, 2))
    with pytest.raises(ValueError, match="joints"):
        M.mpjpe(torch.zeros(4, 17, 3), torch.zeros(4, 16, 3))


def test_real_human36m_poses(realdata):
    data = np.load(realdata / "mmpose" / "h36m" / "test_h36m_body3d.npz")
    S = torch.as_tensor(data["S"][..., :3]) * 1000.0  # (4, 17, 3) camera frame, mm; 4 subjects
    torch.testing.assert_close(M.pa_mpjpe(S, S), torch.zeros(4, dtype=torch.float64), atol=1e-6, rtol=0)
    # S1 standing (Directions) vs S5 sitting down: different people, different poses
    other = M.pa_mpjpe(S[0], S[1])
    assert 20.0 < float(other) < 500.0
    everyone = M.pa_mpjpe(S[:, None], S[None, :])  # (4, 4) all pairs
    off_diagonal = everyone[~torch.eye(4, dtype=torch.bool)]
    assert (off_diagonal > 10.0).all() and (off_diagonal < 500.0).all()
    # for such different poses the fit helps: Protocol #2 below Protocol #1
    assert (off_diagonal < M.mpjpe(S[:, None], S[None, :])[~torch.eye(4, dtype=torch.bool)]).all()


# --- the best constant pose: the generalised Procrustes mean ------------------------------------

def _similar_copies(pose: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """(n, J, 3): ``pose`` under n random similarity transforms."""
    g = torch.Generator().manual_seed(seed)
    s = 0.5 + torch.rand(n, 1, 1, generator=g, dtype=torch.float64)
    t = 1000.0 * torch.randn(n, 1, 3, generator=g, dtype=torch.float64)
    return s * pose @ random_rotation(n, g).mT + t


def test_procrustes_mean_of_one_pose_moved_about_is_that_pose():
    pose = poses(1)[0]
    mean = M.procrustes_mean(_similar_copies(pose, 12, seed=2))
    assert mean.shape == (17, 3)
    torch.testing.assert_close(mean.mean(0), torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(mean.pow(2).sum(-1).mean(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(M.pa_mpjpe(mean, pose), torch.tensor(0.0, dtype=torch.float64), atol=1e-8, rtol=0)


def test_procrustes_mean_ignores_where_each_pose_stands_and_how_it_is_turned():
    gt = poses(10, seed=3)
    moved = torch.stack([_similar_copies(p, 1, seed=k)[0] for k, p in enumerate(gt)])
    a, b = M.procrustes_mean(gt), M.procrustes_mean(moved)
    torch.testing.assert_close(M.pa_mpjpe(a, gt), M.pa_mpjpe(b, gt), atol=1e-6, rtol=0)


def test_procrustes_mean_is_a_better_constant_than_any_single_pose_of_the_set():
    gt = poses(16, seed=4)
    best_member = min(float(M.pa_mpjpe(p, gt).mean()) for p in gt)
    assert float(M.pa_mpjpe(M.procrustes_mean(gt), gt).mean()) < best_member


def test_procrustes_mean_rejects_a_wrong_shape():
    with pytest.raises(ValueError, match=r"\(N, J, 3\)"):
        M.procrustes_mean(torch.zeros(17, 3))


def test_joints2d_error_closed_form_and_the_side_left_open():
    truth = torch.zeros(2, 17, 2, dtype=torch.float64)
    truth[:, list(sk.FLIP_PERMUTATION)[1:7], 0] = torch.tensor([-1.0, -1.0, -1.0, 1.0, 1.0, 1.0], dtype=torch.float64)
    shifted = truth + torch.tensor([3.0, 4.0], dtype=torch.float64)  # every joint 5 px off
    assert torch.allclose(M.joints2d_error(shifted, truth), torch.full((2,), 5.0, dtype=torch.float64))
    swapped = truth[:, list(sk.FLIP_PERMUTATION)]  # the same limbs, left and right exchanged
    assert (M.joints2d_error(swapped, truth) > 0).all()
    assert torch.allclose(M.joints2d_error(swapped, truth, either_side=True), torch.zeros(2, dtype=torch.float64))
    # the side left open never raises the error; broadcasting a constant pose works
    noisy = truth + torch.randn(2, 17, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert (M.joints2d_error(noisy, truth, either_side=True) <= M.joints2d_error(noisy, truth)).all()
    assert M.joints2d_error(truth[:1], truth).shape == (2,)


def test_either_side_constant_recovers_a_pose_seen_from_both_sides():
    pose = torch.randn(1, 17, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 5
    mixed = torch.cat([pose.expand(5, -1, -1), pose[:, list(sk.FLIP_PERMUTATION)].expand(4, -1, -1)])
    centre = M.either_side_constant(mixed)
    assert centre.shape == (1, 17, 2)
    assert torch.allclose(M.joints2d_error(centre, mixed, either_side=True), torch.zeros(9, dtype=torch.float64),
                          atol=1e-9)


@pytest.mark.parametrize("seed", range(12))
def test_either_side_constant_chooses_a_side_from_a_symmetric_start(seed):
    # half the frames one pose, half its relabelling: the plain mean is symmetric, so every frame
    # ties at the start; from there alone the k-medians stalled in 12 of 50 seeds (0 here)
    pose = torch.rand(1, 17, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 40
    mixed = torch.cat([pose.expand(4, 17, 2), pose[:, list(sk.FLIP_PERMUTATION)].expand(4, 17, 2)])
    centre = M.either_side_constant(mixed)
    assert M.joints2d_error(centre, mixed, either_side=True).max().item() == pytest.approx(0.0, abs=1e-9)
