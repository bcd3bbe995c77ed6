"""The synthetic puppet world: labels vs videos, geometry, anatomy, determinism, multi-view, CLI."""

from __future__ import annotations

import json
import math

import decord
import numpy as np
import pytest
import torch

from posesynth import skeleton
from posesynth.cli import main
from posesynth.geometry import intrinsics, project
from posesynth.synth.dataset import generate_dataset, load_labels
from posesynth.synth.motion_programs import ACTIONS, make_motion
from posesynth.synth.raycast import intersect_capsules, nearest_hits, pixel_rays, ray_capsule
from posesynth.synth.scene import animate, supersampled_intrinsics
from posesynth.synth.subject import make_subject

SIZE, FRAMES = 64, 12


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    paths = generate_dataset(out, videos=2, frames=FRAMES, size=SIZE, seed=3, subjects=[1, 2],
                             motions=["walking", "squats"], progress=False)
    return out, paths


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    out = tmp_path_factory.mktemp("multi")
    return out, generate_dataset(out, videos=1, frames=8, size=SIZE, seed=5, views=3, progress=False)


def _video(label_path):
    return label_path.parent.parent / "videos" / (label_path.stem + ".mp4")


def _decode(path) -> np.ndarray:
    reader = decord.VideoReader(str(path), num_threads=1)
    return reader.get_batch(list(range(len(reader)))).asnumpy()


def test_layout_shapes_and_frame_counts(single):
    out, paths = single
    assert len(paths) == 2 and (out / "scenes.json").exists()
    for path in paths:
        labels = load_labels(path)
        frames = _decode(_video(path))
        assert frames.shape == (FRAMES, SIZE, SIZE, 3)
        assert labels["joints3d"].shape == (FRAMES, 17, 3) and labels["joints2d"].shape == (FRAMES, 17, 2)
        assert labels["joints3d_world"].shape == (FRAMES, 17, 3)
        assert labels["K"].shape == (3, 3) and labels["R"].shape == (3, 3) and labels["t"].shape == (3,)
        assert labels["mask"].shape == (FRAMES, SIZE, SIZE) and labels["mask"].dtype == bool
        assert labels["boxes"].shape == (FRAMES, 4) and labels["visible"].shape == (FRAMES, 17)
        assert float(labels["fps"]) == 25.0
        # the person stays in view and in front of the camera
        assert (labels["joints3d"][..., 2] > 1.0).all()
        assert (labels["joints2d"] >= 0).all() and (labels["joints2d"] <= SIZE - 1).all()


def test_labels_are_consistent_projections(single):
    for path in single[1]:
        labels = load_labels(path)
        j3d = torch.from_numpy(labels["joints3d"]).double()
        K = torch.from_numpy(labels["K"]).double()
        assert np.abs(project(j3d, K).numpy() - labels["joints2d"]).max() < 1e-4
        world = labels["joints3d_world"].astype(np.float64)
        cam = world @ labels["R"].astype(np.float64).T + labels["t"].astype(np.float64)
        assert np.abs(cam - labels["joints3d"]).max() < 1e-4
        R = labels["R"].astype(np.float64)
        assert np.allclose(R @ R.T, np.eye(3), atol=1e-5) and abs(np.linalg.det(R) - 1) < 1e-5
        assert labels["K"][0, 2] == labels["K"][1, 2] == (SIZE - 1) / 2


def test_rendered_person_covers_projected_joints(single):
    for path in single[1]:
        labels = load_labels(path)
        mask = labels["mask"]
        pix = np.rint(labels["joints2d"]).astype(int)
        hits = []
        for f in range(FRAMES):
            padded = np.pad(mask[f], 1)
            for u, v in pix[f]:
                hits.append(padded[v:v + 3, u:u + 3].any())  # 3×3 neighbourhood of the joint pixel
        assert np.mean(hits) > 0.97
        # the decoded video differs from the empty scene on the body and matches it elsewhere
        frames = _decode(_video(path)).astype(np.float32)
        diff = np.abs(frames - labels["background"].astype(np.float32)).mean(-1)
        inside = mask & np.roll(mask, 1, 1) & np.roll(mask, -1, 1) & np.roll(mask, 1, 2) & np.roll(mask, -1, 2)
        grown = mask | np.roll(mask, 1, 1) | np.roll(mask, -1, 1) | np.roll(mask, 1, 2) | np.roll(mask, -1, 2)
        assert diff[inside].mean() > 15.0
        assert diff[~grown].mean() < 4.0
        # boxes enclose the mask
        box = labels["boxes"][0]
        rows, cols = np.nonzero(mask[0])
        assert box[0] <= cols.min() and box[2] >= cols.max() and box[1] <= rows.min() and box[3] >= rows.max()


def test_bone_lengths_constant_and_symmetric(single):
    for path in single[1]:
        labels = load_labels(path)
        j = labels["joints3d"].astype(np.float64)
        parent, child = np.array(skeleton.BONES).T
        lengths = np.linalg.norm(j[:, child] - j[:, parent], axis=-1)  # (F, 16)
        assert np.abs(lengths - labels["bone_lengths"]).max() < 1e-4
        for left, right in zip(skeleton.LEFT_JOINTS, skeleton.RIGHT_JOINTS):
            assert abs(labels["bone_lengths"][left - 1] - labels["bone_lengths"][right - 1]) < 1e-6


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_knees_and_elbows_bend_one_way(action):
    """Hinge check: the bend axis thigh×shin (upper×fore arm) agrees with the hinge's own axis."""
    for seed in range(3):
        subject = make_subject(seed)
        motion = make_motion(action, 60, 25.0, np.random.default_rng([seed, 17]))
        joints, frames = animate(subject, motion)
        j = joints.numpy()
        # knees: the hinge axis is the thigh's x (the subject's left, turned by hip abduction ≤ 45°),
        # so it always points to the left of the pelvis; shins fold backwards: (thigh × shin)·left ≥ 0
        left = j[:, 4] - j[:, 1]
        for hip, knee, ankle in ((1, 2, 3), (4, 5, 6)):
            bend = np.cross(j[:, knee] - j[:, hip], j[:, ankle] - j[:, knee])
            assert ((bend * left).sum(-1) >= -1e-9).all()
        # elbows fold forwards about the upper arm's own x axis: (upper × fore)·x ≤ 0
        G = frames.numpy()
        for shoulder, elbow, wrist in ((11, 12, 13), (14, 15, 16)):
            bend = np.cross(j[:, elbow] - j[:, shoulder], j[:, wrist] - j[:, elbow])
            assert ((bend * G[:, shoulder, :, 0]).sum(-1) <= 1e-9).all()
            upper, fore = j[:, elbow] - j[:, shoulder], j[:, wrist] - j[:, elbow]
            cos = (upper * fore).sum(-1) / np.linalg.norm(upper, axis=-1) / np.linalg.norm(fore, axis=-1)
            assert (np.degrees(np.arccos(np.clip(cos, -1, 1))) <= 150 + 1e-6).all()
        # feet on the floor (y = 0, y down) in every frame, nothing below it
        assert (j[..., 1] <= 1e-9).all() and np.abs(j[:, [3, 6], 1].max(1)).max() < 0.15


def test_deterministic_under_seed(single, tmp_path):
    again = generate_dataset(tmp_path, videos=2, frames=FRAMES, size=SIZE, seed=3, subjects=[1, 2],
                             motions=["walking", "squats"], progress=False)
    for a, b in zip(single[1], again):
        la, lb = load_labels(a), load_labels(b)
        assert la.keys() == lb.keys() and all(np.array_equal(la[k], lb[k]) for k in la)
        assert _video(a).read_bytes() == _video(b).read_bytes()
    other = generate_dataset(tmp_path / "other", videos=1, frames=FRAMES, size=SIZE, seed=4, subjects=[1],
                             motions=["walking"], progress=False)
    assert not np.allclose(load_labels(other[0])["joints3d"], load_labels(single[1][0])["joints3d"])


def test_multiview_same_world_motion(multi):
    out, paths = multi
    assert [p.stem.rsplit("_", 1)[1] for p in paths] == ["cam0", "cam1", "cam2"]
    labels = [load_labels(p) for p in paths]
    index = json.loads((out / "scenes.json").read_text())
    views = index["scenes"][0]["views"]
    centres = []
    for lab, entry in zip(labels, views):
        assert np.array_equal(lab["joints3d_world"], labels[0]["joints3d_world"])
        cam = lab["joints3d_world"].astype(np.float64) @ lab["R"].astype(np.float64).T + lab["t"]
        assert np.abs(cam - lab["joints3d"]).max() < 1e-4
        for key in ("K", "R", "t"):
            assert np.allclose(np.array(entry[key]), lab[key], atol=1e-5)
        assert (out / entry["video"]).exists() and (out / entry["labels"]).exists()
        assert _decode(out / entry["video"]).shape[0] == 8
        centres.append(-lab["R"].T @ lab["t"])
    # distinct cameras: pairwise centres at least a metre apart
    assert min(np.linalg.norm(centres[i] - centres[k]) for i in range(3) for k in range(i)) > 1.0


def test_subject_and_motion_splits(tmp_path):
    paths = generate_dataset(tmp_path, videos=2, frames=4, size=32, seed=0, subjects=[9, 11],
                             motions=["sitting"], progress=False)
    assert [p.stem for p in paths] == ["s09_sitting_0000", "s11_sitting_0001"]
    assert [int(load_labels(p)["subject"]) for p in paths] == [9, 11]
    assert str(load_labels(paths[0])["motion"]) == "sitting"
    # a subject keeps its body whatever the seed
    other = generate_dataset(tmp_path / "b", videos=1, frames=4, size=32, seed=1, subjects=[9], progress=False)
    assert np.array_equal(load_labels(other[0])["bone_lengths"], load_labels(paths[0])["bone_lengths"])


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="even"):
        generate_dataset(tmp_path, videos=1, frames=2, size=63, progress=False)
    with pytest.raises(ValueError, match="unknown motions"):
        generate_dataset(tmp_path, videos=1, frames=2, size=32, motions=["dancing"], progress=False)
    np.savez(tmp_path / "x.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="not a posesynth label file"):
        load_labels(tmp_path / "x.npz")


def test_cli(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--videos", "1", "--frames", "3", "--size", "32",
                 "--subjects", "7"]) == 0
    assert "wrote 1 videos" in capsys.readouterr().out
    assert len(list((tmp_path / "videos").glob("s07_*.mp4"))) == len(list((tmp_path / "labels").glob("s07_*.npz"))) == 1
    assert main(["synth", "--out", str(tmp_path), "--size", "31"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "even" in err


def test_ray_capsule_matches_brute_force():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(2, 6, 3, generator=gen) * 0.4 + torch.tensor([0.0, 0.0, 4.0])
    b = a + torch.randn(2, 6, 3, generator=gen) * 0.3
    b[:, 0] = a[:, 0]  # a degenerate capsule is a sphere
    radius = torch.rand(6, generator=gen) * 0.15 + 0.05
    rays = pixel_rays(intrinsics(40.0, 15.5, 15.5), 32, 32)
    dense = intersect_capsules(rays, a, b, radius)
    t, index = nearest_hits(rays, a, b, radius)
    best, arg = dense.min(-1)
    assert torch.equal(torch.isfinite(t), torch.isfinite(best)) and torch.isfinite(t).any()
    assert torch.allclose(t[torch.isfinite(t)], best[torch.isfinite(best)]) and torch.equal(index[torch.isfinite(t)],
                                                                                      arg[torch.isfinite(best)])
    # march along some rays: the first sample inside the capsule matches the analytic distance
    steps = torch.linspace(2.0, 7.0, 50001)
    for n in range(0, 1024, 37):
        pts = steps[:, None] * rays[n]
        for k in range(6):
            ba = b[1, k] - a[1, k]
            h = ((pts - a[1, k]) @ ba / (ba @ ba).clamp(min=1e-12)).clamp(0, 1)
            inside = (pts - a[1, k] - h[:, None] * ba).norm(dim=-1) < radius[k]
            expected = steps[inside][0].item() if inside.any() else math.inf
            got = ray_capsule(rays[n], a[1, k], b[1, k], radius[k]).item()
            assert (math.isinf(expected) and math.isinf(got)) or abs(expected - got) < 2e-4


def test_supersampled_intrinsics_keep_pixel_centres():
    K = intrinsics(50.0, 31.5, 31.5, dtype=torch.float64)
    Ks = supersampled_intrinsics(K, 2)
    point = torch.tensor([[0.3, -0.2, 3.0]], dtype=torch.float64)
    # a pixel coordinate u maps to the centre of its 2×2 sub-pixels, 2u + 0.5
    assert torch.allclose(project(point, Ks), 2 * project(point, K) + 0.5)


def test_workers_write_the_same_files(tmp_path):
    # scenes are seeded by (seed, i), so rendering them in two processes changes nothing on disk
    def files(root):
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    kwargs = dict(videos=3, frames=6, size=32, seed=2, subjects=[1, 2, 3], progress=False)
    one = generate_dataset(tmp_path / "one", **kwargs)
    two = generate_dataset(tmp_path / "two", workers=2, **kwargs)
    assert [p.name for p in one] == [p.name for p in two]
    assert files(tmp_path / "one") == files(tmp_path / "two")
