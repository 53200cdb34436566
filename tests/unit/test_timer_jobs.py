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


#: what ``_fired`` recorded (a job function must be importable: the job store pickles a reference)
FIRED: list[str] = []
FIRED_EVENT = threading.Event()


def _fired(name: str) -> None:
    FIRED.append(name)
    FIRED_EVENT.set()


def _wait_fired(name: str, timeout_s: float) -> bool:
    """Whether ``name`` fired within ``timeout_s`` seconds."""
    deadline = datetime.now(UTC) + timedelta(seconds=timeout_s)
    while name not in FIRED and datetime.now(UTC) < deadline:
        FIRED_EVENT.wait(0.1)
        FIRED_EVENT.clear()
    return name in FIRED


@pytest.mark.parametrize("step", ["get_next_run_time", "remove_job"])
def test_a_database_error_after_the_due_jobs_were_read_does_not_stop_the_timers(database, monkeypatch, step):
    """CI's fault lab: PostgreSQL restarted while the scheduler's loop was between reading the due
    jobs and asking for the next run time (or removing a run job). APScheduler 3 lets that error
    end its thread; the service went on taking requests and beating its heart, and from then on
    no offer expired: requests sat in ``received`` in every later scenario."""
    from sqlalchemy.exc import OperationalError

    FIRED.clear()
    sched = scheduler.build_scheduler(database)
    store = sched._lookup_jobstore("default")
    real = getattr(store, step)
    failures = [OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))]

    def flaky(*args):
        # the removal fails for the job that just ran (not one the test adds after it)
        if failures and (step != "remove_job" or args[0] == "first"):
            raise failures.pop()
        return real(*args)

    monkeypatch.setattr(store, step, flaky)
    sched.start()
    try:
        sched.add_job(_fired, "date", run_date=datetime.now(UTC) + timedelta(seconds=0.2), args=["first"], id="first")
        assert _wait_fired("first", 15), "the first deadline never fired"
        sched.add_job(_fired, "date", run_date=datetime.now(UTC) + timedelta(seconds=0.2), args=["next"], id="next")
        assert _wait_fired("next", 15), "a deadline after the error never fired: the scheduler's loop had ended"
        assert not failures  # the error did happen
    finally:
        sched.shutdown(wait=False)


class _Broker:
    """A producer whose first ``failures`` sends time out (a broker away), then succeed."""

    def __init__(self, failures: int) -> None:
        self.failures, self.sent = failures, []

    def send(self, topic, key, value):
        from kafka.errors import KafkaTimeoutError

        if self.failures:
            self.failures -= 1
            return _Sent(KafkaTimeoutError("Batch for care.timers.v1-0 expired"))
        self.sent.append((topic, key, value))
        return _Sent(None)


class _Sent:
    """What ``KafkaProducer.send`` returns: ``get`` raises the send's error, if any."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def get(self, timeout: float | None = None) -> None:
        if self.error is not None:
            raise self.error


def test_a_firing_the_broker_refused_is_stored_again_and_published_when_the_broker_takes_it(database, monkeypatch):
    """A firing is a date job APScheduler removes when it starts it: one the broker refused went
    nowhere. It is a job again, due after a backoff, until the broker takes it."""
    broker = _Broker(failures=2)
    monkeypatch.setattr(scheduler, "_producer", lambda: broker)
    monkeypatch.setattr(scheduler, "FIRE_RETRY_SECONDS", 0.2)
    sched = scheduler.build_scheduler(database)
    sched.start()
    try:
        sched.add_job(
            scheduler.fire, "date", run_date=datetime.now(UTC), id="offer-expiry:o7", kwargs=dict(ARGS, target_id="o7")
        )
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while not broker.sent and datetime.now(UTC) < deadline:
            threading.Event().wait(0.1)
        assert len(broker.sent) == 1 and broker.failures == 0
        assert sched.get_job("offer-expiry:o7") is None  # published once: nothing left to fire
    finally:
        sched.shutdown(wait=False)


def test_a_firing_refused_again_waits_longer_and_a_newer_deadline_for_its_target_stands(database, monkeypatch):
    monkeypatch.setattr(scheduler, "_producer", lambda: _Broker(failures=10**6))
    sched = scheduler.build_scheduler(database)
    sched.start(paused=True)  # jobs go to the store; none runs
    try:
        before = datetime.now(UTC)
        scheduler.fire("offer-expiry", "o8", "a1", ARGS["due"], attempt=2)
        job = sched.get_job("offer-expiry:o8")
        assert job.kwargs["attempt"] == 3 and job.kwargs["due"] == ARGS["due"]
        assert job.next_run_time >= before + timedelta(seconds=scheduler.FIRE_RETRY_SECONDS * 4)

        newer = datetime.now(UTC) + timedelta(hours=1)
        sched.add_job(scheduler.fire, "date", run_date=newer, id="offer-expiry:o9", kwargs=dict(ARGS, target_id="o9"))
        scheduler.fire("offer-expiry", "o9", "a1", "2029-01-01T00:00:00+00:00")  # an older firing fails
        assert sched.get_job("offer-expiry:o9").next_run_time == newer
        assert "attempt" not in sched.get_job("offer-expiry:o9").kwargs
    finally:
        sched.shutdown(wait=False)


def test_a_firing_without_a_running_scheduler_goes_back_to_the_outbox_and_becomes_a_job_again(database, monkeypatch):
    from config.settings import get_settings

    monkeypatch.setattr(scheduler, "_producer", lambda: _Broker(failures=10**6))
    monkeypatch.setattr(scheduler, "_SCHEDULER", None)
    monkeypatch.setenv("CARELINE_DATABASE_URL", database)
    get_settings.cache_clear()
    try:
        scheduler.fire("offer-expiry", "o8", "a1", "2030-01-01T00:00:00+00:00")
    finally:
        get_settings.cache_clear()
    assert _unsent(database) == 1
    sched = scheduler.build_scheduler(database)
    sched.start(paused=True)
    try:
        assert scheduler.take_requests(sched, database, 0.0) == 1
        job = sched.get_job("offer-expiry:o8")
        assert job is not None and job.kwargs["due"] == "2030-01-01T00:00:00+00:00"
    finally:
        sched.shutdown(wait=False)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the ended thread
def test_a_timer_service_whose_scheduler_thread_ended_stops_instead_of_looking_alive(database, monkeypatch, tmp_path):
    from config.settings import get_settings

    def end_the_thread(self):
        raise SystemExit  # what no ``except Exception`` catches: the thread ends quietly

    monkeypatch.setattr(scheduler.TimerScheduler, "_process_jobs", end_the_thread)
    monkeypatch.setenv("CARELINE_DATABASE_URL", database)
    monkeypatch.setenv("CARELINE_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    stop = threading.Event()
    timer = threading.Timer(20, stop.set)  # a service that never notices would stop here, and fail below
    timer.start()
    try:
        with pytest.raises(scheduler.TimerLoopEnded):
            scheduler.run(stop)
        assert not stop.is_set()
    finally:
        timer.cancel()
        get_settings.cache_clear()
