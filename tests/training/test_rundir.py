"""Run directories are never clobbered (issue 11, cases 3 and 4): refusal, --overwrite, the lock, resume.

Reproduced through the CLI (``posesynth.cli.main``, or the console script where a second process
or a resource limit is part of the case) on tiny runs.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import POSESYNTH, tiny_train_argv

from posesynth.cli import main
from posesynth.training.rundir import LOCK_NAME, remove_run, truncate_log
from posesynth.training.rundir import latest_checkpoint



def _steps(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]


def _snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


@pytest.fixture
def run(tiny_finished_run, tmp_path) -> Path:
    """A copy of a tiny 3-step run with checkpoints at steps 2 and 3."""
    copy = tmp_path / "run"
    shutil.copytree(tiny_finished_run, copy)
    return copy


def test_training_into_a_run_is_refused_and_the_run_is_kept(tiny_training_set, run, capsys):
    before = _snapshot(run)
    assert main(tiny_train_argv(tiny_training_set, run, "train.steps=2")) == 2
    err = capsys.readouterr().err
    assert f"error: {run} already holds a run (log.jsonl, model.pt, checkpoints)" in err
    assert "--resume" in err and "--overwrite" in err
    assert _snapshot(run) == before
    assert main(["train", "--out", str(run), "--resume", "train.steps=4"]) == 0  # still resumable


def test_overwrite_replaces_the_run_and_keeps_other_files(tiny_training_set, run):
    (run / "notes.txt").write_text("mine")
    assert main(tiny_train_argv(tiny_training_set, run, "train.steps=2", "--overwrite")) == 0
    assert _steps(run) == [1, 2] and latest_checkpoint(run).name == "step_0000002"
    assert sorted(p.name for p in (run / "checkpoints").glob("step_*")) == ["step_0000002"]
    assert (run / "notes.txt").read_text() == "mine"


def test_resume_truncates_the_log_to_the_checkpoint(run):
    # as after a kill between the step-3 log rows and the step-3 checkpoint: the latest checkpoint is step 2
    shutil.rmtree(run / "checkpoints" / "step_0000003")
    (run / "checkpoints" / "latest").write_text("step_0000002")
    assert _steps(run) == [1, 2, 3]
    assert main(["train", "--out", str(run), "--resume", "train.steps=4"]) == 0
    assert _steps(run) == [1, 2, 3, 4]


def test_resume_needs_a_checkpoint_and_something_to_do(run, tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "nothing"), "--resume"]) == 2
    assert "has no checkpoint (the folder does not exist)" in capsys.readouterr().err
    assert main(["train", "--out", str(run), "--resume"]) == 2  # its config says train.steps=3, done
    assert "already at step 3 of train.steps=3: nothing to train" in capsys.readouterr().err
    assert main(["train", "--out", str(run), "--resume", "--overwrite"]) == 2
    assert "contradict" in capsys.readouterr().err


@pytest.mark.parametrize("override", ["train.steps=0", "train.grad_accum=0", "train.steps=-5"])
def test_nothing_to_train_is_an_error_not_a_success(tiny_training_set, tmp_path, capsys, override):
    assert main(tiny_train_argv(tiny_training_set, tmp_path / "run", override)) == 2
    out, err = capsys.readouterr()
    assert "trained:" not in out and f"'{override.split('=')[0]}' must be >= 1" in err
    assert not (tmp_path / "run" / "model.pt").exists()


def test_a_second_process_is_refused_while_one_runs(tiny_training_set, tmp_path, capsys):
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom posesynth.training.rundir import run_lock\n"
                               "with run_lock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(120)",
                               str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(tiny_train_argv(tiny_training_set, run, "train.steps=1")) == 2
        assert f"{run} is in use by process {holder.pid}" in capsys.readouterr().err
        assert not (run / "config.yaml").exists()
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # dies holding the lock: its lock file stays behind
        holder.wait()
    assert (run / LOCK_NAME).read_text().split()[0] == str(holder.pid)
    assert main(tiny_train_argv(tiny_training_set, run, "train.steps=1")) == 0  # the stale lock is taken over
    assert not (run / LOCK_NAME).exists()


def test_demo_into_a_run_is_refused(run, capsys):
    assert main(["demo", "--out", str(run), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--overwrite" in err and "--resume" not in err


def test_a_full_disk_is_one_line_naming_the_run(tiny_training_set, tmp_path):
    """Writes beyond a size limit fail like writes to a full disk: one line, no traceback, how to go on."""
    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([*POSESYNTH, *tiny_train_argv(tiny_training_set, run, "train.steps=2")], env=env,
                            preexec_fn=limit_file_size, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = re.findall(r"error: .*", result.stderr)  # (a progress bar may share its line)
    assert len(errors) == 1 and errors[0].startswith(f"error: {run}: ")
    assert "File too large" in errors[0] and "--resume" in errors[0]


def test_truncate_log_and_remove_run(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 1}\n{"step": 2}\n{"step": 3}\n{"st')  # the last line cut by a kill
    assert truncate_log(log, 2) == 2 and _steps(tmp_path) == [1, 2]
    assert truncate_log(log, 5) == 0
    for name in ("model.pt", "config.yaml", "keep.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "checkpoints" / "step_0000001").mkdir(parents=True)
    assert remove_run(tmp_path) == ["log.jsonl", "model.pt", "checkpoints", "config.yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
