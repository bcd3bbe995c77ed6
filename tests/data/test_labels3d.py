"""3D labels for training: file matching, checks, the labelled fraction, dataset items, the loss,
and a training run that uses them (semi-supervised) and one started from another run (--init)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from posesynth.config import load_config
from posesynth.data.labels3d import LabelsError, find_labels, label_index, labelled_subset, read_labels3d
from posesynth.data.pairs import FramePairDataset
from posesynth.geometry import crop_camera_rotation, intrinsics
from posesynth.losses.supervised import pose3d_loss
from posesynth.models.loading import load_model
from posesynth.synth.dataset import generate_dataset, load_labels
from posesynth.training.train import train
from conftest import TINY as TINY_RUN, save_unpaired_poses

TINY = TINY_RUN


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("labelled")
    labels = generate_dataset(root, videos=2, frames=12, size=64, seed=5, progress=False)
    save_unpaired_poses(root, labels)
    return root


def test_find_labels_prefers_the_matching_folder(tmp_path):
    for subject in ("S1", "S5"):
        (tmp_path / subject / "Videos").mkdir(parents=True)
        np.savez(tmp_path / subject / "Videos" / "Walking.54138969.npz", joints3d=np.zeros((2, 17, 3)))
    index = label_index(tmp_path)
    found = find_labels("/data/h36m/S5/Videos/Walking.54138969.mp4", index)
    assert found == tmp_path / "S5" / "Videos" / "Walking.54138969.npz"
    assert find_labels("/x/Other.mp4", index) is None
    with pytest.raises(LabelsError, match="several label files"):
        find_labels("/x/Walking.54138969.mp4", index)
    with pytest.raises(LabelsError, match="not a folder"):
        label_index(tmp_path / "nope")


def test_read_labels_checks_and_pads(tmp_path, caplog):
    pose = np.zeros((3, 17, 3), np.float32)
    pose[:, :, 1] = np.arange(17) * 0.1
    np.savez(tmp_path / "a.npz", joints3d=pose, K=np.eye(3))
    joints, K = read_labels3d(tmp_path / "a.npz", 5)
    assert joints.shape == (5, 17, 3) and np.isnan(joints[3:]).all() and np.isfinite(joints[:3]).all()
    assert K.shape == (3, 3) and "unlabelled" in caplog.text
    assert read_labels3d(tmp_path / "a.npz", 2)[0].shape == (2, 17, 3)
    np.savez(tmp_path / "mm.npz", joints3d=pose * 1000)
    with pytest.raises(LabelsError, match="millimetres"):
        read_labels3d(tmp_path / "mm.npz", 3)
    np.savez(tmp_path / "shape.npz", joints3d=np.zeros((3, 16, 3)))
    with pytest.raises(LabelsError, match=r"shape.npz.*\(F, 17, 3\)"):
        read_labels3d(tmp_path / "shape.npz", 3)
    np.savez(tmp_path / "key.npz", poses=pose)
    with pytest.raises(LabelsError, match="key.npz.*no 'joints3d'"):
        read_labels3d(tmp_path / "key.npz", 3)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(LabelsError, match="junk.npz"):
        read_labels3d(tmp_path / "junk.npz", 3)


def test_labelled_subset_is_a_fixed_fraction():
    frames = np.array([100, 50, 250])
    masks = labelled_subset(frames, 0.05, seed=1)
    assert [m.shape for m in masks] == [(100,), (50,), (250,)]
    assert sum(m.sum() for m in masks) == 20
    again = labelled_subset(frames, 0.05, seed=1)
    assert all((a == b).all() for a, b in zip(masks, again))
    assert sum(m.sum() for m in labelled_subset(frames, 1.0, seed=1)) == 400
    with pytest.raises(ValueError, match="labels_fraction"):
        labelled_subset(frames, 1.5, seed=1)


def test_crop_camera_rotation_points_the_crop_centre_down_the_axis():
    K = intrinsics(500.0, 320.0, 240.0).double()
    centre = torch.tensor([[600.0, 100.0], [320.0, 240.0]], dtype=torch.float64)
    R = crop_camera_rotation(K.expand(2, 3, 3), centre)
    rays = torch.cat([centre, torch.ones(2, 1, dtype=torch.float64)], -1) @ torch.linalg.inv(K).T
    turned = torch.einsum("bij,bj->bi", R, rays)
    assert torch.allclose(turned[:, :2], torch.zeros(2, 2, dtype=torch.float64), atol=1e-9)
    assert torch.allclose(R[1], torch.eye(3, dtype=torch.float64))   # the principal point: no turn
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(2, 3, 3), atol=1e-9)


def test_pose3d_loss_values_and_gradient():
    target = torch.randn(3, 17, 3, dtype=torch.float64)
    pred = target + torch.tensor([0.0, 0.0, 0.03], dtype=torch.float64)   # a shift: zero once root-relative
    pred[:, 5] += torch.tensor([0.0, 0.17, 0.0], dtype=torch.float64)       # one joint 17 cm off
    valid = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)
    assert float(pose3d_loss(pred, target, valid, eps=0.0)) == pytest.approx(0.17 / 17, abs=1e-9)
    assert float(pose3d_loss(pred, target, torch.zeros(3, dtype=torch.float64))) == pytest.approx(0.0, abs=1e-6)
    pred.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: pose3d_loss(p, target, valid), (pred,))


def test_dataset_items_carry_labels_in_the_crop_camera(labelled):
    dataset = FramePairDataset(videos=labelled / "videos", size=32, min_gap=2, max_gap=8, seed=0,
                               labels3d=labelled / "labels")
    item = dataset[0]
    video, target = item["video"], item["target_index"]
    truth = load_labels(labelled / "labels" / f"{Path(dataset.videos[video]['path']).stem}.npz")["joints3d"][target]
    assert item["target_pose3d_valid"] == 1 and item["source_pose3d_valid"] == 1
    got = item["target_pose3d"].numpy()
    assert np.allclose(got[0], 0) and got.shape == (17, 3)
    # a rotation of the root-relative label: distances are kept
    rel = truth - truth[:1]
    assert np.allclose(np.linalg.norm(got, axis=-1), np.linalg.norm(rel, axis=-1), atol=1e-5)
    none = FramePairDataset(videos=labelled / "videos", size=32, min_gap=2, max_gap=8, seed=0,
                            labels3d=labelled / "labels", labels_fraction=0.0)
    assert none[0]["target_pose3d_valid"] == 0


def test_semi_supervised_run_logs_pose3d_and_init_fine_tunes(labelled, tmp_path):
    base = [f"data.videos={labelled / 'videos'}", f"data.poses3d={labelled / 'poses.npy'}", *TINY]
    with pytest.raises(ValueError, match="data.labels3d"):
        train(load_config(None, [*base, "loss.pose3d=1", "train.steps=1"]), tmp_path / "bad", progress=False)
    first = train(load_config(None, [*base, "train.steps=2", f"data.labels3d={labelled / 'labels'}",
                                     "data.labels_fraction=0.5", "loss.pose3d=1"]),
                  tmp_path / "semi", progress=False)
    rows = [json.loads(line) for line in (first / "log.jsonl").read_text().splitlines()]
    assert all(0 <= row["loss/pose3d"] < 2 for row in rows) and max(row["loss/pose3d"] for row in rows) > 0.01
    weights = load_model(first).state_dict()
    second = train(load_config(None, [*base, "train.steps=1", "train.lr=0", "train.lr_discriminator=0",
                                      f"train.init={first}"]), tmp_path / "tuned", progress=False)
    tuned = load_model(second).state_dict()
    # lr = 0: the fine-tuned run's weights are the initial run's (the bone head is not in this model)
    shared = [k for k in tuned if k in weights and "running" not in k and "num_batches" not in k]
    assert shared and all(torch.equal(tuned[k], weights[k]) for k in shared)
    with pytest.raises(ValueError, match="network sizes differ"):
        train(load_config(None, [*base, "train.steps=1", f"train.init={first}", "model.encoder_width=4"]),
              tmp_path / "mismatch", progress=False)


def test_h36m_labels_feed_the_pair_dataset(tmp_path):
    from conftest import write_test_video
    from test_h36m import world_poses, write_cdf

    from posesynth.cli import main
    from posesynth.datasets.h36m.load import load_h36m

    root = tmp_path / "h36m"
    for subject, seed in (("S1", 1), ("S5", 2)):
        write_cdf(root / subject / "MyPoseFeatures" / "D3_Positions" / "Walking 1.cdf", world_poses(frames=12, seed=seed))
        (root / subject / "Videos").mkdir(parents=True)
        write_test_video(root / subject / "Videos" / "Walking 1.54138969.mp4", frames=14, width=32, height=24)
    assert main(["h36m-labels", str(root), "--out", str(tmp_path / "labels"), "--subjects", "S1,S5",
                 "--cameras", "54138969"]) == 0
    for subject in ("S1", "S5"):
        seq = load_h36m(root, subjects=(subject,), cameras=("54138969",)).sequences[0]
        with np.load(tmp_path / "labels" / subject / "Videos" / "Walking 1.54138969.npz") as saved:
            assert np.allclose(saved["joints3d"], seq.joints3d / 1000, atol=1e-6)
            assert np.allclose(saved["K"], seq.calibration.K())
    dataset = FramePairDataset(videos=root, size=16, min_gap=2, max_gap=4, seed=0, box_source="center",
                               labels3d=tmp_path / "labels")
    labels_s5 = dataset.labels[[i for i, v in enumerate(dataset.videos) if "/S5/" in str(v["path"])][0]][0]
    assert np.isfinite(labels_s5[:12]).all() and np.isnan(labels_s5[12:]).all()   # video 2 frames past the mocap
    seq = load_h36m(root, subjects=("S5",), cameras=("54138969",)).sequences[0]
    assert np.allclose(labels_s5[:12], seq.joints3d / 1000, atol=1e-6)
