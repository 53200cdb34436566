"""Use cases of dispatch: receive a request, offer it, react to replies and deadlines.

Each function takes the unit of work, the event time and the policy; it
changes state and emits events, and the caller commits. Offers are
reservations with a timeout (TaskRouter's default is 120 s); priorities in
``policy.parallel_offers`` (stat, asap) go to the top k at once and the first
accept wins, the others are rescinded. A request climbs its priority's
escalation ladder (best caregivers -> widen to every eligible caregiver ->
emergency services for stat), each step with a deadline; when nobody is left
it goes to ``failed`` and the operator queue, so every request ends in a final
state or with an operator.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Container, Iterable, Sequence

from handlers import events as ev
from handlers.dispatch import promise
from handlers.dispatch.scheduling import (
    Candidate,
    DispatchPolicy,
    Ranking,
    RankingContext,
    TravelTimes,
    rank_caregivers,
    travel_for,
)
from handlers.evaluation.provider_scores import explores
from handlers.model import (
    Caregiver,
    CareRequest,
    Offer,
    OfferStatus,
    Priority,
    RequestStatus,
    SyncType,
    Visit,
    VisitStatus,
    visit_id_for,
)
from handlers.ports import UnitOfWork

#: offers a request may use while on the ``best`` step, per parallel slot
BEST_STEP_OFFERS = 3


def receive_request(
    request: CareRequest, uow: UnitOfWork, now: datetime, policy: DispatchPolicy, travel: TravelTimes
) -> None:
    """Store a validated request and dispatch it, or hold a synchronised
    follower until its anchor visit has a start time. A known id is ignored.
    An emergency (``stat``) also alerts the operator at once."""
    if register_request(request, uow, now, policy):
        offer_next(request, uow, now, policy, travel)


def refer_to_operator(
    request: CareRequest, uow: UnitOfWork, now: datetime, policy: DispatchPolicy, travel: TravelTimes, reason: str
) -> None:
    """Store a request that must not be dispatched (its elder is in hospital, moved or
    deceased: ``Elder.status``) and send it straight to the operator queue with ``reason``:
    the call was accepted, so a person decides. A known id is ignored."""
    if uow.requests.get(request.request_id) is not None:
        return
    request.status, request.received_at = RequestStatus.RECEIVED, now
    uow.requests.add(request)
    uow.emit(ev.status_changed(request, now))
    _fail(uow, request, now, reason, policy, travel)


def register_request(request: CareRequest, uow: UnitOfWork, now: datetime, policy: DispatchPolicy) -> bool:
    """``receive_request`` without the offer: store the request, alert on an
    emergency, hold a follower for its anchor and start the ladder. True when
    the request is ready to be offered (batched and planned dispatch offer it
    their own way, see ``handlers.dispatch.batching`` and ``handlers.dispatch.planning``)."""
    if uow.requests.get(request.request_id) is not None:
        return False
    request.status, request.received_at = RequestStatus.RECEIVED, now
    uow.requests.add(request)
    uow.emit(ev.status_changed(request, now))
    if request.priority == Priority.STAT:
        uow.emit(ev.operator_alert(request, now, "emergency received"))
    if request.waits_for_anchor:
        anchor_visit = uow.visits.for_request(request.sync_partner_id or "")
        anchor = uow.requests.get(request.sync_partner_id or "")
        if anchor_visit is not None:
            request.sync_anchor_start = anchor_visit.planned_start
        elif anchor is not None and anchor.status.is_final:
            _release_unsynchronised(request, "anchor visit ended without an assignment")
        else:
            _set_status(uow, request, RequestStatus.ON_HOLD, now, "waiting for the anchor visit")
            return False
    _enter_step(request, 0, uow, now, policy)
    return True


def offer_next(
    request: CareRequest, uow: UnitOfWork, now: datetime, policy: DispatchPolicy, travel: TravelTimes
) -> list[Offer]:
    """Offer the request to the best caregivers not yet asked (one, or k for
    parallel priorities); climb the ladder when the step has no offers left;
    fail it to the operator queue when nobody is left. Returns new offers."""
    previous = uow.offers.for_request(request.request_id)
    if any(o.status == OfferStatus.PENDING for o in previous):
        return []
    steps = policy.steps_for(request.priority.value)
    k = policy.parallel_for(request.priority.value)
    step = steps[min(request.escalation_step, len(steps) - 1)]
    if step.step == "best" and len(previous) >= BEST_STEP_OFFERS * k and request.escalation_step + 1 < len(steps):
        _enter_step(request, request.escalation_step + 1, uow, now, policy)
    ranking = rank_for(
        request,
        uow,
        now,
        policy,
        travel,
        offered=previous,
        explore=explores(request.request_id, policy.exploration_share),
    ).ranking
    uow.emit(ev.dispatch_decided(request, ranking, policy, now))
    if not ranking.candidates or len(previous) >= policy.max_offers_per_request:
        reason = "no eligible caregiver accepted" if previous else "no eligible caregiver"
        _fail(uow, request, now, reason, policy, travel)
        return []
    return [
        offer_to(request, c, len(previous) + i + 1, uow, now, policy)
        for i, c in enumerate(_disjoint(list(ranking.candidates), k))
    ]


@dataclass(frozen=True)
class RequestRanking:
    """A request's ranking (``scheduling.rank_caregivers``) with what it was made from: the
    ``roster`` ranked (the area's caregivers), the caregivers it leaves out as already asked
    (``asked``: offered the request before, or set aside by the caller) and the ranking
    ``context`` (read once: it queries the day's visits and contracts)."""

    ranking: Ranking
    roster: list[Caregiver]
    asked: set[str]
    context: RankingContext


def rank_for(
    request: CareRequest,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    *,
    offered: Sequence[Offer] | None = None,
    without: Iterable[str] = (),
    explore: bool = False,
) -> RequestRanking:
    """Rank ``request``'s caregivers: the roster of its service area (less ``without``), their
    bookings, the ranking context read once (``explore``: the provider-score exploration draw,
    ``handlers.evaluation.provider_scores.explores``), never a caregiver already offered it
    (``offered``: the request's offers, read from ``uow`` when not given) nor one of ``without``.
    The one place where a request's ranking is assembled: online offers (``offer_next``), the
    repair of a planned day (``handlers.dispatch.repair``) and a late caregiver's replacement
    (``handlers.visits.lateness``)."""
    left_out = set(without)
    roster = [c for c in uow.caregivers.in_area(request.service_area) if c.caregiver_id not in left_out]
    asked = {o.caregiver_id for o in (uow.offers.for_request(request.request_id) if offered is None else offered)}
    asked |= left_out
    context = uow.ranking_context(request, now, explore)
    bookings = uow.bookings(c.caregiver_id for c in roster)
    ranking = rank_caregivers(request, roster, bookings, travel, now, policy, asked, context)
    return RequestRanking(ranking, roster, asked, context)


def _disjoint(candidates: list[Candidate], k: int) -> list[Candidate]:
    """The first ``k`` candidates (distinct caregivers by construction)."""
    return candidates[:k]


SHORT_CODES = 10_000
"""Four digits: what a caregiver keys into a text reply ("YES 4821") or the elder's phone."""


def codes_a_reply_may_name(offers: Iterable[Offer], visiting: Container[str]) -> set[str]:
    """The short codes among one caregiver's ``offers`` that a text reply of hers may name now:
    her pending offers', and her accepted offers' whose request id is in ``visiting`` (her visit
    for it is scheduled or in progress: she checks in and out with that code). The rule behind
    ``OfferRepository.codes_in_use`` for the units of work that hold offers in memory."""
    return {
        o.short_code
        for o in offers
        if o.status == OfferStatus.PENDING or (o.status == OfferStatus.ACCEPTED and o.request_id in visiting)
    }


def short_code_for(offer_id: str, in_use: set[str]) -> str:
    """The four-digit code a caregiver replies with to offer ``offer_id``: ``crc32(offer_id)``
    modulo 10,000, or when that one is taken the first free one on a stride drawn from the offer
    id, so that no two of the codes a reply of hers may name (``in_use``:
    ``OfferRepository.codes_in_use``) read alike, and the code given instead is never the next or
    previous one (a slip of one on the last digit must not answer her other offer; other
    one-digit slips can). Raises ``ValueError`` when
    all 10,000 are in use."""
    first = zlib.crc32(offer_id.encode()) % SHORT_CODES
    if f"{first:04d}" not in in_use:
        return f"{first:04d}"
    # a stride prime to the count visits every code once; 1 and -1 would give a neighbour
    strides = [s for s in range(2, SHORT_CODES - 1) if math.gcd(s, SHORT_CODES) == 1]
    stride = strides[zlib.crc32(f"{offer_id}:stride".encode()) % len(strides)]
    for k in range(SHORT_CODES):
        code = f"{(first + k * stride) % SHORT_CODES:04d}"
        if code not in in_use:
            return code
    raise ValueError("every short code is in use by one caregiver's offers")


def offer_to(
    request: CareRequest, candidate: Candidate, number: int, uow: UnitOfWork, now: datetime, policy: DispatchPolicy
) -> Offer:
    """Reserve ``candidate``'s slot for the request and ask them (offer number ``number``)."""
    offer_id = f"{request.request_id}.o{number}"
    offer = Offer(
        offer_id=offer_id,
        request_id=request.request_id,
        caregiver_id=candidate.caregiver_id,
        planned_start=candidate.start,
        planned_end=candidate.end,
        created_at=now,
        expires_at=now + timedelta(seconds=policy.offer_timeout_seconds),
        travel_minutes=candidate.travel_added_minutes,
        lateness_minutes=candidate.lateness_minutes,
        short_code=short_code_for(offer_id, uow.offers.codes_in_use(candidate.caregiver_id)),
        policy_version=policy.version,
    )
    uow.offers.add(offer)
    uow.emit(ev.offer_created(request, offer))
    uow.emit(ev.timer_requested("offer-expiry", offer.offer_id, request, offer.expires_at, now))
    return offer


def accept_offer(
    offer_id: str, caregiver_id: str, uow: UnitOfWork, now: datetime, policy: DispatchPolicy, travel: TravelTimes
) -> bool:
    """Turn an offer into a visit; rescind the request's other pending offers;
    release synchronised followers.

    ``now`` is when the caregiver answered. An answer stamped after the offer
    expired closes it as ``timeout``. An answer stamped in time but processed
    after the timeout (broker latency) still wins while nobody else holds the
    request and the slot is free. Anything else is refused with an event.
    """
    offer = uow.offers.get(offer_id)
    if offer is None or offer.caregiver_id != caregiver_id:
        return False
    request = uow.requests.get(offer.request_id)
    assert request is not None
    on_time_late_arrival = (
        offer.status == OfferStatus.TIMEOUT
        and now <= offer.expires_at
        and uow.visits.for_request(request.request_id) is None
        and _slot_free(offer, uow)
    )
    if request.status.is_final or (offer.status != OfferStatus.PENDING and not on_time_late_arrival):
        uow.emit(ev.offer_refused(request, offer, now))
        return False
    if request.status in (RequestStatus.ACCEPTED, RequestStatus.IN_PROGRESS):
        # another caregiver holds the request: an offer made meanwhile (the batch matcher read the
        # request just before that accept committed) is withdrawn, never a second visit
        offer.status, offer.responded_at = OfferStatus.RESCINDED, now
        uow.emit(ev.offer_refused(request, offer, now))
        return False
    if now > offer.expires_at:
        uow.emit(ev.offer_refused(request, offer, now))
        close_offer(offer_id, OfferStatus.TIMEOUT, uow, offer.expires_at, policy, travel)
        return False
    if _clashing_visit(offer, request, uow, travel) is not None:
        # the offer was ranked on a view of the caregiver's day that an accept has changed since
        # (the batch matcher and the agent decide concurrently): a second visit there would make
        # them late for one of the two, so the offer is withdrawn and the request offered on
        offer.status, offer.responded_at = OfferStatus.RESCINDED, now
        uow.emit(ev.offer_refused(request, offer, now))
        offer_next(request, uow, now, policy, travel)
        return False
    was = offer.status
    offer.status, offer.responded_at = OfferStatus.ACCEPTED, now
    _rescind_others(request, offer_id, uow, now)
    caregiver = uow.caregivers.get(caregiver_id)
    elder = uow.elders.get(request.elder_id)
    visit = Visit(
        visit_id=visit_id_for(offer_id),
        request_id=request.request_id,
        caregiver_id=caregiver_id,
        provider_id=caregiver.provider_id if caregiver else "",
        elder_id=request.elder_id,
        service_type=request.service_type,
        location_index=elder.location_index if elder else request.location_index,
        planned_start=offer.planned_start,
        planned_end=offer.planned_end,
    )
    told = promise.told(request)
    uow.visits.add(visit)
    request.assigned_at = request.assigned_at or now
    _set_status(uow, request, RequestStatus.ACCEPTED, now, f"offer {offer_id} accepted")
    kept, changed = promise.change_for(
        request, told, visit.planned_start, policy.promise_before_minutes, policy.promise_after_minutes
    )
    from handlers.dispatch import rounds  # rounds offers through this module

    deferred = rounds.defer_promise(request, uow, now, policy)
    if not deferred:
        request.promised_start, request.promised_end = kept.start, kept.end
    uow.emit(
        ev.offer_accepted(
            request,
            offer,
            visit,
            now,
            supersedes=was.value if was != OfferStatus.PENDING else None,
            promise=None if deferred else (kept.start, kept.end, changed),
        )
    )
    uow.emit(
        ev.timer_requested(
            "check-in-deadline",
            visit.visit_id,
            request,
            visit.planned_start + timedelta(minutes=policy.no_show_minutes),
            now,
        )
    )
    from handlers.visits.lateness import late_check_at  # lateness re-dispatches through this module

    uow.emit(ev.timer_requested("late-check", visit.visit_id, request, late_check_at(request, now), now))
    for follower in uow.requests.followers_of(request.request_id):
        if follower.status == RequestStatus.ON_HOLD:
            follower.sync_anchor_start = offer.planned_start
            _set_status(uow, follower, RequestStatus.RECEIVED, now, "anchor visit assigned")
            _enter_step(follower, 0, uow, now, policy)
            offer_next(follower, uow, now, policy, travel)
    return True


Reoffer = Callable[[CareRequest], object]
"""How a request whose offer or visit fell through is offered on, when not by ``offer_next``:
a planned area passes its repair (``handlers.messagebus``, ``handlers.dispatch.repair``)."""


def close_offer(
    offer_id: str,
    outcome: OfferStatus,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    caregiver_id: str | None = None,
    reoffer: Reoffer | None = None,
) -> bool:
    """Record a decline (``rejected``) or a ``timeout``; when no offer of the
    request is still pending, offer it to the next caregivers (``offer_next``, or
    ``reoffer(request)`` when given: a planned area repairs its day,
    ``handlers.dispatch.repair``). Late or foreign replies change nothing; a
    decline given after expiry counts as a timeout."""
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
    caregiver = uow.caregivers.get(offer.caregiver_id)
    uow.emit(ev.offer_closed(request, offer, now, caregiver.provider_id if caregiver else None))
    if not request.status.is_final and uow.visits.for_request(request.request_id) is None:
        if reoffer is not None:
            reoffer(request)
        else:
            offer_next(request, uow, now, policy, travel)
    return True


def step_deadline(
    request_id: str, step_index: int, uow: UnitOfWork, now: datetime, policy: DispatchPolicy, travel: TravelTimes
) -> bool:
    """A ladder step's deadline passed: if the request is still unassigned on
    that step, rescind its pending offers and climb to the next step."""
    request = uow.requests.get(request_id)
    if (
        request is None
        or request.status.is_final
        or request.escalation_step != step_index
        or uow.visits.for_request(request_id) is not None
    ):
        return False
    steps = policy.steps_for(request.priority.value)
    if step_index + 1 >= len(steps):
        return False
    from handlers.dispatch import rounds  # rounds offers through this module

    later = rounds.ladder_resumes_at(request, steps[step_index].deadline_seconds, uow, now, policy)
    if later is not None:  # its plan's confirmation rounds place it first: the ladder waits for them
        uow.emit(ev.timer_requested("ladder-step", f"{request_id}#{step_index}", request, later, now))
        return False
    _rescind_others(request, None, uow, now)
    _enter_step(request, step_index + 1, uow, now, policy)
    offer_next(request, uow, now, policy, travel)
    return True


def _enter_step(request: CareRequest, index: int, uow: UnitOfWork, now: datetime, policy: DispatchPolicy) -> None:
    steps = policy.steps_for(request.priority.value)
    request.escalation_step = index
    step = steps[index]
    if index > 0:
        uow.emit(ev.escalated(request, now, step.step, f"step {index} of the {request.priority.value} ladder"))
    if step.step == "emergency_services":
        uow.emit(ev.operator_alert(request, now, "emergency not accepted in time: call emergency services"))
    if step.deadline_seconds > 0 and index + 1 < len(steps):
        uow.emit(
            ev.timer_requested(
                "ladder-step",
                f"{request.request_id}#{index}",
                request,
                now + timedelta(seconds=step.deadline_seconds),
                now,
            )
        )


def _rescind_others(request: CareRequest, keep: str | None, uow: UnitOfWork, now: datetime) -> None:
    for other in uow.offers.for_request(request.request_id):
        if other.offer_id != keep and other.status == OfferStatus.PENDING:
            other.status, other.responded_at = OfferStatus.RESCINDED, now
            uow.emit(ev.offer_closed(request, other, now))


def _clashing_visit(offer: Offer, request: CareRequest, uow: UnitOfWork, travel: TravelTimes) -> Visit | None:
    """A visit the offer's caregiver committed to whose planned slot leaves no time to travel to
    or from the offered slot (``planned_start``..``planned_end``, travel minutes from
    ``travel`` at the caregiver's own travel mode, as ranking measured them:
    ``scheduling.travel_for``), or None. A visit occupies what ranking's bookings say it does
    (``UnitOfWork.bookings``): its planned start to ``Visit.expected_end``, so a caregiver who
    checked out early is free from her check-out (the deploy smoke saw a completed visit's planned
    end refuse the next offer ranking had made her); no lateness is predicted here: a caregiver
    running late on one visit may still take the next, only two commitments that cannot both be
    kept clash."""
    here = request.location_index
    caregiver = uow.caregivers.get(offer.caregiver_id)
    if caregiver is not None:
        travel = travel_for(caregiver, travel)
    for v in uow.visits.for_caregiver(offer.caregiver_id):
        if v.request_id == offer.request_id or v.status in (VisitStatus.CANCELLED, VisitStatus.NO_SHOW):
            continue
        if v.planned_start <= offer.planned_start:
            if v.expected_end + timedelta(minutes=travel.minutes(v.location_index, here)) > offer.planned_start:
                return v
        elif offer.planned_end + timedelta(minutes=travel.minutes(here, v.location_index)) > v.planned_start:
            return v
    return None


def _slot_free(offer: Offer, uow: UnitOfWork) -> bool:
    held = uow.bookings([offer.caregiver_id]).get(offer.caregiver_id, [])
    return all(
        b.end <= offer.planned_start or b.start >= offer.planned_end for b in held if b.request_id != offer.request_id
    )


def _set_status(
    uow: UnitOfWork, request: CareRequest, status: RequestStatus, now: datetime, reason: str | None = None
) -> None:
    request.status, request.status_reason = status, reason
    if status.is_final:
        request.closed_at = now
    uow.emit(ev.status_changed(request, now))


def _fail(
    uow: UnitOfWork, request: CareRequest, now: datetime, reason: str, policy: DispatchPolicy, travel: TravelTimes
) -> None:
    _set_status(uow, request, RequestStatus.FAILED, now, reason)
    uow.emit(ev.escalated_to_operator(request, now, reason))
    for follower in uow.requests.followers_of(request.request_id):
        if follower.status == RequestStatus.ON_HOLD:
            _release_unsynchronised(follower, "anchor visit failed")
            _set_status(uow, follower, RequestStatus.RECEIVED, now, follower.status_reason)
            _enter_step(follower, 0, uow, now, policy)
            offer_next(follower, uow, now, policy, travel)


def _release_unsynchronised(request: CareRequest, reason: str) -> None:
    request.sync_type = SyncType.INDEPENDENT
    request.sync_is_follower = False
    request.status_reason = f"dispatched without synchronisation: {reason}"
