"""Every command of README.md and docs/*.md, run as a user runs it: the installed ``posesynth`` script.

Each documented command runs once per session in a fixture, on tiny data made here (a synthetic
set, a Human3.6M tree in mmpose's layout, an MPI-INF-3DHP file, a COCO-style keypoint file), in
a workspace laid out like the README's examples (``configs/`` and ``assets/`` link to the
repository's). The tests check that the outputs exist and parse. :func:`test_every_documented_
subcommand_runs_here` fails when the docs show a subcommand no fixture runs, so a new command
cannot be documented untested; :func:`test_every_documented_command_line_parses` checks every
concrete documented line against the parser.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pytest
import skimage.io
import yaml
from conftest import POSESYNTH, TINY, save_unpaired_poses, write_mmpose_h36m

from posesynth import skeleton
from posesynth.cli import HANDLER, build_parser
from posesynth.synth.dataset import load_labels

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
TRAIN_TINY = [*TINY, "train.steps=2"]


# --- running the console script -----------------------------------------------------------------

class Workspace:
    """A folder laid out like the README's examples, and the subcommands run in it."""

    def __init__(self, root: Path):
        self.root = root
        self.invoked: set[str] = set()
        for name in ("configs", "assets"):
            (root / name).symlink_to(REPO / name)

    def run(self, *args: object, ok: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
        """``posesynth ARGS`` in the workspace; with ``ok`` the exit status must be 0."""
        argv = [str(a) for a in args]
        self.invoked.add(next((a for a in argv if not a.startswith("-")), argv[0]))
        environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(env or {})}
        result = subprocess.run([*POSESYNTH, *argv], cwd=self.root, capture_output=True, text=True, env=environment,
                                timeout=600)
        if ok:
            assert result.returncode == 0, f"posesynth {' '.join(argv)} failed:\n{result.stderr[-4000:]}"
        return result


@pytest.fixture(scope="session")
def ws(tmp_path_factory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("cli"))


# --- data and runs, one documented command each -------------------------------------------------

@pytest.fixture(scope="session")
def synth(ws) -> Path:
    ws.run("synth", "--out", "synth", "--videos", 2, "--frames", 16, "--size", 64, "--seed", 3, "--workers", 2)
    return ws.root / "synth"


@pytest.fixture(scope="session")
def mocap(synth) -> Path:
    """Unpaired 3D poses (README: data.poses3d=/path/to/mocap): the synthetic set's own joints."""
    return save_unpaired_poses(synth.parent, sorted((synth / "labels").glob("*.npz")))


@pytest.fixture(scope="session")
def indexed(ws, synth) -> subprocess.CompletedProcess:
    return ws.run("index", "synth", "--json", "index.json")


@pytest.fixture(scope="session")
def cache(ws, synth) -> Path:
    ws.run("prepare", "synth/videos", "--out", "cache", "--size", 32, "--min-gap", 2, "--workers", 2)
    return ws.root / "cache"


@pytest.fixture(scope="session")
def run_mine(ws, cache, mocap) -> Path:
    """README: train on a cache, then ``--resume`` to a larger step count."""
    ws.run("train", "-c", "configs/demo.yaml", "--out", "runs/mine", "data.cache=cache", f"data.poses3d={mocap}",
           *TRAIN_TINY)
    ws.run("train", "--out", "runs/mine", "--resume", "train.steps=3")
    return ws.root / "runs/mine"


@pytest.fixture(scope="session")
def demo(ws) -> Path:
    """Tiny networks cannot start from the shipped checkpoint: ``train.init=null`` (README) trains from scratch."""
    tiny = [o for o in TINY if not o.startswith(("data.min_gap", "data.max_gap"))]
    ws.run("demo", "--steps", 1, "--heldout-clips", 1, "--out", "runs/demo", *tiny, "train.init=null")
    return ws.root / "runs/demo"


@pytest.fixture(scope="session")
def demo_shipped(ws) -> tuple[Path, str]:
    """``posesynth demo`` as shipped (from assets/demo/checkpoint.pt), one step of two pairs."""
    done = ws.run("demo", "--steps", 1, "--heldout-clips", 2, "--out", "runs/demo_shipped", "train.batch_size=2",
                  "data.num_workers=0",
                  "train.log_every=1")
    return ws.root / "runs/demo_shipped", done.stdout


@pytest.fixture(scope="session")
def predicted(ws, demo, synth) -> Path:
    video = sorted((synth / "videos").glob("*.mp4"))[0]
    ws.run("predict", "runs/demo", video, "--out", "runs/demo/clip", "--smooth", 1.5, "--side-by-side")
    return ws.root / "runs/demo/clip"


@pytest.fixture(scope="session")
def visualized(ws, demo) -> Path:
    ws.run("visualize", "runs/demo", "assets/demo/heldout/videos", "--out", "runs/demo/visualize", "--frames", 1)
    return ws.root / "runs/demo/visualize"


@pytest.fixture(scope="session")
def h36m(ws) -> Path:
    """mmpose's Human3.6M layout: S9 (test split) and S1 (training split) with frame images."""
    root = ws.root / "h36m"
    write_mmpose_h36m(root, [("S9", "Walking_1", "54138969", 3), ("S9", "Eating", "60457274", 2)])
    write_mmpose_h36m(root, [("S1", "Walking_1", "54138969", 2)], split="train", seed=1)
    return root


def _ground_truth_predictions(root: Path, out: Path, **load_options) -> Path:
    """A predictions file holding the ground truth of every view (millimetres): it scores 0."""
    from posesynth.datasets.h36m.load import load_h36m

    split = load_h36m(root, **load_options)
    arrays = {}
    for seq in split.sequences:
        array = np.zeros((seq.num_mocap_frames, 17, 3), np.float32)
        array[seq.frames] = seq.joints3d
        arrays[seq.key] = array
    np.savez(out, **arrays)
    return out


@pytest.fixture(scope="session")
def eval_model_h36m(ws, run_mine, h36m) -> Path:
    ws.run("eval", "runs/mine", "--h36m", "h36m", "--out", "eval/mine", "--device", "cpu")
    return ws.root / "eval/mine"


@pytest.fixture(scope="session")
def eval_predictions_h36m(ws, h36m) -> Path:
    _ground_truth_predictions(h36m, ws.root / "pred.npz")
    ws.run("eval", "--predictions", "pred.npz", "--h36m", "h36m", "--out", "eval/method")
    return ws.root / "eval/method"


@pytest.fixture(scope="session")
def eval_videopose3d(ws) -> Path:
    """docs/evaluation.md: a VideoPose3D file (a pickle: it needs --trust-pickle) with the selection options."""
    rng = np.random.default_rng(0)
    table = {"S9": {"Walking 1": rng.normal(0, 0.3, (11, 32, 3)) + [0, 0, 1]},
             "S11": {"Walking": rng.normal(0, 0.3, (6, 32, 3)) + [0, 0, 1]}}
    np.savez(ws.root / "data_3d_h36m.npz", positions_3d=np.array(table, dtype=object))
    _ground_truth_predictions(ws.root / "data_3d_h36m.npz", ws.root / "pred_vp3d.npz", trust_pickle=True)
    ws.run("eval", "--predictions", "pred_vp3d.npz", "--h36m", "data_3d_h36m.npz", "--format", "videopose3d",
           "--trust-pickle", "--subjects", "S9,S11", "--cameras", "54138969,60457274", "--frame-step", 5, "--strict",
           "--out", "eval/vp3d")
    return ws.root / "eval/vp3d"


@pytest.fixture(scope="session")
def eval_synthetic(ws, run_mine, synth) -> Path:
    ws.run("eval", "runs/mine", "--synthetic", "synth", "--out", "eval/synth", "--frame-step", 8)
    return ws.root / "eval/synth"


@pytest.fixture(scope="session")
def eval_3dhp(ws) -> Path:
    """MPI-INF-3DHP in mmpose's layout (imgname, S metres) and predictions with one joint 17 mm off."""
    rng = np.random.default_rng(2)
    joints = rng.normal(0, 0.3, (4, 17, 3)) + [0, 0, 4]
    names = np.array(["TS1_000001.jpg", "TS1_000002.jpg", "TS2_000001.jpg", "TS2_000002.jpg"])
    np.savez(ws.root / "mpi_inf_3dhp_test.npz", imgname=names, S=np.concatenate([joints, np.ones((4, 17, 1))], -1))
    predictions = joints * 1000
    predictions[:, 3, 0] += 17.0  # a joint that is not the root (the pelvis is joint 14 in 3DHP's order)
    np.save(ws.root / "pred3dhp.npy", predictions)
    ws.run("eval", "--predictions", "pred3dhp.npy", "--3dhp", "mpi_inf_3dhp_test.npz", "--out", "eval/3dhp")
    return ws.root / "eval/3dhp"


@pytest.fixture(scope="session")
def h36m_labels(ws, h36m) -> Path:
    ws.run("h36m-labels", "h36m", "--out", "h36m_labels")
    return ws.root / "h36m_labels"


@pytest.fixture(scope="session")
def run_semi(ws, cache, synth, mocap) -> Path:
    """README: semi-supervised, 3D labels for a share of the frames (posesynth synth's label files)."""
    ws.run("train", "-c", "configs/h36m_semi.yaml", "--out", "runs/semi", "data.cache=cache",
           "data.labels3d=synth/labels", f"data.poses3d={mocap}", *TRAIN_TINY)
    return ws.root / "runs/semi"


@pytest.fixture(scope="session")
def run_multiview(ws, mocap) -> Path:
    """README: multi-view, one video per camera; a synth --views set's calibration is its scenes.json."""
    ws.run("synth", "--out", "synth_mv", "--videos", 1, "--views", 2, "--frames", 16, "--size", 64, "--seed", 4)
    ws.run("train", "-c", "configs/multiview.yaml", "--out", "runs/mv", "data.videos=synth_mv/videos",
           "data.calibration=synth_mv/scenes.json", f"data.poses3d={mocap}", *TRAIN_TINY)
    return ws.root / "runs/mv"


@pytest.fixture(scope="session")
def coco(ws, synth) -> Path:
    """A COCO-style keypoint file (Human3.6M-17 names) over frames of a synthetic video, as PNG images."""
    from posesynth.video.readers import read_frames

    folder = ws.root / "coco"
    folder.mkdir()
    label = sorted((synth / "labels").glob("*.npz"))[0]
    joints2d = load_labels(label)["joints2d"]
    frames = read_frames(synth / "videos" / f"{label.stem}.mp4", [0, 5, 10])
    images, annotations = [], []
    for i, (frame, points) in enumerate(zip(frames, joints2d[[0, 5, 10]])):
        skimage.io.imsave(folder / f"{i}.png", frame, check_contrast=False)
        images.append({"id": i, "file_name": f"{i}.png", "width": 64, "height": 64})
        keypoints = np.concatenate([points, np.full((17, 1), 2.0)], 1).ravel().tolist()
        (x0, y0), (x1, y1) = points.min(0), points.max(0)
        annotations.append({"id": 10 + i, "image_id": i, "keypoints": keypoints, "num_keypoints": 17,
                            "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)], "iscrowd": 0})
    document = {"images": images, "annotations": annotations,
                "categories": [{"id": 1, "name": "person", "keypoints": list(skeleton.JOINT_NAMES)}]}
    (folder / "person_keypoints.json").write_text(json.dumps(document))
    return folder


@pytest.fixture(scope="session")
def depth_labels(ws, coco) -> Path:
    ws.run("depth-labels", "coco/person_keypoints.json", "--out", "depth_labels.npz")
    return ws.root / "depth_labels.npz"


@pytest.fixture(scope="session")
def run_depth(ws, coco) -> Path:
    ws.run("pretrain-depth", "coco/person_keypoints.json", "--images", "coco", "-c", "configs/depth_pretrain.yaml",
           "--out", "runs/depth", "--steps", 2, "--set", *TINY)
    return ws.root / "runs/depth"


@pytest.fixture(scope="session")
def run_weak(ws, cache, synth, mocap, run_depth) -> Path:
    """README: 2D keypoints + relative depth + bone ratios, fine-tuning the depth-pre-trained run (--init)."""
    keypoints = ws.root / "keypoints"
    keypoints.mkdir()
    for label in sorted((synth / "labels").glob("*.npz")):
        np.savez(keypoints / f"{label.stem}.keypoints.npz", keypoints=load_labels(label)["joints2d"], layout="h36m17")
    ws.run("train", "-c", "configs/h36m_weak.yaml", "--out", "runs/weak", "data.cache=cache",
           "data.keypoints2d=keypoints", f"data.poses3d={mocap}", "--init", "runs/depth", *TRAIN_TINY)
    return ws.root / "runs/weak"


def _has_detector() -> bool:
    import importlib.util

    return importlib.util.find_spec("mediapipe") is not None


@pytest.fixture(scope="session")
def keypointed(ws, synth) -> Path:
    """README: `posesynth keypoints`; without the detect extra it is one error line naming the extra."""
    result = ws.run("keypoints", "synth/videos", "--out", "kp", ok=_has_detector())
    if not _has_detector():
        assert result.returncode == 2 and 'pip install "posesynth[detect]"' in result.stderr.splitlines()[-1]
    return ws.root / "kp"


@pytest.fixture(scope="session")
def prepared_with_keypoints(ws, synth) -> subprocess.CompletedProcess:
    return ws.run("prepare", "synth/videos", "--out", "cache_kp", "--size", 32, "--min-gap", 2, "--keypoints",
                  ok=_has_detector())


@pytest.fixture(scope="session")
def run_folder(ws, synth) -> Path:
    """README: train on a folder with nothing else (unpaired poses from the motion generator)."""
    ws.run("train", "--out", "runs/folder", "data.videos=synth/videos", *TRAIN_TINY)
    return ws.root / "runs/folder"


@pytest.fixture(scope="session")
def run_wild(ws, synth) -> Path:
    """README: the wild-videos recipe on a folder whose videos have keypoint sidecars (as `keypoints` writes)."""
    folder = ws.root / "wild"
    folder.mkdir()
    for label in sorted((synth / "labels").glob("*.npz")):
        (folder / f"{label.stem}.mp4").symlink_to(synth / "videos" / f"{label.stem}.mp4")
        np.savez(folder / f"{label.stem}.keypoints.npz", keypoints=load_labels(label)["joints2d"], layout="h36m17")
    ws.run("train", "-c", "configs/wild_videos.yaml", "--out", "runs/wild", "data.videos=wild", *TRAIN_TINY)
    return ws.root / "runs/wild"


@pytest.fixture(scope="session")
def predicted_motion(ws, demo, synth) -> Path:
    video = sorted((synth / "videos").glob("*.mp4"))[0]
    ws.run("predict", "runs/demo", video, "--out", "runs/demo/motion", "--bvh", "--csv", "--smooth", 2)
    return ws.root / "runs/demo/motion"


@pytest.fixture(scope="session")
def helped(ws) -> subprocess.CompletedProcess:
    return ws.run("--help")


@pytest.fixture(scope="session")
def configured(ws) -> subprocess.CompletedProcess:
    return ws.run("config", "-c", "configs/demo.yaml", "data.max_gap=30")


DOCUMENTED_RUNS = ("synth", "indexed", "cache", "run_mine", "demo", "predicted", "visualized", "eval_model_h36m",
                   "eval_predictions_h36m", "eval_videopose3d", "eval_synthetic", "eval_3dhp", "h36m_labels",
                   "run_semi", "run_multiview", "depth_labels", "run_depth", "run_weak", "helped", "configured",
                   "keypointed", "prepared_with_keypoints", "run_folder", "run_wild", "predicted_motion")


# --- the outputs --------------------------------------------------------------------------------

def _log_steps(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]


def _metrics(folder: Path) -> dict:
    assert (folder / "metrics.md").read_text().startswith("| |")
    with open(folder / "per_frame.csv", newline="") as handle:
        assert list(csv.DictReader(handle))
    return json.loads((folder / "metrics.json").read_text())


def test_data_tools(synth, indexed, cache, configured, helped):
    assert len(list((synth / "videos").glob("*.mp4"))) == 2 and len(list((synth / "labels").glob("*.npz"))) == 2
    assert json.loads((synth.parent / "index.json").read_text())["indexed"]
    assert "2 usable video(s)" in indexed.stdout
    assert len(json.loads((cache / "index.json").read_text())["videos"]) == 2
    assert json.loads((cache / "report.json").read_text())["skipped"] == []
    assert yaml.safe_load(configured.stdout)["data"]["max_gap"] == 30
    for name in ("train", "predict", "visualize", "eval", "prepare", "demo"):
        assert name in helped.stdout


def test_train_and_resume(run_mine):
    assert _log_steps(run_mine) == [1, 2, 3]
    assert (run_mine / "model.pt").is_file() and (run_mine / "checkpoints/latest").read_text() == "step_0000003"
    assert yaml.safe_load((run_mine / "config.yaml").read_text())["train"]["steps"] == 3


def test_demo(demo):
    metrics = json.loads((demo / "metrics.json").read_text())
    assert metrics["steps"] == 1 and metrics["frames"] > 0 and metrics["model"]["pa_mpjpe"] > 0
    assert metrics["init"] is None and metrics["start"] is None
    assert metrics["heldout_clips"] == 1 and len(list((demo / "heldout" / "videos").glob("*.mp4"))) == 1
    assert _log_steps(demo) == [1] and list((demo / "samples").glob("*.png"))


def test_demo_starts_from_the_shipped_checkpoint_which_beats_the_mean_pose(demo_shipped):
    folder, printed = demo_shipped
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["init"].endswith("assets/demo/checkpoint.pt") and _log_steps(folder) == [1]
    assert "checkpoint, before training" in printed and "best constant" in printed
    # the shipped weights, scored before any training on the first two of the demo's rendered
    # held-out clips (two people facing the camera; measured 0.42, BENCHMARKS.md,
    # "The demo's checkpoint"): a regression test of the asset, deterministic since nothing has been trained
    assert metrics["ratio_pa_mpjpe_start"] <= 0.6
    assert metrics["heldout_clips"] == 2 and 0.0 <= metrics["heldout_facing_camera_share"] <= 1.0
    assert "% facing the camera" in printed
    assert metrics["best_constant"]["pa_mpjpe"] < metrics["mean_pose_baseline"]["pa_mpjpe"]


def test_predict(predicted, synth):
    with np.load(predicted / "poses.npz") as poses:
        assert poses["joints3d"].shape == (16, 17, 3) and poses["joints2d"].shape == (16, 17, 2)
    assert json.loads((predicted / "poses.json").read_text())["frames"] == 16
    for name in ("overlay.mp4", "side_by_side.mp4"):
        assert (predicted / name).stat().st_size > 0


def test_your_own_video_end_to_end(keypointed, prepared_with_keypoints, run_folder, run_wild, predicted_motion):
    if _has_detector():
        assert sorted(p.name for p in keypointed.iterdir()) == [f"{v.stem}.keypoints.npz"
                                                                for v in sorted((keypointed.parent / "synth/videos")
                                                                                .glob("*.mp4"))]
        assert (prepared_with_keypoints.returncode == 0 and
                len(list((keypointed.parent / "cache_kp" / "keypoints").glob("*.keypoints.npz"))) == 2)
    assert _log_steps(run_folder) == [1, 2] and (run_folder / "model.pt").is_file()
    log = (run_wild / "log.jsonl").read_text()
    assert "loss/reprojection" in log and "loss/relative_depth" in log
    from posesynth.export.bvh_writer import read_bvh_joints

    with np.load(predicted_motion / "poses.npz") as poses:
        joints = poses["joints3d"] + poses["root"][:, None]
    assert np.abs(read_bvh_joints(predicted_motion / "poses.bvh") - joints).max() < 1e-3
    with open(predicted_motion / "poses.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 16


def test_visualize(visualized):
    page = (visualized / "index.html").read_text()
    assert "<html" in page and "Training curves" in page
    assert all((visualized / src).is_file() for src in re.findall(r'src="([^"]+\.png)"', page))


def test_eval_of_a_model_on_human36m_and_synthetic(eval_model_h36m, eval_synthetic):
    metrics = _metrics(eval_model_h36m)
    assert metrics["frames"] == 5 and sorted(metrics["per_action"]) == ["Eating", "Walking"]
    assert sorted(_metrics(eval_synthetic)["per_action"])


def test_eval_of_prediction_files(eval_predictions_h36m, eval_videopose3d, eval_3dhp):
    assert _metrics(eval_predictions_h36m)["average"]["mpjpe"] == pytest.approx(0, abs=1e-3)
    videopose3d = _metrics(eval_videopose3d)
    assert videopose3d["frames"] == 2 * (3 + 2) and videopose3d["average"]["mpjpe"] == pytest.approx(0, abs=1e-3)
    assert _metrics(eval_3dhp)["all"]["mpjpe"] == pytest.approx(1.0)


def test_labels_and_weak_signal_runs(h36m_labels, run_semi, run_multiview, depth_labels, run_depth, run_weak):
    with np.load(h36m_labels / "S1/Videos/Walking 1.54138969.npz") as labels:
        assert labels["joints3d"].shape == (6, 17, 3) and np.isfinite(labels["joints3d"][[0, 5]]).all()
    with np.load(depth_labels) as labels:
        assert labels["relation"].shape == (3, 17, 17)
    for run in (run_semi, run_multiview, run_depth, run_weak):
        assert (run / "model.pt").is_file() and _log_steps(run)[-1] == 2
    assert "loss/pose3d" in (run_semi / "log.jsonl").read_text()
    assert "loss/multiview_consistency" in (run_multiview / "log.jsonl").read_text()
    assert "loss/reprojection" in (run_weak / "log.jsonl").read_text()



def test_pretrain_depth_weights_its_terms(ws, coco, run_depth):
    """The logged total is the weighted sum of the logged terms; the run keeps its weights, and a resume
    with other weights is refused in one line."""
    ws.run("pretrain-depth", "coco/person_keypoints.json", "--images", "coco", "-c", "configs/depth_pretrain.yaml",
           "--out", "runs/depth_articulated", "--steps", 2, "--articulation-weight", 3, "--set", *TINY)
    articulated = ws.root / "runs/depth_articulated"
    for run, articulation in ((run_depth, 0.0), (articulated, 3.0)):
        weights = json.loads((run / "weights.json").read_text())
        assert weights == {"depth": 0.1, "keypoints": 100.0, "articulation": articulation, "root_depth": 1.0}
        for row in map(json.loads, (run / "log.jsonl").read_text().splitlines()):
            expected = sum(weights[name] * row[f"loss/{name}"] for name in weights)
            assert row["loss/total"] == pytest.approx(expected, rel=1e-4)
    log = (articulated / "log.jsonl").read_text()
    result = ws.run("pretrain-depth", "coco/person_keypoints.json", "--images", "coco", "--out", "runs/depth_articulated",
                    "--resume", "--steps", 4, "--set", *TINY, ok=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "resume with --articulation-weight 3" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert (articulated / "log.jsonl").read_text() == log  # nothing touched

# --- the docs against the command line ----------------------------------------------------------

def documented_commands() -> list[tuple[str, str]]:
    """(file name, command line) of every ``posesynth …`` line in the code blocks of README.md and docs/*.md."""
    found = []
    for path in DOCS:
        blocks = re.findall(r"```[a-z]*\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)
        for block in blocks:
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split(" #")[0].strip()
                match = re.search(r"(?:^|&& |-m )posesynth(?= |$)(.*)", line)
                if match and not line.startswith(("#", "from ", "import ")):
                    found.append((path.name, f"posesynth{match.group(1)}".strip()))
    return found


def _subcommand(command: str) -> str:
    words = command.split()[1:]
    return next((w for w in words if not w.startswith("-")), words[0] if words else "")


def test_every_documented_subcommand_runs_here(ws, request):
    for name in DOCUMENTED_RUNS:
        request.getfixturevalue(name)
    documented = {_subcommand(command) for _, command in documented_commands()}
    assert {"train", "predict", "visualize", "eval", "demo"} <= documented  # the extraction works
    untested = sorted(documented - ws.invoked - {""})
    assert not untested, f"documented but never run through the console script in tests/test_cli.py: {untested}"


@pytest.mark.parametrize("where, command", [c for c in documented_commands() if "[" not in c[1]])
def test_every_documented_command_line_parses(where, command):
    """Concrete documented lines (not synopses with [options]) parse, and reach their subcommand's handler."""
    words = ["PLACEHOLDER" if w == "..." else w for w in shlex.split(command)[1:]]
    if words in (["--help"], []):
        return
    args = build_parser().parse_args(words)
    assert callable(getattr(args, HANDLER)), f"{where}: {command}"
