"""The timer service across a crash: each deadline missed while it was down fires once."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from kafka import KafkaConsumer, TopicPartition

from careline.brokers import ensure_topics
from config import topics
from config.settings import Settings
from db import tables
from db.migrate import upgrade
from db.session import session_factory
from tools.replay.stack import worker_env, worker_process

pytestmark = pytest.mark.integration


def request_timer(factory, target: str, due: datetime) -> None:
    value = {
        "type": "timer.requested",
        "id": str(uuid.uuid4()),
        "time": datetime.now(UTC).isoformat(),
        "data": {"kind": "test-deadline", "target_id": target, "service_area": "sched-test", "due": due.isoformat()},
    }
    with factory() as session:
        session.execute(
            tables.outbox.insert().values(
                event_id=value["id"],
                topic=topics.SCHEDULER,
                key=target,
                value=value,
                created_at=datetime.now(UTC),
            )
        )
        session.commit()


def _fired(raw: bytes) -> str | None:
    """The target of a timer firing; None for the topic's other records (a repair's answer,
    ``dispatch.repair.solved``, shares the area's partition with its deadlines)."""
    value = json.loads(raw)
    return value["data"]["target_id"] if value.get("type") == "timer.fired" else None


def firings(bootstrap: str, targets: set[str], want: int, timeout: float = 30.0) -> Counter:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    parts = [TopicPartition(topics.TIMERS.name, p) for p in consumer.partitions_for_topic(topics.TIMERS.name)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    seen: Counter = Counter()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and sum(seen.values()) < want:
            for batch in consumer.poll(timeout_ms=200).values():
                for rec in batch:
                    target = _fired(rec.value)
                    if target in targets:
                        seen[target] += 1
        end = time.monotonic() + 3  # and nothing more arrives
        while time.monotonic() < end:
            for batch in consumer.poll(timeout_ms=200).values():
                for rec in batch:
                    target = _fired(rec.value)
                    if target in targets:
                        seen[target] += 1
    finally:
        consumer.close()
    return seen


def test_deadlines_missed_while_the_timer_service_was_down_fire_exactly_once_after_restart(services, tmp_path):
    url = f"sqlite:///{tmp_path / 'timers.db'}"
    upgrade(url)
    settings = Settings(var_dir=tmp_path, broker=services.bootstrap, database_url=url, timer_grace_seconds=0)
    ensure_topics(
        services.bootstrap, topics.resolved(settings.topic_partitions), drop_rejected_configs=services.kind == "tansu"
    )
    factory = session_factory(url)
    run = uuid.uuid4().hex[:6]
    targets = {f"{run}-{i}" for i in range(3)}
    env = worker_env(settings, services.bootstrap, url)
    with worker_process(env, tmp_path / "scheduler-1.log", "scheduler") as proc:
        for i, target in enumerate(sorted(targets)):
            request_timer(factory, target, datetime.now(UTC) + timedelta(seconds=4 + i))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with factory() as session:
                jobs = session.execute(
                    tables.metadata.tables["outbox"].select().where(tables.outbox.c.sent_at.is_(None))
                ).all()
            if not jobs:
                break
            time.sleep(0.2)
        assert not jobs, "the timer service did not take the deadlines"
        os.kill(proc.pid, signal.SIGKILL)  # a crash, not a clean stop
        proc.wait()
    time.sleep(7)  # every deadline passes while nothing runs
    assert firings(services.bootstrap, targets, 3, timeout=2) == Counter()
    with worker_process(env, tmp_path / "scheduler-2.log", "scheduler"):
        assert firings(services.bootstrap, targets, 3) == Counter({t: 1 for t in targets})
