"""Late is an alert, not a statistic: predicting that a visit will start after its
window, and what happens then.

A visit is *late* when the caregiver cannot start it by the request's latest
on-time start (``CareRequest.latest_start``: the window's end, or the end less
the duration when the whole service must end inside the window; the on-time
KPI measures the same). Her arrival is predicted from where she is
(``expected_arrival``): the end of the visit she is in, or her last check-out,
plus the travel time (``TravelTimes``, minutes), never before the planned start
nor before now. It is checked

- when she checks out of a visit, for her next booked one (``after_check_out``);
  a next visit that is not late is told "on the way" with its expected time;
- at the window's end less the duration (timer ``late-check``, set at
  acceptance): if she has not checked in by then, can she still make it?

A late visit raises an operator alert and tells the elder and family the new
expected time (``care.visit.late``; ``handlers.channels.notices``). When another
caregiver can still start inside the window, the request is re-dispatched to
the best of them (the late caregiver is told not to go); otherwise she keeps
it with the new time (``Visit.expected_at``), and is told the elder knows. In a
planned area (``repair``, given by ``handlers.messagebus``) the day is repaired
first (``handlers.dispatch.repair.replace_late``: the request inside its window
and before her expected arrival, moving plan slots of the caregivers it
affects); only when the repair has no such answer does the ranking's best
decide as above. A
prediction later than the last one by less than ``REALERT_MINUTES`` raises
nothing new.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from handlers import events as ev
from handlers.dispatch import offers
from handlers.dispatch.scheduling import DispatchPolicy, TravelTimes
from handlers.model import CancelReason, CareRequest, OfferStatus, RequestStatus, Visit, VisitStatus, offer_id_of
from handlers.ports import UnitOfWork

LateRepair = Callable[[CareRequest, datetime, Callable[[str], None]], bool]
"""A planned area's repair for a late caregiver's request: (request, her expected arrival, the
hand-over to call with the new caregiver's id before the new offer) -> placed?
(``handlers.dispatch.repair.replace_late`` bound to the unit of work, time and policy)."""

#: a new prediction this many minutes later than the last one told is told again
REALERT_MINUTES = 10.0
#: a caregiver's next visit starting within this many minutes of a check-out is "on the way"
ON_THE_WAY_MINUTES = 120.0


def late_check_at(request: CareRequest, now: datetime) -> datetime:
    """When to check a booked visit that has not started: the window's end less the
    duration (by then a caregiver not yet there cannot finish inside the window),
    not before the window opens, nor before ``now``."""
    due = max(request.window_start, request.window_end - timedelta(minutes=request.duration_minutes))
    return max(due, now)


def expected_arrival(
    visit: Visit, others: list[Visit], home: int | None, travel: TravelTimes, now: datetime
) -> datetime:
    """When the caregiver can start ``visit``: after the visit she is in (its expected
    end), else after her last check-out, plus travel from there (from ``home`` when
    she has done nothing yet); never before the planned start, nor before ``now``."""
    mine = [v for v in others if v.visit_id != visit.visit_id]
    current = next((v for v in mine if v.status == VisitStatus.IN_PROGRESS), None)
    done = [v for v in mine if v.check_out_at is not None and v.check_out_at <= now]
    if current is not None:
        ready, where = current.expected_end, current.location_index
    elif done:
        last = max(done, key=lambda v: v.check_out_at or now)
        ready, where = last.check_out_at or now, last.location_index
    else:
        ready, where = now, home
    arrival = ready + timedelta(minutes=travel.minutes(where, visit.location_index))
    return max(arrival, visit.planned_start, now)


def _minutes(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 60.0


def check_visit(
    visit: Visit,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    on_the_way: bool,
    repair: LateRepair | None = None,
) -> bool:
    """Predict ``visit``'s start; when late, alert and tell (and re-dispatch when another
    caregiver can make it: by ``repair`` first when given, a planned area's); when not and
    ``on_the_way``, tell the elder she is coming. True when the visit was found late."""
    request = uow.requests.get(visit.request_id)
    if request is None or request.status.is_final or visit.status != VisitStatus.SCHEDULED:
        return False
    caregiver = uow.caregivers.get(visit.caregiver_id)
    mine = uow.visits.for_caregiver(visit.caregiver_id)
    expected = expected_arrival(visit, mine, caregiver.home_base_index if caregiver else None, travel, now)
    if expected <= request.latest_start:
        if on_the_way and _minutes(visit.planned_start, now) <= ON_THE_WAY_MINUTES:
            uow.emit(ev.visit_event("care.visit.on_the_way", request, visit, now, expected_at=expected.isoformat()))
        return False
    if visit.expected_at is not None and _minutes(expected, visit.expected_at) < REALERT_MINUTES:
        return True
    late_by = _minutes(expected, request.latest_start)
    if repair is not None and repair(request, expected, lambda cid: hand_over(request, visit, expected, cid, uow, now)):
        return True
    if _redispatch(request, visit, expected, uow, now, policy, travel):
        return True
    visit.expected_at = expected
    uow.emit(ev.visit_event("care.visit.late", request, visit, now, redispatched=False))
    uow.emit(
        ev.operator_alert(
            request, now, f"visit running late: expected {late_by:.0f} min after the window, nobody free to take over"
        )
    )
    return True


def _redispatch(
    request: CareRequest,
    visit: Visit,
    expected: datetime,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
) -> bool:
    """Offer the request to the best other caregiver who can start inside the window
    and before the late one; False (nothing changed) when there is none."""
    ranking = offers.rank_for(request, uow, now, policy, travel, without={visit.caregiver_id}).ranking
    able = [c for c in ranking.candidates if c.lateness_minutes <= 0 and c.start < expected]
    if not able:
        return False
    hand_over(request, visit, expected, able[0].caregiver_id, uow, now)
    offers.offer_to(request, able[0], len(uow.offers.for_request(request.request_id)) + 1, uow, now, policy)
    return True


def hand_over(request: CareRequest, visit: Visit, expected: datetime, to: str, uow: UnitOfWork, now: datetime) -> None:
    """Take the request from the late caregiver (her visit cancelled, the elder and she told) before
    it is offered to ``to``."""
    visit.status, visit.expected_at = VisitStatus.CANCELLED, expected
    accepted = uow.offers.get(offer_id_of(visit.visit_id))
    if accepted is not None and accepted.status == OfferStatus.ACCEPTED:
        accepted.status, accepted.cancel_reason = OfferStatus.CANCELED, CancelReason.HANDED_OVER
    uow.emit(ev.visit_event("care.visit.cancelled", request, visit, now, reason="late"))
    request.status, request.status_reason = RequestStatus.RECEIVED, "re-dispatch: the caregiver is running late"
    uow.emit(ev.status_changed(request, now))
    uow.emit(ev.visit_event("care.visit.late", request, visit, now, redispatched=True))
    uow.emit(ev.operator_alert(request, now, f"visit running late: re-dispatched to {to}"))


def late_check(
    visit_id: str,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    repair: LateRepair | None = None,
) -> bool:
    """The ``late-check`` timer of ``visit_id`` fired: if nobody checked in yet, check it."""
    visit = uow.visits.get(visit_id)
    if visit is None:
        return False
    return check_visit(visit, uow, now, policy, travel, on_the_way=False, repair=repair)


def after_check_out(
    caregiver_id: str,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    repair: LateRepair | None = None,
) -> bool:
    """The caregiver just checked out: check her next booked visit (if any)."""
    booked = [v for v in uow.visits.for_caregiver(caregiver_id) if v.status == VisitStatus.SCHEDULED]
    if not booked:
        return False
    first = min(booked, key=lambda v: v.planned_start)
    return check_visit(first, uow, now, policy, travel, on_the_way=True, repair=repair)
