"""The outbox relay's reads and writes (``streams.runtime.relay_outbox``): rows committed
with the state that made them, published by the worker in commit order and marked sent
once the broker acknowledged them. Rows for the timer service (topic ``scheduler``) are
``db.timers``'."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
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
