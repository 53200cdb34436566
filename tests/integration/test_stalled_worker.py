"""The stall watchdog on a real worker: records wait, the worker cannot move its
offsets (the database is held by another writer, as a runaway transaction
would), and after ``CARELINE_WORKER_STALL_EXIT_SECONDS`` the worker exits with
status 75 for its supervisor; a fresh worker then handles the record: nothing
is lost. Own Tansu broker and SQLite file, so no other test's worker is touched."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from kafka import KafkaProducer
from sqlalchemy import func, select

from careline.brokers import ensure_topics, start_tansu
from config import topics
from config.settings import Settings
from db import tables
from db.migrate import upgrade
from db.session import session_factory
from streams.watchdog import EXIT_STALLED
from tools.replay.stack import worker_env, worker_process

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_a_stalled_worker_exits_for_its_supervisor_and_a_fresh_one_loses_nothing(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'watchdog.db'}"
    upgrade(database_url)
    with start_tansu(log_path=tmp_path / "tansu.log", timeout_s=30) as broker:
        settings = Settings(var_dir=tmp_path, broker=broker.bootstrap, database_url=database_url)
        ensure_topics(broker.bootstrap, topics.resolved(settings.topic_partitions), drop_rejected_configs=True)
        env = dict(worker_env(settings, broker.bootstrap, database_url), CARELINE_WORKER_STALL_EXIT_SECONDS="20")
        holder = sqlite3.connect(tmp_path / "watchdog.db", timeout=1)
        holder.execute("BEGIN EXCLUSIVE")  # every write of the worker now waits ("database is locked")
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
        # a complaint follow-up deadline firing: the dispatch agent's first step is a write (its claim)
        record = {
            "specversion": "1.0",
            "id": "wd-timer-1",
            "source": "test",
            "type": "timer.fired",
            "time": "2026-11-30T08:00:00+00:00",
            "data": {"service_area": "wd", "kind": "followup-deadline", "target_id": "nobody"},
        }
        producer.send(topics.REQUESTS.name, key=b"wd", value=json.dumps(record).encode()).get(timeout=10)
        with worker_process(env, tmp_path / "worker.log") as stuck:
            try:
                code = stuck.wait(timeout=150)
            except Exception:  # noqa: BLE001 - reported below
                code = None
        log = (tmp_path / "worker.log").read_text(errors="replace")
        assert code == EXIT_STALLED, log[-3000:]
        assert "records waiting" in log and "exiting (75)" in log
        holder.rollback()
        holder.close()
        with worker_process(env, tmp_path / "worker-2.log") as fresh:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and fresh.poll() is None:
                with session_factory(database_url)() as session:  # the record is handled: claimed once
                    handled = session.scalar(
                        select(func.count())
                        .select_from(tables.processed_events)
                        .where(tables.processed_events.c.event_id == "wd-timer-1")
                    )
                if handled:
                    break
                time.sleep(1)
        assert handled, (tmp_path / "worker-2.log").read_text(errors="replace")[-3000:]
        producer.close()
