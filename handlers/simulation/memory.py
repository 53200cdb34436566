"""An in-memory unit of work: the same contract as ``db.uow.SqlUnitOfWork``
over dictionaries, for unit tests and for offline benchmark runs."""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterable, Mapping, TypeVar

from handlers.dispatch.offers import codes_a_reply_may_name
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
    Visit,
    VisitStatus,
)

T = TypeVar("T")


class _Store(dict[str, T]):
    """Objects by their id (``key`` reads it); ``get`` is ``dict.get``, the
    repositories' ``get`` (``handlers.ports``)."""

    def __init__(self, key: Callable[[T], str]) -> None:
        super().__init__()
        self._key = key

    def add(self, obj: T) -> None:
        self[self._key(obj)] = obj


_DEAD = (VisitStatus.CANCELLED, VisitStatus.NO_SHOW)
_LIVE = (VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS)


class _Requests(_Store[CareRequest]):
    def followers_of(self, anchor_id: str) -> list[CareRequest]:
        return [r for r in self.values() if r.sync_partner_id == anchor_id]


class _Caregivers(_Store[Caregiver]):
    def in_area(self, service_area: str) -> list[Caregiver]:
        return [c for c in self.values() if c.service_area == service_area]


class _Offers(_Store[Offer]):
    def __init__(self, key: Callable[[Offer], str], visits: _Visits) -> None:
        super().__init__(key)
        self._visits = visits
        self._of: dict[str, list[Offer]] = {}

    def add(self, obj: Offer) -> None:
        if obj.offer_id not in self:
            self._of.setdefault(obj.caregiver_id, []).append(obj)
        super().add(obj)

    def for_request(self, request_id: str) -> list[Offer]:
        return sorted((o for o in self.values() if o.request_id == request_id), key=lambda o: o.created_at)

    def codes_in_use(self, caregiver_id: str) -> set[str]:
        visiting = {v.request_id for v in self._visits.of_caregiver.get(caregiver_id, []) if v.status in _LIVE}
        return codes_a_reply_may_name(self._of.get(caregiver_id, []), visiting)


class _Visits(_Store[Visit]):
    def __init__(self, key: Callable[[Visit], str]) -> None:
        super().__init__(key)
        self.of_caregiver: dict[str, list[Visit]] = {}

    def add(self, obj: Visit) -> None:
        if obj.visit_id not in self:
            self.of_caregiver.setdefault(obj.caregiver_id, []).append(obj)
        super().add(obj)

    def for_request(self, request_id: str) -> Visit | None:
        """The request's live visit (not cancelled, not a no-show), if any."""
        return next((v for v in self.values() if v.request_id == request_id and v.status not in _DEAD), None)

    def all_for_request(self, request_id: str) -> list[Visit]:
        return [v for v in self.values() if v.request_id == request_id]

    def for_elder(self, elder_id: str) -> list[Visit]:
        return [v for v in self.values() if v.elder_id == elder_id]

    def for_caregiver(self, caregiver_id: str) -> list[Visit]:
        return [v for v in self.values() if v.caregiver_id == caregiver_id]


class InMemoryUnitOfWork:
    """Holds everything in dicts; ``events`` collects what was emitted and
    ``committed`` counts commits (tests assert on both)."""

    def __init__(self) -> None:
        self.requests = _Requests(lambda r: r.request_id)
        self.elders: _Store[Elder] = _Store(lambda e: e.elder_id)
        self.caregivers = _Caregivers(lambda c: c.caregiver_id)
        self.visits = _Visits(lambda v: v.visit_id)
        self.offers = _Offers(lambda o: o.offer_id, self.visits)
        self.providers: _Store[ProviderOrganisation] = _Store(lambda p: p.provider_id)
        self.feedback: _Store[Feedback] = _Store(lambda f: f.feedback_id)
        self.plan: dict[str, PlannedVisit] = {}  # request id -> its visit in the day plan (planned areas)
        self.events: list[DomainEvent] = []
        self._claimed: set[str] = set()
        self.committed = 0

    def bookings(self, caregiver_ids: Iterable[str]) -> dict[str, list[Booking]]:
        """Caregiver id -> the slots it holds (``handlers.ports.UnitOfWork.bookings``): its live
        visits (planned start to expected end) and pending offers; every id asked gets a list."""
        wanted = set(caregiver_ids)
        held: dict[str, list[Booking]] = {c: [] for c in wanted}
        for v in self.visits.values():
            if v.caregiver_id in wanted and v.status not in (VisitStatus.CANCELLED, VisitStatus.NO_SHOW):
                held[v.caregiver_id].append(Booking(v.request_id, v.location_index, v.planned_start, v.expected_end))
        for o in self.offers.values():
            if o.caregiver_id in wanted and o.status == OfferStatus.PENDING:
                loc = self.requests[o.request_id].location_index
                held[o.caregiver_id].append(Booking(o.request_id, loc, o.planned_start, o.planned_end))
        return held

    def ranking_context(self, request: CareRequest, now: datetime, explore: bool = False) -> RankingContext:
        """``handlers.dispatch.ranking.context_from`` over every stored visit and provider (a
        database adapter narrows the query; the result is the same)."""
        return context_from(
            request,
            now,
            self.visits.for_elder(request.elder_id),
            [v for v in self.visits.values() if v.status not in _DEAD],
            list(self.providers.values()),
            explore,
            self.elders.get(request.elder_id),
        )

    def planned_visits(self, request_ids: Iterable[str]) -> dict[str, PlannedVisit]:
        """Request id -> its visit in ``plan``, for the ids that have one."""
        return {r: self.plan[r] for r in request_ids if r in self.plan}

    def day_plan(self, caregiver_ids: Iterable[str]) -> dict[str, PlannedVisit]:
        """Request id -> planned visit, for the visits ``plan`` gives to ``caregiver_ids``."""
        wanted = set(caregiver_ids)
        return {r: v for r, v in self.plan.items() if v.caregiver_id in wanted}

    def replan(self, visits: Mapping[str, PlannedVisit]) -> None:
        """Overwrite ``plan``'s visit of each request id in ``visits``; the others stay."""
        self.plan.update(visits)

    def claim(self, event_id: str) -> bool:
        """True the first time ``event_id`` is seen by this unit of work, False after (kept across
        commits and rollbacks, unlike the SQL adapter's, whose claims roll back)."""
        if event_id in self._claimed:
            return False
        self._claimed.add(event_id)
        return True

    def claimed(self, event_id: str) -> bool:
        """Whether ``claim`` saw ``event_id`` before."""
        return event_id in self._claimed

    def emit(self, event: DomainEvent) -> None:
        """Append to ``events`` at once (no outbox: nothing is published)."""
        self.events.append(event)

    def commit(self) -> None:
        """Count the commit in ``committed``; the dictionaries already hold every change."""
        self.committed += 1

    def rollback(self) -> None:
        """Do nothing: changes made in place stay, and so do ``events`` (tests that need a real
        rollback use ``db.uow.SqlUnitOfWork``)."""
