"""The containers' healthchecks: the timer service's heartbeat (careline.scheduler) and the
image's careline-healthcheck script (docker/healthcheck.py) that reads it."""

import importlib.util
import os
import time
from pathlib import Path

from careline.scheduler import Heartbeat

SCRIPT = Path(__file__).resolve().parents[2] / "docker" / "healthcheck.py"


def _healthcheck():
    spec = importlib.util.spec_from_file_location("careline_healthcheck", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_heartbeat_is_touched_at_once_and_then_at_most_every_few_seconds(tmp_path):
    path = tmp_path / "var" / "scheduler.heartbeat"
    beat = Heartbeat(path, every=5.0)
    beat.beat()
    first = path.stat().st_mtime_ns
    os.utime(path, ns=(first - 10**9, first - 10**9))
    beat.beat()  # within 5 s: not touched again
    assert path.stat().st_mtime_ns == first - 10**9


def test_the_scheduler_is_healthy_only_while_its_heartbeat_is_fresh(tmp_path, monkeypatch):
    check = _healthcheck()
    monkeypatch.setenv("CARELINE_VAR_DIR", str(tmp_path))
    assert not check.healthy("scheduler")  # never beat
    Heartbeat(tmp_path / "scheduler.heartbeat").beat()
    assert check.healthy("scheduler")
    old = time.time() - 120
    os.utime(tmp_path / "scheduler.heartbeat", (old, old))
    assert not check.healthy("scheduler")


def test_a_web_service_that_does_not_answer_is_unhealthy(monkeypatch):
    check = _healthcheck()
    monkeypatch.setenv("CARELINE_WORKER_WEB_PORT", "1")  # nothing listens on port 1
    assert not check.healthy("worker")
