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
    """Care requests by ``request_id``; an implementation tracks what it returns, so a
    change to a returned request is saved when the unit of work commits."""

    def get(self, request_id: str) -> CareRequest | None:
        """The request, or None for an unknown id (never raises for a missing one)."""

    def add(self, request: CareRequest) -> None:
        """Store a new request; it must be readable by ``get`` within the same unit of work
        (the SQL adapter flushes at once so its offers and visits can reference it)."""

    def followers_of(self, anchor_id: str) -> list[CareRequest]:
        """The requests whose ``sync_partner_id`` is ``anchor_id`` (the followers of a synchronised
        pair, UHHC ``synchronization``), in any status and no promised order; [] when none."""


class ElderRepository(Protocol):
    """The register's elders, read by the use cases (changed only through ``handlers.register``)."""

    def get(self, elder_id: str) -> Elder | None:
        """The elder, or None for an unknown id."""


class CaregiverRepository(Protocol):
    """The register's caregivers, read by dispatch."""

    def get(self, caregiver_id: str) -> Caregiver | None:
        """The caregiver, or None for an unknown id."""

    def in_area(self, service_area: str) -> list[Caregiver]:
        """Every caregiver of ``service_area`` (on shift or not, active or not: ranking filters them),
        in no promised order (ranking breaks ties by caregiver id); [] for an unknown area."""


class OfferRepository(Protocol):
    """Offers (TaskRouter reservations) by ``offer_id``; returned offers are tracked like requests."""

    def get(self, offer_id: str) -> Offer | None:
        """The offer, or None for an unknown id."""

    def add(self, offer: Offer) -> None:
        """Store a new offer; its request must already be stored (foreign key in the SQL adapter)."""

    def for_request(self, request_id: str) -> list[Offer]:
        """Every offer made for the request, in every status, oldest first (``created_at``,
        UTC): dispatch counts them to number the next attempt and to cap offers per request."""

    def codes_in_use(self, caregiver_id: str) -> set[str]:
        """The short codes a reply of the caregiver may name now: her pending offers' and those
        of her accepted offers whose visit is scheduled or in progress (``offers.short_code_for``
        gives a new offer a code outside them)."""


class VisitRepository(Protocol):
    """Visits (assignments through check-in and check-out) by ``visit_id``; tracked like requests."""

    def get(self, visit_id: str) -> Visit | None:
        """The visit, or None for an unknown id."""

    def add(self, visit: Visit) -> None:
        """Store a new visit; its request must already be stored."""

    def for_request(self, request_id: str) -> Visit | None:
        """The request's live visit, or None: "live" means any status but cancelled and
        no-show (``all_for_request`` also returns the dead ones of earlier dispatches)."""

    def all_for_request(self, request_id: str) -> list[Visit]:
        """Every visit ever made for the request, in every status, re-dispatches included, in no
        promised order."""

    def for_caregiver(self, caregiver_id: str) -> list[Visit]:
        """Every visit of the caregiver, in any status and no promised order (callers filter by status)."""

    def for_elder(self, elder_id: str) -> list[Visit]:
        """Every visit to the elder, in any status and no promised order (continuity of care reads it)."""


class ProviderRepository(Protocol):
    """Contracted provider organisations (their contracts and scores feed ranking)."""

    def get(self, provider_id: str) -> ProviderOrganisation | None:
        """The provider, or None for an unknown id."""


class FeedbackRepository(Protocol):
    """Callback surveys (回访) and complaints by ``feedback_id``."""

    def get(self, feedback_id: str) -> Feedback | None:
        """The feedback, or None for an unknown id (a redelivered survey answer looks it up first)."""

    def add(self, feedback: Feedback) -> None:
        """Store new feedback; its request must already be stored."""


class UnitOfWork(Protocol):
    """One atomic change: state, the append-only event log and the outbox
    commit together or not at all."""

    # Read-only members: a unit of work may hold any repository that meets the
    # protocol (a settable member would have to be exactly the protocol type).
    @property
    def requests(self) -> RequestRepository:
        """Care requests, read and written in this unit of work's transaction."""

    @property
    def elders(self) -> ElderRepository:
        """The register's elders (read only here)."""

    @property
    def caregivers(self) -> CaregiverRepository:
        """The register's caregivers (read only here)."""

    @property
    def offers(self) -> OfferRepository:
        """Offers (reservations), read and written in this transaction."""

    @property
    def visits(self) -> VisitRepository:
        """Visits, read and written in this transaction."""

    @property
    def providers(self) -> ProviderRepository:
        """Contracted provider organisations (read only here)."""

    @property
    def feedback(self) -> FeedbackRepository:
        """Callback surveys and complaints, read and written in this transaction."""

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

    def claimed(self, event_id: str) -> bool:
        """Whether ``event_id`` was claimed before (by ``claim``, in this transaction or a
        committed one), without claiming it."""

    def emit(self, event: DomainEvent) -> None:
        """Record an event to append to the event log and publish via the outbox."""

    def commit(self) -> None:
        """Make the state changes, the emitted events (event log and outbox) and the claimed
        event ids durable together. The SQL adapter raises ``db.uow.ConcurrencyConflict`` when
        another transaction changed the same request first: nothing is written, retry."""

    def rollback(self) -> None:
        """Drop every change, emitted event and claim since the last commit."""
