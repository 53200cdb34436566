"""The outbox relay's reads and writes (``streams.runtime.relay_outbox``): rows committed
with the state that made them, published by the worker in commit order and marked sent
once the broker acknowledged them. Rows for the timer service (topic ``scheduler``) are
``db.timers``'."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import or_, select, update
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


def unsent_locked(
    session: Session, limit: int, created_before: datetime | None, skip: set[int], held: set[int] | None = None
) -> list[Row]:
    """Up to ``limit`` unsent rows for Kafka, oldest first, created before ``created_before``
    (None: any) unless their topic is one of ``FROM_OUTSIDE`` (taken at any age), not in
    ``skip``; on PostgreSQL locked ``FOR UPDATE SKIP LOCKED`` until the session's transaction
    ends, so two workers' sweeps never take the same row.

    One topic and key's rows leave in the order they were written: a row is left for a later
    sweep while an earlier unsent row of its topic and key is not taken with it (locked by
    another worker's sweep or relay, in ``skip``, or too young). Without that rule a second
    worker's sweep skipped the row the first had locked and published the key's next row before
    it: a caregiver's check-in ahead of her accept, which dispatch refuses. The seqs of rows taken
    and left so are added to ``held``: they count against ``limit``, so a caller that goes on
    while ``limit`` rows were taken (kept or held) skips them next time and reaches the rows after
    them (else one key's long backlog behind a held row would fill every pass)."""
    o = tables.outbox.c
    query = select(tables.outbox).where(o.sent_at.is_(None), o.topic != topics.SCHEDULER)
    if created_before is not None:
        query = query.where(or_(o.created_at < created_before, o.topic.in_(sorted(FROM_OUTSIDE))))
    if skip:
        query = query.where(o.seq.not_in(sorted(skip)))
    query = query.order_by(o.seq).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.execute(query).all())
    kept = _in_key_order(session, rows) if rows else rows
    if held is not None and len(kept) < len(rows):
        held.update({r.seq for r in rows} - {r.seq for r in kept})
    return kept


def _in_key_order(session: Session, rows: list[Row]) -> list[Row]:
    """``rows`` less those with an earlier unsent row of their topic and key not among ``rows``."""
    o = tables.outbox.c
    taken = {r.seq for r in rows}
    earlier = session.execute(
        select(o.topic, o.key, o.seq).where(
            o.sent_at.is_(None), o.seq < max(taken), o.key.in_(sorted({r.key for r in rows}))
        )
    )
    held_back: dict[tuple[str, str], int] = {}  # (topic, key) -> its first unsent row not taken
    for topic, key, seq in earlier:
        if seq not in taken and seq < held_back.get((topic, key), seq + 1):
            held_back[(topic, key)] = seq
    return [r for r in rows if r.seq < held_back.get((r.topic, r.key), r.seq + 1)]
