"""scripts/diagnose_facing_puppet.py: a puppet that says which side it shows, as a side cue for reconstruction."""

import json
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "diagnose_facing_puppet.py"
DEMO = ROOT / "assets" / "demo"


def _module():
    sys.path.insert(0, str(SCRIPT.parent))
    import diagnose_facing_puppet
    return diagnose_facing_puppet


def _demo_data(tmp_path: Path) -> Path:
    """A DATA folder whose train/ and heldout/ are the bundled demo clips."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "train").symlink_to(DEMO / "train")
    (data / "heldout").symlink_to(DEMO / "heldout")
    return data


def _frontal_skeleton() -> torch.Tensor:
    """(1, 17, 2) a person facing the camera: right hip and shoulder on the image's left."""
    joints = torch.zeros(1, 17, 2)
    joints[0, :, 0] = 32.0
    joints[0, 9] = torch.tensor([32.0, 10.0])                         # neck 20 px above the pelvis
    joints[0, 0] = torch.tensor([32.0, 30.0])
    for right, left, half in ((1, 4, 3.0), (14, 11, 5.0)):           # hips 6 px, shoulders 10 px wide
        joints[0, right, 0], joints[0, left, 0] = 32.0 - half, 32.0 + half
    return joints


def _toy_train(video: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
    """A random 16 px training set in the script's tensors, one row per entry of ``video``."""
    g = torch.Generator().manual_seed(seed)
    n = len(video)
    return {"image": torch.rand(n, 3, 16, 16, generator=g), "background": torch.rand(n, 3, 16, 16, generator=g),
            "joints2d": 4 + 8 * torch.rand(n, 17, 2, generator=g), "depth": 4 + torch.rand(n, 17, generator=g),
            "focal": torch.full((n,), 32.0), "video": video}


def test_front_share_closed_form_and_its_flip_under_the_mirror_labelling():
    mod = _module()
    joints = _frontal_skeleton()
    # facing_side = (29 − 35) + (27 − 37) = −16 px over a 20 px torso: sigmoid(4 · 0.8)
    expected = torch.sigmoid(torch.tensor(3.2))
    assert torch.allclose(mod.front_share(joints), expected.reshape(1))
    mirrored = mod.mirror_interpretation(joints, torch.full((1, 17), 4.0))[0]
    assert torch.allclose(mod.front_share(mirrored), 1 - expected.reshape(1))
    profile = joints.clone()
    profile[..., 0] = 32.0
    assert torch.allclose(mod.front_share(profile), torch.tensor([0.5]))


def test_split_front_back_keeps_the_partition_of_unity_and_routes_the_shares():
    mod = _module()
    g = torch.Generator().manual_seed(0)
    maps = torch.softmax(torch.randn(2, 17, 8, 8, generator=g), dim=1)
    front = torch.tensor([0.9, 0.25])
    split = mod.split_front_back(maps, front)
    assert split.shape == (2, 20, 8, 8)
    assert torch.allclose(split.sum(1), torch.ones(2, 8, 8))
    head = mod.PART_NAMES.index("head")
    assert torch.allclose(split[:, head], maps[:, head] * front.reshape(2, 1, 1))
    assert torch.allclose(split[:, 16 + 2], maps[:, head] * (1 - front).reshape(2, 1, 1))  # head's back, third
    assert torch.equal(split[:, -1], maps[:, -1]) and torch.equal(split[:, 0], maps[:, 0])


def test_split_front_back_gradcheck_float64():
    mod = _module()
    g = torch.Generator().manual_seed(1)
    maps = torch.softmax(torch.randn(1, 17, 3, 3, generator=g, dtype=torch.float64), 1).requires_grad_()
    front = torch.rand(1, generator=g, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(mod.split_front_back, (maps, front))
    joints = (_frontal_skeleton().double() + torch.rand(1, 17, 2, generator=g, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(mod.front_share, (joints,))


def test_a_partly_right_teacher_draws_the_wrong_pairs_mirrored():
    mod = _module()
    n = 6
    train = _toy_train(torch.tensor([0, 0, 0, 1, 1, 1]), seed=2)
    for accuracy in (1.0, 0.0):
        painter = mod.Painter(split=True, appearance_channels=4, appearance_width=4, decoder_width=4, decoder_levels=2)
        drawn = []
        original = painter.maps
        painter.maps = lambda joints2d, depth, focal, size: drawn.append((joints2d, depth)) or original(
            joints2d, depth, focal, size)
        mod.train_painter(painter, train, steps=1, batch=4, lr=1e-3, min_gap=1, seed=0, log=print,
                          label_accuracy=accuracy)
        joints2d, depth = drawn[1]  # the targets
        truth = [(train["joints2d"][i], train["depth"][i]) for i in range(n)]
        mirrored = [mod.mirror_interpretation(j[None], d[None]) for j, d in truth]
        pool = truth if accuracy == 1.0 else [(j[0], d[0]) for j, d in mirrored]
        for row in range(4):
            assert any(torch.allclose(joints2d[row], j) and torch.allclose(depth[row], d) for j, d in pool)


def test_the_script_trains_both_decoders_and_scores_real_clips(tmp_path):
    data = _demo_data(tmp_path)
    out = tmp_path / "facing_puppet.json"
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(data), "--size", "32", "--steps", "3",
                             "--batch", "4", "--stride", "8", "--min-gap", "1", "--json", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert set(report["variants"]) == {"plain", "front/back split"}
    for row in report["variants"].values():
        assert 0.0 <= row["truth_beats_mirror"] <= 1.0 and row["loss_truth"] > 0
    assert "truth beats its mirror" in result.stdout


def test_the_script_scores_a_trained_runs_own_decoder(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "heldout").symlink_to(DEMO / "heldout")  # no train/: nothing is trained
    out = tmp_path / "run.json"
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(data), "--run", str(DEMO / "checkpoint.pt"),
                             "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(out.read_text())["variants"].values()
    # the shipped checkpoint's decoder sees the 2D: the true puppet reconstructs better than one 1 px off
    assert row["truth_beats_shift_1px"] > 0.8 and 0.0 <= row["truth_beats_mirror"] <= 1.0


def test_a_missing_run_is_a_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(tmp_path), "--run", str(tmp_path / "nope")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "nope" in result.stderr


def test_a_folder_without_labels_is_a_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr and str(tmp_path) in result.stderr


def test_a_frontal_teacher_draws_everyone_facing_the_camera():
    mod = _module()
    train = _toy_train(torch.zeros(8, dtype=torch.long), seed=3)
    assert (mod.facing_side(train["joints2d"]) > 0).any()
    painter = mod.Painter(split=False, appearance_channels=4, appearance_width=4, decoder_width=4, decoder_levels=2)
    drawn = []
    original = painter.maps
    painter.maps = lambda joints2d, depth, focal, size: drawn.append(joints2d) or original(joints2d, depth, focal, size)
    mod.train_painter(painter, train, steps=2, batch=6, lr=1e-3, min_gap=1, seed=0, log=print, frontal=True)
    assert all((mod.facing_side(targets) <= 0).all() for targets in drawn[1::2])


def test_travel_pairs_label_the_walks_and_the_travel_teacher_follows_the_label():
    mod = _module()
    n = 6  # one clip: the feet move 10 px down the video per frame, so later frames face the camera
    joints2d = torch.full((n, 17, 2), 16.0)
    boxes = torch.stack([torch.tensor([0.0, 10.0 * k, 32.0, 32.0 + 10.0 * k]) for k in range(n)])
    joints2d[:, 1, 0], joints2d[:, 4, 0] = 20.0, 12.0        # right hip on the image's right: facing away
    train = {"image": torch.rand(n, 3, 32, 32), "background": torch.rand(n, 3, 32, 32), "joints2d": joints2d,
             "depth": torch.full((n, 17), 4.0), "focal": torch.full((n,), 64.0),
             "video": torch.zeros(n, dtype=torch.long), "boxes": boxes}
    first, second, label = mod.travel_pairs(train, min_gap=2)
    assert len(label) == 10 and (second - first >= 2).all() and (label == -1).all()
    painter = mod.Painter(split=False, appearance_channels=4, appearance_width=4, decoder_width=4, decoder_levels=2)
    drawn = []
    original = painter.maps
    painter.maps = lambda j, d, f, size: drawn.append(j) or original(j, d, f, size)
    mod.train_painter(painter, train, steps=1, batch=4, lr=1e-3, min_gap=2, seed=0, log=print, travel=True)
    assert (mod.facing_side(drawn[1]) < 0).all()  # drawn with the label's side: facing the camera, mirrored


def test_verdict_losses_draw_each_frame_frontal_and_mirrored_in_the_four_combinations():
    mod = _module()
    train = _toy_train(torch.zeros(6, dtype=torch.long), seed=4)
    train["joints2d"][:3] = _frontal_skeleton().expand(3, 17, 2) + 0.1 * torch.rand(3, 17, 2)
    train["joints2d"][3:] = mod.mirror_interpretation(train["joints2d"][:3], train["depth"][:3])[0]  # facing away
    painter = mod.Painter(split=False, appearance_channels=4, appearance_width=4, decoder_width=4, decoder_levels=2)
    drawn = []
    original = painter.maps
    painter.maps = lambda j, d, f, size: drawn.append(j) or original(j, d, f, size)
    s, t = torch.tensor([0, 3]), torch.tensor([4, 1])
    losses, mirrors = mod.verdict_losses(painter, train, s, t)
    assert losses.shape == (2, 4) and losses.requires_grad and (losses > 0).all()
    assert mirrors.tolist()[0] == [[False, False], [False, True], [True, False], [True, True]]
    # source F, source M, target F, target M: F puts the right side on the image's left whatever the truth is
    assert (mod.facing_side(drawn[0]) < 0).all() and (mod.facing_side(drawn[1]) > 0).all()
    assert (mod.facing_side(drawn[2]) < 0).all() and (mod.facing_side(drawn[3]) > 0).all()
    # the truth is one of the two readings: frame 4 faces away, so its M is its true skeleton
    assert torch.allclose(drawn[3][0], train["joints2d"][4]) and torch.allclose(drawn[2][1], train["joints2d"][1])


def test_self_teaching_trains_on_the_labelling_with_the_smallest_loss_and_scores_its_sides(monkeypatch):
    mod = _module()
    train = _toy_train(torch.zeros(8, dtype=torch.long), seed=5)
    painter = mod.Painter(split=False, appearance_channels=4, appearance_width=4, decoder_width=4, decoder_levels=2)
    real = mod.verdict_losses

    def truth_is_cheapest(painter, train, s, t):  # the labelling that gives both frames their true side wins
        losses, mirrors = real(painter, train, s, t)
        truth = torch.stack([mod.facing_side(train["joints2d"][i]) > 0 for i in (s, t)], dim=1)
        cost = 1.0 + (mirrors != truth[:, None]).float().sum(-1)               # 1 for the truth, more otherwise
        return losses * 0 + cost, mirrors

    monkeypatch.setattr(mod, "verdict_losses", truth_is_cheapest)
    calls = []
    history = mod.train_painter(painter, train, steps=5, batch=4, lr=1e-3, min_gap=1, seed=0, log=print,
                                self_teach=0, evaluate=lambda: calls.append(1) or {"truth_beats_mirror": 0.5})
    assert len(history) == 5 and len(calls) == 5
    for record in history:
        assert record["loss"] == 1.0  # the smallest of the four
        assert record["verdict_right_target"] == 1.0 and record["verdict_right_source"] == 1.0


def test_the_script_self_teaches_on_real_clips_and_writes_the_curve(tmp_path):
    data = _demo_data(tmp_path)
    out = tmp_path / "self_teach.json"
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(data), "--size", "32", "--steps", "2",
                             "--batch", "4", "--stride", "8", "--min-gap", "1", "--variants", "plain",
                             "--self-teach", "1", "--noise-px", "1", "--json", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    moved = [line for line in result.stdout.splitlines() if "moved" in line]
    assert len(moved) == 2 and all(0.5 < float(line.split("moved ")[1].split(" px")[0]) < 2.5 for line in moved)
    report = json.loads(out.read_text())
    first, second = report["curves"]["plain"]
    assert "verdict_right_target" not in first and 0.0 <= second["verdict_right_target"] <= 1.0
    assert 0.0 <= second["truth_beats_mirror"] <= 1.0 and "verdict gave the true side" in result.stdout


class _FixedEncoder(torch.nn.Module):
    """A stand-in run whose encoder draws one frontal skeleton for every image (the recipe's habit)."""

    image_size = 16
    focal = 50.0

    def encode_pose(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        joints = _frontal_skeleton().expand(len(image), 17, 2).clone()
        depth = torch.linspace(4.0, 5.0, 17).expand(len(image), 17).clone()
        return {"joints2d": joints, "depth": depth}


def test_the_predicted_skeleton_replaces_the_truth_with_its_labelling_nearer_the_true_side():
    mod = _module()
    frontal = _frontal_skeleton()[0]
    depth = torch.linspace(4.0, 5.0, 17)[None]
    mirror2d, mirror_depth = mod.mirror_interpretation(frontal[None], depth)
    # frame 0 truly faces the camera, 1 px off the drawing; frame 1 faces away (the drawing's mirror)
    truth = torch.stack([frontal + torch.tensor([1.0, 0.0]), mirror2d[0]])
    views = {"image": torch.rand(2, 3, 16, 16), "joints2d": truth.clone(), "depth": torch.ones(2, 17),
             "focal": torch.tensor([30.0, 40.0])}
    error = mod.use_predicted_skeleton(_FixedEncoder(), views)
    assert error == 0.5  # 1 px and 0 px from the truth
    assert torch.equal(views["joints2d"][0], frontal) and torch.equal(views["depth"][0], depth[0])
    assert torch.equal(views["joints2d"][1], mirror2d[0]) and torch.equal(views["depth"][1], mirror_depth[0])
    assert torch.equal(views["focal"], torch.full((2,), 50.0))
    # the script's "true side" now follows the truth: facing the camera, then away
    assert (mod.facing_side(views["joints2d"]) < 0).tolist() == [True, False]


def test_the_script_self_teaches_on_a_runs_own_skeleton(tmp_path):
    data = _demo_data(tmp_path)
    out = tmp_path / "skeleton.json"
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(data), "--skeleton-from",
                             str(DEMO / "checkpoint.pt"), "--steps", "2", "--batch", "4", "--stride", "8",
                             "--min-gap", "1", "--variants", "plain", "--self-teach", "0", "--json", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "puppets from" in line]
    assert len(lines) == 2  # training and held-out skeletons, each with its distance from the truth
    for line in lines:
        assert 0.0 < float(line.split(": ")[1].split(" px")[0]) < 10.0
    (row,) = json.loads(out.read_text())["variants"].values()
    assert 0.0 <= row["truth_beats_mirror"] <= 1.0


def test_a_skeleton_run_of_another_crop_size_is_a_one_line_error(tmp_path):
    data = _demo_data(tmp_path)
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(data), "--size", "32", "--skeleton-from",
                             str(DEMO / "checkpoint.pt"), "--stride", "8"], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "--size 64" in result.stderr


def test_frame_noise_is_drawn_once_per_frame_with_the_rayleigh_mean():
    mod = _module()
    truth = torch.zeros(4000, 17, 2)
    views = {"joints2d": truth.clone()}
    moved = mod.add_frame_noise(views, 2.0, seed=3)
    # the length of a 2D Gaussian step of σ per coordinate is Rayleigh: mean σ·√(π/2)
    assert abs(moved - 2.0 * (torch.pi / 2) ** 0.5) < 0.02
    again = {"joints2d": truth.clone()}
    mod.add_frame_noise(again, 2.0, seed=3)
    assert torch.equal(views["joints2d"], again["joints2d"])  # the same seed, the same noise
    assert views["joints2d"].std(dim=(0, 1)).sub(2.0).abs().max() < 0.05
