"""Each elder's latest emergency (``tables.elder_emergencies``), claimed with compare-and-set.

``open_or_join`` either records a new emergency as the elder's latest or joins
the open one (``handlers.channels.emergencies.joins``). Two alarms of one elder at the
same moment cannot both open one: the insert of the first wins on the primary
key, the update of a replaced row is conditional on the request it replaces,
and the loser reads again and joins.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db import tables
from db.session import insert_if_absent, matched_rows
from handlers.channels.emergencies import LatestEmergency, joins
from handlers.model import RequestStatus

t = tables.elder_emergencies


def latest(session: Session, elder_id: str) -> LatestEmergency | None:
    row = session.execute(select(t).where(t.c.elder_id == elder_id)).first()
    return LatestEmergency(row.request_id, row.raised_at, row.presses) if row else None


def _status(session: Session, request_id: str) -> RequestStatus | None:
    r = tables.care_requests.c
    value = session.execute(select(r.status).where(r.request_id == request_id)).scalar_one_or_none()
    return RequestStatus(value) if value is not None else None


def has_open(session: Session, elder_id: str, now: datetime, merge_minutes: float) -> bool:
    """True when a new emergency of ``elder_id`` would join an open one."""
    last = latest(session, elder_id)
    return last is not None and joins(last, _status(session, last.request_id), now, merge_minutes)


def open_or_join(
    session: Session, elder_id: str, request_id: str, now: datetime, merge_minutes: float, tries: int = 5
) -> tuple[str, int]:
    """(the request the emergency belongs to, its number of alarms): ``request_id`` with 1 when
    it opens a new emergency (or is already the latest), the open one's with its new count
    when it joins. Not committed."""
    for _ in range(tries):
        last = latest(session, elder_id)
        if last is not None and last.request_id == request_id:
            return request_id, last.presses
        if last is not None and joins(last, _status(session, last.request_id), now, merge_minutes):
            done = session.execute(
                update(t)
                .where(t.c.elder_id == elder_id, t.c.request_id == last.request_id)
                .values(presses=t.c.presses + 1, last_press_at=now)
            )
            if matched_rows(done) == 1:
                return last.request_id, last.presses + 1
            continue
        values = {"request_id": request_id, "raised_at": now, "last_press_at": now, "presses": 1}
        if last is None:
            if insert_if_absent(session, t, elder_id=elder_id, **values):
                return request_id, 1
            continue
        done = session.execute(
            update(t).where(t.c.elder_id == elder_id, t.c.request_id == last.request_id).values(**values)
        )
        if matched_rows(done) == 1:
            return request_id, 1
    return request_id, 1  # still contended: open it (an extra emergency beats a lost one)
