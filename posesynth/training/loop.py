"""The one training loop skeleton (``train`` and ``pretrain-depth`` both run it, each supplying its build
and its step): :func:`start_run` (exact resume, the resolved config) and :func:`run_loop` (accumulate →
losses → NaN stop → backward → clip → step; schedules, logs, checkpoints), and their parts: the
learning-rate schedule, mixed precision, the NaN stop, logging to ``log.jsonl`` and TensorBoard.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from posesynth.config import Config, write_resolved_config
from posesynth.training.checkpoints import resume_state, save_checkpoint
from posesynth.training.rundir import latest_checkpoint


class NonFiniteLossError(RuntimeError):
    """A loss term became NaN or infinite; the message names the term and the last good checkpoint."""


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 10 % at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def resolve_mixed_precision(choice: str) -> str:
    """"auto" → bf16 on a GPU that supports it, else full precision."""
    if choice != "auto":
        return choice
    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"


def make_accelerator(mixed_precision: str, grad_accum: int, compile_networks: bool) -> Accelerator:
    """The Accelerator every training command uses (``train.mixed_precision``, ``grad_accum``, ``compile``).

    With ``compile_networks`` Accelerate compiles each prepared network last (after any DDP wrap)
    with inductor: at these sizes a GPU step is bound by kernel launches (BENCHMARKS.md, "On a
    lent GPU"), and fused kernels are fewer launches.
    """
    return Accelerator(mixed_precision=resolve_mixed_precision(mixed_precision), gradient_accumulation_steps=grad_accum,
                       dynamo_backend="inductor" if compile_networks else "no")


def check_finite(accelerator: Accelerator, terms: dict[str, torch.Tensor], step: int, last_good: Path | None) -> None:
    """Stop every process together when any process sees a non-finite term."""
    bad = torch.tensor([0.0 if torch.isfinite(v).all() else 1.0 for v in terms.values()], device=accelerator.device)
    bad = accelerator.reduce(bad, "sum")
    if bad.sum() > 0:
        names = [name for name, flag in zip(terms, bad.tolist()) if flag > 0]
        keep = f"the last good checkpoint is {last_good}" if last_good else "no checkpoint had been written yet"
        raise NonFiniteLossError(
            f"loss term(s) {', '.join(names)} became non-finite at step {step + 1}; the run stopped and {keep}. "
            f"Lower train.lr, raise train.grad_clip, or check the input data; resume with --resume.")


def open_tensorboard(run: Path):
    from torch.utils.tensorboard import SummaryWriter  # imported late: it is slow to import

    return SummaryWriter(log_dir=str(run / "tb"))


def log_scalars(run: Path, writer, step: int, values: dict[str, float]) -> None:
    """One JSON line per logged step in ``RUN/log.jsonl``, and the same scalars in TensorBoard."""
    with open(run / "log.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"step": step, **values}) + "\n")
    for key, value in values.items():
        writer.add_scalar(key, value, step)



# --- the loop skeleton ----------------------------------------------------------------------

def start_run(accelerator: Accelerator, run: Path, config: Config, loader, *, resume: bool, grad_accum: int):
    """After ``accelerator.prepare``: resume (exactly) or start at step 0, write the resolved config.

    Returns:
        (step, loader): the step reached and the loader advanced past the batches already consumed.
    """
    step = 0
    if resume:
        step, loader = resume_state(accelerator, run, loader, grad_accum)
    if accelerator.is_main_process:
        run.mkdir(parents=True, exist_ok=True)
        write_resolved_config(config, run)
    return step, loader


def run_loop(accelerator: Accelerator, loader, *, run: Path, config: Config, model: torch.nn.Module,
             optimizer, schedulers: Sequence, step: int, end: int,
             compute: Callable[[dict, int, int], dict[str, torch.Tensor]],
             clip: Iterable[torch.nn.Parameter] | Callable[[], Iterable[torch.nn.Parameter]],
             accumulate: Sequence[torch.nn.Module], count: Callable[[dict], int], rate: str,
             prepare: Callable[[dict], dict] | None = None,
             after_backward: Callable[[dict, dict[str, torch.Tensor], int, int], None] | None = None,
             on_step: Callable[[int, dict, dict[str, float]], None] | None = None,
             desc: str = "train", progress: bool = True) -> None:
    """The loop every training command runs: accumulate → losses → NaN stop → backward → clip → step,
    then per optimiser step: schedules, logs, the caller's extras, checkpoints. Every process calls it.

    Args:
        loader: the prepared (and, on resume, advanced) loader.
        model: what ``save_checkpoint`` stores as ``RUN/model.pt``.
        optimizer: the prepared optimiser of ``model``; ``schedulers`` step once per optimiser step
            (the first gives the logged learning rate).
        step, end: the step reached and the step to stop at (with a checkpoint).
        compute: (batch, step, micro) → loss terms with ``total``: the caller's forward pass.
        clip: the parameters whose gradient norm ``train.grad_clip`` clips.
        accumulate: the prepared modules of ``accelerator.accumulate`` (put in training mode).
        count: the items of a batch (per process) for the throughput ``rate`` (e.g. "pairs_per_s").
        prepare: batch → batch before the step (e.g. view pairs stacked into one batch).
        after_backward: (batch, terms, step, micro) → None, inside the accumulation context after
            the main update (e.g. the discriminator's step; it may add terms to log).
        on_step: (step, batch, values) → None after each optimiser step, before logging: may add
            values to log (held-out evaluation) and write samples.
    """
    t = config.train
    writer = open_tensorboard(run) if accelerator.is_main_process else None
    last_good = latest_checkpoint(run)
    bar = tqdm(total=end, initial=step, desc=desc, unit="step", disable=not (progress and accelerator.is_main_process))
    tick, seen, micro = time.perf_counter(), 0, 0
    for module in accumulate:
        module.train()
    for batch in loader:
        if step >= end:
            break
        if prepare is not None:
            batch = prepare(batch)
        with accelerator.accumulate(*accumulate):
            terms = compute(batch, step, micro)
            check_finite(accelerator, terms, step, last_good)
            accelerator.backward(terms["total"])
            if accelerator.sync_gradients and t.grad_clip > 0:
                accelerator.clip_grad_norm_(clip() if callable(clip) else clip, t.grad_clip)
            optimizer.step()  # Accelerate's optimizer only steps when the accumulation is complete
            optimizer.zero_grad(set_to_none=True)
            if after_backward is not None:
                after_backward(batch, terms, step, micro)
        micro += 1
        seen += count(batch) * accelerator.num_processes
        if not accelerator.sync_gradients:
            continue
        for scheduler in schedulers:
            scheduler.step()
        step += 1
        micro = 0
        bar.update(1)

        values: dict[str, float] = {}
        if step % t.log_every == 0 or step == end:
            values = {f"loss/{k}": float(accelerator.reduce(v.detach().float(), "mean")) for k, v in terms.items()}
            now = time.perf_counter()
            values.update({"lr": schedulers[0].get_last_lr()[0], rate: seen / max(now - tick, 1e-9)})
            tick, seen = now, 0
        if on_step is not None:
            on_step(step, batch, values)
        if values and accelerator.is_main_process:
            log_scalars(run, writer, step, values)
            if "loss/total" in values:
                bar.set_postfix(loss=f"{values['loss/total']:.4f}")
        if step % t.checkpoint_every == 0 or step == end:
            last_good = save_checkpoint(accelerator, model, run, step, config, t.keep_checkpoints)
    bar.close()
    if writer is not None:
        writer.close()
    accelerator.end_training()


__all__ = ["NonFiniteLossError", "lr_factor", "resolve_mixed_precision", "make_accelerator", "check_finite",
           "open_tensorboard", "log_scalars", "start_run", "run_loop"]
