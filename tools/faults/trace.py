"""Where a lost intake stopped (issue 13): the fault lab follows each intake that became no
request through every hop, so a broken invariant names the hop that dropped it.

Hops: the outbox row the channel wrote (relayed or not), ``care.intake.v1`` (partition, offset,
and whether the worker's group committed past it), the validated request on
``care.requests.v1`` (or, for a request the intake agent put on the outbox, that outbox row),
the dispatch claim (``processed_events``), and both dead-letter topics.
"""

from __future__ import annotations

import json
from typing import Iterable

from kafka import KafkaConsumer, TopicPartition

from config import topics
from db import runs
from db.session import Session, sessionmaker


def _records(bootstrap: str, topic: str) -> list:
    """Every record of ``topic`` now on the broker (the lab's broker is small and fresh)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        client_id="careline-fault-trace",
        consumer_timeout_ms=1500,
    )
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        out = []
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            batches = consumer.poll(timeout_ms=500)
            if not batches:
                break
            for batch in batches.values():
                out.extend(batch)
        return out
    finally:
        consumer.close()


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _mentions(value: dict, rid: str) -> bool:
    record = value.get("record")
    text = record if isinstance(record, str) else json.dumps(record)
    return rid in text


def trace(bootstrap: str, factory: sessionmaker[Session], partitions: int, lost: Iterable[str]) -> list[str]:
    """One line per lost intake id: what became of it at each hop."""
    from streams.watchdog import read_offsets

    lost = sorted(lost)
    if not lost:
        return []
    intake = [(r, _json(r.value)) for r in _records(bootstrap, topics.INTAKE.name)]
    validated = {v.get("id") for v in (_json(r.value) for r in _records(bootstrap, topics.REQUESTS.name))}
    dead = [
        (t, _json(r.value)) for t in (topics.INTAKE_DLQ.name, topics.DISPATCH_DLQ.name) for r in _records(bootstrap, t)
    ]
    committed, _ = read_offsets(bootstrap, "careline", [(topics.INTAKE.name, p) for p in range(partitions)])
    lines = []
    with factory() as session:
        for rid in lost:
            rows, claimed = runs.intake_trail(session, rid)
            hops = [f"outbox {row.topic} {'relayed' if row.sent_at else 'NOT relayed'}" for row in rows] or [
                "no outbox row"
            ]
            seen = [r for r, v in intake if v.get("intake_id") == rid]
            for r in seen:
                mark = committed.get((r.topic, r.partition), 0)
                hops.append(
                    f"care.intake.v1 p{r.partition}@{r.offset} (group committed {mark}: "
                    f"{'past it' if mark > r.offset else 'not past it'})"
                )
            if not seen:
                hops.append("never on care.intake.v1")
            hops.append("on care.requests.v1" if f"validated:{rid}" in validated else "never on care.requests.v1")
            hops.append("claimed by dispatch" if claimed else "not claimed by dispatch")
            hops.extend(f"dead-lettered on {t}: {v.get('reason')}" for t, v in dead if _mentions(v, rid))
            lines.append(f"lost intake {rid}: " + "; ".join(hops))
    return lines
