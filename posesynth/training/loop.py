"""The parts every training loop shares (``train`` and ``pretrain-depth``): the learning-rate schedule,
mixed precision, the NaN stop, logging to ``log.jsonl`` and TensorBoard.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from accelerate import Accelerator


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


__all__ = ["NonFiniteLossError", "lr_factor", "resolve_mixed_precision", "check_finite", "open_tensorboard",
           "log_scalars"]
