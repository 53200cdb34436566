"""Use cases of a center operator stepping in: cancel, (re)assign, acknowledge
an emergency, mark a caregiver unavailable or available again.

Same contract as ``handlers.dispatch.offers``: the function changes state through the
unit of work and emits events; the caller commits, and rolls back when
``Refused`` is raised (nothing has changed by then: every check runs before the
first write). Offer states follow Twilio TaskRouter: a reservation is
*canceled* when its task is canceled or moved by an operator, and *rescinded*
when its worker goes offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from handlers import events as ev
from handlers.dispatch import offers
from handlers.dispatch.scheduling import DispatchPolicy, TravelTimes, rank_caregivers
from handlers.model import (
    CancelReason,
    Caregiver,
    CareRequest,
    DomainEvent,
    Offer,
    OfferStatus,
    RequestStatus,
    VisitStatus,
)
from handlers.operations.alerts import Acknowledgement, is_emergency
from handlers.ports import UnitOfWork

_CLOSED = frozenset(
    {RequestStatus.COMPLETED, RequestStatus.CANCELLED, RequestStatus.REJECTED, RequestStatus.ENTERED_IN_ERROR}
)


class Refused(Exception):
    """The domain says no; ``code`` is stable (for the interface's catalogue), the
    message is for logs and API clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class AcknowledgementRepository(Protocol):
    """Emergency acknowledgements by request id: at most one per emergency (the first operator's)."""

    def get(self, request_id: str) -> Acknowledgement | None:
        """The emergency's acknowledgement, or None when nobody has acknowledged it."""

    def add(self, ack: Acknowledgement) -> None:
        """Store the first acknowledgement of an emergency (the caller checks ``get`` first)."""


class OperatorUnitOfWork(UnitOfWork, Protocol):
    """The dispatch unit of work plus the emergencies' acknowledgements
    (``db.operator_uow.OperatorSqlUnitOfWork``, which also writes the audit log)."""

    @property
    def acknowledgements(self) -> AcknowledgementRepository:
        """Acknowledgements, read and written in this unit of work's transaction."""


@dataclass(frozen=True)
class Unavailability:
    """What marking a caregiver unavailable did: offers rescinded (and re-offered
    by dispatch) and visits still booked that an operator should reassign."""

    rescinded_requests: tuple[str, ...]
    booked_requests: tuple[str, ...]


def _request(uow: UnitOfWork, request_id: str) -> CareRequest:
    request = uow.requests.get(request_id)
    if request is None:
        raise Refused("unknown_request", f"no request {request_id}")
    return request


def _caregiver(uow: UnitOfWork, caregiver_id: str) -> Caregiver:
    caregiver = uow.caregivers.get(caregiver_id)
    if caregiver is None:
        raise Refused("unknown_caregiver", f"no caregiver {caregiver_id}")
    return caregiver


def _pending(uow: UnitOfWork, request_id: str) -> list[Offer]:
    return [o for o in uow.offers.for_request(request_id) if o.status == OfferStatus.PENDING]


def _cancel_offers(uow: UnitOfWork, request: CareRequest, offers: list[Offer], now: datetime) -> None:
    for offer in offers:
        offer.status, offer.responded_at, offer.cancel_reason = OfferStatus.CANCELED, now, CancelReason.WITHDRAWN
        uow.emit(ev.offer_closed(request, offer, now))


def _operator_event(type_: str, subject: str, area: str, now: datetime, **payload: Any) -> DomainEvent:
    return DomainEvent(
        type=type_,
        subject=subject,
        time=now,
        topic_role="lifecycle",
        key=subject,
        payload={"service_area": area, **payload},
    )


def cancel_request(
    request_id: str, uow: OperatorUnitOfWork, now: datetime, operator_id: str, reason: str = "cancelled by an operator"
) -> None:
    """Cancel a request that has not started: pending offers become *canceled*, a
    booked visit *cancelled*, the request ``cancelled`` (FHIR). Refused for a
    closed request or one whose visit is in progress (check out instead)."""
    request = _request(uow, request_id)
    if request.status.is_final:
        raise Refused("closed", f"request {request_id} is already {request.status.value}")
    visit = uow.visits.for_request(request_id)
    if visit is not None and visit.status == VisitStatus.IN_PROGRESS:
        raise Refused("in_progress", f"the visit of {request_id} is in progress")
    _cancel_offers(uow, request, _pending(uow, request_id), now)
    if visit is not None and visit.status == VisitStatus.SCHEDULED:
        visit.status = VisitStatus.CANCELLED
        uow.emit(ev.visit_event("care.visit.cancelled", request, visit, now, reason="cancelled"))
    request.status, request.status_reason, request.closed_at = RequestStatus.CANCELLED, reason, now
    uow.emit(ev.status_changed(request, now))
    uow.emit(
        _operator_event(
            "care.request.cancelled_by_operator",
            request_id,
            request.service_area,
            now,
            request_id=request_id,
            operator_id=operator_id,
        )
    )


def reassign(
    request_id: str,
    caregiver_id: str,
    uow: OperatorUnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    operator_id: str,
) -> Offer:
    """Offer the request to the caregiver the operator chose.

    Whatever the request holds is released first: pending offers are
    *canceled*, a booked (not started) visit is *cancelled* (as a call-off
    is). A request dispatch had failed to the operator queue is reopened. The
    new offer has the policy's timeout (120 s by default); if it is declined
    or times out, dispatch goes on with the next best caregiver. Refused when
    the request is closed or in progress, or the caregiver cannot take it (the
    reason names why, as dispatch's exclusions do: ability, contract, the
    elder's exclusions, capacity, no gap in the day)."""
    request = _request(uow, request_id)
    if request.status in _CLOSED:
        raise Refused("closed", f"request {request_id} is already {request.status.value}")
    if request.status == RequestStatus.IN_PROGRESS:
        raise Refused("in_progress", f"the visit of {request_id} is in progress")
    caregiver = _caregiver(uow, caregiver_id)
    visit = uow.visits.for_request(request_id)
    pending = _pending(uow, request_id)
    if (visit is not None and visit.caregiver_id == caregiver_id) or any(
        o.caregiver_id == caregiver_id for o in pending
    ):
        raise Refused("same_caregiver", f"{caregiver_id} already holds {request_id}")
    ranking = rank_caregivers(
        request,
        [caregiver],
        uow.bookings([caregiver_id]),
        travel,
        now,
        policy,
        set(),
        uow.ranking_context(request, now),
    )
    if not ranking.candidates:
        raise Refused("not_eligible", ranking.exclusions.get(caregiver_id, "not eligible"))
    _cancel_offers(uow, request, pending, now)
    if visit is not None:
        visit.status = VisitStatus.CANCELLED
        uow.emit(ev.visit_event("care.visit.cancelled", request, visit, now, reason="reassigned"))
    request.status, request.status_reason = RequestStatus.RECEIVED, "offered by an operator"
    request.assigned_at, request.closed_at = None, None
    uow.emit(ev.status_changed(request, now))
    uow.emit(
        _operator_event(
            "care.request.reassigned",
            request_id,
            request.service_area,
            now,
            request_id=request_id,
            caregiver_id=caregiver_id,
            operator_id=operator_id,
        )
    )
    number = len(uow.offers.for_request(request_id)) + 1
    return offers.offer_to(request, ranking.candidates[0], number, uow, now, policy)


def acknowledge_emergency(request_id: str, uow: OperatorUnitOfWork, now: datetime, operator_id: str) -> Acknowledgement:
    """Record that ``operator_id`` took charge of an emergency (priority ``stat``).
    Idempotent: a second acknowledgement returns the first one unchanged."""
    request = _request(uow, request_id)
    if not is_emergency(request.priority):
        raise Refused("not_emergency", f"request {request_id} is not an emergency")
    existing = uow.acknowledgements.get(request_id)
    if existing is not None:
        return existing
    ack = Acknowledgement(request_id, operator_id, now)
    uow.acknowledgements.add(ack)
    uow.emit(
        _operator_event(
            "care.emergency.acknowledged",
            request_id,
            request.service_area,
            now,
            request_id=request_id,
            operator_id=operator_id,
        )
    )
    return ack


def mark_caregiver_unavailable(
    caregiver_id: str,
    uow: OperatorUnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    operator_id: str,
) -> Unavailability:
    """Take a caregiver out of dispatch (sick, phone lost, …): no new offers;
    pending offers are *rescinded* and dispatch offers those requests to the
    next caregiver. Booked visits stay and are returned, for the operator to
    reassign. Idempotent for a caregiver already unavailable."""
    caregiver = _caregiver(uow, caregiver_id)
    held = uow.bookings([caregiver_id]).get(caregiver_id, [])
    if not caregiver.active:
        return Unavailability((), tuple(sorted({b.request_id for b in held})))
    caregiver.active = False
    uow.emit(
        _operator_event(
            "caregiver.availability_changed",
            caregiver_id,
            caregiver.service_area,
            now,
            caregiver_id=caregiver_id,
            available=False,
            operator_id=operator_id,
        )
    )
    rescinded, booked = [], []
    for booking in held:
        offer = next((o for o in _pending(uow, booking.request_id) if o.caregiver_id == caregiver_id), None)
        if offer is not None:
            offers.close_offer(offer.offer_id, OfferStatus.RESCINDED, uow, now, policy, travel)
            rescinded.append(booking.request_id)
        else:
            booked.append(booking.request_id)
    return Unavailability(tuple(sorted(rescinded)), tuple(sorted(booked)))


def mark_caregiver_available(caregiver_id: str, uow: OperatorUnitOfWork, now: datetime, operator_id: str) -> bool:
    """Put a caregiver back into dispatch; False when already available."""
    caregiver = _caregiver(uow, caregiver_id)
    if caregiver.active:
        return False
    caregiver.active = True
    uow.emit(
        _operator_event(
            "caregiver.availability_changed",
            caregiver_id,
            caregiver.service_area,
            now,
            caregiver_id=caregiver_id,
            available=True,
            operator_id=operator_id,
        )
    )
    return True
