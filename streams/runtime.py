"""What the agents share in one worker process: the database, the clock and
the outbox relay.

The outbox relay publishes events committed by handlers, in commit order,
and marks them sent only after the broker acknowledged them. Rows for the
``scheduler`` are left to the timer service (``careline.scheduler``), the one
process that owns the APScheduler job store.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from functools import lru_cache

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from config import topics
from config.settings import get_settings
from db import tables
from db.session import session_factory
from db.register import read_clock
from handlers.clock import SimClock

log = logging.getLogger("careline.runtime")
_relay_lock = asyncio.Lock()


@lru_cache
def sessions() -> sessionmaker[Session]:
    return session_factory(get_settings().database_url)


def current_clock(session: Session) -> SimClock:
    """The replay clock if one is set in the database, else the wall clock."""
    return read_clock(session)


async def relay_outbox(limit: int = 500) -> int:
    """Publish unsent outbox rows in order; returns how many were relayed."""
    from streams.app import app

    async with _relay_lock:
        with sessions()() as session:
            rows = session.execute(select(tables.outbox).where(
                tables.outbox.c.sent_at.is_(None), tables.outbox.c.topic != topics.SCHEDULER)
                .order_by(tables.outbox.c.seq).limit(limit)).all()
            if not rows:
                return 0
            pending = [await app.topic(row.topic, value_serializer="json").send(key=row.key.encode(), value=row.value)
                       for row in rows]
            for fut in pending:
                await fut
            session.execute(update(tables.outbox).where(tables.outbox.c.seq.in_([r.seq for r in rows]))
                            .values(sent_at=datetime.now(timezone.utc)))
            session.commit()
            return len(rows)
