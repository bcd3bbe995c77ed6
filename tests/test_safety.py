"""No code runs from data files: crafted pickles given to the CLI must not execute (issue 11, case 2).

Every crafted file holds a pickle whose ``__reduce__`` writes a marker file when unpickled. The
commands must refuse them with an error naming the file — and the marker must not exist. The
positive controls show that the files are live: unpickling them (``--trust-pickle``, or
``torch.load(weights_only=False)``) does write the marker.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_train_argv, write_mmpose_h36m

from posesynth.cli import main
from posesynth.training.rundir import latest_checkpoint


class Payload:
    """Unpickling this writes ``marker``: a stand-in for any code a crafted file could run."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('unpickled')",)


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "MARKER"


def _evil_array(marker: Path) -> np.ndarray:
    array = np.empty((), dtype=object)
    array[()] = Payload(marker)
    return array


def _refused(capsys, argv: list, *names: str) -> str:
    """Run the CLI; it must fail with one ``error:`` line naming ``names``. Returns stderr."""
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error: ")
    for name in names:
        assert name in err
    return err


def test_videopose3d_poses_need_trust_pickle(tmp_path, marker, capsys):
    evil = tmp_path / "data_3d_h36m.npz"
    np.savez(evil, positions_3d=_evil_array(marker))
    err = _refused(capsys, ["train", "--out", tmp_path / "run", f"data.poses3d={evil}"], str(evil), "--trust-pickle")
    assert "data.trust_pickle=true" in err and not marker.exists()
    # the control: trusting the file unpickles it
    main(["train", "--out", str(tmp_path / "run2"), f"data.poses3d={evil}", "--trust-pickle"])
    assert marker.exists()


def test_pickled_npy_poses_are_refused(tmp_path, marker, capsys):
    evil = tmp_path / "poses.npy"
    np.save(evil, _evil_array(marker), allow_pickle=True)
    _refused(capsys, ["train", "--out", tmp_path / "run", f"data.poses3d={evil}", "--trust-pickle"], str(evil),
             "holds Python objects")
    assert not marker.exists()


def test_pickled_predictions_are_refused(tmp_path, marker, capsys):
    write_mmpose_h36m(tmp_path / "h36m", [("S9", "Walking_1", "54138969", 2)])
    evil = tmp_path / "pred.npz"
    np.savez(evil, **{"S9|Walking 1|54138969": _evil_array(marker)})
    _refused(capsys, ["eval", "--predictions", evil, "--h36m", tmp_path / "h36m", "--out", tmp_path / "eval"],
             str(evil), "S9|Walking 1|54138969", "holds Python objects")
    assert not marker.exists()


def test_videopose3d_dataset_needs_trust_pickle(tmp_path, marker, capsys):
    evil = tmp_path / "data_3d_h36m.npz"
    np.savez(evil, positions_3d=_evil_array(marker))
    np.save(tmp_path / "pred.npy", np.zeros((1, 17, 3)))
    _refused(capsys, ["eval", "--predictions", tmp_path / "pred.npy", "--h36m", evil, "--out", tmp_path / "eval"],
             str(evil), "--trust-pickle")
    _refused(capsys, ["h36m-labels", tmp_path, "--out", tmp_path / "labels"], str(evil), "--trust-pickle")
    assert not marker.exists()


def test_camera_pickle_beside_mmpose_files_is_never_read_implicitly(tmp_path, marker, capsys):
    root = tmp_path / "h36m"
    rows, S, _ = write_mmpose_h36m(root, [("S9", "Walking_1", "54138969", 2)])
    with open(root / "annotation_body3d" / "cameras.pkl", "wb") as handle:
        pickle.dump(Payload(marker), handle)
    truth = np.zeros((6, 17, 3))
    truth[[0, 5]] = S[:, :, :3] * 1000
    np.savez(tmp_path / "pred.npz", **{"S9|Walking 1|54138969": truth})
    assert main(["eval", "--predictions", str(tmp_path / "pred.npz"), "--h36m", str(root),
                 "--out", str(tmp_path / "eval")]) == 0
    assert not marker.exists()
    # the control: with --trust-pickle the file is read, and it runs
    main(["eval", "--predictions", str(tmp_path / "pred.npz"), "--h36m", str(root), "--trust-pickle",
          "--out", str(tmp_path / "eval2")])
    assert marker.exists()


def test_camera_pickle_as_calibration_needs_trust_pickle(tiny_training_set, tmp_path, marker, capsys):
    evil = tmp_path / "cameras.pkl"
    with open(evil, "wb") as handle:
        pickle.dump(Payload(marker), handle)
    _refused(capsys, tiny_train_argv(tiny_training_set, tmp_path / "run", f"data.calibration={evil}", "train.steps=1"),
             str(evil), "--trust-pickle")
    assert not marker.exists()


@pytest.mark.parametrize("planted", ["custom_checkpoint_0.pkl", "optimizer.bin", "pytorch_model.bin"])
def test_resume_does_not_unpickle_planted_checkpoint_files(tiny_finished_run, tmp_path, marker, capsys, planted):
    run = tmp_path / "shared_run"
    shutil.copytree(tiny_finished_run, run)
    target = latest_checkpoint(run) / planted
    torch.save(Payload(marker), target)  # what Accelerate's files are: torch.save pickles
    if planted == "pytorch_model.bin":  # Accelerate reads it only where no model.safetensors is
        (latest_checkpoint(run) / "model.safetensors").unlink()
    _refused(capsys, ["train", "--out", run, "--resume", "train.steps=5"], str(latest_checkpoint(run)))
    assert not marker.exists()
    torch.load(target, weights_only=False)  # the control: an ordinary load runs it
    assert marker.exists()


def test_resume_of_an_intact_run_still_works(tiny_finished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_finished_run, run)
    assert main(["train", "--out", str(run), "--resume", "train.steps=4"]) == 0
    assert latest_checkpoint(run).name == "step_0000004"
