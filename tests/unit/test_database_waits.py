"""Agents wait for an unreachable database instead of dead-lettering (streams.runtime.db_call)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from streams import runtime


def _flaky(failures: int, exc: Exception):
    calls = []

    def step(value: str) -> str:
        calls.append(value)
        if len(calls) <= failures:
            raise exc
        return value.upper()

    return step, calls


def test_a_step_that_meets_a_restarting_database_is_tried_again_until_it_succeeds(monkeypatch):
    step, calls = _flaky(3, OperationalError("SELECT 1", {}, Exception("connection refused")))
    assert asyncio.run(runtime.db_call(step, "record")) == "RECORD"
    assert calls == ["record"] * 4


def test_an_error_in_the_data_is_raised_at_once_for_the_dead_letter_path():
    step, calls = _flaky(1, IntegrityError("INSERT", {}, Exception("duplicate key")))
    with pytest.raises(IntegrityError):
        asyncio.run(runtime.db_call(step, "record"))
    assert calls == ["record"]


def test_unavailability_is_told_apart_from_bad_data():
    assert runtime.database_unavailable(OperationalError("x", {}, Exception("server closed the connection")))
    assert not runtime.database_unavailable(IntegrityError("x", {}, Exception("duplicate key")))
    assert not runtime.database_unavailable(ValueError("bad field"))


def test_a_step_that_keeps_losing_races_to_the_batch_matcher_is_tried_until_it_wins():
    from sqlalchemy.orm.exc import StaleDataError

    step, calls = _flaky(2, StaleDataError("UPDATE care_requests expected 1 row; 0 matched"))
    assert asyncio.run(runtime.db_call(step, "record")) == "RECORD"
    assert len(calls) == 3


def test_the_worker_builds_no_debug_records_once_fausts_spinner_is_gone():
    """Faust's worker at WARNING keeps the root logger at DEBUG for its spinner; ``no_spinner``
    (run by a worker task) takes the spinner away so aiokafka's debug calls cost nothing."""
    import logging

    from faust.utils.terminal.spinners import Spinner, SpinnerHandler

    root = logging.getLogger("careline-test.root-of-a-worker")  # a stand-in: the test's root stays as it is
    written = logging.StreamHandler()
    written.setLevel(logging.WARNING)
    root.addHandler(written)
    root.addHandler(SpinnerHandler(Spinner(), level=logging.DEBUG))
    root.setLevel(logging.DEBUG)  # what faust.worker.Worker._setup_spinner_handler leaves
    assert root.isEnabledFor(logging.DEBUG)
    runtime.no_spinner(root)
    assert root.handlers == [written] and not root.isEnabledFor(logging.DEBUG)
    assert root.isEnabledFor(logging.WARNING)
    root.removeHandler(written)
