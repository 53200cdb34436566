"""Use cases for when a promised visit falls through: a caregiver who does not
check in, or who calls the visit off after accepting.

Either way the visit is closed (``no-show`` or ``cancelled``), the elder and
the family are told what happens next (``handlers.channels.notices``, from the
``care.visit.no_show`` / ``care.visit.called_off`` event), the caregiver who
did not come is told the job went to someone else, and the request goes back to dispatch without the caregiver who let it
down (they were already asked: their accepted offer is among the request's offers, which the
ranking never offers again). It goes back the way a declined offer does: ``reoffer(request)`` when
given (a planned area repairs its day, ``handlers.dispatch.repair``, passed by
``handlers.messagebus``), else ``offers.offer_next`` (insertion). The no-show rule — no check-in 5 minutes
after the planned start — is home-care EVV practice (DESIGN.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers import events as ev
from handlers.dispatch import offers
from handlers.dispatch.scheduling import DispatchPolicy, TravelTimes
from handlers.model import CancelReason, OfferStatus, RequestStatus, Visit, VisitStatus, offer_id_of
from handlers.ports import UnitOfWork


def missed_check_in(
    visit_id: str,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    reoffer: offers.Reoffer | None = None,
    due: datetime | None = None,
) -> bool:
    """The check-in deadline of ``visit_id`` passed: if nobody checked in,
    record a no-show and re-dispatch (``reoffer``, else ``offers.offer_next``).
    ``due``: the deadline the timer was set for (the firing's time). Returns False when the visit
    moved on, or when a confirmation round moved its start later than that deadline
    (``handlers.dispatch.rounds``: the new start has its own timer)."""
    visit = uow.visits.get(visit_id)
    if visit is None or visit.status != VisitStatus.SCHEDULED:
        return False
    if due is not None and due < visit.planned_start + timedelta(minutes=policy.no_show_minutes):
        return False  # the timer of a start a round has moved later: the new start has its own
    visit.status = VisitStatus.NO_SHOW
    return _redispatch(
        visit.request_id,
        visit.caregiver_id,
        "no check-in by the deadline",
        uow,
        now,
        policy,
        travel,
        "care.visit.no_show",
        visit,
        reoffer,
    )


def call_off(
    request_id: str,
    caregiver_id: str,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    reoffer: offers.Reoffer | None = None,
) -> bool:
    """The caregiver cancels an accepted visit before checking in; the request is re-dispatched
    (``reoffer``, else ``offers.offer_next``)."""
    visit = uow.visits.for_request(request_id)
    if visit is None or visit.caregiver_id != caregiver_id or visit.status != VisitStatus.SCHEDULED:
        return False
    visit.status = VisitStatus.CANCELLED
    return _redispatch(
        request_id,
        caregiver_id,
        "the caregiver called the visit off",
        uow,
        now,
        policy,
        travel,
        "care.visit.called_off",
        visit,
        reoffer,
    )


def _redispatch(
    request_id: str,
    caregiver_id: str,
    reason: str,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    event_type: str,
    visit: Visit,
    reoffer: offers.Reoffer | None,
) -> bool:
    request = uow.requests.get(request_id)
    if request is None or request.status.is_final:
        return False
    offer = uow.offers.get(offer_id_of(visit.visit_id))
    if offer is not None and offer.status == OfferStatus.ACCEPTED:
        offer.status = OfferStatus.CANCELED  # the reservation was accepted, then fell through
        offer.cancel_reason = CancelReason.NO_SHOW if visit.status == VisitStatus.NO_SHOW else CancelReason.CALLED_OFF
    uow.emit(ev.visit_event(event_type, request, visit, now))
    request.status, request.status_reason = RequestStatus.RECEIVED, f"re-dispatch: {reason}"
    uow.emit(ev.status_changed(request, now))
    if reoffer is not None:
        reoffer(request)
    else:
        offers.offer_next(request, uow, now, policy, travel)
    return True
