"""Callback surveys (回访) after a completed visit and the ratings they yield.

A survey row is created when the visit completes (status ``scheduled``), then
moves to ``calling`` (the call was placed), ``sms_sent`` (the call went
unanswered, an SMS asks instead), ``answered`` (a rating arrived) or
``no_phone``. A rating becomes one ``feedback`` row (kind ``rating``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from db import tables
from db.channels import insert_ignore
from db.session import matched_rows

s = tables.callback_surveys.c


def create(
    session: Session,
    request_id: str,
    elder_id: str,
    phone: str,
    language: str | None,
    service_type: str,
    due_at: datetime,
    now: datetime,
) -> bool:
    """A scheduled survey; False if the request already has one."""
    return insert_ignore(
        session,
        tables.callback_surveys,
        request_id=request_id,
        elder_id=elder_id,
        phone=phone,
        language=language,
        service_type=service_type,
        due_at=due_at,
        status="scheduled",
        updated_at=now,
    )


def get(session: Session, request_id: str) -> Row | None:
    return session.execute(select(tables.callback_surveys).where(s.request_id == request_id)).first()


def due(session: Session, now: datetime, limit: int = 50) -> list[str]:
    """Request ids of scheduled surveys due at ``now`` or before, oldest first."""
    return list(
        session.scalars(
            select(s.request_id).where(s.status == "scheduled", s.due_at <= now).order_by(s.due_at).limit(limit)
        )
    )


def awaiting_sms_rating(session: Session, phone: str) -> Row | None:
    """The newest survey that asked this number for a rating by SMS and has none yet."""
    return session.execute(
        select(tables.callback_surveys).where(s.phone == phone, s.status == "sms_sent").order_by(s.updated_at.desc())
    ).first()


def set_status(
    session: Session, request_id: str, status: str, now: datetime, *, only_from: tuple[str, ...] = (), **values: object
) -> bool:
    """Move a survey to ``status`` (only from ``only_from`` states when given); True if it moved."""
    stmt = update(tables.callback_surveys).where(s.request_id == request_id)
    if only_from:
        stmt = stmt.where(s.status.in_(only_from))
    return matched_rows(session.execute(stmt.values(status=status, updated_at=now, **values))) > 0


def record_rating(session: Session, request_id: str, rating: int, channel: str, now: datetime) -> bool:
    """One ``feedback`` row per request and kind ``rating``: the first answer counts."""
    inserted = insert_ignore(
        session,
        tables.feedback,
        feedback_id=f"rating:{request_id}",
        request_id=request_id,
        kind="rating",
        rating=rating,
        category=None,
        comment=f"via {channel}",
        received_at=now,
    )
    if inserted:
        set_status(session, request_id, "answered", now, rating=rating)
    return inserted


def visit_people(session: Session, request_id: str) -> Row | None:
    """(caregiver_id, provider_id) of the request's newest visit."""
    v = tables.visits.c
    return session.execute(
        select(v.caregiver_id, v.provider_id).where(v.request_id == request_id).order_by(v.planned_start.desc())
    ).first()
