"""The outbox relay's reads and writes (``streams.runtime.relay_outbox``): rows committed
with the state that made them, published by the worker in commit order and marked sent
once the broker acknowledged them. Rows for the timer service (topic ``scheduler``) are
``db.timers``'."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import or_, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from config import topics
from db import tables


def unsent(session: Session, limit: int) -> list[Row]:
    """Up to ``limit`` unsent rows for Kafka, oldest first (``seq``, ``topic``, ``key``, ``value``)."""
    return list(
        session.execute(
            select(tables.outbox)
            .where(tables.outbox.c.sent_at.is_(None), tables.outbox.c.topic != topics.SCHEDULER)
            .order_by(tables.outbox.c.seq)
            .limit(limit)
        ).all()
    )


def mark_sent(session: Session, seqs: list[int]) -> None:
    """The rows ``seqs`` were acknowledged by the broker (not committed)."""
    session.execute(update(tables.outbox).where(tables.outbox.c.seq.in_(seqs)).values(sent_at=datetime.now(UTC)))


def claim_for_relay(session: Session, seqs: list[int]) -> set[int]:
    """Lock the rows ``seqs`` that are still unsent and mark them sent, in the session's open
    transaction (PostgreSQL): the relay publishes them and then commits. A sweep that took a
    row first (``unsent_locked``) makes this wait for it and then leave the row out; a row
    another relay already marked is left out. Returns the seqs this relay now owns."""
    o = tables.outbox.c
    return set(
        session.execute(
            update(tables.outbox)
            .where(o.seq.in_(seqs), o.sent_at.is_(None))
            .values(sent_at=datetime.now(UTC))
            .returning(o.seq)
        )
        .scalars()
        .all()
    )


#: topics whose outbox rows only the outside writes (the web, the channels, the app API, tools):
#: care requests as they come in, caregivers' answers, ratings. A worker's batch never writes
#: them (its steps read these topics and write the others), so no worker's relay owns such a row
#: and a sweep may take one at any age (``unsent_locked``).
FROM_OUTSIDE = frozenset({topics.INTAKE.name, topics.CAREGIVER_EVENTS.name, topics.FEEDBACK.name})


#: the PostgreSQL advisory lock a sweep holds for its transaction (``sweep_turn``): "cl-sweep"
SWEEP_LOCK = 0x636C2D7377656570


def sweep_turn(session: Session) -> bool:
    """Whether the session's transaction may sweep now. On PostgreSQL it takes the advisory lock
    ``SWEEP_LOCK`` until the transaction ends, and False means another worker's sweep holds it.
    One sweep at a time keeps one key's rows in order: with two, the second skips the row the
    first has locked (``SKIP LOCKED``) and may publish the same key's next row before it (a
    caregiver's check-in before her accept). Always True on SQLite (one worker)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SWEEP_LOCK}).scalar())


def unsent_locked(session: Session, limit: int, created_before: datetime | None, skip: set[int]) -> list[Row]:
    """Up to ``limit`` unsent rows for Kafka, oldest first, created before ``created_before``
    (None: any) unless their topic is one of ``FROM_OUTSIDE`` (taken at any age), not in
    ``skip``; on PostgreSQL locked ``FOR UPDATE SKIP LOCKED`` until the session's transaction
    ends, so two workers' sweeps never take the same row."""
    o = tables.outbox.c
    query = select(tables.outbox).where(o.sent_at.is_(None), o.topic != topics.SCHEDULER)
    if created_before is not None:
        query = query.where(or_(o.created_at < created_before, o.topic.in_(sorted(FROM_OUTSIDE))))
    if skip:
        query = query.where(o.seq.not_in(sorted(skip)))
    query = query.order_by(o.seq).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.execute(query).all())
