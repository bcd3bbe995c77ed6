"""Run independent jobs in worker processes, results in order: the data generator's and the cache's fan-out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import TypeVar

import torch

Job = TypeVar("Job")
Result = TypeVar("Result")


def _one_thread() -> None:
    # each worker is one core's worth: N workers with torch's default thread pool each would
    # oversubscribe the machine N times over
    torch.set_num_threads(1)


def map_in_processes(function: Callable[[Job], Result], jobs: Iterable[Job], workers: int) -> Iterator[Result]:
    """``map(function, jobs)``, in ``workers`` processes when ``workers > 1``; results in job order.

    Workers are spawned, not forked: a forked child inherits torch's thread pool in a broken
    state. ``function`` must be a module-level function and the jobs picklable; the caller's
    script needs the ``if __name__ == "__main__":`` guard that spawning requires.

    Raises:
        ValueError: if ``workers < 1``.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1:
        yield from map(function, jobs)
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_one_thread) as pool:
        yield from pool.map(function, jobs)
