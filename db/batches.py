"""Statements that serve a whole batch of inputs at once (issue 19): claim many event ids in
one ``INSERT … ON CONFLICT DO NOTHING``, read the elders a batch of intake records names in one
query, put many records on the outbox in one insert (returning the rows for the relay)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import tables
from db.session import dialect_insert
from handlers.model import Elder

CHUNK = 1000


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def claim_many(session: Session, event_ids: Iterable[str]) -> set[str]:
    """Claim every id (``processed_events``); returns those claimed now, the others were
    claimed before (a redelivery). A concurrent claim of the same id waits for the first
    transaction, as ``db.uow.SqlUnitOfWork.claim`` does."""
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return set()
    pe = tables.processed_events
    now = datetime.now(UTC)
    claimed: set[str] = set()
    for chunk in _chunks(ids):
        rows = session.execute(
            dialect_insert(session, pe).on_conflict_do_nothing().returning(pe.c.event_id),
            [{"event_id": i, "processed_at": now} for i in chunk],
        )
        claimed.update(r[0] for r in rows)
    return claimed


def load_elders(session: Session, elder_ids: Iterable[str]) -> None:
    """Read these elders into the session in one query (later ``session.get`` finds them there)."""
    ids = list(dict.fromkeys(elder_ids))
    for chunk in _chunks(ids):
        list(session.scalars(select(Elder).where(tables.elders.c.elder_id.in_(chunk))))


def enqueue_many(session: Session, topic: str, records: list[tuple[str, dict]]) -> list[Any]:
    """Outbox rows for ``topic`` ([(key, value)]) in one insert; the rows written (``seq``,
    ``topic``, ``key``, ``value``), in order, for the relay."""
    if not records:
        return []
    now = datetime.now(UTC)
    o = tables.outbox.c
    rows = [
        {
            "event_id": str(value.get("id") or value.get("intake_id") or uuid.uuid4())[:64],
            "topic": topic,
            "key": key,
            "value": value,
            "created_at": now,
        }
        for key, value in records
    ]
    return list(
        session.execute(
            tables.outbox.insert().returning(o.seq, o.topic, o.key, o.value, sort_by_parameter_order=True), rows
        ).all()
    )
