"""Notices: who people are for ``handlers.channels.notices`` (the register behind
``NoticeRegister``), and the ``notices`` table: what was sent to whom, on which
channel, with which status; the app's inbox is the same table.

Functions take a ``Session`` inside the caller's transaction; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlalchemy import String, bindparam, cast, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from db import tables
from db.channels import insert_ignore
from handlers.channels.notices import Household, Person
from handlers.channels.phone import takes_sms
from handlers.model import CareRequest, Offer


def _has_app(kind: str, subject_id: Any) -> Any:
    """Whether the person has an app token not revoked, as a column of the person's own query
    (one query per person instead of two: the notices agent's reads were most of its time)."""
    t = tables.app_tokens.c
    return (
        select(t.token_hash)
        .where(t.subject_kind == kind, t.subject_id == subject_id, t.revoked_at.is_(None))
        .exists()
        .label("has_app")
    )


# The register's statements, built once: SQLAlchemy computes a statement's cache key on every
# execution of a new statement object, a tenth of the notices agent's time in a py-spy profile
# of the lifecycle bench when each read built its own.
_c, _e, _a = tables.caregivers.c, tables.elders.c, tables.elder_addresses.c
_CAREGIVER = select(_c.phone, _c.language, _has_app("caregiver", _c.caregiver_id)).where(
    _c.caregiver_id == bindparam("person_id")
)
_HOUSEHOLD = (
    select(_e.phone, _e.language, _e.family_phones, _e.family_updates, _a.address, _a.neighbourhood)
    .add_columns(_has_app("elder", _e.elder_id))
    .outerjoin(tables.elder_addresses, _a.elder_id == _e.elder_id)
    .where(_e.elder_id == bindparam("person_id"))
)
_AREA_NAME = select(tables.service_areas.c.name).where(tables.service_areas.c.service_area == bindparam("area"))
_REQUESTS = select(CareRequest).where(tables.care_requests.c.request_id.in_(bindparam("ids", expanding=True)))
_OFFERS = select(Offer).where(tables.offers.c.offer_id.in_(bindparam("ids", expanding=True)))


class SqlNoticeRegister:
    """``handlers.channels.notices.NoticeRegister`` on the database: caregivers' and
    elders' phones, languages, app tokens, family contacts and addresses."""

    def __init__(self, session: Session) -> None:
        self.session = session
        #: people and area names read in this transaction (a batch asks for the same ones often)
        self._caregivers: dict[str, Person | None] = {}
        self._households: dict[str, Household | None] = {}
        self._area_names: dict[str, str | None] = {}
        #: requests and offers read by ``prefetch`` (None: asked for, not stored)
        self._requests: dict[str, CareRequest | None] = {}
        self._offers: dict[str, Offer | None] = {}

    def prefetch(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Read the requests and offers ``events`` name (``data.request_id``, ``data.offer_id``)
        in one query each, so that ``request`` and ``offer`` find them without a query."""
        request_ids: set[str] = set()
        offer_ids: set[str] = set()
        for event in events:
            data = event.get("data")
            if isinstance(data, Mapping):
                if isinstance(data.get("request_id"), str):
                    request_ids.add(data["request_id"])
                if isinstance(data.get("offer_id"), str):
                    offer_ids.add(data["offer_id"])
        request_ids -= self._requests.keys()
        offer_ids -= self._offers.keys()
        if request_ids:
            found = {r.request_id: r for r in self.session.scalars(_REQUESTS, {"ids": sorted(request_ids)})}
            self._requests.update({rid: found.get(rid) for rid in request_ids})
        if offer_ids:
            got = {o.offer_id: o for o in self.session.scalars(_OFFERS, {"ids": sorted(offer_ids)})}
            self._offers.update({oid: got.get(oid) for oid in offer_ids})

    def caregiver(self, caregiver_id: str) -> Person | None:
        if caregiver_id not in self._caregivers:
            self._caregivers[caregiver_id] = self._caregiver(caregiver_id)
        return self._caregivers[caregiver_id]

    def _caregiver(self, caregiver_id: str) -> Person | None:
        row = self.session.execute(_CAREGIVER, {"person_id": caregiver_id}).first()
        if row is None:
            return None
        app = bool(row.has_app)
        if not row.phone and not app:
            return None
        return Person("caregiver", caregiver_id, row.phone, row.language, app, takes_sms(row.phone))

    def household(self, elder_id: str) -> Household | None:
        if elder_id not in self._households:
            self._households[elder_id] = self._household(elder_id)
        return self._households[elder_id]

    def _household(self, elder_id: str) -> Household | None:
        row = self.session.execute(_HOUSEHOLD, {"person_id": elder_id}).first()
        if row is None:
            return None
        app = bool(row.has_app)
        elder = Person("elder", elder_id, row.phone, row.language, app, takes_sms(row.phone))
        family = tuple(
            Person("family", elder_id, phone, row.language, False, takes_sms(phone))
            for phone in (row.family_phones or [])
            if isinstance(phone, str) and phone
        )
        return Household(elder, family, bool(row.family_updates), row.address, row.neighbourhood)

    def request(self, request_id: str) -> CareRequest | None:
        if request_id in self._requests:
            return self._requests[request_id]
        return self.session.get(CareRequest, request_id)

    def offer(self, offer_id: str) -> Offer | None:
        if offer_id in self._offers:
            return self._offers[offer_id]
        return self.session.get(Offer, offer_id)

    def area_name(self, service_area: str) -> str | None:
        if service_area not in self._area_names:
            self._area_names[service_area] = self.session.execute(_AREA_NAME, {"area": service_area}).scalar()
        return self._area_names[service_area]


@dataclass(frozen=True)
class NoticeRow:
    """A notice as stored: ``parts`` are the SMS it takes (one text for app and voice)."""

    notice_id: str
    event_id: str
    request_id: str
    kind: str
    recipient_role: str
    recipient_id: str
    channel: str
    to_phone: str | None
    language: str | None
    parts: tuple[str, ...]
    segments: int


def add(session: Session, row: NoticeRow, status: str, now: datetime) -> bool:
    """Store a notice about to be sent (``status`` ``sending``, or ``queued`` for the
    app); False when its id is stored already (the same event told twice)."""
    return insert_ignore(
        session,
        tables.notices,
        notice_id=row.notice_id,
        event_id=row.event_id,
        request_id=row.request_id,
        kind=row.kind,
        recipient_role=row.recipient_role,
        recipient_id=row.recipient_id,
        channel=row.channel,
        to_phone=row.to_phone,
        language=row.language,
        body="\n".join(row.parts),
        messages=len(row.parts),
        segments=row.segments,
        status=status,
        created_at=now,
    )


def finish(
    session: Session, notice_id: str, status: str, now: datetime, sid: str | None = None, error: str | None = None
) -> None:
    """Record how the send went: ``sent`` (with the first message's ``sid``), ``failed`` or ``opted_out``."""
    n = tables.notices.c
    session.execute(
        update(tables.notices).where(n.notice_id == notice_id).values(status=status, sid=sid, error=error, sent_at=now)
    )


def for_requests(session: Session, request_ids: Iterable[str]) -> list[Row]:
    """Every notice about these requests, oldest first, with the delivery status of its
    first message (``delivery``, from ``message_status``)."""
    n, m = tables.notices.c, tables.message_status.c
    ids = list(request_ids)
    if not ids:
        return []
    return list(
        session.execute(
            select(tables.notices, m.status.label("delivery"))
            .outerjoin(tables.message_status, m.sid == n.sid)
            .where(n.request_id.in_(ids))
            .order_by(n.created_at, n.notice_id)
        )
    )


def since(session: Session, after: datetime) -> list[Row]:
    """Every notice created at or after ``after``, oldest first."""
    n = tables.notices.c
    return list(session.execute(select(tables.notices).where(n.created_at >= after).order_by(n.created_at)))


def app_inbox(session: Session, role: str, person_id: str, limit: int = 50) -> list[Row]:
    """The app notices of a caregiver (``role`` caregiver) or an elder (``elder``), newest first."""
    n = tables.notices.c
    return list(
        session.execute(
            select(n.notice_id, n.kind, n.request_id, n.body, n.status, n.created_at)
            .where(n.recipient_role == role, n.recipient_id == person_id, n.channel == "app")
            .order_by(n.created_at.desc())
            .limit(limit)
        )
    )


def mark_delivered(session: Session, notice_ids: list[str], now: datetime) -> None:
    """App notices the app fetched: ``queued`` -> ``delivered``."""
    if notice_ids:
        n = tables.notices.c
        session.execute(
            update(tables.notices)
            .where(n.notice_id.in_(notice_ids), n.status == "queued")
            .values(status="delivered", sent_at=now)
        )


def notice(session: Session, notice_id: str) -> Row | None:
    return session.execute(select(tables.notices).where(tables.notices.c.notice_id == notice_id)).first()


def undelivered_count(session: Session, after: datetime) -> int:
    """Notices since ``after`` that failed (not opted out: the person asked for no SMS)."""
    n = tables.notices.c
    return len(session.execute(select(n.notice_id).where(n.created_at >= after, n.status == "failed")).all())


def family_like(phone: str) -> Any:
    """A filter for elders with ``phone`` among their family contacts (JSON list as text)."""
    return cast(tables.elders.c.family_phones, String).like(f'%"{phone}"%')
