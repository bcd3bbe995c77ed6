"""A training budget in minutes that means the same on any machine: steps from a timing.

A run asked for "10 minutes" times its own first steps on the machine it runs on and fixes its
step count from their median, once; from then on it is an ordinary fixed-step run (so its
evaluation schedule and its result do not depend on how busy the machine is later). The step
count is printed and recorded, so the run can be repeated exactly with ``--steps``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def steps_for_minutes(seconds_per_step: float, minutes: float, minimum: int = 1) -> int:
    """How many steps of ``seconds_per_step`` fit in ``minutes``; at least ``minimum``."""
    if seconds_per_step <= 0 or minutes <= 0:
        raise ValueError(f"steps_for_minutes: need positive times, got {seconds_per_step} s/step, {minutes} min")
    return max(minimum, int(60.0 * minutes / seconds_per_step))


class StepTimer:
    """Times the first ``probes`` steps of a loop (after one warm-up step) and fixes the step count.

        timer = StepTimer(minutes=10, probes=5)
        step, total = 0, None
        while total is None or step < total:
            with timer:
                train_one_step()
            step += 1
            total = total or timer.steps()   # None until the probes are timed

    ``steps()`` returns None while it is still timing, then the same number every time.
    """

    def __init__(self, minutes: float, probes: int = 5, clock: Callable[[], float] = time.perf_counter):
        if probes < 1:
            raise ValueError(f"StepTimer: probes must be >= 1, got {probes}")
        self.minutes, self.probes, self.clock = minutes, probes, clock
        self.times: list[float] = []
        self._seen = 0
        self._total: int | None = None

    def __enter__(self) -> "StepTimer":
        self._start = self.clock()
        return self

    def __exit__(self, *exc) -> None:
        elapsed = self.clock() - self._start
        self._seen += 1
        if self._seen > 1 and len(self.times) < self.probes:  # the first step pays for warm-up
            self.times.append(elapsed)

    def steps(self) -> int | None:
        """The fixed step count once ``probes`` steps are timed (at least the steps already taken)."""
        if self._total is None and len(self.times) == self.probes:
            self._total = steps_for_minutes(statistics.median(self.times), self.minutes, minimum=self._seen)
        return self._total


__all__ = ["StepTimer", "steps_for_minutes"]
