"""Use cases of dispatch: receive a request, offer it, react to replies and timeouts.

Each function takes an inbound event id (for idempotency), the unit of work,
the current time and the policy; it changes state and emits events, and the
caller commits. Offers are sequential with a timeout (TaskRouter's reservation
default is 120 s); a request nobody can take goes to ``failed`` and the
operator queue, so every request ends in a final state or with an operator.
"""
from __future__ import annotations

import zlib
from datetime import datetime, timedelta

from handlers import events as ev
from handlers.model import (CareRequest, Offer, OfferStatus, RequestStatus, SyncType,
                            Visit)
from handlers.ports import UnitOfWork
from handlers.scheduling import DispatchPolicy, TravelTimes, rank_caregivers


def receive_request(request: CareRequest, uow: UnitOfWork, now: datetime,
                    policy: DispatchPolicy, travel: TravelTimes) -> None:
    """Store a validated request and dispatch it, or hold a synchronised
    follower until its anchor visit has a start time. A known id is ignored."""
    if uow.requests.get(request.request_id) is not None:
        return
    request.status, request.received_at = RequestStatus.RECEIVED, now
    uow.requests.add(request)
    uow.emit(ev.status_changed(request, now))
    if request.waits_for_anchor:
        anchor_visit = uow.visits.for_request(request.sync_partner_id or "")
        anchor = uow.requests.get(request.sync_partner_id or "")
        if anchor_visit is not None:
            request.sync_anchor_start = anchor_visit.planned_start
        elif anchor is not None and anchor.status.is_final:
            _release_unsynchronised(request, "anchor visit ended without an assignment")
        else:
            _set_status(uow, request, RequestStatus.ON_HOLD, now, "waiting for the anchor visit")
            return
    offer_next(request, uow, now, policy, travel)


def offer_next(request: CareRequest, uow: UnitOfWork, now: datetime,
               policy: DispatchPolicy, travel: TravelTimes) -> Offer | None:
    """Offer the request to the best caregiver not yet asked; fail it to the
    operator queue when nobody is left. Returns the new offer, if any."""
    previous = uow.offers.for_request(request.request_id)
    asked = {o.caregiver_id for o in previous}
    caregivers = uow.caregivers.in_area(request.service_area)
    bookings = uow.bookings(c.caregiver_id for c in caregivers)
    ranking = rank_caregivers(request, caregivers, bookings, travel, now, policy, asked)
    uow.emit(ev.dispatch_decided(request, ranking, policy, now))
    if not ranking.candidates or len(previous) >= policy.max_offers_per_request:
        reason = "no eligible caregiver accepted" if previous else "no eligible caregiver"
        _fail(uow, request, now, reason, policy, travel)
        return None
    best = ranking.candidates[0]
    offer_id = f"{request.request_id}.o{len(previous) + 1}"
    offer = Offer(
        offer_id=offer_id, request_id=request.request_id, caregiver_id=best.caregiver_id,
        planned_start=best.start, planned_end=best.end, created_at=now,
        expires_at=now + timedelta(seconds=policy.offer_timeout_seconds),
        travel_minutes=best.travel_added_minutes, lateness_minutes=best.lateness_minutes,
        short_code=f"{zlib.crc32(offer_id.encode()) % 10000:04d}", policy_version=policy.version,
    )
    uow.offers.add(offer)
    uow.emit(ev.offer_created(request, offer))
    uow.emit(ev.timer_requested("offer-expiry", offer.offer_id, request, offer.expires_at, now))
    return offer


def accept_offer(offer_id: str, caregiver_id: str, uow: UnitOfWork, now: datetime,
                 policy: DispatchPolicy, travel: TravelTimes) -> bool:
    """Turn a pending offer into a visit; release synchronised followers.

    ``now`` is when the caregiver answered. An accept for an offer that is no
    longer pending is refused with an event; one given after the offer expired
    (but processed before its timer) closes the offer as ``timeout`` and moves on.
    """
    offer = uow.offers.get(offer_id)
    if offer is None or offer.caregiver_id != caregiver_id:
        return False
    request = uow.requests.get(offer.request_id)
    assert request is not None
    if offer.status != OfferStatus.PENDING or request.status.is_final:
        uow.emit(ev.offer_refused(request, offer, now))
        return False
    if now > offer.expires_at:
        uow.emit(ev.offer_refused(request, offer, now))
        close_offer(offer_id, OfferStatus.TIMEOUT, uow, offer.expires_at, policy, travel)
        return False
    offer.status, offer.responded_at = OfferStatus.ACCEPTED, now
    caregiver = uow.caregivers.get(caregiver_id)
    elder = uow.elders.get(request.elder_id)
    visit = Visit(
        visit_id=f"{request.request_id}.v", request_id=request.request_id,
        caregiver_id=caregiver_id, provider_id=caregiver.provider_id if caregiver else "",
        elder_id=request.elder_id, service_type=request.service_type,
        location_index=elder.location_index if elder else request.location_index,
        planned_start=offer.planned_start, planned_end=offer.planned_end,
    )
    uow.visits.add(visit)
    request.assigned_at = now
    _set_status(uow, request, RequestStatus.ACCEPTED, now, f"offer {offer_id} accepted")
    uow.emit(ev.offer_accepted(request, offer, visit, now))
    for follower in uow.requests.followers_of(request.request_id):
        if follower.status == RequestStatus.ON_HOLD:
            follower.sync_anchor_start = offer.planned_start
            _set_status(uow, follower, RequestStatus.RECEIVED, now, "anchor visit assigned")
            offer_next(follower, uow, now, policy, travel)
    return True


def close_offer(offer_id: str, outcome: OfferStatus, uow: UnitOfWork, now: datetime,
                policy: DispatchPolicy, travel: TravelTimes,
                caregiver_id: str | None = None) -> bool:
    """Record a decline (``rejected``) or a ``timeout`` and offer the request to
    the next caregiver. Late or foreign replies change nothing; a decline
    given after the offer expired counts as a timeout."""
    offer = uow.offers.get(offer_id)
    if offer is None or offer.status != OfferStatus.PENDING:
        return False
    if caregiver_id is not None and offer.caregiver_id != caregiver_id:
        return False
    if outcome == OfferStatus.REJECTED and now > offer.expires_at:
        outcome, now = OfferStatus.TIMEOUT, offer.expires_at
    offer.status, offer.responded_at = outcome, now
    request = uow.requests.get(offer.request_id)
    assert request is not None
    uow.emit(ev.offer_closed(request, offer, now))
    if not request.status.is_final:
        offer_next(request, uow, now, policy, travel)
    return True


def _set_status(uow: UnitOfWork, request: CareRequest, status: RequestStatus,
                now: datetime, reason: str | None = None) -> None:
    request.status, request.status_reason = status, reason
    if status.is_final:
        request.closed_at = now
    uow.emit(ev.status_changed(request, now))


def _fail(uow: UnitOfWork, request: CareRequest, now: datetime, reason: str,
          policy: DispatchPolicy, travel: TravelTimes) -> None:
    _set_status(uow, request, RequestStatus.FAILED, now, reason)
    uow.emit(ev.escalated_to_operator(request, now, reason))
    for follower in uow.requests.followers_of(request.request_id):
        if follower.status == RequestStatus.ON_HOLD:
            _release_unsynchronised(follower, "anchor visit failed")
            _set_status(uow, follower, RequestStatus.RECEIVED, now, follower.status_reason)
            offer_next(follower, uow, now, policy, travel)


def _release_unsynchronised(request: CareRequest, reason: str) -> None:
    request.sync_type = SyncType.INDEPENDENT
    request.sync_is_follower = False
    request.status_reason = f"dispatched without synchronisation: {reason}"

