"""--minutes budgets: steps from a timing of the run's own first steps."""

from __future__ import annotations

import pytest

from posesynth.training.budget import StepTimer, steps_for_minutes


def test_steps_for_minutes_closed_form():
    assert steps_for_minutes(0.5, 10) == 1200
    assert steps_for_minutes(120.0, 1) == 1
    assert steps_for_minutes(120.0, 1, minimum=7) == 7
    with pytest.raises(ValueError, match="positive"):
        steps_for_minutes(0.0, 10)


def test_step_timer_uses_the_median_after_a_warm_up_step():
    # a fake clock: the warm-up step takes 9 s, then 1, 3, 2 s; the median 2 s gives 30 steps a minute
    ticks = iter([0, 9, 9, 10, 10, 13, 13, 15, 15, 99])
    timer = StepTimer(minutes=1, probes=3, clock=lambda: next(ticks))
    counts = []
    for _ in range(5):
        with timer:
            pass
        counts.append(timer.steps())
    assert counts == [None, None, None, 30, 30]
    assert timer.times == [1, 3, 2]


def test_step_timer_never_asks_for_fewer_steps_than_taken():
    ticks = iter(range(0, 1000, 100))
    timer = StepTimer(minutes=0.01, probes=2, clock=lambda: next(ticks))
    for _ in range(3):
        with timer:
            pass
    assert timer.steps() == 3
