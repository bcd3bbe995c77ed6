"""posesynth.training.refiner_fit: a refiner fitted on unpaired poses alone, seeded, refined 2D only."""

import pytest
import torch

from posesynth.geometry import intrinsics, project
from posesynth.models.lifter import DepthLifter, refined_pose
from posesynth.training.imitation_views import sample_views
from posesynth.training.inputs import canonical_poses
from posesynth.synth.poses import sample_poses

SIZE, FOCAL = 32, 64.0


def _poses() -> torch.Tensor:
    return canonical_poses(torch.as_tensor(sample_poses(clips=4, frames=16, seed=3), dtype=torch.float32))


def _noisy_error(refiner: DepthLifter, poses: torch.Tensor, K: torch.Tensor) -> tuple[float, float]:
    """Mean 2D error (px) of noisy projections before and after the refiner, on fresh views."""
    generator = torch.Generator().manual_seed(99)
    joints = sample_views(poses[:64], image_size=SIZE, focal=FOCAL, generator=generator)
    clean = project(joints, K)
    noisy = clean + 2.0 * torch.randn(clean.shape, generator=generator)
    with torch.no_grad():
        refined2d, _ = refined_pose(refiner(noisy), noisy, joints[:, 0, 2], FOCAL)
    return float((noisy - clean).norm(dim=-1).mean()), float((refined2d - clean).norm(dim=-1).mean())


def test_fitting_lowers_the_loss_and_places_fresh_views_better_than_an_unfitted_refiner():
    from posesynth.training.refiner_fit import fit_refiner
    K = intrinsics(FOCAL, (SIZE - 1) / 2, (SIZE - 1) / 2)
    poses = _poses()
    torch.manual_seed(0)
    unfitted = DepthLifter(width=128, layers=2, refine_2d=True)
    refiner = DepthLifter(width=128, layers=2, refine_2d=True)
    refiner.load_state_dict(unfitted.state_dict())
    losses = fit_refiner(refiner, poses, K=K, image_size=SIZE, iterations=200, noise_px=2.0, batch=64, seed=0)
    assert len(losses) == 200 and sum(losses[-20:]) < 0.5 * sum(losses[:20])
    # (how far a fitted refiner denoises is measured, not asserted: scripts/diagnose_lifter.py, BENCHMARKS.md)
    assert _noisy_error(refiner, poses, K)[1] < _noisy_error(unfitted, poses, K)[1]


def test_the_same_seed_fits_the_same_weights():
    from posesynth.training.refiner_fit import fit_refiner
    K = intrinsics(FOCAL, (SIZE - 1) / 2, (SIZE - 1) / 2)
    fitted = []
    for _ in range(2):
        torch.manual_seed(0)
        refiner = DepthLifter(width=32, layers=1, refine_2d=True)
        fit_refiner(refiner, _poses(), K=K, image_size=SIZE, iterations=5, batch=8, seed=4)
        fitted.append(torch.cat([p.flatten() for p in refiner.parameters()]))
    assert torch.equal(*fitted)


def test_a_depth_only_lifter_is_refused():
    from posesynth.training.refiner_fit import fit_refiner
    with pytest.raises(ValueError, match="refine_2d"):
        fit_refiner(DepthLifter(width=8, layers=1), _poses(), K=torch.eye(3), image_size=SIZE, iterations=1)


def test_the_fit_takes_its_own_views_where_given_else_the_runs():
    from posesynth.training.refiner_fit import refiner_fit_views
    run = ((0.0, 0.0), 20.0)
    assert refiner_fit_views(*run, None, None, None) == {"elevation_deg": (0.0, 0.0), "max_lean_deg": 20.0}
    assert refiner_fit_views(*run, -5.0, 35.0, 10.0) == {"elevation_deg": (-5.0, 35.0), "max_lean_deg": 10.0}
    assert refiner_fit_views(*run, -5.0, 35.0, None) == {"elevation_deg": (-5.0, 35.0), "max_lean_deg": 20.0}
    assert refiner_fit_views(*run, None, None, 0.0) == {"elevation_deg": (0.0, 0.0), "max_lean_deg": 0.0}
