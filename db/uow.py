"""The SQLAlchemy unit of work behind ``handlers.ports.UnitOfWork``.

``emit`` writes each event to the append-only ``event_log`` and to the
``outbox`` in the same transaction as the state change; ``streams.outbox``
relays the outbox to Kafka. Events are kept until ``commit`` and written
then in one multi-row insert per table (a dispatch decision emits about five
events: ten single-row inserts were the largest share of its database time,
see docs/benchmarks.md). ``claim`` records inbound event ids so a
redelivered event changes nothing (Faust delivers at least once).
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from config import topics
from db import tables
from db.day_plans import plan_of_caregivers, plan_of_requests, replan_rows
from db.session import dialect_insert
from handlers.dispatch.planned import PlannedVisit
from handlers.dispatch.ranking import context_from
from handlers.dispatch.scheduling import RankingContext
from handlers.model import (
    Booking,
    Caregiver,
    CareRequest,
    DomainEvent,
    Elder,
    Feedback,
    Offer,
    OfferStatus,
    ProviderOrganisation,
    RequestStatus,
    Visit,
    VisitStatus,
)

ConcurrencyConflict = StaleDataError
"""Raised at commit when another transaction changed the same request first (optimistic
concurrency on ``care_requests.version``): the change is refused, retry with fresh state."""


class _Repo:
    def __init__(self, session: Session, cls: type) -> None:
        self.session, self.cls = session, cls

    def get(self, key: str) -> Any:
        return self.session.get(self.cls, key)

    def add(self, obj: object) -> None:
        """Insert now: the mapping has no relationships, so flushing at once
        keeps foreign-key order (request before its offer before its visit)."""
        self.session.add(obj)
        self.session.flush()


class _Requests(_Repo):
    def received_in(self, service_area: str) -> list[CareRequest]:
        """The area's requests that are received and not yet held by anyone (batched areas' pool)."""
        return list(
            self.session.scalars(
                select(CareRequest).where(
                    tables.care_requests.c.service_area == service_area,
                    tables.care_requests.c.status == RequestStatus.RECEIVED,
                )
            )
        )

    def followers_of(self, anchor_id: str) -> list[CareRequest]:
        return list(
            self.session.scalars(select(CareRequest).where(tables.care_requests.c.sync_partner_id == anchor_id))
        )


class _Caregivers(_Repo):
    def in_area(self, service_area: str) -> list[Caregiver]:
        return list(
            self.session.scalars(
                select(Caregiver)
                .where(tables.caregivers.c.service_area == service_area)
                .order_by(tables.caregivers.c.caregiver_id)
            )
        )


class _Offers(_Repo):
    def for_request(self, request_id: str) -> list[Offer]:
        return list(
            self.session.scalars(
                select(Offer).where(tables.offers.c.request_id == request_id).order_by(tables.offers.c.created_at)
            )
        )

    def codes_in_use(self, caregiver_id: str) -> set[str]:
        """One query: ``handlers.dispatch.offers.codes_a_reply_may_name``'s rule in SQL."""
        o, v = tables.offers.c, tables.visits.c
        live_visit = (
            select(v.visit_id)
            .where(
                v.request_id == o.request_id,
                v.caregiver_id == o.caregiver_id,
                v.status.in_([VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS]),
            )
            .exists()
        )
        return set(
            self.session.scalars(
                select(o.short_code).where(
                    o.caregiver_id == caregiver_id,
                    (o.status == OfferStatus.PENDING) | ((o.status == OfferStatus.ACCEPTED) & live_visit),
                )
            )
        )


_DEAD = [VisitStatus.CANCELLED, VisitStatus.NO_SHOW]


class _Visits(_Repo):
    def for_request(self, request_id: str) -> Visit | None:
        """The request's live visit (not cancelled, not a no-show), if any."""
        return self.session.scalars(
            select(Visit).where(tables.visits.c.request_id == request_id, tables.visits.c.status.not_in(_DEAD))
        ).first()

    def all_for_request(self, request_id: str) -> list[Visit]:
        return list(self.session.scalars(select(Visit).where(tables.visits.c.request_id == request_id)))

    def for_elder(self, elder_id: str) -> list[Visit]:
        return list(self.session.scalars(select(Visit).where(tables.visits.c.elder_id == elder_id)))

    def for_caregiver(self, caregiver_id: str) -> list[Visit]:
        return list(self.session.scalars(select(Visit).where(tables.visits.c.caregiver_id == caregiver_id)))


class SqlUnitOfWork:
    """Use as ``with SqlUnitOfWork(factory) as uow: ...; uow.commit()``;
    leaving the block without commit rolls back."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def __enter__(self) -> SqlUnitOfWork:
        self.session = self.factory()
        self._events: list[tuple[str, DomainEvent]] = []
        self.written: list[Any] = []
        #: called with the outbox rows just before the commit (the relay reserves them)
        self.on_written: Callable[[list[Any]], None] | None = None
        self.requests = _Requests(self.session, CareRequest)
        self.elders = _Repo(self.session, Elder)
        self.caregivers = _Caregivers(self.session, Caregiver)
        self.offers = _Offers(self.session, Offer)
        self.visits = _Visits(self.session, Visit)
        self.providers = _Repo(self.session, ProviderOrganisation)
        self.feedback = _Repo(self.session, Feedback)
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()  # uncommitted work is rolled back; loaded objects stay readable

    def bookings(self, caregiver_ids: Iterable[str]) -> dict[str, list[Booking]]:
        ids = list(caregiver_ids)
        held: dict[str, list[Booking]] = {c: [] for c in ids}
        live = select(Visit).where(
            tables.visits.c.caregiver_id.in_(ids),
            tables.visits.c.status.not_in([VisitStatus.CANCELLED, VisitStatus.NO_SHOW]),
        )
        for v in self.session.scalars(live):
            held[v.caregiver_id].append(Booking(v.request_id, v.location_index, v.planned_start, v.expected_end))
        pending = (
            select(Offer, tables.care_requests.c.location_index)
            .join(tables.care_requests, tables.care_requests.c.request_id == tables.offers.c.request_id)
            .where(tables.offers.c.caregiver_id.in_(ids), tables.offers.c.status == OfferStatus.PENDING)
        )
        for offer, loc in self.session.execute(pending):
            held[offer.caregiver_id].append(Booking(offer.request_id, loc, offer.planned_start, offer.planned_end))
        return held

    def ranking_context(self, request: CareRequest, now: datetime, explore: bool = False) -> RankingContext:
        day = request.window_start.replace(hour=0, minute=0, second=0, microsecond=0)
        live = list(
            self.session.scalars(
                select(Visit).where(
                    tables.visits.c.status.not_in(_DEAD),
                    tables.visits.c.planned_start >= day - timedelta(days=1),
                    tables.visits.c.planned_start < day + timedelta(days=2),
                )
            )
        )
        area_providers = select(tables.caregivers.c.provider_id).where(
            tables.caregivers.c.service_area == request.service_area
        )
        providers = list(
            self.session.scalars(
                select(ProviderOrganisation).where(tables.provider_organisations.c.provider_id.in_(area_providers))
            )
        )
        return context_from(
            request,
            now,
            self.visits.for_elder(request.elder_id),
            live,
            providers,
            explore,
            self.elders.get(request.elder_id),
        )

    def planned_visits(self, request_ids: Iterable[str]) -> dict[str, PlannedVisit]:
        """The plan's slots of ``request_ids`` (``db.day_plans.plan_of_requests``)."""
        return plan_of_requests(self.session, request_ids)

    def day_plan(self, caregiver_ids: Iterable[str]) -> dict[str, PlannedVisit]:
        """The plan's rows of ``caregiver_ids``, with what the plan knew of each request before it
        arrived (its window), so a repair may move a slot whose request has not arrived
        (``handlers.dispatch.repair``); a row stored before migration 0020 stays put."""
        return plan_of_caregivers(self.session, caregiver_ids)

    def replan(self, visits: Mapping[str, PlannedVisit]) -> None:
        """Update each request's plan row in this transaction (a repair moved it); a request
        without a row gets one."""
        replan_rows(self.session, visits)

    def claim(self, event_id: str) -> bool:
        """Atomic: ``INSERT … ON CONFLICT DO NOTHING``; a concurrent claim of the
        same id waits for the first transaction and then gets False."""
        result = self.session.execute(
            dialect_insert(self.session, tables.processed_events)
            .values(event_id=event_id, processed_at=datetime.now(UTC))
            .on_conflict_do_nothing()
            .returning(tables.processed_events.c.event_id)
        )
        return result.first() is not None

    def claimed(self, event_id: str) -> bool:
        """Whether ``event_id`` is in ``processed_events`` (claimed and committed, or claimed in
        this transaction)."""
        pe = tables.processed_events.c
        return self.session.execute(select(pe.event_id).where(pe.event_id == event_id)).first() is not None

    def emit(self, event: DomainEvent) -> None:
        """Keep ``event`` for the ``event_log`` and the ``outbox``; written by ``commit``, in emit order."""
        self._events.append((str(uuid.uuid4()), event))

    def commit(self) -> None:
        """Flush the state, write the events, commit; ``written`` then holds the outbox rows
        (``seq``, ``topic``, ``key``, ``value``) for the relay to publish at once."""
        self.session.flush()
        events, self._events = self._events, []
        self.written = write_events(self.session, events)
        if self.on_written is not None and self.written:
            self.on_written(self.written)
        self.session.commit()

    def rollback(self) -> None:
        self._events = []
        self.session.rollback()


def write_events(session: Session, events: list[tuple[str, DomainEvent]]) -> list[Any]:
    """Append ``events`` ([(event id, event)], in emit order) to the ``event_log`` and the
    ``outbox``, one multi-row insert per table; returns the outbox rows written
    (``seq``, ``topic``, ``key``, ``value``), in order, for the relay."""
    if not events:
        return []
    now = datetime.now(UTC)
    log, out = [], []
    for event_id, event in events:
        value = envelope(event, event_id)
        log.append(
            {"event_id": event_id, "type": event.type, "subject": event.subject, "time": event.time, "payload": value}
        )
        out.append(
            {
                "event_id": event_id,
                "key": event.key,
                "value": value,
                "created_at": now,
                "topic": topics.SCHEDULER if event.topic_role == "schedule" else topics.BY_ROLE[event.topic_role].name,
            }
        )
    # RETURNING makes SQLAlchemy send the rows as multi-row INSERTs of one cached statement
    # ("insertmanyvalues"): without it, a list of parameters is one statement per row on psycopg 3
    # (its pipelined executemany, 19 per care request in the lifecycle bench), and an INSERT built
    # with .values(rows) is compiled afresh for every batch (a third of write_events in a py-spy profile)
    session.execute(tables.event_log.insert().returning(tables.event_log.c.event_id), log).all()
    o = tables.outbox.c
    return list(
        session.execute(
            tables.outbox.insert().returning(o.seq, o.topic, o.key, o.value, sort_by_parameter_order=True), out
        ).all()
    )


def envelope(event: DomainEvent, event_id: str, source: str = "careline") -> dict:
    """A CloudEvents 1.0 structured envelope with the payload under ``data``."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event.type,
        "subject": event.subject,
        "time": event.time.isoformat(),
        "schema_version": 1,
        "data": event.payload,
    }


def is_concurrency_conflict(exc: BaseException) -> bool:
    """True for a lost race that a retry resolves: a stale version
    (optimistic concurrency on ``care_requests.version``), or PostgreSQL
    aborting one of two transactions (deadlock 40P01, serialization 40001),
    or SQLite refusing a second writer ("database is locked")."""
    if isinstance(exc, StaleDataError):
        return True
    orig = getattr(exc, "orig", None)
    if isinstance(orig, sqlite3.OperationalError):
        return "locked" in str(orig)
    return getattr(orig, "sqlstate", None) in ("40P01", "40001")


def database_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "the database is away for now" (connection refused
    or dropped, server shutting down, SQLite locked): worth waiting for, never a
    reason to dead-letter a record."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
