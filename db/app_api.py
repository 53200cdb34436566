"""Storage of the app channel: bearer tokens, app submissions and the read
queries of the app screens. Functions take a ``Session`` inside the caller's
transaction; the caller commits.

Tokens are 32 random bytes, so only their SHA-256 is stored and looked up (a
fast hash suffices: there is no chosen password to brute-force, as in ``db.alarms``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from db import tables as t
from db.channels import insert_ignore
from db.session import matched_rows
from handlers.model import OfferStatus, VisitStatus

SUBJECT_KINDS = ("elder", "caregiver", "provider")


def token_digest(token: str) -> str:
    """Hex SHA-256 of a bearer token, as stored in ``app_tokens.token_hash``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def subject_exists(session: Session, kind: str, subject_id: str) -> bool:
    """True when ``subject_id`` is a registered elder, caregiver or provider organisation (``kind``)."""
    key = {
        "elder": t.elders.c.elder_id,
        "caregiver": t.caregivers.c.caregiver_id,
        "provider": t.provider_organisations.c.provider_id,
    }[kind]
    return session.execute(select(key).where(key == subject_id)).first() is not None


def add_token(session: Session, token: str, kind: str, subject_id: str, now: datetime) -> None:
    """Store the hash of a new token of ``kind`` (elder | caregiver | provider) for ``subject_id``."""
    if kind not in SUBJECT_KINDS:
        raise ValueError(f"subject kind must be one of {', '.join(SUBJECT_KINDS)}, got {kind!r}")
    session.execute(
        t.app_tokens.insert().values(
            token_hash=token_digest(token), subject_kind=kind, subject_id=subject_id, created_at=now
        )
    )


def token_subject(session: Session, token: str) -> Row | None:
    """(subject_kind, subject_id) of a live token whose subject is still registered, else None."""
    c = t.app_tokens.c
    row = session.execute(
        select(c.subject_kind, c.subject_id).where(c.token_hash == token_digest(token), c.revoked_at.is_(None))
    ).first()
    if row is None or row.subject_kind not in SUBJECT_KINDS or not subject_exists(session, *row):
        return None
    return row


def revoke_tokens(session: Session, kind: str, subject_id: str, now: datetime) -> int:
    """Revoke every live token of a user; returns how many were revoked."""
    c = t.app_tokens.c
    result = session.execute(
        update(t.app_tokens)
        .where(c.subject_kind == kind, c.subject_id == subject_id, c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return matched_rows(result)


def add_submission(session: Session, **values: Any) -> bool:
    """Insert an ``app_submissions`` row unless its request id exists; True if inserted."""
    return insert_ignore(session, t.app_submissions, **values)


def submission(session: Session, request_id: str) -> Row | None:
    return session.execute(select(t.app_submissions).where(t.app_submissions.c.request_id == request_id)).first()


def offered_service_types(session: Session) -> set[str]:
    """Every service type some caregiver can perform (their abilities)."""
    found: set[str] = set()
    for abilities in session.scalars(select(t.caregivers.c.abilities).distinct()):
        found.update(abilities.split())
    return found


def caregiver_display_name(session: Session, caregiver_id: str) -> str | None:
    c = t.caregivers.c
    return session.execute(select(c.display_name).where(c.caregiver_id == caregiver_id)).scalar()


def pending_offers(session: Session, caregiver_id: str, now: datetime) -> list[Row]:
    """A caregiver's pending, unexpired offers, soonest start first: offer_id,
    short_code, service_type, service_area, priority, duration_minutes,
    planned_start, planned_end, expires_at. No address: that comes with acceptance."""
    o, r = t.offers.c, t.care_requests.c
    return list(
        session.execute(
            select(
                o.offer_id,
                o.short_code,
                r.service_type,
                r.service_area,
                r.priority,
                r.duration_minutes,
                o.planned_start,
                o.planned_end,
                o.expires_at,
            )
            .join(t.care_requests, r.request_id == o.request_id)
            .where(o.caregiver_id == caregiver_id, o.status == OfferStatus.PENDING, o.expires_at >= now)
            .order_by(o.planned_start, o.offer_id)
        )
    )


def booked_visits(session: Session, caregiver_id: str) -> list[Row]:
    """A caregiver's scheduled and in-progress visits, soonest first, with the
    elder's address (the caregiver accepted them): request_id, visit_id,
    service_type, status, planned_start, planned_end, address, neighbourhood."""
    v, a, e = t.visits.c, t.elder_addresses.c, t.elders.c
    return list(
        session.execute(
            select(
                v.request_id,
                v.visit_id,
                v.service_type,
                v.status,
                v.planned_start,
                v.planned_end,
                func.coalesce(a.address, e.address).label("address"),
                a.neighbourhood,
            )
            .outerjoin(t.elder_addresses, a.elder_id == v.elder_id)
            .outerjoin(t.elders, e.elder_id == v.elder_id)
            .where(v.caregiver_id == caregiver_id, v.status.in_([VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS]))
            .order_by(v.planned_start, v.visit_id)
        )
    )
