"""Checkpoints of a training run: atomic writes of the Accelerate state and ``RUN/model.pt``, exact resume,
and starting a model from another run's weights (``train.init``).

Checkpoints are Accelerate state (models, optimisers, schedulers, RNGs) plus ``trainer_state.json``
(step), written to a temporary folder and renamed, and ``checkpoints/latest`` is replaced
atomically after that: a kill during a save never leaves a broken latest checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import torch
from accelerate import Accelerator

from posesynth.config import Config
from posesynth.models.loading import MODEL_FILE, model_file, stored_model_kwargs
from posesynth.training.rundir import latest_checkpoint, load_state_safely, truncate_log

log = logging.getLogger(__name__)


def model_kwargs(config: Config) -> dict:
    """The :class:`PoseSynthModel` keyword arguments of a config (stored with every checkpoint)."""
    m = config.model
    return dict(image_size=m.image_size, encoder_width=m.encoder_width, encoder_stages=m.encoder_stages,
                appearance_channels=m.appearance_channels, appearance_width=m.appearance_width,
                decoder_width=m.decoder_width, decoder_levels=m.decoder_levels, focal_ratio=m.focal_ratio,
                lifter=m.lifter, start_facing=m.start_facing, facing_head=m.facing_head,
                refiner=m.refiner, occlusion_temperature=m.occlusion_temperature,
                puppet_extremities=m.puppet_extremities, heatmap_prior_sigma=m.heatmap_prior_sigma,
                readout_sharpness=m.readout_sharpness, side_classifier=m.side_classifier)


def save_checkpoint(accelerator: Accelerator, model: torch.nn.Module, run: Path, step: int, config: Config,
                    keep: int) -> Path:
    """Write a checkpoint atomically; every process must call it.

    Layout: ``RUN/checkpoints/step_0000500/`` (Accelerate state + ``trainer_state.json``) and
    ``RUN/model.pt`` (the unwrapped model's weights and keyword arguments, for eval/predict).
    """
    checkpoints = run / "checkpoints"
    final = checkpoints / f"step_{step:07d}"
    tmp = checkpoints / f".tmp_step_{step:07d}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        checkpoints.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()  # every process's RNG file is in tmp before it is renamed
    if accelerator.is_main_process:
        (tmp / "trainer_state.json").write_text(json.dumps({"step": step}))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        pointer_tmp = checkpoints / "latest.tmp"
        pointer_tmp.write_text(final.name)
        os.replace(pointer_tmp, checkpoints / "latest")
        # the plain module's names (a compiled module's would carry an "_orig_mod." prefix)
        plain = accelerator.unwrap_model(model, keep_torch_compile=False)
        weights = {"model_kwargs": model_kwargs(config), "state_dict": plain.state_dict(), "step": step}
        torch.save(weights, run / f"{MODEL_FILE}.tmp")
        os.replace(run / f"{MODEL_FILE}.tmp", run / MODEL_FILE)
        old = sorted(p for p in checkpoints.glob("step_*") if p.is_dir())[:-keep] if keep > 0 else []
        for folder in old:
            shutil.rmtree(folder, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def resume_state(accelerator: Accelerator, run: Path, loader, grad_accum: int):
    """Load RUN's latest checkpoint into the prepared objects; every process must call it.

    Restores what :func:`save_checkpoint` wrote through Accelerate (models, optimisers, registered
    schedulers, every process's RNG; every file loaded ``weights_only``) and advances ``loader``
    past the batches already consumed, so the continued run sees exactly the batches the
    uninterrupted one would have. ``log.jsonl`` rows after the checkpoint's step are dropped.

    Returns:
        (step, loader): the step reached and the advanced loader.
    Raises:
        FileNotFoundError when RUN has no checkpoint.
    """
    checkpoint = latest_checkpoint(run)
    if checkpoint is None:
        raise FileNotFoundError(f"--resume: {run} has no checkpoint (checkpoints/latest is missing)")
    load_state_safely(accelerator, checkpoint)
    step = json.loads((checkpoint / "trainer_state.json").read_text())["step"]
    if accelerator.is_main_process:
        truncate_log(run / "log.jsonl", step)
    log.info("resumed %s at step %d", checkpoint, step)
    return step, accelerator.skip_first_batches(loader, step * grad_accum)


def init_weights(model: torch.nn.Module, source: str | os.PathLike) -> None:
    """Start ``model`` from another run's weights (``--init RUN``): fine-tuning after pre-training.

    Parameters present in both with the same shape are copied; the others keep their fresh
    initialisation and are listed (e.g. a depth-pre-trained run has no trained decoder, a run
    without ``model.lifter`` has no lifter). A shape mismatch means different network sizes.
    """
    file = model_file(source)
    if not file.is_file():
        raise FileNotFoundError(f"train.init={source}: {file} does not exist; pass a run directory holding "
                                f"model.pt (from `posesynth train` or `posesynth pretrain-depth`) or a model.pt file")
    weights = torch.load(file, map_location="cpu", weights_only=True)
    stored_model_kwargs(weights, file)  # a removed encoder's run: one line that says so
    state = weights["state_dict"]
    own = model.state_dict()
    wrong = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items()
             if k in own and v.shape != own[k].shape]
    if wrong:
        raise ValueError(f"train.init={source}: its network sizes differ from this config's ({'; '.join(wrong[:4])}); "
                         f"use the same model.* settings as the run you start from")
    missing = sorted(set(own) - set(state))
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    log.info("initialised from %s (%d tensors)%s", file, len(state) - len(set(state) - set(own)),
             f"; kept fresh: {', '.join(missing)}" if missing else "")


def export_weights(source: str | os.PathLike, dest: str | os.PathLike, dtype: torch.dtype = torch.float16) -> Path:
    """Write a run's weights as a small stand-alone ``model.pt`` (e.g. the demo's shipped checkpoint).

    Floating-point tensors are stored in ``dtype`` (half precision halves the file; loading casts
    them back to the model's float32 through ``load_state_dict``, a relative rounding of 2^-11);
    the constructor arguments and step are kept, so :func:`~posesynth.models.loading.load_model`
    and ``train.init`` read the file like any ``RUN/model.pt``. Written to ``dest.tmp`` and renamed.

    Returns:
        ``dest``.
    """
    file = model_file(source)
    if not file.is_file():
        raise FileNotFoundError(f"{file} does not exist: pass a run directory holding model.pt or a model.pt file")
    weights = torch.load(file, map_location="cpu", weights_only=True)
    weights["state_dict"] = {k: v.to(dtype) if v.is_floating_point() else v for k, v in weights["state_dict"].items()}
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    torch.save(weights, tmp)
    os.replace(tmp, dest)
    return dest


__all__ = ["model_kwargs", "save_checkpoint", "resume_state", "init_weights", "export_weights"]
