"""scripts/diagnose_facing.py: the supervised facing upper bound, on the bundled labelled clips."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "diagnose_facing.py"
HELDOUT = ROOT / "assets" / "demo" / "heldout"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


def test_facing_labels_closed_form():
    sys.path.insert(0, str(SCRIPT.parent))
    from diagnose_facing import facing_labels
    pose = np.zeros((2, 17, 3))
    pose[0, [1, 14], 0], pose[0, [4, 11], 0] = -0.2, 0.2  # right side on the image's left: facing the camera
    pose[1] = pose[0]
    pose[1, ..., 0] *= -1  # the same person seen from the back
    labels, clarity = facing_labels(pose)
    assert torch.equal(labels, torch.tensor([1.0, 0.0]))
    assert torch.allclose(clarity, torch.tensor([0.8, 0.8]))


def test_window_mean_stays_inside_each_clip():
    sys.path.insert(0, str(SCRIPT.parent))
    from diagnose_facing import window_mean
    values = torch.tensor([1.0, 2.0, 3.0, 10.0, 20.0])
    video = torch.tensor([0, 0, 0, 1, 1])
    assert torch.allclose(window_mean(values, video, 3), torch.tensor([1.5, 2.0, 2.5, 15.0, 15.0]))
    assert torch.equal(window_mean(values, video, 1), values)
    assert torch.allclose(window_mean(values, video, 99), torch.tensor([2.0, 2.0, 2.0, 15.0, 15.0]))


def test_the_script_trains_and_scores_on_real_clips(tmp_path):
    out = tmp_path / "facing.json"
    result = _run("--train", str(HELDOUT), "--heldout", str(HELDOUT), "--size", "32", "--steps", "4",
                  "--eval-every", "2", "--batch", "8", "--width", "4", "--stride", "4", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert [p["step"] for p in report["curve"]] == [2, 4]
    assert [p["samples"] for p in report["curve"]] == [16, 32]
    assert all(0.0 <= p["accuracy"] <= 1.0 and np.isfinite(p["loss"]) for p in report["curve"])
    assert report["windows"] == [9, 33]
    assert all(0.0 <= p[f"accuracy_window_{w}"] <= 1.0 for p in report["curve"] for w in (9, 33))
    assert 0.5 <= report["majority_share"] <= 1.0
    assert report["training_crops"] < report["heldout_crops"]  # every 4th frame against every frame
    assert "held-out accuracy" in result.stdout


def test_a_motion_with_no_clips_is_a_one_line_error(tmp_path):
    result = _run("--train", str(HELDOUT), "--heldout", str(HELDOUT), "--motions", "juggling", "--steps", "1")
    assert result.returncode != 0 and "juggling" in result.stderr and "Traceback" not in result.stderr


def _poses(tmp_path: Path) -> Path:
    from posesynth.synth.poses import sample_poses
    path = tmp_path / "poses.npy"
    np.save(path, sample_poses(clips=2, seed=0)[:64])
    return path


def test_paintings_carry_their_pose_s_facing_and_a_face_only_on_the_head(tmp_path):
    sys.path.insert(0, str(SCRIPT.parent))
    from diagnose_facing import Paintings
    from posesynth.evaluation.synthetic import labelled_views
    from posesynth.geometry import project
    from posesynth.render.paint import HEAD_PART
    from posesynth.render.puppet import render_part_maps
    from posesynth.skeleton import facing_side
    from posesynth.training.imitation_views import sample_views
    views = labelled_views(HELDOUT, 32, 1.25, 8)
    poses = np.load(_poses(tmp_path))
    faced, plain = Paintings.from_truth(poses, views, face=True), Paintings.from_truth(poses, views, face=False)
    images, labels = faced.batch(16, torch.Generator().manual_seed(3))
    same, same_labels = plain.batch(16, torch.Generator().manual_seed(3))
    assert images.shape == (16, 3, 32, 32) and 0 <= images.min() and images.max() <= 1
    # the labels are the sampled poses' own facing: replay the generator's draws
    generator = torch.Generator().manual_seed(3)
    chosen = faced.body[torch.randint(len(faced.body), (16,), generator=generator)]
    joints = sample_views(chosen, image_size=32, focal=faced.focal, generator=generator)
    true2d = project(joints, faced.K)
    assert torch.equal(labels, (facing_side(true2d) < 0).float()) and torch.equal(labels, same_labels)
    # the face changes the head's pixels and nothing else (the paintings mirrored as drawn)
    torch.randint(len(faced.colours), (16,), generator=generator)   # the donors
    torch.rand(16, 4, 1, generator=generator)                        # the face palette
    mirror = torch.rand(16, generator=generator) < 0.5
    maps = render_part_maps(true2d, joints[..., 2], (32, 32), focal=faced.focal)
    share = maps[:, HEAD_PART] / (1 - maps[:, -1]).clamp(min=1e-6)
    share = torch.where(mirror[:, None, None], share.flip(-1), share)
    change = (images - same).abs().amax(dim=1)
    assert change.max() > 0.1 and (change <= share + 1e-6).all()  # at most the head's share of each pixel


def test_the_script_trains_on_paintings_and_scores_real_clips(tmp_path):
    out, saved = tmp_path / "facing.json", tmp_path / "net" / "facing.pt"
    result = _run("--train", str(HELDOUT), "--heldout", str(HELDOUT), "--paintings", str(_poses(tmp_path)),
                  "--size", "32", "--steps", "2", "--eval-every", "2", "--batch", "8", "--width", "4", "--stride", "8",
                  "--json", str(out), "--save", str(saved))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["paintings"].endswith("poses.npy") and report["face"] is True
    assert [p["samples"] for p in report["curve"]] == [16] and 0.0 <= report["curve"][0]["accuracy"] <= 1.0
    assert "paintings of 64 unpaired poses with a face" in result.stdout
    # the saved classifier scores the held-out crops as the run's last evaluation did
    sys.path.insert(0, str(SCRIPT.parent))
    from diagnose_facing import accuracy, facing_labels, load_classifier
    from posesynth.evaluation.synthetic import labelled_views
    net, size = load_classifier(saved)
    views = labelled_views(HELDOUT, size, 1.25, 1)
    labels, clarity = facing_labels(views["truth"])
    crops = torch.from_numpy(views["crops"]).permute(0, 3, 1, 2)
    scored = accuracy(net, crops, labels, clarity, torch.from_numpy(views["video"]), [9, 33])
    assert size == 32 and scored["accuracy"] == pytest.approx(report["curve"][0]["accuracy"])


def test_no_face_needs_paintings(tmp_path):
    result = _run("--train", str(HELDOUT), "--heldout", str(HELDOUT), "--no-face", "--steps", "1")
    assert result.returncode != 0 and "--paintings" in result.stderr and "Traceback" not in result.stderr


def test_paintings_coloured_under_a_run_s_own_puppets_read_no_label(tmp_path):
    from posesynth.models.model import PoseSynthModel
    posesynth = Path(sys.executable).with_name("posesynth")
    prepared = subprocess.run([str(posesynth), "prepare", str(HELDOUT / "videos"), "--out", str(tmp_path / "cache"),
                               "--size", "32"], capture_output=True, text=True, timeout=600)
    assert prepared.returncode == 0, prepared.stderr
    run = tmp_path / "run"
    run.mkdir()
    tiny = dict(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8, appearance_width=8,
                decoder_width=8)
    torch.manual_seed(0)
    torch.save({"model_kwargs": tiny, "state_dict": PoseSynthModel(**tiny).state_dict(), "step": 1}, run / "model.pt")
    (run / "config.yaml").write_text(f"model:\n  image_size: 32\ndata:\n  cache: {tmp_path / 'cache'}\n")
    out = tmp_path / "own.json"
    result = _run("--heldout", str(HELDOUT), "--paintings", str(_poses(tmp_path)), "--colours-from", str(run),
                  "--steps", "2", "--eval-every", "2", "--batch", "8", "--width", "4", "--stride", "8", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["colours_from"] == str(run) and report["size"] == 32 and report["face"] is True
    assert report["training_crops"] == 192 // 8   # every 8th frame of the two 96-frame clips
    assert f"under {run}'s own puppets" in result.stdout
    # the donors' colours are the side stage's: the run's puppets, where each crop differs from its plate
    sys.path.insert(0, str(SCRIPT.parent))
    from diagnose_facing import Paintings, cache_crops
    from posesynth.models.loading import load_model
    from posesynth.training.side_fit import own_puppet_colours
    paintings = Paintings.from_run(np.load(tmp_path / "poses.npy"), run, 8, face=True)
    crops, plates = cache_crops(tmp_path / "cache", 8)
    expected = own_puppet_colours(load_model(run), crops.float() / 255, plates.float() / 255)
    torch.testing.assert_close(paintings.colours, expected)
    for args, word in ((("--train", str(HELDOUT)), "--train"), ((), "--paintings")):
        extra = ("--paintings", str(tmp_path / "poses.npy")) if args else ()
        refused = _run("--heldout", str(HELDOUT), "--colours-from", str(run), *args, *extra, "--steps", "1")
        assert refused.returncode != 0 and word in refused.stderr and "Traceback" not in refused.stderr
