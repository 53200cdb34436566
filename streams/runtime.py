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

log = logging.getLogger("careline.runtime")
_relay_lock = asyncio.Lock()


@lru_cache
def sessions() -> sessionmaker[Session]:
    return session_factory(get_settings().database_url)


def _unsent(limit: int) -> list:
    with sessions()() as session:
        return session.execute(select(tables.outbox).where(
            tables.outbox.c.sent_at.is_(None), tables.outbox.c.topic != topics.SCHEDULER)
            .order_by(tables.outbox.c.seq).limit(limit)).all()


def _mark_sent(seqs: list[int]) -> None:
    with sessions()() as session:
        session.execute(update(tables.outbox).where(tables.outbox.c.seq.in_(seqs))
                        .values(sent_at=datetime.now(timezone.utc)))
        session.commit()


async def relay_outbox(limit: int = 500) -> int:
    """Publish unsent outbox rows in order, marking them sent once the broker
    acknowledged; returns how many were relayed. Database work runs in a
    thread so the agents' event loop keeps moving."""
    from streams.app import app

    async with _relay_lock:
        rows = await asyncio.to_thread(_unsent, limit)
        if not rows:
            return 0
        pending = [await app.topic(row.topic, value_serializer="json").send(key=row.key.encode(), value=row.value)
                   for row in rows]
        for fut in pending:
            await fut
        await asyncio.to_thread(_mark_sent, [r.seq for r in rows])
        return len(rows)
