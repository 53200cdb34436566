"""Storage of the channels: who a phone number is, outbox rows, opt-outs,
delivery status, hotline calls. Functions take a SQLAlchemy ``Session`` inside
the caller's transaction (usually ``SqlUnitOfWork.session``); the caller commits.

Inserts that may race (a webhook delivered twice at once) use
``INSERT … ON CONFLICT DO NOTHING`` on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, Table, cast, func, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from config import topics
from db import tables
from db.session import dialect_insert, matched_rows
from db.uow import envelope
from handlers.channels.delivery import status_rank
from handlers.model import DomainEvent, OfferStatus, VisitStatus

t = tables


def insert_ignore(session: Session, table: Table, **values: Any) -> bool:
    """Insert a row unless its key exists; True if this call inserted it."""
    pk = list(table.primary_key.columns)[0]
    result = session.execute(dialect_insert(session, table).values(**values).on_conflict_do_nothing().returning(pk))
    return result.first() is not None


def publish(
    session: Session, event: DomainEvent, event_id: str | None = None, source: str = "careline/channels"
) -> str:
    """Append ``event`` to the event log and the outbox (the worker relays it
    to the topic of its ``topic_role``) as a CloudEvents envelope; returns its id."""
    event_id = event_id or str(uuid.uuid4())
    value = envelope(event, event_id, source)
    session.execute(
        t.event_log.insert().values(
            event_id=event_id, type=event.type, subject=event.subject, time=event.time, payload=value
        )
    )
    enqueue(session, topics.BY_ROLE[event.topic_role].name, event.key, value)
    return event_id


def enqueue(session: Session, topic: str, key: str, value: dict) -> None:
    """One outbox row: the stream worker's relay publishes it to ``topic``."""
    session.execute(
        t.outbox.insert().values(
            event_id=str(value.get("id") or value.get("intake_id") or uuid.uuid4())[:64],
            topic=topic,
            key=key,
            value=value,
            created_at=datetime.now(UTC),
        )
    )


def enqueue_intake(session: Session, record: dict) -> None:
    """An intake record (``handlers.channels.channel_events.intake_record``) for ``care.intake.v1``."""
    enqueue(session, topics.INTAKE.name, record["intake_id"], record)


def caregiver_by_phone(session: Session, phone: str) -> Row | None:
    """(caregiver_id, service_area, language, phone) of the active caregiver with this E.164 number."""
    c = t.caregivers.c
    return session.execute(
        select(c.caregiver_id, c.service_area, c.language, c.phone)
        .where(c.phone == phone, c.active.is_(True))
        .order_by(c.caregiver_id)
    ).first()


def elder_by_phone(session: Session, phone: str) -> Row | None:
    """(elder_id, service_area, language, phone) of the elder whose own number or landline, or a
    family member's number, this is. Family numbers are matched inside the JSON lists as text
    (quoted E.164): the SMS list and the register's family contacts."""
    e = t.elders.c
    cols = (e.elder_id, e.service_area, e.language, e.phone)
    own = session.execute(
        select(*cols).where(or_(e.phone == phone, e.landline == phone)).order_by(e.phone != phone, e.elder_id)
    ).first()
    if own is not None:
        return own
    quoted = f'%"{phone}"%'
    return session.execute(
        select(*cols)
        .where(or_(cast(e.family_phones, String).like(quoted), cast(e.family_contacts, String).like(quoted)))
        .order_by(e.elder_id)
    ).first()


def elder(session: Session, elder_id: str) -> Row | None:
    e, a = t.elders.c, t.elder_addresses.c
    return session.execute(
        select(
            e.elder_id,
            e.service_area,
            e.language,
            e.phone,
            func.coalesce(a.address, e.address).label("address"),
            a.neighbourhood,
        )
        .outerjoin(t.elder_addresses, a.elder_id == e.elder_id)
        .where(e.elder_id == elder_id)
    ).first()


def open_offers(session: Session, caregiver_id: str) -> list[Row]:
    """Pending offers of a caregiver, newest first: (offer_id, request_id, short_code, service_area, status)."""
    o, r = t.offers.c, t.care_requests.c
    return list(
        session.execute(
            select(o.offer_id, o.request_id, o.short_code, r.service_area, o.status)
            .join(t.care_requests, r.request_id == o.request_id)
            .where(o.caregiver_id == caregiver_id, o.status == OfferStatus.PENDING)
            .order_by(o.created_at.desc())
        )
    )


def offer_by_code(session: Session, caregiver_id: str, code: str) -> Row | None:
    """The caregiver's newest offer with this short code, any status:
    (offer_id, request_id, short_code, service_area, status)."""
    o, r = t.offers.c, t.care_requests.c
    return session.execute(
        select(o.offer_id, o.request_id, o.short_code, r.service_area, o.status)
        .join(t.care_requests, r.request_id == o.request_id)
        .where(o.caregiver_id == caregiver_id, o.short_code == code)
        .order_by(o.created_at.desc())
    ).first()


def is_opted_out(session: Session, phone: str) -> bool:
    return session.execute(select(t.sms_opt_outs.c.phone).where(t.sms_opt_outs.c.phone == phone)).first() is not None


def record_opt_out(session: Session, phone: str, source: str, now: datetime | None = None) -> bool:
    """Remember that ``phone`` wants no more SMS (``source``: keyword or error_21610)."""
    return insert_ignore(session, t.sms_opt_outs, phone=phone, source=source, opted_out_at=now or datetime.now(UTC))


def record_status(
    session: Session,
    sid: str,
    kind: str,
    status: str,
    now: datetime,
    *,
    error_code: str | None = None,
    to_phone: str | None = None,
    purpose: str | None = None,
    request_id: str | None = None,
) -> bool:
    """Store a message or call status unless a later one is already known.

    One atomic ``UPDATE … WHERE rank < new rank``: callbacks arriving out of
    order never replace a final state (delivered, undelivered, failed,
    completed …) with an earlier one. Returns True if this status was stored.
    """
    rank = status_rank(kind, status)
    if insert_ignore(
        session,
        t.message_status,
        sid=sid,
        kind=kind,
        status=status,
        rank=rank,
        error_code=error_code,
        to_phone=to_phone,
        purpose=purpose,
        request_id=request_id,
        updated_at=now,
    ):
        return True
    m = t.message_status.c
    for column, value in (("to_phone", to_phone), ("purpose", purpose), ("request_id", request_id)):
        if value is not None:
            session.execute(update(t.message_status).where(m.sid == sid, m[column].is_(None)).values({column: value}))
    result = session.execute(
        update(t.message_status)
        .where(m.sid == sid, m.rank < rank)
        .values(status=status, rank=rank, error_code=error_code, updated_at=now)
    )
    return matched_rows(result) > 0


def message_status(session: Session, sid: str) -> Row | None:
    return session.execute(select(t.message_status).where(t.message_status.c.sid == sid)).first()


def start_call(
    session: Session, call_sid: str, from_phone: str | None, elder_id: str | None, language: str | None, now: datetime
) -> Row:
    """The call's row, created on its first webhook; its ``seq`` is the request number callers hear."""
    insert_ignore(
        session,
        t.hotline_calls,
        call_sid=call_sid,
        from_phone=from_phone,
        elder_id=elder_id,
        language=language,
        started_at=now,
    )
    return session.execute(select(t.hotline_calls).where(t.hotline_calls.c.call_sid == call_sid)).one()


def call(session: Session, call_sid: str) -> Row | None:
    return session.execute(select(t.hotline_calls).where(t.hotline_calls.c.call_sid == call_sid)).first()


def finish_call(session: Session, call_sid: str, **values: Any) -> None:
    """Record how a call ended (outcome, reason, service_type, priority, window, request_id)."""
    session.execute(update(t.hotline_calls).where(t.hotline_calls.c.call_sid == call_sid).values(**values))


def caregiver_contact(session: Session, caregiver_id: str) -> Row | None:
    """The caregiver's ``phone`` (E.164 or None) and ``language``, or None for an unknown caregiver."""
    c = tables.caregivers.c
    return session.execute(select(c.phone, c.language).where(c.caregiver_id == caregiver_id)).first()


def area_name(session: Session, service_area: str) -> str | None:
    """The service area's display name (None when it has no row)."""
    a = tables.service_areas.c
    return session.execute(select(a.name).where(a.service_area == service_area)).scalar()


def family_of(session: Session, elder_id: str) -> Row | None:
    """The elder's ``family_phones``, ``family_updates`` opt-in and ``language``, or None."""
    e = tables.elders.c
    return session.execute(select(e.family_phones, e.family_updates, e.language).where(e.elder_id == elder_id)).first()


def latest_request_of(session: Session, elder_id: str) -> Row | None:
    """The elder's most recent request (``request_id``, ``service_area``), the one a complaint is about."""
    r = t.care_requests.c
    return session.execute(
        select(r.request_id, r.service_area)
        .where(r.elder_id == elder_id)
        .order_by(r.submitted_at.desc(), r.request_id.desc())
        .limit(1)
    ).first()


def open_jobs(session: Session, caregiver_id: str, statuses: tuple[VisitStatus, ...]) -> list[Row]:
    """The caregiver's visits in ``statuses`` (``scheduled``, ``in-progress``), with the
    offer's short code: (visit_id, request_id, offer_id, short_code, service_area, status,
    planned_start, planned_end, check_in_at), soonest first."""
    v, o, r = t.visits.c, t.offers.c, t.care_requests.c
    return list(
        session.execute(
            select(
                v.visit_id,
                v.request_id,
                o.offer_id,
                o.short_code,
                r.service_area,
                v.status,
                v.planned_start,
                v.planned_end,
                v.check_in_at,
            )
            .join(t.offers, (o.request_id == v.request_id) & (o.caregiver_id == v.caregiver_id))
            .join(t.care_requests, r.request_id == v.request_id)
            .where(v.caregiver_id == caregiver_id, v.status.in_(statuses), o.status == OfferStatus.ACCEPTED)
            .order_by(v.planned_start)
        )
    )


def elder_job_by_code(session: Session, elder_id: str, code: str) -> Row | None:
    """The elder's scheduled or in-progress visit whose offer has short code ``code``:
    (visit_id, request_id, offer_id, caregiver_id, service_area, status, planned_start,
    planned_end, check_in_at); a caregiver keyed it on the elder's phone."""
    v, o, r = t.visits.c, t.offers.c, t.care_requests.c
    return session.execute(
        select(
            v.visit_id,
            v.request_id,
            o.offer_id,
            v.caregiver_id,
            r.service_area,
            v.status,
            v.planned_start,
            v.planned_end,
            v.check_in_at,
        )
        .join(t.offers, (o.request_id == v.request_id) & (o.caregiver_id == v.caregiver_id))
        .join(t.care_requests, r.request_id == v.request_id)
        .where(
            v.elder_id == elder_id,
            v.status.in_((VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS)),
            o.status == OfferStatus.ACCEPTED,
            o.short_code == code,
        )
        .order_by(v.planned_start)
    ).first()
