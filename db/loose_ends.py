"""Loose ends of the channels (``loose_ends``) and the outcomes operators record
(``request_outcomes``): written where they arise, read by the board, closed by an
operator (``handlers.operations.outcomes``). Functions take a ``Session`` inside the
caller's transaction; the caller commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from db import tables
from db.channels import insert_ignore
from db.session import matched_rows
from handlers.model import Priority, RequestStatus
from handlers.operations.outcomes import Outcome


def open_loose_end(
    session: Session,
    loose_end_id: str,
    kind: str,
    detail: str,
    now: datetime,
    *,
    subject: str | None = None,
    service_area: str | None = None,
    phone: str | None = None,
    due_at: datetime | None = None,
) -> bool:
    """Put a loose end on the board once (its id is the channel's: ``hangup:<CallSid>`` …)."""
    return insert_ignore(
        session,
        tables.loose_ends,
        loose_end_id=loose_end_id[:200],
        kind=kind,
        subject=subject,
        service_area=service_area,
        phone=phone,
        detail=detail[:2000],
        opened_at=now,
        due_at=due_at,
    )


def loose_end(session: Session, loose_end_id: str) -> Row | None:
    return session.execute(select(tables.loose_ends).where(tables.loose_ends.c.loose_end_id == loose_end_id)).first()


def close_loose_end(
    session: Session, loose_end_id: str, outcome: str, note: str, operator_id: str, now: datetime
) -> bool:
    """Close an open loose end; False when it is unknown or closed already."""
    t = tables.loose_ends.c
    result = session.execute(
        update(tables.loose_ends)
        .where(t.loose_end_id == loose_end_id, t.closed_at.is_(None))
        .values(closed_at=now, closed_by=operator_id, outcome=outcome, note=note.strip()[:2000])
    )
    return matched_rows(result) > 0


def open_loose_ends(session: Session, areas: list[str] | None) -> list[Row]:
    """Open loose ends, oldest first: those of ``areas`` and those of no area (an
    unknown caller belongs to none; every operator may call back); None: all."""
    t = tables.loose_ends.c
    query = select(tables.loose_ends).where(t.closed_at.is_(None)).order_by(t.opened_at)
    if areas is not None:
        query = query.where(t.service_area.in_(areas) | t.service_area.is_(None))
    return list(session.execute(query))


def open_followups(session: Session, areas: list[str] | None) -> list[Row]:
    """Complaints whose follow-up call is not closed, oldest first, with the request's area and elder."""
    f, r = tables.feedback.c, tables.care_requests.c
    query = (
        select(
            f.feedback_id,
            f.request_id,
            f.category,
            f.comment,
            f.channel,
            f.received_at,
            f.followup_due_at,
            r.service_area,
            r.elder_id,
        )
        .join(tables.care_requests, r.request_id == f.request_id)
        .where(f.kind == "complaint", f.followup_closed_at.is_(None))
        .order_by(f.received_at)
    )
    if areas is not None:
        query = query.where(r.service_area.in_(areas))
    return list(session.execute(query))


def outcomes_of(session: Session, request_ids: set[str]) -> dict[str, Outcome]:
    """request id -> its recorded ``Outcome``, for those of ``request_ids`` that have one."""
    if not request_ids:
        return {}
    t = tables.request_outcomes.c
    rows = session.execute(select(tables.request_outcomes).where(t.request_id.in_(request_ids)))
    return {r.request_id: Outcome(r.request_id, r.code, r.note, r.operator_id, r.recorded_at) for r in rows}


def unresolved_request_ids(session: Session, areas: list[str] | None) -> list[str]:
    """Failed requests and emergencies (any status) without a recorded outcome: what stays
    on the board whatever its age (nothing leaves it on a timer)."""
    r, o = tables.care_requests.c, tables.request_outcomes.c
    closed = select(o.request_id)
    query = select(r.request_id).where(
        ((r.status == RequestStatus.FAILED) | (r.priority == Priority.STAT)) & r.request_id.not_in(closed)
    )
    if areas is not None:
        query = query.where(r.service_area.in_(areas))
    return list(session.scalars(query))


class SqlOutcomes:
    """``handlers.operations.outcomes.OutcomeRepository`` on ``request_outcomes``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, request_id: str) -> Outcome | None:
        return outcomes_of(self.session, {request_id}).get(request_id)

    def add(self, outcome: Outcome) -> None:
        self.session.execute(
            tables.request_outcomes.insert().values(
                request_id=outcome.request_id,
                code=outcome.code,
                note=outcome.note,
                operator_id=outcome.operator_id,
                recorded_at=outcome.recorded_at,
            )
        )
