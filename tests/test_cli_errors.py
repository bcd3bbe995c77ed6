"""Messy inputs of issue 11 (cases 5-8), reproduced through the CLI: clear errors, warnings, repairs.

``posesynth.cli.main`` runs in-process (the console script's entry point, error boundary included);
config ranges are in test_config.py, run folders in training/test_rundir.py, pickles in test_safety.py.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import POSESYNTH, tiny_train_argv, write_mmpose_h36m, write_test_video
from test_visualize import make_tiny_run

from posesynth import cli
from posesynth.cli import main


def _error(capsys, argv: list, status: int = 2) -> str:
    """Run the CLI, expecting one ``error:`` line and no traceback; returns that line."""
    assert main([str(a) for a in argv]) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


# --- case 6: a damaged cache is repaired by prepare; short clips are reported ----------------------

@pytest.fixture
def cache(tiny_training_set, tmp_path) -> Path:
    assert main(["prepare", str(tiny_training_set / "videos"), "--out", str(tmp_path / "cache"), "--size", "32",
                 "--min-gap", "2"]) == 0
    return tmp_path / "cache"


def _cache_train(data: Path, cache: Path, out: Path) -> list[str]:
    argv = tiny_train_argv(data, out, "train.steps=1", f"data.cache={cache}")
    return [a for a in argv if not a.startswith("data.videos=")]


def test_a_truncated_cache_entry_is_named_and_rebuilt_by_prepare(tiny_training_set, cache, tmp_path, capsys):
    frames = next((cache / "videos").glob("*/frames.npy"))
    frames.write_bytes(frames.read_bytes()[:1000])  # cut off, as by a full disk or a killed copy
    line = _error(capsys, _cache_train(tiny_training_set, cache, tmp_path / "run"))
    assert str(frames) in line and "re-run `posesynth prepare`" in line
    assert main(["prepare", str(tiny_training_set / "videos"), "--out", str(cache), "--size", "32",
                 "--min-gap", "2"]) == 0
    assert "1 reused" in capsys.readouterr().out  # the intact entry is reused, the damaged one rebuilt
    assert main(_cache_train(tiny_training_set, cache, tmp_path / "run2")) == 0


def test_frames_shorter_than_the_index_name_the_file(tiny_training_set, cache, tmp_path, capsys):
    frames = next((cache / "videos").glob("*/frames.npy"))
    np.save(frames, np.load(frames)[:3])  # a valid array, fewer frames than index.json says
    line = _error(capsys, _cache_train(tiny_training_set, cache, tmp_path / "run"))
    assert str(frames) in line and "(3, 32, 32, 3)" in line and "(10, 32, 32, 3)" in line


def test_clips_too_short_for_the_gap_are_reported(tmp_path, capsys):
    (tmp_path / "videos").mkdir()
    write_test_video(tmp_path / "videos" / "long.mp4", frames=12)
    write_test_video(tmp_path / "videos" / "two.mp4", frames=2)
    assert main(["index", str(tmp_path / "videos")]) == 0
    assert "two.mp4: too short: 2 frame(s), needs at least 6" in capsys.readouterr().out
    assert main(["prepare", str(tmp_path / "videos"), "--out", str(tmp_path / "cache"), "--size", "16"]) == 0
    report = json.loads((tmp_path / "cache" / "report.json").read_text())
    assert [Path(v["path"]).name for v in report["indexed"]] == ["long.mp4"]
    assert "too short" in report["skipped"][0]["reason"]
    line = _error(capsys, ["index", tmp_path / "videos", "--min-gap", 20])
    assert "none of the 2 video file(s) is usable" in line


# --- case 7: silent inputs now warn; empty inputs are errors -----------------------------------------

@pytest.fixture
def h36m(tmp_path) -> tuple[Path, np.ndarray]:
    """An mmpose-layout S9 view (frames 0 and 5) and its ground truth, (6, 17, 3) millimetres."""
    _, S, _ = write_mmpose_h36m(tmp_path / "h36m", [("S9", "Walking_1", "54138969", 2)])
    truth = np.zeros((6, 17, 3))
    truth[[0, 5]] = S[:, :, :3] * 1000
    return tmp_path / "h36m", truth


def test_predictions_in_metres_are_scored_with_a_warning(h36m, tmp_path, caplog):
    root, truth = h36m
    np.savez(tmp_path / "metres.npz", **{"S9|Walking 1|54138969": truth / 1000})
    with caplog.at_level(logging.WARNING):
        assert main(["eval", "--predictions", str(tmp_path / "metres.npz"), "--h36m", str(root),
                     "--out", str(tmp_path / "eval")]) == 0
    assert "metres.npz" in caplog.text and "looks like metres" in caplog.text and "multiply" in caplog.text
    caplog.clear()
    np.savez(tmp_path / "mm.npz", **{"S9|Walking 1|54138969": truth})
    assert main(["eval", "--predictions", str(tmp_path / "mm.npz"), "--h36m", str(root),
                 "--out", str(tmp_path / "eval")]) == 0
    assert "metres" not in caplog.text


def test_empty_prediction_files_are_errors(h36m, tmp_path, capsys):
    root, _ = h36m
    np.savez(tmp_path / "empty.npz")
    (tmp_path / "zero.npz").write_bytes(b"")
    np.savez(tmp_path / "other.npz", **{"S11|Walking 1|54138969": np.zeros((6, 17, 3))})  # outside --subjects S9
    expected = {"empty.npz": "holds no array", "zero.npz": "empty file (0 bytes)", "other.npz": "no prediction for any"}
    for name, message in expected.items():
        line = _error(capsys, ["eval", "--predictions", tmp_path / name, "--h36m", root, "--subjects", "S9",
                               "--out", tmp_path / "e"])
        assert str(tmp_path / name) in line and message in line
    assert not (tmp_path / "e" / "metrics.json").exists()
    (tmp_path / "text.npy").write_text("not numbers")
    line = _error(capsys, ["eval", "--predictions", tmp_path / "text.npy", "--3dhp", tmp_path / "zero.npz",
                           "--out", tmp_path / "e"])
    assert "zero.npz: empty file" in line


def test_degenerate_unpaired_poses(tiny_training_set, tmp_path, capsys, caplog):
    np.save(tmp_path / "zeros.npy", np.zeros((8, 17, 3)))
    (tmp_path / "text.npy").write_text("1 2 3")
    for name, message in {"zeros.npy": "median bone length is 0 m", "text.npy": "neither an .npy nor an .npz"}.items():
        line = _error(capsys, tiny_train_argv(tiny_training_set, tmp_path / "run", f"data.poses3d={tmp_path / name}"))
        assert f"{tmp_path / name}: {message}" in line
    one = np.load(tiny_training_set / "poses.npy")[:1]
    np.save(tmp_path / "same.npy", np.repeat(one, 8, 0))
    with caplog.at_level(logging.WARNING):
        assert main(tiny_train_argv(tiny_training_set, tmp_path / "run", f"data.poses3d={tmp_path / 'same.npy'}",
                                    "train.steps=1")) == 0
    assert "same.npy: all 2 poses are identical" in caplog.text  # 8 at data.poses3d_frame_step=4


def test_a_video_without_a_person_warns(tmp_path, caplog):
    empty = tmp_path / "videos" / "empty_room.mp4"
    empty.parent.mkdir()
    write_test_video(empty, frames=12, box_size=(0, 0))  # the background only: nothing moves
    with caplog.at_level(logging.WARNING):
        assert main(["prepare", str(empty.parent), "--out", str(tmp_path / "cache"), "--size", "16"]) == 0
    assert "empty_room.mp4: no person found in any frame" in caplog.text
    caplog.clear()
    run = make_tiny_run(tmp_path / "run")
    with caplog.at_level(logging.WARNING):
        assert main(["predict", str(run), str(empty), "--out", str(tmp_path / "pred")]) == 0
    assert "empty_room.mp4: no person found in any frame" in caplog.text


def test_empty_side_files_are_errors_naming_them(tmp_path):
    from posesynth.data.crops import SidecarError, read_sidecar_boxes
    from posesynth.data.keypoints2d import KeypointsError, read_keypoints
    from posesynth.data.labels3d import LabelsError, read_labels3d

    readers = {"clip.boxes.npy": (lambda p: read_sidecar_boxes(p, 3), SidecarError),
               "clip.keypoints.npz": (lambda p: read_keypoints(p, frames=3), KeypointsError),
               "clip.npz": (lambda p: read_labels3d(p, 3), LabelsError)}
    for name, (read, error) in readers.items():
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(error, match=rf"{name}.*empty file \(0 bytes\)"):
            read(tmp_path / name)


# --- case 8: one error line instead of a traceback; --debug shows it ---------------------------------

def test_config_paths_that_are_no_yaml_file(tmp_path, capsys):
    (tmp_path / "blob.yaml").write_bytes(bytes(range(256)))
    assert "is a folder" in _error(capsys, ["config", "-c", tmp_path])
    assert "is not a text file" in _error(capsys, ["config", "-c", tmp_path / "blob.yaml"])
    assert "does not exist" in _error(capsys, ["train", "-c", tmp_path / "none.yaml", "--out", tmp_path / "r"])


def test_debug_shows_the_traceback(tmp_path, capsys, monkeypatch):
    assert main(["--debug", "config", "-c", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("error: config file")
    assert main(["config", "-c", str(tmp_path), "--debug"]) == 2  # after the subcommand too
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv("POSESYNTH_DEBUG", "1")
    assert main(["config", "-c", str(tmp_path)]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_an_unexpected_error_is_reported_as_a_bug(monkeypatch, capsys):
    def broken(args):
        return {}["missing"]

    monkeypatch.setattr(cli, "_run_config", broken)
    assert main(["config"]) == cli.EXIT_BUG
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError" in err and "a bug in posesynth?" in err


def test_the_console_script_prints_one_line(tmp_path):
    result = subprocess.run([*POSESYNTH, "eval", "--predictions", str(tmp_path / "none.npz"), "--h36m", str(tmp_path),
                             "--out", str(tmp_path / "e")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")


def test_a_demo_whose_networks_differ_from_its_checkpoint_is_refused_before_the_folder(tmp_path):
    result = subprocess.run([*POSESYNTH, "demo", "--steps", "1", "--out", str(tmp_path / "demo"),
                             "model.encoder_width=8"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "model.encoder_width=16 (config: 8)" in result.stderr and "train.init=null" in result.stderr
    assert not (tmp_path / "demo").exists()


def test_a_demo_without_held_out_clips_is_refused_before_the_folder(tmp_path):
    result = subprocess.run([*POSESYNTH, "demo", "--steps", "1", "--heldout-clips", "0", "--out", str(tmp_path / "demo")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "--heldout-clips 0" in result.stderr
    assert not (tmp_path / "demo").exists()


def test_a_worker_count_below_one_is_refused(tiny_training_set, tmp_path, capsys):
    line = _error(capsys, ["prepare", tiny_training_set / "videos", "--out", tmp_path / "cache", "--workers", 0])
    assert "workers must be >= 1, got 0" in line and not (tmp_path / "cache").exists()
    line = _error(capsys, ["synth", "--out", tmp_path / "synth", "--videos", 1, "--frames", 4, "--size", 32,
                           "--workers", 0])
    assert "workers must be >= 1, got 0" in line and not (tmp_path / "synth").exists()
