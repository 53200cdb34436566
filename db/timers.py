"""The timer service's reads and writes (``careline.scheduler``): deadlines
handlers asked for (outbox rows with topic ``scheduler``) and recurring
services (``care_subscriptions``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from config import topics
from db import tables
from handlers.channels.subscriptions import Subscription


def deadline_requests(session: Session, limit: int = 500) -> list[Row]:
    """Unsent ``timer.requested`` outbox rows, oldest first (``seq``, ``value``)."""
    return list(
        session.execute(
            select(tables.outbox)
            .where(tables.outbox.c.topic == topics.SCHEDULER, tables.outbox.c.sent_at.is_(None))
            .order_by(tables.outbox.c.seq)
            .limit(limit)
        ).all()
    )


def mark_scheduled(session: Session, seqs: list[int]) -> None:
    """The deadline rows ``seqs`` became jobs (not committed)."""
    session.execute(update(tables.outbox).where(tables.outbox.c.seq.in_(seqs)).values(sent_at=datetime.now(UTC)))


def subscription(session: Session, subscription_id: str) -> Subscription | None:
    """One recurring service, or ``None``."""
    row = session.execute(
        select(tables.care_subscriptions).where(tables.care_subscriptions.c.subscription_id == subscription_id)
    ).first()
    return Subscription(**row._mapping) if row is not None else None


def subscriptions(session: Session) -> list[Subscription]:
    """Every recurring service, active or paused."""
    return [Subscription(**row._mapping) for row in session.execute(select(tables.care_subscriptions))]


def save_subscription(session: Session, sub: Subscription) -> None:
    """Insert ``sub``, replacing a subscription with its id (not committed)."""
    session.execute(
        tables.care_subscriptions.delete().where(tables.care_subscriptions.c.subscription_id == sub.subscription_id)
    )
    session.execute(tables.care_subscriptions.insert().values(**sub.__dict__))
