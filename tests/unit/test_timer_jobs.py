"""The timer service turns a pass's deadline requests into APScheduler jobs written at once
(``careline.scheduler.take_requests`` over ``db.timers.DeferringJobStore``): every deadline
gets its job, a deadline asked for again replaces its job, the requests are marked only once the
jobs are stored, and the scheduler's own writes (a recurring job's next run) are never held back."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from careline import scheduler
from config import topics
from db import tables
from db.session import session_factory


@pytest.fixture
def database(migrated_sqlite):
    return migrated_sqlite("jobs.db")


def _ask(url: str, target: str, due: datetime) -> None:
    value = {
        "type": "timer.requested",
        "id": str(uuid.uuid4()),
        "time": datetime.now(UTC).isoformat(),
        "data": {"kind": "offer-timeout", "target_id": target, "service_area": "a1", "due": due.isoformat()},
    }
    with session_factory(url)() as session:
        session.execute(
            tables.outbox.insert().values(
                event_id=value["id"], topic=topics.SCHEDULER, key=target, value=value, created_at=datetime.now(UTC)
            )
        )
        session.commit()


def _unsent(url: str) -> int:
    o = tables.outbox.c
    with session_factory(url)() as session:
        return len(session.execute(select(o.seq).where(o.topic == topics.SCHEDULER, o.sent_at.is_(None))).all())


def test_a_pass_stores_every_deadline_once_and_a_later_one_replaces_it(database):
    sched = scheduler.build_scheduler(database)
    sched.start(paused=True)  # jobs go to the store; none runs
    try:
        later = datetime.now(UTC) + timedelta(hours=2)
        for i in range(5):
            _ask(database, f"o{i}", later + timedelta(minutes=i))
        _ask(database, "o1", later + timedelta(hours=1))  # asked again in the same pass: the last one wins
        assert scheduler.take_requests(sched, database, 0.0) == 6
        jobs = {j.id: j for j in sched.get_jobs()}
        assert {k for k in jobs if k.startswith("offer-timeout:")} == {f"offer-timeout:o{i}" for i in range(5)}
        assert jobs["offer-timeout:o1"].next_run_time == later + timedelta(hours=1)
        assert _unsent(database) == 0

        _ask(database, "o2", later + timedelta(hours=3))  # a later pass replaces a stored job
        assert scheduler.take_requests(sched, database, 0.0) == 1
        assert sched.get_job("offer-timeout:o2").next_run_time == later + timedelta(hours=3)
        assert len([j for j in sched.get_jobs() if j.id.startswith("offer-timeout:")]) == 5
    finally:
        sched.shutdown(wait=False)


ARGS = {"kind": "offer-timeout", "target_id": "x", "service_area": "a1", "due": "2030-01-01T00:00:00+00:00"}


def test_jobs_are_written_when_the_block_ends_and_other_threads_write_at_once(database):
    sched = scheduler.build_scheduler(database)
    sched.start(paused=True)
    store = sched._lookup_jobstore("default")
    try:
        when = datetime.now(UTC) + timedelta(hours=1)
        with store.deferred():
            sched.add_job(scheduler.fire, "date", run_date=when, id="held", kwargs=ARGS)
            assert store.lookup_job("held") is None  # not yet written
            other = threading.Thread(
                target=lambda: sched.add_job(scheduler.fire, "date", run_date=when, id="theirs", kwargs=ARGS)
            )
            other.start()
            other.join()
            assert store.lookup_job("theirs") is not None  # the scheduler's thread is never held back
        assert store.lookup_job("held") is not None
    finally:
        sched.shutdown(wait=False)


def test_a_failed_write_marks_no_request(database, monkeypatch):
    sched = scheduler.build_scheduler(database)
    sched.start(paused=True)
    store = sched._lookup_jobstore("default")
    try:
        _ask(database, "o9", datetime.now(UTC) + timedelta(hours=1))

        def refuse(jobs):
            raise RuntimeError("database gone")

        monkeypatch.setattr(store, "_write", refuse)
        with pytest.raises(RuntimeError):
            scheduler.take_requests(sched, database, 0.0)
        assert _unsent(database) == 1  # the next pass takes it again
        monkeypatch.undo()
        assert scheduler.take_requests(sched, database, 0.0) == 1
        assert sched.get_job("offer-timeout:o9") is not None and _unsent(database) == 0
    finally:
        sched.shutdown(wait=False)
