"""The event log (``event_log``): a request's history for ``careline explain``, the
rows after a sequence number for the dashboard's feed and the metrics, and events
logged without being published."""

from __future__ import annotations

import uuid
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from db import tables
from db.uow import envelope
from handlers.model import DomainEvent

_C = tables.event_log.c


def events_about(session: Session, subject: str) -> list[dict[str, Any]]:
    """Every logged event whose subject is ``subject`` (a request id), in commit
    order, as its CloudEvents envelope."""
    return list(
        session.execute(
            select(tables.event_log.c.payload)
            .where(tables.event_log.c.subject == subject)
            .order_by(tables.event_log.c.seq)
        ).scalars()
    )


def events_after(session: Session, seq: int, limit: int, types: Iterable[str] | None = None) -> list[Row]:
    """Up to ``limit`` logged events with a sequence number above ``seq`` (of ``types`` only,
    when given), in ``seq`` order, as rows (``seq``, ``type``, ``subject``, ``time``,
    ``payload``: the CloudEvents envelope)."""
    stmt = select(_C.seq, _C.type, _C.subject, _C.time, _C.payload).where(_C.seq > seq)
    if types is not None:
        stmt = stmt.where(_C.type.in_(list(types)))
    return list(session.execute(stmt.order_by(_C.seq).limit(limit)).all())


def last_seq(session: Session) -> int:
    """The highest sequence number in the log; 0 when it is empty."""
    return session.execute(select(func.coalesce(func.max(_C.seq), 0))).scalar_one()


def log_only(session: Session, event: DomainEvent, envelope_id: str, source: str) -> None:
    """Append ``event`` to the log (not the outbox: nothing is published) as a CloudEvents
    envelope whose ``id`` is ``envelope_id``; the row gets a fresh UUID. The caller commits."""
    session.execute(
        tables.event_log.insert().values(
            event_id=str(uuid.uuid4()),
            type=event.type,
            subject=event.subject,
            time=event.time,
            payload=envelope(event, envelope_id, source=source),
        )
    )
