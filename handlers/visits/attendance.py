"""Use cases of a visit at the elder's home: check-in and check-out.

Check-in starts the service (FHIR ``in-progress``), check-out completes it.
Lateness (minutes) is measured at check-in against the request's latest
on-time start; the travel of a visit is the matrix time from where the
caregiver last was (the previous checked-out visit, or the home base).
A check-in keeps how its channel verified it (``evv_method``); one that came
without any is flagged ``unverified`` (``handlers.visits.evv.unverified``) and
counted against EVV compliance. A check-out looks ahead to the caregiver's next
visit: on the way, or late (``handlers.visits.lateness``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Sequence

from handlers import events as ev
from handlers.dispatch.scheduling import DispatchPolicy, TravelTimes, travel_for
from handlers.model import CareRequest, RequestStatus, Visit, VisitStatus
from handlers.ports import UnitOfWork
from handlers.visits import lateness
from handlers.visits.evv import CHECK_IN_METHODS, unverified


def check_in(
    request_id: str,
    caregiver_id: str,
    uow: UnitOfWork,
    now: datetime,
    travel: TravelTimes,
    evv_flags: Sequence[Mapping[str, Any]] | None = None,
    evv_method: str | None = None,
) -> bool:
    """Start the visit of ``request_id`` if this caregiver holds it; a repeated
    or foreign check-in changes nothing (returns False). EVV mismatches found
    at the edge (``handlers.visits.evv``: outside the geofence, too early, wrong phone,
    or no verification at all) are kept on the visit and raised for operator review,
    never dropped."""
    visit = uow.visits.for_request(request_id)
    request = uow.requests.get(request_id)
    if visit is None or request is None or visit.caregiver_id != caregiver_id:
        return False
    if visit.status != VisitStatus.SCHEDULED:
        return False
    caregiver = uow.caregivers.get(caregiver_id)
    done = [
        (v.check_out_at, v.location_index)
        for v in uow.visits.for_caregiver(caregiver_id)
        if v.check_out_at is not None and v.visit_id != visit.visit_id
    ]
    previous = max(done, key=lambda d: d[0])[1] if done else (caregiver.home_base_index if caregiver else None)
    try:
        visit.travel_minutes = (
            travel_for(caregiver, travel).minutes(previous, visit.location_index) if caregiver else 0.0
        )
    except LookupError:  # a place without a known point: the visit keeps no travel time rather than a guess
        visit.travel_minutes = 0.0
    visit.status, visit.check_in_at = VisitStatus.IN_PROGRESS, now
    visit.evv_method = evv_method if evv_method in CHECK_IN_METHODS else None
    visit.lateness_minutes = max(0.0, (now - request.latest_start).total_seconds() / 60.0)
    request.status, request.status_reason = RequestStatus.IN_PROGRESS, "caregiver checked in"
    uow.emit(ev.status_changed(request, now))
    uow.emit(ev.visit_event("care.visit.checked_in", request, visit, now))
    _keep_flags(visit, request, [*(evv_flags or []), *_unverified(evv_method)], uow, now)
    return True


def _unverified(method: str | None) -> list[dict[str, str]]:
    return [{"code": f.code.value, "detail": f.detail} for f in unverified(method)]


def _keep_flags(
    visit: Visit, request: CareRequest, flags: Sequence[Mapping[str, Any]] | None, uow: UnitOfWork, now: datetime
) -> None:
    if not flags:
        return
    visit.evv_flags = [*(visit.evv_flags or []), *flags]
    uow.emit(ev.visit_event("care.visit.evv_flagged", request, visit, now))
    uow.emit(
        ev.operator_alert(
            request, now, "EVV mismatch to review: " + ", ".join(sorted({f.get("code", "?") for f in flags}))
        )
    )


def check_out(
    request_id: str,
    caregiver_id: str,
    uow: UnitOfWork,
    now: datetime,
    evv_flags: Sequence[Mapping[str, Any]] | None = None,
    evv_method: str | None = None,
    policy: DispatchPolicy | None = None,
    travel: TravelTimes | None = None,
    repair: lateness.LateRepair | None = None,
) -> bool:
    """Complete the visit and the request; repeated check-outs change nothing.
    Check-out flags (short visit, incomplete checklist) are kept like check-in ones
    (a check-in without verification was flagged already). With ``policy`` and ``travel``, the caregiver's next visit is
    checked: on the way, or late (``handlers.visits.lateness.after_check_out``; ``repair``: a planned
    area's repair of the day for a late one)."""
    visit = uow.visits.for_request(request_id)
    request = uow.requests.get(request_id)
    if visit is None or request is None or visit.caregiver_id != caregiver_id:
        return False
    if visit.status != VisitStatus.IN_PROGRESS:
        return False
    visit.status, visit.check_out_at = VisitStatus.COMPLETED, now
    request.status, request.status_reason = RequestStatus.COMPLETED, "caregiver checked out"
    request.closed_at = now
    uow.emit(ev.status_changed(request, now))
    uow.emit(ev.visit_event("care.visit.completed", request, visit, now))
    _keep_flags(visit, request, evv_flags, uow, now)
    if policy is not None and travel is not None:
        lateness.after_check_out(caregiver_id, uow, now, policy, travel, repair)
    return True
