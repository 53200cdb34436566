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


def test_a_search_that_does_not_answer_in_time_is_given_up_and_its_process_killed(solver_processes):
    hung = repair.in_solver_process(_pid)
    started = time.monotonic()
    assert repair.in_solver_process(_answer_after, 120.0, timeout=1.0) is None
    assert time.monotonic() - started < 20, "the lane waited for the hung search"
    deadline = time.monotonic() + 20
    while _alive(hung) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(hung), "the hung solver process was left running"
    fresh = repair.in_solver_process(_pid)
    assert fresh != hung
    assert repair.in_solver_process(_answer_after, 0.0, timeout=30.0) == "answered"


def test_searches_queued_behind_a_hung_one_answer_none_and_the_lane_goes_on(solver_processes):
    answers: dict[str, object] = {}

    def search(name: str, seconds: float, timeout: float) -> None:
        try:
            answers[name] = repair.in_solver_process(_answer_after, seconds, timeout=timeout)
        except BaseException as exc:  # noqa: BLE001 - the assertion below names it
            answers[name] = exc

    repair.in_solver_process(_pid)  # the lane's process is up
    hung = threading.Thread(target=search, args=("hung", 120.0, 1.0))
    queued = [threading.Thread(target=search, args=(f"queued-{i}", 0.0, 60.0)) for i in range(4)]
    hung.start()
    time.sleep(0.2)
    for t in queued:
        t.start()
    for t in (hung, *queued):
        t.join(90)
    assert answers == {"hung": None, **{f"queued-{i}": None for i in range(4)}}
    assert repair.in_solver_process(_answer_after, 0.0, timeout=30.0) == "answered"


def test_the_wait_covers_the_budget_one_search_ahead_and_the_model_build():
    assert repair.solver_timeout(10.0) == 2 * 10.0 + repair.SOLVER_GRACE_SECONDS
    assert repair.solver_timeout(0.0) == repair.SOLVER_GRACE_SECONDS


def _answer_after(seconds: float) -> str:
    time.sleep(seconds)
    return "answered"


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, killed and not yet reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone between the open and the read
        return False


def _pid() -> int:
    import os

    return os.getpid()
