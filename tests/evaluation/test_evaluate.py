"""posesynth eval: per-action averaging, predictions-file checks, frame step, 3DHP PCK/AUC, a model end to end."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from posesynth.cli import main
from posesynth.datasets.h36m.cameras import CAMERAS
from posesynth.datasets.h36m.load import load_h36m
from posesynth.datasets.h36m.types import H36MSequence, canonical_action
from posesynth.evaluation.h36m_predictions import PredictionsError, evaluate_predictions
from posesynth.evaluation.mpi_3dhp import PCK_JOINTS_14, MPIInf3DHPError, evaluate_3dhp, load_3dhp
from posesynth.evaluation.report import markdown_table
from posesynth.evaluation.scores import SequenceScores, frame_selection, summarize
from posesynth.models.model import PoseSynthModel

REPO = Path(__file__).resolve().parents[2]


def _sequence(subject: str, sequence: str, frames: int, seed: int, camera: str = CAMERAS[0],
              held: np.ndarray | None = None) -> H36MSequence:
    """A view with random camera-frame joints (mm) around 5 m in front of the camera."""
    held = np.arange(frames) if held is None else np.asarray(held)
    joints = np.random.default_rng(seed).normal(0, 300, (len(held), 17, 3)) + [0, 0, 5000]
    return H36MSequence(subject, sequence, canonical_action(sequence), camera, held.astype(np.int64),
                        joints.astype(np.float32), None, None, None, None, frames)


def _offsets(length: float, seed: int) -> np.ndarray:
    """(17, 3) per-joint offsets of norm ``length``, zero at the pelvis: root-aligned MPJPE = 16/17 · length."""
    directions = np.random.default_rng(seed).normal(size=(17, 3))
    offsets = length * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    offsets[0] = 0
    return offsets


def _full(seq: H36MSequence, offset=0.0) -> np.ndarray:
    """(num_mocap_frames, 17, 3) predictions: the ground truth + ``offset`` on the held rows, NaN elsewhere."""
    pred = np.full((seq.num_mocap_frames, 17, 3), np.nan)
    pred[seq.frames] = seq.joints3d + offset
    return pred


def _eval(*argv) -> int:
    """``posesynth eval ARGV`` through the command's entry point (its error boundary included)."""
    return main(["eval", *map(str, argv)])


# --- the evaluation core on hand-made views --------------------------------------------------

def test_per_action_mean_pools_frames_and_average_is_mean_over_actions():
    walk_a, walk_b = _sequence("S9", "Walking 1", 4, 0), _sequence("S11", "Walking", 2, 1, camera=CAMERAS[2])
    directions = _sequence("S9", "Directions 1", 3, 2)
    translate = np.array([120.0, -40.0, 300.0])  # a global shift: removed by root alignment
    predictions = {walk_a.key: _full(walk_a, _offsets(17.0, 3) + translate),         # MPJPE 16
                   walk_b.key: _full(walk_b, _offsets(85.0, 4)),                     # MPJPE 80
                   directions.key: _full(directions, _offsets(51.0, 5) - translate)}  # MPJPE 48
    scores, missing = evaluate_predictions([directions, walk_a, walk_b], predictions)
    metrics = summarize(scores, missing=missing, protocol={"frame_step": 1})

    assert missing == [] and metrics["frames"] == 9
    assert set(metrics) == {"per_action", "average", "frames", "missing", "protocol"}
    assert list(metrics["per_action"]) == ["Directions", "Walking"]           # the papers' column order
    assert set(metrics["per_action"]["Walking"]) == {"mpjpe", "pa_mpjpe", "n_mpjpe"}
    walking = (4 * 16 + 2 * 80) / 6                                         # mean over frames, not views
    assert metrics["per_action"]["Walking"]["mpjpe"] == pytest.approx(walking)
    assert metrics["per_action"]["Directions"]["mpjpe"] == pytest.approx(48)
    assert metrics["average"]["mpjpe"] == pytest.approx((walking + 48) / 2)   # mean over actions


def test_ground_truth_scores_zero_and_scaled_prediction_only_n_mpjpe_zero():
    seq = _sequence("S9", "Eating 2", 5, 7)
    scores, _ = evaluate_predictions([seq], {seq.key: _full(seq, np.array([5.0, 6.0, 7.0]))})
    assert all(np.allclose(e, 0, atol=1e-9) for e in scores[0].errors.values())

    root = seq.joints3d[:, :1].astype(np.float64)
    scaled = _full(seq)
    scaled[seq.frames] = root + 1.5 * (seq.joints3d - root)                 # 1.5× about the pelvis
    errors = evaluate_predictions([seq], {seq.key: scaled})[0][0].errors
    relative = np.linalg.norm(seq.joints3d - root, axis=-1).mean(-1)
    np.testing.assert_allclose(errors["mpjpe"], 0.5 * relative, rtol=1e-6)
    np.testing.assert_allclose(errors["n_mpjpe"], 0, atol=1e-6)
    np.testing.assert_allclose(errors["pa_mpjpe"], 0, atol=1e-6)


def test_frame_step_keeps_multiples_of_k():
    np.testing.assert_array_equal(frame_selection(np.array([0, 3, 5, 10, 15, 16]), 5), [1, 0, 1, 1, 1, 0])
    seq = _sequence("S9", "Posing", 11, 8)
    pred = _full(seq, _offsets(34.0, 9))
    pred[::5] = seq.joints3d[::5]                      # correct exactly on frames 0, 5, 10
    scores, _ = evaluate_predictions([seq], {seq.key: pred}, frame_step=5)
    np.testing.assert_array_equal(scores[0].frames, [0, 5, 10])
    assert np.allclose(scores[0].errors["mpjpe"], 0)
    with pytest.raises(ValueError, match="frame step"):
        evaluate_predictions([seq], {seq.key: pred}, frame_step=0)


def test_bad_keys_and_shapes_are_errors_naming_the_key():
    seq = _sequence("S9", "Walking 1", 6, 10)
    good = _full(seq)
    with pytest.raises(PredictionsError, match=r"'S9\|Walkin 1\|54138969'.*did you mean 'S9\|Walking 1\|54138969'"):
        evaluate_predictions([seq], {seq.key: good, "S9|Walkin 1|54138969": good}, source="pred.npz")
    with pytest.raises(PredictionsError, match=r"pred.npz: key 'S9-Walking'"):
        evaluate_predictions([seq], {"S9-Walking": good}, source="pred.npz")
    with pytest.raises(PredictionsError, match=r"'S9\|Walking 1\|54138969' has shape \(5, 17, 3\), expected \(6, 17,"):
        evaluate_predictions([seq], {seq.key: good[:5]})
    with pytest.raises(PredictionsError, match=r"'S9\|Walking 1\|54138969' has shape \(6, 16, 3\)"):
        evaluate_predictions([seq], {seq.key: good[:, :16]})
    good[2, 4, 0] = np.nan
    with pytest.raises(PredictionsError, match=r"NaN/inf at frames \[2\]"):
        evaluate_predictions([seq], {seq.key: good})
    # keys of subjects or cameras outside the selection are not errors: they are not evaluated
    other = {seq.key: _full(seq), "S11|Walking|54138969": np.zeros((3, 17, 3)), f"S9|Walking 1|{CAMERAS[1]}": good}
    scores, missing = evaluate_predictions([seq], other, subjects=["S9"], cameras=[CAMERAS[0]])
    assert [s.key for s in scores] == [seq.key] and missing == []


def test_views_without_predictions_are_listed_as_missing():
    a, b = _sequence("S9", "Phoning 1", 3, 11), _sequence("S11", "Phoning 1", 3, 12)
    scores, missing = evaluate_predictions([a, b], {a.key: _full(a)})
    assert [s.key for s in scores] == [a.key] and missing == [b.key]


def test_markdown_table_has_actions_as_columns_and_metric_rows():
    table = markdown_table({"Walking": {"mpjpe": 50.0, "pa_mpjpe": 40.0}, "Eating": {"mpjpe": 30.0, "pa_mpjpe": 20.0}},
                           {"mpjpe": 40.0, "pa_mpjpe": 30.0})
    lines = table.splitlines()
    assert lines[0] == "| | Walking | Eating | Avg |"
    assert lines[2] == "| MPJPE (mm) | 50.0 | 30.0 | 40.0 |" and lines[3].startswith("| PA-MPJPE (mm) |")


# --- posesynth eval --predictions on a VideoPose3D-layout dataset written here ----------------

@pytest.fixture
def vp3d(tmp_path) -> Path:
    """A ``data_3d_h36m.npz`` with three S9/S11 sequences (world metres, 32 joints)."""
    rng = np.random.default_rng(0)
    table = {"S9": {"Walking 1": rng.normal(0, 0.3, (7, 32, 3)), "Directions": rng.normal(0, 0.3, (5, 32, 3))},
             "S11": {"Walking": rng.normal(0, 0.3, (6, 32, 3))}}
    np.savez(tmp_path / "data_3d_h36m.npz", positions_3d=np.array(table, dtype=object))
    return tmp_path / "data_3d_h36m.npz"


def test_cli_writes_metrics_md_and_per_frame_csv(vp3d, tmp_path, capsys):
    split = load_h36m(vp3d, trust_pickle=True)
    assert len(split.sequences) == 12 and split.format == "videopose3d"
    offsets = {"Walking": _offsets(34.0, 1), "Directions": _offsets(17.0, 2)}    # MPJPE 32 and 16
    np.savez(tmp_path / "pred.npz", **{s.key: _full(s, offsets[s.action]) for s in split.sequences
                                       if s.key != "S11|Walking|60457274"})
    out = tmp_path / "eval"
    assert _eval("--predictions", tmp_path / "pred.npz", "--h36m", vp3d, "--trust-pickle", "--frame-step", 2,
                 "--out", out) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["missing"] == ["S11|Walking|60457274"]
    assert metrics["frames"] == 4 * 4 + 3 * 4 + 3 * 3   # frames 0,2,4(,6) of 7, 5, 6 frames × 4, 4, 3 cameras
    assert metrics["per_action"]["Walking"]["mpjpe"] == pytest.approx(32)
    assert metrics["average"]["mpjpe"] == pytest.approx(24)
    assert metrics["protocol"]["frame_step"] == 2
    assert metrics["protocol"]["subjects"] == ["S9", "S11"] and len(metrics["protocol"]["joints"]) == 17
    md = (out / "metrics.md").read_text()
    assert md.startswith("| | Directions | Walking | Avg |") and "| N-MPJPE (mm) |" in md
    with open(out / "per_frame.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == metrics["frames"] and {r["frame"] for r in rows} == {"0", "2", "4", "6"}
    assert list(rows[0]) == ["subject", "sequence", "action", "camera", "frame", "mpjpe", "pa_mpjpe", "n_mpjpe"]
    assert "Avg" in capsys.readouterr().out

    # --strict: a view without a prediction is an error
    assert _eval("--predictions", tmp_path / "pred.npz", "--h36m", vp3d, "--trust-pickle", "--strict",
                 "--out", out) == 2
    assert "S11|Walking|60457274" in capsys.readouterr().err


def test_cli_errors_name_the_key(vp3d, tiny_run, tmp_path, capsys):
    split = load_h36m(vp3d, subjects=["S9"], trust_pickle=True)
    predictions = {s.key: _full(s) for s in split.sequences}
    predictions["S9|Directions|54138969"] = predictions["S9|Directions|54138969"][:4]
    np.savez(tmp_path / "short.npz", **predictions)
    assert _eval("--predictions", tmp_path / "short.npz", "--h36m", vp3d, "--trust-pickle",
                 "--out", tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "'S9|Directions|54138969' has shape (4, 17, 3), expected (5, 17, 3)" in err
    np.save(tmp_path / "one.npy", np.zeros((5, 17, 3)))
    assert _eval("--predictions", tmp_path / "one.npy", "--h36m", vp3d, "--trust-pickle", "--out", tmp_path / "o") == 2
    assert "a single array" in capsys.readouterr().err
    assert _eval(tiny_run, "--predictions", tmp_path / "one.npy", "--h36m", vp3d, "--trust-pickle",
                 "--out", tmp_path / "o") == 2
    assert "either a model" in capsys.readouterr().err
    # a model needs frames: this dataset has no videos, so every view is skipped
    assert _eval(tiny_run, "--h36m", vp3d, "--trust-pickle", "--device", "cpu", "--out", tmp_path / "o") == 2
    assert "no Human3.6M view left" in capsys.readouterr().err


# --- MPI-INF-3DHP on mmpose's real sample ----------------------------------------------------

def test_3dhp_ground_truth_and_a_perturbed_copy(realdata):
    gt = load_3dhp(realdata / "mmpose/mpi_inf_3dhp/test_3dhp_test.npz")
    assert gt.sequences.tolist() == ["TS1", "TS2"] and gt.joints3d.shape == (2, 17, 3)
    assert 1000 < np.abs(gt.joints3d[..., 2]).min()               # metres became millimetres
    metrics, _ = evaluate_3dhp(gt.joints3d, gt)
    # the official strict test (error < t): nothing is within t = 0, so a perfect AUC is 30/31
    assert metrics["all"]["pck"] == 100 and metrics["all"]["mpjpe"] == 0
    assert metrics["all"]["auc"] == pytest.approx(100 * 30 / 31)
    metrics, _ = evaluate_3dhp(gt.joints3d + [10.0, -20.0, 30.0], gt)
    assert metrics["all"]["pck"] == 100 and metrics["all"]["auc"] == pytest.approx(100 * 30 / 31)
    assert metrics["all"]["mpjpe"] < 1e-9

    pred = gt.joints3d.copy()
    pred[0, 0, 0] += 72.5              # head top of frame 0 off by 72.5 mm: within t = 75, 80, …, 150 (16 of 31)
    pred[1, 3, 1] -= 200.0             # right elbow of frame 1 off by 200 mm: never within 150
    metrics, per_frame = evaluate_3dhp(pred, gt)
    np.testing.assert_allclose(per_frame["pck"], [100, 100 * 13 / 14])
    np.testing.assert_allclose(per_frame["auc"], [100 * (13 * 30 + 16) / (14 * 31), 100 * 13 * 30 / (14 * 31)])
    np.testing.assert_allclose(per_frame["mpjpe"], [72.5 / 17, 200 / 17])
    assert metrics["per_sequence"]["TS2"]["pck"] == pytest.approx(100 * 13 / 14)
    assert metrics["all"]["pck"] == pytest.approx(100 * 27 / 28)
    _, per_frame17 = evaluate_3dhp(pred, gt, pck_joints=17)
    np.testing.assert_allclose(per_frame17["auc"], [100 * (16 * 30 + 16) / (17 * 31), 100 * 16 * 30 / (17 * 31)])
    assert len(PCK_JOINTS_14) == 14 and 14 not in PCK_JOINTS_14    # the pelvis is not in the 14
    with pytest.raises(MPIInf3DHPError, match=r"pred.npy: shape \(1, 17, 3\)"):
        evaluate_3dhp(pred[:1], gt, source="pred.npy")


def test_3dhp_cli(realdata, tmp_path):
    truth = realdata / "mmpose/mpi_inf_3dhp/test_3dhp_train.npz"
    np.save(tmp_path / "pred.npy", load_3dhp(truth).joints3d)
    out = tmp_path / "eval3dhp"
    assert _eval("--predictions", tmp_path / "pred.npy", "--3dhp", truth, "--out", out) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["per_sequence"]) == ["S4_Seq2_Cam0", "S8_Seq1_Cam8"]
    assert metrics["all"]["auc"] == pytest.approx(100 * 30 / 31)
    assert len(metrics["protocol"]["pck_joints"]) == 14 and (out / "per_frame.csv").read_text().count("\n") == 3
    assert (out / "metrics.md").read_text().startswith("| | S4_Seq2_Cam0 | S8_Seq1_Cam8 | All |")


# --- a model end to end ---------------------------------------------------------------------

@pytest.fixture
def tiny_run(tmp_path) -> Path:
    """An untrained 32 px model saved as `posesynth train` saves model.pt."""
    torch.manual_seed(0)
    kwargs = dict(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8, appearance_width=8,
                  decoder_width=8)
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"model_kwargs": kwargs, "state_dict": PoseSynthModel(**kwargs).state_dict(), "step": 0},
               run / "model.pt")
    return run


def test_model_on_real_h36m_frames(realdata, tiny_run, tmp_path):
    root = realdata / "mmpose/h36m"
    out = tmp_path / "eval"
    assert _eval(tiny_run, "--h36m", root, "--subjects", "S1,S5,S7,S8", "--device", "cpu", "--out", out) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["frames"] == 4 and metrics["missing"] == []
    assert list(metrics["per_action"]) == ["Directions", "Greeting", "SittingDown", "WalkDog"]
    for values in metrics["per_action"].values():
        assert 0 < values["pa_mpjpe"] <= values["mpjpe"] < 2000 and 0 < values["n_mpjpe"]
    assert metrics["protocol"]["format"] == "mmpose" and "margin 1.25" in metrics["protocol"]["crop"]

    # the same frames as a predictions file of the ground truth score zero (mmpose holds sampled frames)
    split = load_h36m(root, subjects=["S1", "S5", "S7", "S8"])
    np.savez(tmp_path / "gt.npz", **{s.key: _full(s) for s in split.sequences})
    assert _eval("--predictions", tmp_path / "gt.npz", "--h36m", root, "--subjects", "S1,S5,S7,S8",
                 "--out", out) == 0
    assert json.loads((out / "metrics.json").read_text())["average"]["mpjpe"] == pytest.approx(0, abs=1e-6)


def test_model_on_synthetic_set_gives_per_motion_table(tiny_run, tmp_path):
    heldout = REPO / "assets/demo/heldout"
    out = tmp_path / "synth_eval"
    assert _eval(tiny_run, "--synthetic", heldout, "--frame-step", 16, "--device", "cpu", "--out", out) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert sorted(metrics["per_action"]) == ["arms", "legs"] and metrics["frames"] == 12
    assert all(0 < v["mpjpe"] < 2000 for v in metrics["per_action"].values())


def test_summarize_of_nothing_is_empty():
    empty = SequenceScores("S9", "Walking", "Walking", CAMERAS[0], np.zeros(0, np.int64),
                           {m: np.zeros(0) for m in ("mpjpe", "pa_mpjpe", "n_mpjpe")})
    assert summarize([empty])["per_action"] == {} and summarize([])["frames"] == 0


def test_model_poses_are_turned_from_the_crop_camera_into_the_camera_frame():
    import torch

    from posesynth.evaluation.model_eval import to_camera_frame
    from posesynth.geometry import crop_camera_rotation

    K = np.array([[1000.0, 0, 500], [0, 1000.0, 500], [0, 0, 1]])
    boxes = np.array([[800.0, 100, 1000, 300], [400.0, 400, 601, 601], [np.nan] * 4])
    pose = np.random.default_rng(0).normal(size=(3, 17, 3))
    centres = torch.tensor([[899.5, 199.5], [500.0, 500.0], [500.0, 500.0]], dtype=torch.float64)
    R = crop_camera_rotation(torch.as_tensor(K).expand(3, 3, 3), centres).numpy()
    in_crop = np.einsum("nij,nkj->nki", R, pose)
    assert np.allclose(to_camera_frame(in_crop, K, boxes), pose, atol=1e-12)
    assert not np.allclose(in_crop[0], pose[0], atol=1e-3) and np.allclose(in_crop[1:], pose[1:], atol=1e-9)
    # the synthetic evaluation's truth goes the other way with the same rotations
    from posesynth.data.crops import to_crop_frame
    assert np.allclose(to_crop_frame(pose, K, boxes), in_crop, atol=1e-12)


def test_best_constant_scores_zero_for_one_pose_and_matches_the_procrustes_mean():
    from posesynth import skeleton
    from posesynth.evaluation.metrics import pa_mpjpe, procrustes_mean
    from posesynth.evaluation.synthetic import best_constant_scores

    tpose = skeleton.canonical_tpose(torch.float64).numpy()  # metres
    assert best_constant_scores(np.stack([tpose, tpose * 1.2 + 0.5]))["pa_mpjpe"] == pytest.approx(0.0, abs=1e-6)
    truths = tpose + 0.05 * np.random.default_rng(0).standard_normal((6, 17, 3))
    expected = float(pa_mpjpe(procrustes_mean(truths * 1000), truths * 1000).mean())
    assert best_constant_scores(truths)["pa_mpjpe"] == pytest.approx(expected)
    assert 10.0 < expected < 100.0  # mm: 5 cm of noise per joint


def test_load_labelled_set_keeps_only_the_named_motions():
    from posesynth.evaluation.synthetic import load_labelled_set
    heldout = Path(__file__).resolve().parents[2] / "assets" / "demo" / "heldout"  # s09_legs_0000, s11_arms_0001
    _, every, videos = load_labelled_set(heldout, 32, stride=8)
    _, arms, arm_videos = load_labelled_set(heldout, 32, stride=8, motions=["arms"])
    assert (videos, arm_videos) == (2, 1) and 0 < len(arms) < len(every)
    with pytest.raises(FileNotFoundError, match="juggling"):
        load_labelled_set(heldout, 32, motions=["juggling"])


def test_score_poses_adds_2d_errors_and_the_constant_2d_poses():
    from posesynth.evaluation.synthetic import encode_crops, labelled_views, predict_poses, score_poses
    heldout = Path(__file__).resolve().parents[2] / "assets" / "demo" / "heldout"
    views = labelled_views(heldout, 32, stride=8)
    torch.manual_seed(0)
    model = PoseSynthModel(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8,
                           appearance_width=8, decoder_width=8)
    encoded = encode_crops(model, views["crops"])
    assert encoded["joints2d"].shape == (len(views["crops"]), 17, 2)
    assert np.array_equal(predict_poses(model, views["crops"]), encoded["pose_camera"])
    plain = score_poses(model, views["crops"], views["truth"])
    assert "constant" not in plain and "joints2d_px" not in plain["model"]
    scores = score_poses(model, views["crops"], views["truth"], joints2d=views["joints2d"])
    assert scores["model"]["pa_mpjpe"] == plain["model"]["pa_mpjpe"]
    for who in ("model", "constant"):
        assert 0 < scores[who]["joints2d_either_side_px"] <= scores[who]["joints2d_px"] + 1e-9
    # the model's 2D error is the mean joint distance, recomputed by hand
    by_hand = np.linalg.norm(encoded["joints2d"] - views["joints2d"], axis=-1).mean()
    assert scores["model"]["joints2d_px"] == pytest.approx(by_hand, rel=1e-5)
    # the mean of the true joints is the constant; it is scored against the truth it came from
    constant = np.linalg.norm(views["joints2d"].mean(0) - views["joints2d"], axis=-1).mean()
    assert scores["constant"]["joints2d_px"] == pytest.approx(constant, rel=1e-6)
