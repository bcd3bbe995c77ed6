"""Run directories: one process at a time, never clobbered, resumed safely.

A run directory (``posesynth train --out RUN``, ``pretrain-depth``, ``demo``) holds
``config.yaml``, ``log.jsonl``, ``tb/``, ``samples/``, ``checkpoints/`` and ``model.pt``.

- :func:`claim_run` is what a command wraps its training in: it takes ``RUN/.posesynth.lock``
  (an advisory ``flock``, so a second process into the same folder is refused, and a lock left
  by a process that died is free again: the kernel drops it with the process) and then refuses
  a folder that already holds a run unless the user asked to ``resume`` it or to ``overwrite``
  it (which deletes the run's own files, and only those).
- :func:`truncate_log` drops ``log.jsonl`` rows past the step a run resumes from, so a resumed
  run's log has every step once.
- :func:`load_state_safely` loads an Accelerate checkpoint without unpickling arbitrary
  objects: Accelerate itself loads registered custom states (``custom_checkpoint_<i>.pkl``, the
  learning-rate schedules) with ``weights_only=False``, which runs any code a planted file holds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import torch

from posesynth.errors import UserError

log = logging.getLogger(__name__)

LOCK_NAME = ".posesynth.lock"
# Files whose presence means the folder holds a run; the rest of RUN_FILES are also a run's own.
RUN_MARKERS: tuple[str, ...] = ("log.jsonl", "model.pt", "checkpoints")
RUN_FILES: tuple[str, ...] = (*RUN_MARKERS, "config.yaml", "samples", "tb", "metrics.json", "model.pt.tmp")


class RunDirError(UserError):
    """A run directory that cannot be used as asked (in use, already holding a run, nothing to resume)."""


class CheckpointError(UserError):
    """A checkpoint that cannot be loaded safely; the message names the file."""


# --- the lock ---------------------------------------------------------------------------------

def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _holder(path: Path) -> str:
    """Who holds the lock at ``path``, as written into it ("pid 123 on host"), or "another process"."""
    try:
        pid, host = path.read_text(encoding="utf-8").split()[:2]
        return f"process {int(pid)} on {host}"
    except (OSError, ValueError):
        return "another process"


def _note_stale(path: Path) -> None:
    """Log when a lock file left by a process that no longer runs is taken over."""
    try:
        pid, host = path.read_text(encoding="utf-8").split()[:2]
    except (OSError, ValueError):
        return
    if host == socket.gethostname() and not _process_alive(int(pid)):
        log.info("%s: taking over the lock of process %s, which is no longer running", path, pid)


@contextlib.contextmanager
def run_lock(run: str | os.PathLike) -> Iterator[Path]:
    """Hold ``RUN/.posesynth.lock`` for the duration of the block.

    The lock is an advisory ``flock`` on the file, released by the kernel when the process ends
    however it ends; the file holds "<pid> <host>" for the message another process gets.

    Raises:
        RunDirError naming the folder and the holder when another live process has it.
    """
    import fcntl

    path = Path(run) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunDirError(f"{run} is in use by {_holder(path)}: wait for it to finish, stop it, or choose "
                              f"another --out") from None
        try:  # the holder before us may have removed the file after we opened it: lock the current one
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        _note_stale(path)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


# --- claiming a folder ------------------------------------------------------------------------

def run_contents(run: str | os.PathLike) -> list[str]:
    """The names of :data:`RUN_MARKERS` present in ``run`` (empty: the folder holds no run)."""
    return [name for name in RUN_MARKERS if (Path(run) / name).exists()]


def latest_checkpoint(run: str | os.PathLike) -> Path | None:
    """The checkpoint folder ``RUN/checkpoints/latest`` points at, or None."""
    pointer = Path(run) / "checkpoints" / "latest"
    if not pointer.is_file():
        return None
    folder = pointer.parent / pointer.read_text().strip()
    return folder if (folder / "trainer_state.json").is_file() else None


def checkpoint_step(run: str | os.PathLike) -> int | None:
    """The step of ``RUN``'s latest checkpoint, or None when it has none."""
    checkpoint = latest_checkpoint(run)
    if checkpoint is None:
        return None
    try:
        return int(json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))["step"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{checkpoint / 'trainer_state.json'}: unreadable ({error}); the checkpoint is "
                              f"damaged: delete it (checkpoints/latest then names none) or use --overwrite") from None


def remove_run(run: str | os.PathLike) -> list[str]:
    """Delete a run's own files (:data:`RUN_FILES`) from ``run``; anything else is kept. Returns the names."""
    removed = []
    for name in RUN_FILES:
        path = Path(run) / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        else:
            continue
        removed.append(name)
    return removed


def check_run_dir(run: str | os.PathLike, *, resume: bool, overwrite: bool, steps: int | None = None,
                  resumable: bool = True) -> int:
    """Make ``run`` ready for a start (refusing to clobber a run) or a resume; returns the start step.

    Args:
        run: the run directory.
        resume: continue the run in ``run`` (it must have a checkpoint).
        overwrite: delete the run in ``run`` (its :data:`RUN_FILES`) and start afresh.
        steps: the configured ``train.steps``; resuming a run already that far is an error.
        resumable: the command has ``--resume`` (the message offers it).
    Raises:
        RunDirError naming the folder and what to do.
    """
    run = Path(run)
    if resume and overwrite:
        raise RunDirError("--resume and --overwrite contradict each other: pass one of them")
    if resume:
        step = checkpoint_step(run)
        if step is None:
            raise _nothing_to_resume(run)
        if steps is not None and step >= steps:
            raise RunDirError(f"--resume: {run} is already at step {step} of train.steps={steps}: nothing to train; "
                              f"raise train.steps to continue it")
        return step
    found = run_contents(run)
    if found and not overwrite:
        choices = "pass --resume to continue it, --overwrite to replace it" if resumable else \
            "pass --overwrite to replace it"
        raise RunDirError(f"{run} already holds a run ({', '.join(found)}): {choices}, or choose another --out")
    if overwrite and found:
        log.warning("--overwrite: deleting the run in %s (%s)", run, ", ".join(remove_run(run)))
    return 0


def _nothing_to_resume(run: Path) -> RunDirError:
    why = "the folder does not exist" if not run.exists() else "checkpoints/latest is missing"
    return RunDirError(f"--resume: {run} has no checkpoint ({why}); start a new run without --resume")


def is_main_rank() -> bool:
    """True in a plain process and in rank 0 of a ``torchrun``/``accelerate launch`` group."""
    return os.environ.get("RANK", "0") == "0"


@contextlib.contextmanager
def claim_run(run: str | os.PathLike, *, resume: bool = False, overwrite: bool = False, steps: int | None = None,
              resumable: bool = True) -> Iterator[int]:
    """Lock ``run`` and check it (:func:`check_run_dir`) for the duration of a training command.

    Only rank 0 of a distributed launch claims the folder (the others write nothing of their own).

    Yields:
        The step the run starts from (0, or the checkpoint's step when resuming).
    """
    if not is_main_rank():
        yield 0
        return
    if resume and not Path(run).is_dir():  # before the lock, which would create the folder
        raise _nothing_to_resume(Path(run))
    with run_lock(run):
        yield check_run_dir(run, resume=resume, overwrite=overwrite, steps=steps, resumable=resumable)


# --- resuming -----------------------------------------------------------------------------------

def truncate_log(path: str | os.PathLike, step: int) -> int:
    """Drop the rows of a ``log.jsonl`` logged after ``step`` (atomically); returns how many were dropped.

    Lines that are not JSON objects with a ``step`` (a line cut off by a kill) are dropped too.
    """
    path = Path(path)
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row_step = json.loads(line)["step"]
        except (ValueError, KeyError, TypeError):
            row_step = None
        if isinstance(row_step, int) and row_step <= step:
            kept.append(line)
        else:
            dropped += 1
    if dropped:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
        os.replace(tmp, path)
        log.info("%s: dropped %d row(s) after step %d (resumed there)", path, dropped, step)
    return dropped


def _refusal(error: BaseException) -> str:
    """The reason in torch's weights-only refusal ("Unsupported global: GLOBAL builtins.exec"), one line."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(error).splitlines()]
    reason = next((line for line in lines if "WeightsUnpickler error" in line), next(filter(None, lines), ""))
    return reason.replace("WeightsUnpickler error: ", "").split(". Please")[0] or type(error).__name__


def _weights_only_custom_state(obj, path: str, index: int = 0) -> None:
    """Accelerate's ``load_custom_state`` with ``weights_only=True``: tensors and plain data only."""
    file = Path(path) / f"custom_checkpoint_{index}.pkl"
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as error:
        raise CheckpointError(f"{file}: refused, not loaded: it holds more than the tensors and numbers posesynth "
                              f"writes ({_refusal(error)}); restore the checkpoint from a copy you trust or start "
                              f"a new run") from None
    obj.load_state_dict(state)


def load_state_safely(accelerator, checkpoint: str | os.PathLike) -> None:
    """``accelerator.load_state(checkpoint)`` with every file loaded ``weights_only``.

    Accelerate loads models, optimisers, schedulers and RNG states with ``weights_only=True``
    but registered custom objects with ``weights_only=False``; for the duration of the call its
    custom-state loader is replaced by :func:`_weights_only_custom_state`.

    Raises:
        CheckpointError naming the checkpoint when a file is refused.
    """
    import accelerate.accelerator as accelerator_module

    if not hasattr(accelerator_module, "load_custom_state"):
        raise RuntimeError("this accelerate version loads custom checkpoint states in a way posesynth does not "
                           "know: refusing to resume rather than unpickle them unsafely")
    original = accelerator_module.load_custom_state
    accelerator_module.load_custom_state = _weights_only_custom_state
    try:
        accelerator.load_state(str(checkpoint))
    except pickle.UnpicklingError as error:
        raise CheckpointError(f"{checkpoint}: a file of the checkpoint was refused, not loaded: it holds more than "
                              f"the tensors and numbers posesynth writes ({_refusal(error)}); restore the "
                              f"checkpoint from a copy you trust or start a new run") from None
    finally:
        accelerator_module.load_custom_state = original


__all__ = ["LOCK_NAME", "RUN_MARKERS", "RUN_FILES", "RunDirError", "CheckpointError", "run_lock", "run_contents",
           "checkpoint_step", "remove_run", "check_run_dir", "is_main_rank", "claim_run", "truncate_log",
           "load_state_safely"]
