"""What the agents share in one worker process: the database, the clock,
the outbox relay and the timer scheduler.

The outbox relay publishes events committed by handlers, in commit order,
and marks them sent only after the broker acknowledged them; rows for the
``scheduler`` become APScheduler jobs (SQLAlchemy job store, so deadlines
survive a restart; ``coalesce`` and ``misfire_grace_time=None`` make a
restarted scheduler fire each missed deadline once).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from functools import lru_cache

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from config import topics
from config.settings import get_settings
from db import tables
from db.session import session_factory
from handlers.clock import SimClock, wall_clock

log = logging.getLogger("careline.runtime")
_relay_lock = asyncio.Lock()


@lru_cache
def sessions() -> sessionmaker[Session]:
    return session_factory(get_settings().database_url)


def current_clock(session: Session) -> SimClock:
    """The replay clock if one is set in the database, else the wall clock."""
    row = session.execute(select(tables.sim_clock).where(tables.sim_clock.c.clock_id == 1)).first()
    return SimClock(row.wall_origin, row.sim_origin, row.speed) if row else wall_clock()


@lru_cache
def scheduler() -> AsyncIOScheduler:
    store = SQLAlchemyJobStore(engine=sessions().kw["bind"], tablename="apscheduler_jobs")
    return AsyncIOScheduler(jobstores={"default": store},
                            job_defaults={"coalesce": True, "misfire_grace_time": None,
                                          "max_instances": 1},
                            timezone=timezone.utc)


async def relay_outbox(limit: int = 500) -> int:
    """Publish unsent outbox rows in order; returns how many were relayed."""
    from streams.app import app
    from streams import timers

    async with _relay_lock:
        with sessions()() as session:
            rows = session.execute(select(tables.outbox).where(tables.outbox.c.sent_at.is_(None))
                                   .order_by(tables.outbox.c.seq).limit(limit)).all()
            if not rows:
                return 0
            clock = current_clock(session)
            pending = []
            for row in rows:
                if row.topic == topics.SCHEDULER:
                    timers.schedule(row.value, clock)
                else:
                    pending.append(await app.topic(row.topic, value_serializer="json").send(
                        key=row.key.encode(), value=row.value))
            for fut in pending:
                await fut
            session.execute(update(tables.outbox).where(tables.outbox.c.seq.in_([r.seq for r in rows]))
                            .values(sent_at=datetime.now(timezone.utc)))
            session.commit()
            return len(rows)
