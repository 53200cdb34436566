"""The ``/metrics`` read model: the numbers ``careline.web.metrics`` turns into
Prometheus gauges at scrape time, counted in the database now (so every web
replica reports the same). The dispatch-latency histogram folds
``db.events.events_after`` rows instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from db import tables
from db.events import last_seq
from handlers.model import Priority, RequestStatus
from handlers.operations.queues import WAITING


@dataclass(frozen=True)
class Counts:
    """What the database holds at one scrape.

    ``waiting``: rows (``service_type``, ``service_area``, ``priority``, count, oldest
    ``received_at`` or else ``submitted_at``) of the requests waiting for a caregiver
    (``handlers.operations.queues.WAITING``, and failed ones no operator closed with an
    outcome: nobody took them, they still wait); ``requests_by_status`` and
    ``offers_by_status``: rows (status, count); ``outbox_unsent`` and
    ``outbox_oldest_unsent`` (``created_at``, None when nothing waits): the relay's
    backlog; ``event_log_seq``: the highest sequence number (0: empty log);
    ``unacknowledged_emergencies``: ``stat`` requests nobody acknowledged and no outcome closed.
    Times are as stored (SQLite gives them naive, meaning UTC).
    """

    waiting: list[Row]
    requests_by_status: list[Row]
    offers_by_status: list[Row]
    outbox_unsent: int
    outbox_oldest_unsent: datetime | None
    event_log_seq: int
    unacknowledged_emergencies: int


def counts(session: Session) -> Counts:
    """``Counts`` read in ``session`` (six aggregate queries; nothing is written)."""
    r, o = tables.care_requests.c, tables.outbox.c
    resolved = select(tables.request_outcomes.c.request_id)
    waiting = session.execute(
        select(
            r.service_type,
            r.service_area,
            r.priority,
            func.count(),
            func.min(func.coalesce(r.received_at, r.submitted_at)),
        )
        .where(r.status.in_(list(WAITING)) | ((r.status == RequestStatus.FAILED) & r.request_id.not_in(resolved)))
        .group_by(r.service_type, r.service_area, r.priority)
    ).all()
    by_status = session.execute(select(r.status, func.count()).group_by(r.status)).all()
    offers = session.execute(select(tables.offers.c.status, func.count()).group_by(tables.offers.c.status)).all()
    unsent, oldest = session.execute(select(func.count(), func.min(o.created_at)).where(o.sent_at.is_(None))).one()
    seq = last_seq(session)
    acked = select(tables.emergency_acknowledgements.c.request_id)
    unacked = session.execute(
        select(func.count()).where(
            r.priority == Priority.STAT, r.request_id.not_in(acked), r.request_id.not_in(resolved)
        )
    ).scalar_one()
    return Counts(list(waiting), list(by_status), list(offers), unsent, oldest, seq, unacked)
