"""The timer service's reads and writes (``careline.scheduler``): deadlines
handlers asked for (outbox rows with topic ``scheduler``) and recurring
services (``care_subscriptions``); the job store that writes a pass's jobs at once
(``DeferringJobStore``)."""

from __future__ import annotations

import pickle
import threading
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Iterator

from apscheduler.jobstores.base import ConflictingIdError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.util import datetime_to_utc_timestamp
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
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


class DeferringJobStore(SQLAlchemyJobStore):
    """APScheduler 3's SQLAlchemy job store whose writes can be gathered: inside ``deferred()``
    the jobs added or replaced are kept, and written when the block ends, all in one
    transaction (an upsert: the same as ``add_job`` then ``update_job`` on a known id). Outside
    it, it is the plain store. The timer service adds a pass's deadlines so (``careline.scheduler
    .take_requests``): one job a transaction was four commits per care request in the lifecycle
    bench, the most of any process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: dict[str, Any] = {}
        #: the thread inside ``deferred()``; the scheduler's own thread (a cron job's next run
        #: time after it ran) always writes at once, or it would find the job due again
        self._deferring: int | None = None

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Gather this thread's ``add_job`` / ``update_job`` until the block ends, then write them
        (raises what the write raises: nothing is stored then)."""
        self._held, self._deferring = {}, threading.get_ident()
        try:
            yield
            self._deferring = None
            self._write(list(self._held.values()))
        finally:
            self._held, self._deferring = {}, None

    def _keep(self, job: Any) -> bool:
        if self._deferring != threading.get_ident():
            return False
        self._held.pop(job.id, None)  # the latest replacement, in the order it came
        self._held[job.id] = job
        return True

    def add_job(self, job: Any) -> None:
        if not self._keep(job):
            super().add_job(job)

    def update_job(self, job: Any) -> None:
        if not self._keep(job):
            super().update_job(job)

    def _write(self, jobs: list[Any]) -> None:
        if not jobs:
            return
        dialect = self.engine.dialect.name
        if dialect not in ("postgresql", "sqlite"):  # no upsert known: one job at a time
            for job in jobs:
                try:
                    super().add_job(job)
                except ConflictingIdError:
                    super().update_job(job)
            return
        rows = [
            {
                "id": job.id,
                "next_run_time": datetime_to_utc_timestamp(job.next_run_time),
                "job_state": pickle.dumps(job.__getstate__(), self.pickle_protocol),
            }
            for job in jobs
        ]
        with self.engine.begin() as connection:
            for i in range(0, len(rows), 300):  # one statement each, well under SQLite's bound parameters
                stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(self.jobs_t)
                stmt = stmt.values(rows[i : i + 300])
                connection.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[self.jobs_t.c.id],
                        set_={"next_run_time": stmt.excluded.next_run_time, "job_state": stmt.excluded.job_state},
                    )
                )
