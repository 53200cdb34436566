"""The solver processes of a worker (``handlers.dispatch.repair.in_solver_process``): a day-of
repair's search never waits behind a confirmation round's re-plan, which searches ten seconds per
area and comes for every planned area at once, the evening before (issue 18: a repair decides
within 5 s while the worker goes on)."""

from __future__ import annotations

import operator
import threading
import time

import pytest

from handlers.dispatch import repair


@pytest.fixture
def solver_processes(monkeypatch):
    """``use_solver_process`` for this test only; its processes are shut down after it."""
    pools: dict = {}
    monkeypatch.setattr(repair, "_IN_WORKER_PROCESS", True)
    monkeypatch.setattr(repair, "_POOLS", pools)
    yield pools
    for pool in list(pools.values()):
        pool.shutdown(wait=True, cancel_futures=True)


def test_a_repair_is_searched_while_a_round_searches(solver_processes):
    round_search = threading.Thread(
        target=repair.in_solver_process, args=(time.sleep, 6.0), kwargs={"lane": repair.ROUND_LANE}
    )
    round_search.start()
    deadline = time.monotonic() + 30
    while repair.ROUND_LANE not in solver_processes and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the round's search is submitted right after its process is made
    assert repair.in_solver_process(operator.add, 1, 2) == 3  # the repairs' lane
    assert round_search.is_alive(), "the repair waited until the round's search had ended"
    round_search.join()
    assert set(solver_processes) == {repair.REPAIR_LANE, repair.ROUND_LANE}


def test_searches_of_one_lane_share_its_one_process(solver_processes):
    first = repair.in_solver_process(_pid)
    assert repair.in_solver_process(_pid) == first
    assert repair.in_solver_process(_pid, lane=repair.ROUND_LANE) != first


def _pid() -> int:
    import os

    return os.getpid()
