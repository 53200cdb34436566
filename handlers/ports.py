"""The small interfaces the use cases need from the outside world.

``db.uow.SqlUnitOfWork`` is the real adapter; ``tests/unit/fakes.py`` holds
in-memory fakes. Nothing here knows about SQLAlchemy or Kafka.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Iterable, Mapping, Protocol

if TYPE_CHECKING:
    from handlers.dispatch.planned import PlannedVisit
    from handlers.dispatch.scheduling import RankingContext

from handlers.model import (
    Booking,
    Caregiver,
    CareRequest,
    DomainEvent,
    Elder,
    Feedback,
    Offer,
    ProviderOrganisation,
    Visit,
)


class RequestRepository(Protocol):
    def get(self, request_id: str) -> CareRequest | None: ...
    def add(self, request: CareRequest) -> None: ...
    def followers_of(self, anchor_id: str) -> list[CareRequest]: ...


class ElderRepository(Protocol):
    def get(self, elder_id: str) -> Elder | None: ...


class CaregiverRepository(Protocol):
    def get(self, caregiver_id: str) -> Caregiver | None: ...
    def in_area(self, service_area: str) -> list[Caregiver]: ...


class OfferRepository(Protocol):
    def get(self, offer_id: str) -> Offer | None: ...
    def add(self, offer: Offer) -> None: ...
    def for_request(self, request_id: str) -> list[Offer]: ...


class VisitRepository(Protocol):
    def get(self, visit_id: str) -> Visit | None: ...
    def add(self, visit: Visit) -> None: ...
    def for_request(self, request_id: str) -> Visit | None: ...
    def all_for_request(self, request_id: str) -> list[Visit]: ...  # every status, re-dispatches included
    def for_caregiver(self, caregiver_id: str) -> list[Visit]: ...
    def for_elder(self, elder_id: str) -> list[Visit]: ...


class ProviderRepository(Protocol):
    def get(self, provider_id: str) -> ProviderOrganisation | None: ...


class FeedbackRepository(Protocol):
    def get(self, feedback_id: str) -> Feedback | None: ...
    def add(self, feedback: Feedback) -> None: ...


class UnitOfWork(Protocol):
    """One atomic change: state, the append-only event log and the outbox
    commit together or not at all."""

    # Read-only members: a unit of work may hold any repository that meets the
    # protocol (a settable member would have to be exactly the protocol type).
    @property
    def requests(self) -> RequestRepository: ...
    @property
    def elders(self) -> ElderRepository: ...
    @property
    def caregivers(self) -> CaregiverRepository: ...
    @property
    def offers(self) -> OfferRepository: ...
    @property
    def visits(self) -> VisitRepository: ...
    @property
    def providers(self) -> ProviderRepository: ...
    @property
    def feedback(self) -> FeedbackRepository: ...

    def bookings(self, caregiver_ids: Iterable[str]) -> dict[str, list[Booking]]:
        """Slots held per caregiver: live visits and pending offers."""

    def ranking_context(self, request: CareRequest, now: datetime, explore: bool = False) -> RankingContext:
        """Continuity, contracts, provider scores and today's workload for a ranking."""

    def planned_visits(self, request_ids: Iterable[str]) -> dict[str, PlannedVisit]:
        """The day plan's visit for each of ``request_ids`` that has one (planned areas)."""

    def day_plan(self, caregiver_ids: Iterable[str]) -> dict[str, PlannedVisit]:
        """The day plan's visits of ``caregiver_ids``, request id -> visit (planned areas)."""

    def replan(self, visits: Mapping[str, PlannedVisit]) -> None:
        """Replace the plan's visit of each request id in ``visits`` (a repair moved it)."""

    def claim(self, event_id: str) -> bool:
        """True the first time an inbound event id is seen in this unit of
        work's transaction, False for a duplicate (handlers then do nothing)."""

    def emit(self, event: DomainEvent) -> None:
        """Record an event to append to the event log and publish via the outbox."""

    def commit(self) -> None: ...
    def rollback(self) -> None: ...
