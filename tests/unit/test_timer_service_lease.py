"""One timer service per database: the lease a second ``careline scheduler`` (a replay's own
beside one already running) meets, and the database clock a replay leaves behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from careline import scheduler
from config.settings import get_settings
from db import leases
from db.register import hold_clock, read_clock, set_clock
from db.session import session_factory
from handlers.clock import SimClock
from tools.replay.stack import StackError, _timer_service


@pytest.fixture
def database(migrated_sqlite):
    return migrated_sqlite("timers.db")


def _lease(pid: int, host: str = socket.gethostname(), age_s: float = 0.0, broker: str = "127.0.0.1:9092"):
    at = datetime.now(UTC) - timedelta(seconds=age_s)
    return leases.Lease(scheduler.LEASE, f"{host}:{pid}:x", host, pid, broker, at, at)


def _hold(url: str, lease: leases.Lease) -> None:
    with session_factory(url)() as session:
        assert leases.take(session, lease, None)


def test_a_second_timer_service_on_this_host_is_refused_while_the_first_runs(database):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _hold(database, _lease(sleeper.pid))
        with pytest.raises(scheduler.TimerServiceRunning, match=f"pid {sleeper.pid}"):
            scheduler.claim_database(database, "127.0.0.1:9092", wait_s=0)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_killed_timer_service_is_replaced_at_once(database):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _hold(database, _lease(dead.pid))
    mine = scheduler.claim_database(database, "127.0.0.1:9092", wait_s=0)
    assert mine.pid == os.getpid()
    with session_factory(database)() as session:
        assert leases.current(session, scheduler.LEASE).holder == mine.holder


def test_a_holder_elsewhere_counts_until_it_stops_renewing(database):
    _hold(database, _lease(1, host="other-host", age_s=2))
    with pytest.raises(scheduler.TimerServiceRunning, match="other-host"):
        scheduler.claim_database(database, "127.0.0.1:9092", wait_s=0)
    with session_factory(database)() as session:
        stale = datetime.now(UTC) - timedelta(seconds=scheduler.LEASE_TTL_SECONDS + 1)
        assert leases.renew(session, scheduler.LEASE, "other-host:1:x", stale)
    assert scheduler.claim_database(database, "127.0.0.1:9092", wait_s=0).host == socket.gethostname()


def test_a_holder_that_lost_its_lease_cannot_renew_it(database):
    _hold(database, _lease(1, host="other-host", age_s=scheduler.LEASE_TTL_SECONDS + 5))
    scheduler.claim_database(database, "127.0.0.1:9092", wait_s=0)
    with session_factory(database)() as session:
        assert not leases.renew(session, scheduler.LEASE, "other-host:1:x", datetime.now(UTC))


def test_a_replay_uses_the_running_timer_service_of_its_broker_and_refuses_another_brokers(database):
    assert _timer_service(database, "127.0.0.1:9092") == ""  # none: the stack starts its own
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _hold(database, _lease(sleeper.pid, broker="127.0.0.1:9092"))
        assert f"already running (pid {sleeper.pid}" in _timer_service(database, "127.0.0.1:9092")
        with pytest.raises(StackError, match="for the broker 127.0.0.1:9092, not 127.0.0.1:39999"):
            _timer_service(database, "127.0.0.1:39999")
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_replays_clock_is_held_at_wall_speed_and_reset_by_the_command(database, monkeypatch):
    from careline.cli import app

    factory = session_factory(database)
    day = datetime(2026, 11, 30, 9, tzinfo=UTC)
    started = datetime.now(UTC)
    set_clock(factory, SimClock(started - timedelta(seconds=10), day, 600.0))
    held = hold_clock(factory)
    took = datetime.now(UTC) - started  # a loaded machine: the replay ran at 600x until held
    assert held.speed == 1.0
    assert day + timedelta(minutes=100) <= held.now() <= day + 600 * (timedelta(seconds=10) + took) + took

    monkeypatch.setenv("CARELINE_DATABASE_URL", database)
    get_settings.cache_clear()
    try:
        shown = CliRunner().invoke(app, ["clock", "show"])
        assert f"replay clock: {held.now():%Y-%m-%d %H:}" in shown.output and "at 1x" in shown.output
        assert "replay clock removed" in CliRunner().invoke(app, ["clock", "reset"]).output
        assert "already on the wall clock" in CliRunner().invoke(app, ["clock", "reset"]).output
    finally:
        get_settings.cache_clear()
    with factory() as session:
        assert abs((read_clock(session).now() - datetime.now(UTC)).total_seconds()) < 5
