"""The dispatch state a worker owns (issue 19): per service area of the partitions it holds,
the roster, the live requests with their offers and visits, each caregiver's bookings (visits
ending in the last ``BOOKED_SINCE`` or later, and pending offers) and the elders' visits of
the last ``CONTINUITY`` (for continuity), in memory, behind the ``handlers.ports.UnitOfWork``
port (``PartitionUnitOfWork``). The database stays the durable record.

- **Loaded when first needed**, area by area, after the worker got the area's partition:
  a handful of indexed queries bounded by the area's live state, never by the history
  (``load``). Dropped when the partition is revoked (``drop_partitions``), when the area was
  idle for ``idle_seconds``, or when more than ``max_areas`` are held (least recently used).
- **No per-decision read that grows with the database**: a decision reads memory; a request,
  offer or visit not in memory (a late answer to a closed request) is one read by primary key.
- **Written in bulk**: a batch of inputs is one transaction (``Batch``): the event-id claims in
  one statement, the state changes flushed together, the event log and the outbox in one insert
  each.
- **Another writer is seen, never overwritten**: every transaction that changes an area's
  state raises its counter (``area_versions``, ``db.area_versions``); a batch raises the
  counters of its areas from the values it loaded and refuses to commit (``ConcurrencyConflict``)
  when one moved: the areas are dropped, reloaded, and the batch runs again. An operator's
  reassignment, a register import, the batch matcher and a worker that held the partition
  before a rebalance are all such writers.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Callable, Iterable, Iterator, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db import tables
from db.area_versions import OWNER, areas_of, raise_versions
from db.batches import claim_many
from db.day_plans import plan_of_caregivers, plan_of_requests, replan_rows
from db.register import read_clock
from db.session import dialect_insert
from db.uow import ConcurrencyConflict, write_events
from handlers.dispatch.offers import codes_a_reply_may_name
from handlers.dispatch.planned import PlannedVisit
from handlers.dispatch.ranking import VisitFacts, context_from
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

#: visits that ended before now minus this are no caregiver's booking any more (a gap before
#: now is never offered: ``handlers.dispatch.scheduling.best_insertion``)
BOOKED_SINCE = timedelta(days=2)
#: an elder's caregivers of the last 30 days count for continuity (``handlers.dispatch.ranking``)
CONTINUITY = timedelta(days=30)
DEAD = frozenset({VisitStatus.CANCELLED, VisitStatus.NO_SHOW})
LIVE = [s for s in RequestStatus if not s.is_final]
VISITING = frozenset({VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS})
CHUNK = 1000


@dataclass(frozen=True)
class PastVisit:
    """An elder's earlier visit, as continuity reads it (``handlers.dispatch.ranking.VisitFacts``)."""

    caregiver_id: str
    status: VisitStatus
    planned_start: datetime


class AreaState:
    """One service area in memory. ``requests`` holds the live ones (and closed ones read again
    by id), each with all its offers and visits; ``visits_of`` / ``offers_of`` a caregiver's
    visits in the booking window and the offers of requests in memory; ``past`` an elder's
    visits of the last 30 days."""

    def __init__(self, area: str, version: int) -> None:
        self.area, self.version = area, version
        self.roster: dict[str, Caregiver] = {}
        self.requests: dict[str, CareRequest] = {}
        self.offers: dict[str, list[Offer]] = {}
        self.visits: dict[str, list[Visit]] = {}
        self.followers: dict[str, list[CareRequest]] = {}
        self.visits_of: dict[str, list[Visit]] = {}
        self.offers_of: dict[str, list[Offer]] = {}
        self.past: dict[str, list[VisitFacts]] = {}
        self.elders: dict[str, Elder] = {}
        self.used_at = time.monotonic()

    def objects(self) -> Iterator[object]:
        yield from self.roster.values()
        yield from self.requests.values()
        for offers in self.offers.values():
            yield from offers
        for visits in self.visits_of.values():
            yield from visits
        for visits in self.visits.values():
            yield from visits
        yield from self.elders.values()

    def providers(self) -> set[str]:
        return {c.provider_id for c in self.roster.values()}


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


class PartitionState:
    """Every area this worker holds, over one long-lived session (``OWNER``: it raises its
    areas' counters itself). Used by one thread at a time (the dispatch agent's batches)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        idle_seconds: float = 600.0,
        max_areas: int = 2000,
        provider_refresh_seconds: float = 2.0,
    ) -> None:
        self.factory = factory
        self.idle_seconds, self.max_areas = idle_seconds, max_areas
        self.provider_refresh_seconds = provider_refresh_seconds
        self.session = self._new_session()
        self.areas: OrderedDict[str, AreaState] = OrderedDict()
        self.partition_of: dict[str, int] = {}
        self.request_area: dict[str, str] = {}
        self.offer_index: dict[str, Offer] = {}
        self.visit_index: dict[str, Visit] = {}
        self.caregiver_area: dict[str, str] = {}
        self.elder_index: dict[str, Elder] = {}
        self.providers: dict[str, ProviderOrganisation] = {}
        self._providers_read = 0.0
        self.now = datetime.now(UTC)
        #: areas used by the batch under way (their counters are raised at its commit)
        self.touched: set[str] = set()
        #: request ids the batch under way read and found not stored (``prefetch_requests``)
        self.absent: set[str] = set()
        self.loads = 0

    def _new_session(self) -> Session:
        session = self.factory(autoflush=False)
        session.info[OWNER] = True
        return session

    # --- areas -------------------------------------------------------------------------------
    def area(self, name: str) -> AreaState:
        """The area's state, loaded if this worker does not hold it yet."""
        state = self.areas.get(name)
        if state is None:
            state = self.areas[name] = self.load(name)
        else:
            self.areas.move_to_end(name)
        state.used_at = time.monotonic()
        self.touched.add(name)
        return state

    def load(self, name: str) -> AreaState:
        """Read one area: its counter first (a change after it refuses our next commit), then
        the roster, the live requests with their offers and visits, the caregivers' bookings
        and the elders' recent visits. Each query is bounded by the area's live state."""
        s, t = self.session, tables
        self.loads += 1
        version = s.execute(select(t.area_versions.c.version).where(t.area_versions.c.service_area == name)).scalar()
        if version is None:
            s.execute(dialect_insert(s, t.area_versions).values(service_area=name, version=0).on_conflict_do_nothing())
            version = s.execute(
                select(t.area_versions.c.version).where(t.area_versions.c.service_area == name)
            ).scalar_one()
        state = AreaState(name, version)
        fresh = {"populate_existing": True}
        for c in s.scalars(
            select(Caregiver).where(t.caregivers.c.service_area == name).order_by(t.caregivers.c.caregiver_id),
            execution_options=fresh,
        ):
            state.roster[c.caregiver_id] = c
            state.visits_of[c.caregiver_id] = []
            state.offers_of[c.caregiver_id] = []
            self.caregiver_area[c.caregiver_id] = name
        live = list(
            s.scalars(
                select(CareRequest).where(t.care_requests.c.service_area == name, t.care_requests.c.status.in_(LIVE)),
                execution_options=fresh,
            )
        )
        self._adopt_requests(state, live)
        if state.roster:
            since = self.now - BOOKED_SINCE
            for ids in _chunks(list(state.roster)):
                for v in s.scalars(
                    select(Visit).where(t.visits.c.caregiver_id.in_(ids), t.visits.c.planned_end >= since),
                    execution_options=fresh,
                ):
                    self._index_visit(state, v, booking_only=v.request_id not in state.requests)
        vc, ec = t.visits.c, t.elders.c
        for elder_id, caregiver_id, status, start in s.execute(
            select(vc.elder_id, vc.caregiver_id, vc.status, vc.planned_start)
            .join(t.elders, ec.elder_id == vc.elder_id)
            .where(ec.service_area == name, vc.planned_start >= self.now - CONTINUITY)
        ):
            state.past.setdefault(elder_id, []).append(PastVisit(caregiver_id, VisitStatus(status), start))
        missing = state.providers() - set(self.providers)
        if missing:
            for p in s.scalars(select(ProviderOrganisation).where(t.provider_organisations.c.provider_id.in_(missing))):
                self.providers[p.provider_id] = p
        return state

    def _adopt_requests(self, state: AreaState, requests: list[CareRequest]) -> None:
        """Put ``requests`` in the area with all their offers and visits (read here)."""
        s, t = self.session, tables
        ids = [r.request_id for r in requests]
        for r in requests:
            state.requests[r.request_id] = r
            state.offers.setdefault(r.request_id, [])
            state.visits.setdefault(r.request_id, [])
            self.request_area[r.request_id] = state.area
            if r.sync_partner_id:
                state.followers.setdefault(r.sync_partner_id, []).append(r)
        fresh = {"populate_existing": True}
        for chunk in _chunks(ids):
            for o in s.scalars(
                select(Offer).where(t.offers.c.request_id.in_(chunk)).order_by(t.offers.c.created_at),
                execution_options=fresh,
            ):
                self._index_offer(state, o)
            for v in s.scalars(select(Visit).where(t.visits.c.request_id.in_(chunk)), execution_options=fresh):
                self._index_visit(state, v)

    def _index_offer(self, state: AreaState, o: Offer) -> None:
        if o.offer_id in self.offer_index:
            return
        self.offer_index[o.offer_id] = o
        state.offers.setdefault(o.request_id, []).append(o)
        state.offers_of.setdefault(o.caregiver_id, []).append(o)

    def _index_visit(self, state: AreaState, v: Visit, booking_only: bool = False) -> None:
        if v.visit_id in self.visit_index:
            if not booking_only and v not in state.visits.setdefault(v.request_id, []):
                state.visits[v.request_id].append(v)
            return
        self.visit_index[v.visit_id] = v
        state.visits_of.setdefault(v.caregiver_id, []).append(v)
        if not booking_only:
            state.visits.setdefault(v.request_id, []).append(v)

    def _in_memory(self, request_id: str) -> CareRequest | None:
        area = self.request_area.get(request_id)
        if area is not None and area in self.areas:
            return self.areas[area].requests.get(request_id)
        return None

    def request(self, request_id: str) -> CareRequest | None:
        """A request from memory, or read by id (with its offers and visits) into its area; None
        for an id the batch under way found not stored (``prefetch_requests``) and did not add."""
        found = self._in_memory(request_id)
        if found is not None:
            return found
        if request_id in self.absent:
            return None
        r = self.session.get(CareRequest, request_id, populate_existing=True)
        if r is None:
            return None
        state = self.area(r.service_area)
        if request_id not in state.requests:  # a closed request asked for again
            self._adopt_requests(state, [r])
        return state.requests[request_id]

    def prefetch_requests(self, request_ids: Iterable[str]) -> None:
        """Read the requests of ``request_ids`` not in memory in one query per area's adoption
        (a batch's new requests, which a use case first looks up by id: one read each, a quarter
        of the dispatch agent's time in the lifecycle bench). Those found join their areas as
        ``request`` would put them; the others are noted absent for the batch under way (its
        transaction), so that ``request`` answers None without asking the database again."""
        missing = [r for r in dict.fromkeys(request_ids) if r and self._in_memory(r) is None]
        found: dict[str, list[CareRequest]] = {}
        for chunk in _chunks(missing):
            for r in self.session.scalars(
                select(CareRequest).where(tables.care_requests.c.request_id.in_(chunk)),
                execution_options={"populate_existing": True},
            ):
                found.setdefault(r.service_area, []).append(r)
        for area, requests in found.items():
            state = self.area(area)
            self._adopt_requests(state, [r for r in requests if r.request_id not in state.requests])
        self.absent = set(missing) - {r.request_id for requests in found.values() for r in requests}

    def drop(self, name: str) -> None:
        """Forget one area (its objects leave the session: a reload reads them afresh)."""
        state = self.areas.pop(name, None)
        if state is None:
            return
        for obj in state.objects():
            if obj in self.session:
                self.session.expunge(obj)
        for rid in state.requests:
            self.request_area.pop(rid, None)
        for offers in state.offers.values():
            for o in offers:
                self.offer_index.pop(o.offer_id, None)
        for visits in [*state.visits_of.values(), *state.visits.values()]:
            for v in visits:
                self.visit_index.pop(v.visit_id, None)
        for cid in state.roster:
            self.caregiver_area.pop(cid, None)
        for eid in state.elders:
            self.elder_index.pop(eid, None)

    def drop_partitions(self, partitions: Iterable[int]) -> list[str]:
        """Forget every area of ``partitions`` (revoked); returns the areas dropped."""
        gone = set(partitions)
        names = [a for a in self.areas if self.partition_of.get(a) in gone]
        for name in names:
            self.drop(name)
        return names

    def drop_all(self) -> None:
        """Forget everything and start a fresh session (after a failed transaction)."""
        try:
            self.session.rollback()
        finally:
            self.session.close()
        self.session = self._new_session()
        self.areas.clear()
        self.request_area.clear()
        self.offer_index.clear()
        self.visit_index.clear()
        self.caregiver_area.clear()
        self.elder_index.clear()
        self.providers.clear()
        self._providers_read = 0.0
        self.touched = set()
        self.absent = set()

    def tidy(self, touched: Iterable[str]) -> None:
        """After a commit: closed requests leave memory (their visits stay as bookings), bookings
        that ended before the window go, idle and surplus areas are dropped."""
        since = self.now - BOOKED_SINCE
        for name in touched:
            state = self.areas.get(name)
            if state is None:
                continue
            for rid in [rid for rid, r in state.requests.items() if r.status.is_final]:
                self._forget_request(state, rid)
            for cid, visits in state.visits_of.items():
                if any(v.planned_end < since for v in visits):
                    state.visits_of[cid] = [v for v in visits if v.planned_end >= since]
        cutoff = time.monotonic() - self.idle_seconds
        for name in [n for n, st in self.areas.items() if st.used_at < cutoff]:
            self.drop(name)
        while len(self.areas) > self.max_areas:
            self.drop(next(iter(self.areas)))

    def _forget_request(self, state: AreaState, rid: str) -> None:
        r = state.requests.pop(rid)
        self.request_area.pop(rid, None)
        for o in state.offers.pop(rid, []):
            self.offer_index.pop(o.offer_id, None)
            held = state.offers_of.get(o.caregiver_id)
            if held is not None and o in held:
                held.remove(o)
            self.session.expunge(o) if o in self.session else None
        state.visits.pop(rid, None)  # the visits stay in visits_of (bookings) and past (continuity)
        if r.sync_partner_id in state.followers:
            state.followers[r.sync_partner_id] = [f for f in state.followers[r.sync_partner_id] if f is not r]
        self.session.expunge(r) if r in self.session else None

    def fresh_providers(self) -> None:
        """Re-read the held providers' scores at most every ``provider_refresh_seconds``
        (the evaluation loop updates them every few seconds)."""
        if not self.providers or time.monotonic() - self._providers_read < self.provider_refresh_seconds:
            return
        self._providers_read = time.monotonic()
        ids = list(self.providers)
        for chunk in _chunks(ids):
            for p in self.session.scalars(
                select(ProviderOrganisation).where(tables.provider_organisations.c.provider_id.in_(chunk)),
                execution_options={"populate_existing": True},
            ):
                self.providers[p.provider_id] = p

    # --- a batch -----------------------------------------------------------------------------
    def batch(self) -> Batch:
        return Batch(self)


class Batch:
    """One transaction for many inputs: ``claim_all`` their ids, run each through the message
    bus with ``uow``, then ``commit`` (counters checked and raised, state flushed, events
    written). Leaving without ``commit`` (an error) drops every area: they reload from the
    database."""

    def __init__(self, state: PartitionState) -> None:
        self.state = state
        self.events: list[tuple[str, DomainEvent]] = []

    @property
    def touched(self) -> set[str]:
        return self.state.touched

    def __enter__(self) -> Batch:
        self.state.touched = set()
        self.state.absent = set()
        clock = read_clock(self.state.session)
        self.clock_now = clock.now()
        self.clock_speed = clock.speed
        self.state.now = self.clock_now
        self.state.fresh_providers()
        self.uow = PartitionUnitOfWork(self)
        self._done = False
        return self

    def __exit__(self, *exc: object) -> None:
        self.state.absent = set()
        if not self._done:
            self.state.drop_all()

    def claim_all(self, event_ids: list[str]) -> set[str]:
        """Claim every id in one statement; the ids claimed now (the others were seen before)."""
        return claim_many(self.state.session, event_ids)

    def prefetch_requests(self, request_ids: Iterable[str]) -> None:
        """The batch's new requests read in one query, not one each (``PartitionState.prefetch_requests``)."""
        self.state.prefetch_requests(request_ids)

    def area(self, name: str, partition: int | None = None) -> AreaState:
        """The in-memory state of service area ``name`` (loaded from the database on first use),
        noting the Kafka ``partition`` that carries it when given."""
        if partition is not None:
            self.state.partition_of[name] = partition
        return self.state.area(name)

    def commit(self, reserve: Callable[[list[Any]], None] | None = None) -> list[Any]:
        """Flush the state, raise the touched areas' counters (refused if one moved), write the
        events, hand the outbox rows to ``reserve`` and commit; returns those rows."""
        s = self.state.session
        self._cover_written(s)
        s.flush()
        self._raise_counters()
        rows = write_events(s, self.events)
        if reserve is not None and rows:
            reserve(rows)
        s.commit()
        self._done = True
        self.state.absent = set()
        self.events = []
        self.state.tidy(self.touched)
        return rows

    def _cover_written(self, s: Session) -> None:
        """Every area this batch writes is checked at commit, not only those it asked for by name:
        a use case can reach an object through an index (an offer by id) without ``area``. An
        area written but not held (its objects read by id) has its counter raised for the others."""
        with s.no_autoflush:
            written = areas_of(s, [*s.new, *s.dirty, *s.deleted])
        for name in written:
            if name in self.state.areas:
                self.state.touched.add(name)
        loose = sorted(a for a in written if a not in self.state.areas)
        if loose:
            raise_versions(s, loose)

    def _raise_counters(self) -> None:
        held = {a: self.state.areas[a].version for a in self.touched if a in self.state.areas}
        if not held:
            return
        av = tables.area_versions
        moved = []
        got: dict[str, int] = dict(
            self.state.session.execute(
                av.update()
                .where(av.c.service_area.in_(sorted(held)))
                .values(version=av.c.version + 1)
                .returning(av.c.service_area, av.c.version)
            ).all()
        )
        for area, version in held.items():
            if got.get(area) != version + 1:
                moved.append(area)
        if moved:
            raise ConcurrencyConflict(f"service areas changed by another writer: {', '.join(sorted(moved)[:5])}")
        for area in held:
            self.state.areas[area].version += 1


class _Requests:
    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    def get(self, request_id: str) -> CareRequest | None:
        return self.batch.state.request(request_id)

    def add(self, request: CareRequest) -> None:
        state = self.batch.area(request.service_area)
        self.batch.state.session.add(request)
        state.requests[request.request_id] = request
        state.offers[request.request_id] = []
        state.visits[request.request_id] = []
        self.batch.state.request_area[request.request_id] = state.area
        if request.sync_partner_id:
            state.followers.setdefault(request.sync_partner_id, []).append(request)

    def followers_of(self, anchor_id: str) -> list[CareRequest]:
        area = self.batch.state.request_area.get(anchor_id)
        if area is None or area not in self.batch.state.areas:
            return []
        return list(self.batch.state.areas[area].followers.get(anchor_id, []))


class _Elders:
    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    def get(self, elder_id: str) -> Elder | None:
        state = self.batch.state
        found = state.elder_index.get(elder_id)
        if found is not None:
            return found
        elder = state.session.get(Elder, elder_id, populate_existing=True)
        if elder is not None:
            state.area(elder.service_area).elders[elder_id] = elder
            state.elder_index[elder_id] = elder
        return elder

    def prefetch(self, elder_ids: Iterable[str]) -> None:
        """Read the elders not in memory in one query (a batch's new requests)."""
        state = self.batch.state
        missing = [e for e in dict.fromkeys(elder_ids) if e not in state.elder_index]
        for chunk in _chunks(missing):
            for elder in state.session.scalars(
                select(Elder).where(tables.elders.c.elder_id.in_(chunk)), execution_options={"populate_existing": True}
            ):
                state.area(elder.service_area).elders[elder.elder_id] = elder
                state.elder_index[elder.elder_id] = elder


class _Caregivers:
    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    def get(self, caregiver_id: str) -> Caregiver | None:
        area = self.batch.state.caregiver_area.get(caregiver_id)
        if area is None or area not in self.batch.state.areas:
            c = self.batch.state.session.get(Caregiver, caregiver_id)
            if c is None:
                return None
            area = c.service_area
        return self.batch.area(area).roster.get(caregiver_id)

    def in_area(self, service_area: str) -> list[Caregiver]:
        return list(self.batch.area(service_area).roster.values())


class _Offers:
    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    def get(self, offer_id: str) -> Offer | None:
        found = self.batch.state.offer_index.get(offer_id)
        if found is None:
            rid = self.batch.state.session.execute(
                select(tables.offers.c.request_id).where(tables.offers.c.offer_id == offer_id)
            ).scalar()
            if rid is None or self.batch.state.request(rid) is None:
                return None
            found = self.batch.state.offer_index.get(offer_id)
        return found

    def add(self, offer: Offer) -> None:
        area = self.batch.state.request_area[offer.request_id]
        self.batch.state.session.add(offer)
        self.batch.state._index_offer(self.batch.area(area), offer)

    def for_request(self, request_id: str) -> list[Offer]:
        if self.batch.state.request(request_id) is None:
            return []
        area = self.batch.state.areas[self.batch.state.request_area[request_id]]
        return list(area.offers.get(request_id, []))

    def codes_in_use(self, caregiver_id: str) -> set[str]:
        """From the area state in memory: a caregiver's pending offers and live visits are those of
        live requests, which the area holds (``handlers.ports.OfferRepository.codes_in_use``)."""
        area_name = self.batch.state.caregiver_area.get(caregiver_id)
        if area_name is None:
            return set()
        area = self.batch.area(area_name)
        offers = area.offers_of.get(caregiver_id, [])
        visiting = {
            o.request_id
            for o in offers
            if any(v.caregiver_id == caregiver_id and v.status in VISITING for v in area.visits.get(o.request_id, []))
        }
        return codes_a_reply_may_name(offers, visiting)


class _Visits:
    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    def _of(self, request_id: str) -> list[Visit]:
        if self.batch.state.request(request_id) is None:
            return []
        return self.batch.state.areas[self.batch.state.request_area[request_id]].visits.get(request_id, [])

    def get(self, visit_id: str) -> Visit | None:
        found = self.batch.state.visit_index.get(visit_id)
        if found is not None and self.batch.state.request(found.request_id) is not None:
            return found
        rid = self.batch.state.session.execute(
            select(tables.visits.c.request_id).where(tables.visits.c.visit_id == visit_id)
        ).scalar()
        if rid is None or self.batch.state.request(rid) is None:
            return None
        return self.batch.state.visit_index.get(visit_id)

    def add(self, visit: Visit) -> None:
        area = self.batch.area(self.batch.state.request_area[visit.request_id])
        self.batch.state.session.add(visit)
        self.batch.state._index_visit(area, visit)
        area.past.setdefault(visit.elder_id, []).append(visit)

    def for_request(self, request_id: str) -> Visit | None:
        return next((v for v in self._of(request_id) if v.status not in DEAD), None)

    def all_for_request(self, request_id: str) -> list[Visit]:
        return list(self._of(request_id))

    def for_caregiver(self, caregiver_id: str) -> list[Visit]:
        """The caregiver's visits in the booking window (check-in reads the last one checked out)."""
        area = self.batch.state.caregiver_area.get(caregiver_id)
        if area is None:
            return []
        return list(self.batch.area(area).visits_of.get(caregiver_id, []))

    def for_elder(self, elder_id: str) -> list[Visit]:
        raise NotImplementedError("the partition state keeps an elder's past visits for continuity only")


class _Providers:
    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    def get(self, provider_id: str) -> ProviderOrganisation | None:
        found = self.batch.state.providers.get(provider_id)
        if found is None:
            found = self.batch.state.session.get(ProviderOrganisation, provider_id)
            if found is not None:
                self.batch.state.providers[provider_id] = found
        return found


class _Feedback:
    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    def get(self, feedback_id: str) -> Feedback | None:
        return self.batch.state.session.get(Feedback, feedback_id)

    def add(self, feedback: Feedback) -> None:
        self.batch.state.session.add(feedback)


class PartitionUnitOfWork:
    """``handlers.ports.UnitOfWork`` over the partition state, inside one ``Batch``: reads come
    from memory, writes go to the batch's transaction. ``commit`` and ``rollback`` belong to the
    batch (a use case never calls them)."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.requests = _Requests(batch)
        self.elders = _Elders(batch)
        self.caregivers = _Caregivers(batch)
        self.offers = _Offers(batch)
        self.visits = _Visits(batch)
        self.providers = _Providers(batch)
        self.feedback = _Feedback(batch)
        self.claimed_ids: set[str] = set()  # the batch's record ids claimed now (``Batch.claim_all``)

    def bookings(self, caregiver_ids: Iterable[str]) -> dict[str, list[Booking]]:
        """Each caregiver's held slots (live visits and pending offers), from the area state in
        memory, not the database (``handlers.ports.UnitOfWork.bookings``)."""
        state = self.batch.state
        held: dict[str, list[Booking]] = {}
        for cid in caregiver_ids:
            slots: list[Booking] = []
            held[cid] = slots
            area_name = state.caregiver_area.get(cid)
            if area_name is None:
                continue
            area = self.batch.area(area_name)
            for v in area.visits_of.get(cid, []):
                if v.status not in DEAD:
                    slots.append(Booking(v.request_id, v.location_index, v.planned_start, v.expected_end))
            for o in area.offers_of.get(cid, []):
                if o.status == OfferStatus.PENDING:
                    loc = area.requests[o.request_id].location_index
                    slots.append(Booking(o.request_id, loc, o.planned_start, o.planned_end))
        return held

    def ranking_context(self, request: CareRequest, now: datetime, explore: bool = False) -> RankingContext:
        """The ranking context of ``request`` from its area's state in memory
        (``handlers.ports.UnitOfWork.ranking_context``): no read grows with the database."""
        area = self.batch.area(request.service_area)
        live = [v for visits in area.visits_of.values() for v in visits if v.status not in DEAD]
        providers = [p for pid in area.providers() if (p := self.batch.state.providers.get(pid)) is not None]
        return context_from(
            request,
            now,
            area.past.get(request.elder_id, []),
            live,
            providers,
            explore,
            self.elders.get(request.elder_id),
        )

    def planned_visits(self, request_ids: Iterable[str]) -> dict[str, PlannedVisit]:
        """The plan's slots of ``request_ids``, read in the batch's transaction
        (``db.day_plans.plan_of_requests``)."""
        return plan_of_requests(self.batch.state.session, request_ids)

    def day_plan(self, caregiver_ids: Iterable[str]) -> dict[str, PlannedVisit]:
        """The plan's rows of ``caregiver_ids``, read in the batch's transaction (the plan is not
        held in memory: only planned areas' repairs ask, ``handlers.dispatch.repair``)."""
        return plan_of_caregivers(self.batch.state.session, caregiver_ids)

    def replan(self, visits: Mapping[str, PlannedVisit]) -> None:
        """Update each request's plan row in the batch's transaction (a repair moved it); a
        request without a row gets one (``db.uow.SqlUnitOfWork.replan``)."""
        replan_rows(self.batch.state.session, visits)

    def claim(self, event_id: str) -> bool:
        """The batch's record ids are claimed for the whole batch first (``Batch.claim_all``): this
        answers from that. Any other id (a use case's own, e.g. a confirmation round's close,
        ``handlers.dispatch.rounds``) is claimed now, in the batch's transaction."""
        return event_id in self.claimed_ids or bool(claim_many(self.batch.state.session, [event_id]))

    def claimed(self, event_id: str) -> bool:
        """Whether ``event_id`` is in ``processed_events`` (this batch's transaction included)."""
        pe = tables.processed_events.c
        session = self.batch.state.session
        return session.execute(select(pe.event_id).where(pe.event_id == event_id)).first() is not None

    def emit(self, event: DomainEvent) -> None:
        """Keep ``event`` (with a fresh id) for the batch's bulk write of the event log and outbox."""
        self.batch.events.append((str(uuid.uuid4()), event))

    def commit(self) -> None:
        """The batch commits (``Batch.commit``); a use case never does."""

    def rollback(self) -> None:
        """Refused with ``RuntimeError``: a batch rolls back as a whole."""
        raise RuntimeError("a batch rolls back as a whole (leave the Batch block without commit)")
