"""Where the fault lab strikes a worker (issue 13): at a share of the run, or right after the
pipeline did something, so that a kill lands inside intake, inside a batch of offers or inside
the outbox relay, not only at 30 %.

Points (``POINTS``):

- ``share``: once a share of the run's requests is final (30 %, or a random share in 10-70 %);
- ``intake``: a moment (0-300 ms) after an intake record of the run reached ``care.intake.v1``,
  while the worker validates it and hands the request on;
- ``intake-commit``: the moment the worker's group commits a new offset on ``care.intake.v1``,
  when the requests made from the records below it must already be safe;
- ``offers``: a moment (0-100 ms) after a ``dispatch.offer.created`` of the run reached the
  broker: the relay is publishing one dispatch decision's events (offer, status, deadlines);
- ``relay``: while the outbox holds rows the worker has not relayed yet.

``strike`` waits for the point and returns a line saying where the kill landed. Every wait has
a limit: a point that does not come (the run ran out of intake) strikes at the limit and says so.
"""

from __future__ import annotations

import json
import random
import time
from typing import TYPE_CHECKING, Callable

from config import topics

if TYPE_CHECKING:
    from tools.faults.lab import Lab
    from tools.replay.driver import ReplayDriver

POINTS = ("share", "intake", "intake-commit", "offers", "relay")
#: how long a point is waited for before the kill happens anyway (wall seconds)
WAIT_LIMIT_SECONDS = 60.0


def progress(driver: ReplayDriver) -> float:
    """Share of the run's requests (day and extra) that are final, 0-1."""
    total = len(driver.day.submissions) + len(driver.extra)
    return len(driver.final) / total if total else 1.0


def wait_progress(driver: ReplayDriver, share: float, timeout_s: float = 300) -> None:
    """Block until ``share`` of the run's requests are final (or ``timeout_s`` wall seconds)."""
    deadline = time.monotonic() + timeout_s
    while progress(driver) < share and time.monotonic() < deadline:
        time.sleep(0.1)


def choose(rng: random.Random) -> str:
    """A point at random (the CI's short profile)."""
    return rng.choice(POINTS)


def _tail(lab: Lab, topic: str, wanted: Callable[[dict], bool], limit_s: float) -> dict | None:
    """The first record of ``topic`` produced from now on for which ``wanted(value)``; None at the limit."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=lab.bootstrap, enable_auto_commit=False, client_id="careline-fault-points"
    )
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(parts)
        consumer.seek_to_end(*parts)
        for tp in parts:
            consumer.position(tp)
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=20).values():
                for rec in batch:
                    try:
                        value = json.loads(rec.value)
                    except ValueError:
                        continue
                    if isinstance(value, dict) and wanted(value):
                        return value
        return None
    finally:
        consumer.close()


def _intake_commit(lab: Lab, limit_s: float) -> str | None:
    """Poll the group's committed offsets of ``care.intake.v1`` every 50 ms; the partitions and
    offsets of the first commit that moves (None at the limit)."""
    from kafka import KafkaAdminClient, TopicPartition

    tps = [TopicPartition(topics.INTAKE.name, p) for p in range(lab.partitions)]
    admin = KafkaAdminClient(
        bootstrap_servers=lab.bootstrap, client_id="careline-fault-points", request_timeout_ms=10_000
    )

    def committed() -> dict[int, int]:
        found = admin.list_group_offsets({"careline": tps}).get("careline", {})
        return {tp.partition: max(meta.offset, 0) for tp, meta in found.items()}

    try:
        before = committed()
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            now = committed()
            moved = [f"partition {p} {before.get(p, 0)} -> {o}" for p, o in sorted(now.items()) if o > before.get(p, 0)]
            if moved:
                return ", ".join(moved)
            time.sleep(0.05)
        return None
    finally:
        admin.close()


def _relay_pending(lab: Lab, limit_s: float) -> int | None:
    from db import runs

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        with lab.sessions() as session:
            n = runs.unsent_outbox(session, for_kafka_only=True)
        if n:
            return n
        time.sleep(0.02)
    return None


def strike(point: str, lab: Lab, driver: ReplayDriver, rng: random.Random) -> str:
    """Wait for ``point`` in the run ``driver`` plays; returns where the kill lands (the caller kills)."""
    run = driver.run_id + "."
    if point == "share":
        share = rng.choice((0.3, round(rng.uniform(0.1, 0.7), 2)))
        wait_progress(driver, share)
        return f"share: {share:.0%} of the run final (at {progress(driver):.0%})"
    wait_progress(driver, rng.uniform(0.05, 0.5))
    at = f"{progress(driver):.0%} final"
    if point == "intake":
        seen = _tail(lab, topics.INTAKE.name, lambda v: str(v.get("intake_id", "")).startswith(run), WAIT_LIMIT_SECONDS)
        delay = rng.uniform(0.0, 0.3)
        time.sleep(delay)
        what = f"intake {seen['intake_id'][len(run) :]}" if seen else "no intake came"
        return f"intake: {delay * 1000:.0f} ms after {what} reached care.intake.v1 ({at})"
    if point == "intake-commit":
        moved = _intake_commit(lab, WAIT_LIMIT_SECONDS)
        return f"intake-commit: the group committed care.intake.v1 {moved or 'nothing new'} ({at})"
    if point == "offers":
        seen = _tail(
            lab,
            topics.OFFERS.name,
            lambda v: (
                v.get("type") == "dispatch.offer.created"
                and str((v.get("data") or {}).get("request_id", "")).startswith(run)
            ),
            WAIT_LIMIT_SECONDS,
        )
        delay = rng.uniform(0.0, 0.1)
        time.sleep(delay)
        what = f"offer for {seen['data']['request_id'][len(run) :]}" if seen else "no offer came"
        return f"offers: {delay * 1000:.0f} ms after {what} reached dispatch.offers.v1 ({at})"
    if point == "relay":
        n = _relay_pending(lab, WAIT_LIMIT_SECONDS)
        return f"relay: {n or 'no'} outbox rows waiting for the relay ({at})"
    raise ValueError(f"unknown kill point {point!r}; known: {', '.join(POINTS)}")
