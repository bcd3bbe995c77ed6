"""posesynth.parallel: the process fan-out keeps the job order and refuses a bad worker count."""

import os

import pytest

from posesynth.parallel import map_in_processes


def square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def test_results_in_job_order_from_other_processes():
    results = list(map_in_processes(square_and_pid, range(7), workers=2))
    assert [r for r, _ in results] == [x * x for x in range(7)]
    assert os.getpid() not in {pid for _, pid in results}


def test_one_worker_runs_here():
    assert {pid for _, pid in map_in_processes(square_and_pid, [1, 2], workers=1)} == {os.getpid()}


def test_bad_worker_count():
    with pytest.raises(ValueError, match="workers must be >= 1"):
        list(map_in_processes(square_and_pid, [1], workers=0))
