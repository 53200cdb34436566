"""Rules of the app channel: what an elder (or family) and a caregiver may do
from their phone app, and what the app shows them.

Same contract as ``handlers.operations.operator_actions``: a rule that says no raises
``Refused`` (stable ``code``, a message for the app) before anything changes.
The app's writes go where every channel's go: a submitted request is an intake
record (``handlers.channels.intake``), a caregiver's answer or check-in a caregiver
event that dispatch handles (``handlers.dispatch.offers``, ``handlers.visits.attendance``);
cancelling is the operator's use case (``handlers.operations.operator_actions``) and a
rating is ``handlers.evaluation.feedback``'s. Times are timezone-aware UTC, durations minutes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping

from handlers.channels.intake import InvalidIntake
from handlers.model import CareRequest, Offer, OfferStatus, RequestStatus, Visit, VisitStatus
from handlers.operations import operator_actions
from handlers.operations.operator_actions import OperatorUnitOfWork, Refused
from handlers.visits.evv import EvvFlag, EvvPolicy, Position, verify_check_in, verify_check_out

#: how far ahead an app request's window may reach, in days (careline policy: a month of planning;
#: ``CARELINE_APP_BOOKING_HORIZON_DAYS`` changes it). A longer standing need is a subscription.
BOOKING_HORIZON_DAYS = 30
#: what the app calls a caregiver who has no display name on file
UNNAMED_CAREGIVER = "your caregiver"
#: who the operator's cancel use case records as the actor of an app cancellation
APP_ACTOR = "elder-app"


def check_booking_window(
    start: datetime, end: datetime, now: datetime, horizon_days: int = BOOKING_HORIZON_DAYS
) -> None:
    """Raise ``InvalidIntake`` naming ``window.end`` for a window that is already
    over, ``window.start`` for one starting more than ``horizon_days`` ahead, and
    ``window.end`` for one ending later than that (a window reaching years out
    would hold a request open, and a caregiver's slot, for as long)."""
    if end <= now:
        raise InvalidIntake("window.end", "the time window is already over")
    horizon = now + timedelta(days=horizon_days)
    if start > horizon:
        raise InvalidIntake("window.start", f"must start within {horizon_days} days")
    if end > horizon:
        raise InvalidIntake("window.end", f"must end within {horizon_days} days")


def check_service_offered(service_type: str, offered: set[str]) -> None:
    """Raise ``InvalidIntake`` naming ``service_type`` when no caregiver can perform it
    (the stream worker's rule too: it dead-letters such a record)."""
    if service_type not in offered:
        choices = ", ".join(sorted(offered)) or "none yet"
        raise InvalidIntake("service_type", f"{service_type!r} is not offered; offered: {choices}")


def caregiver_label(display_name: str | None) -> str:
    """The caregiver's display name, or "your caregiver" when none is on file."""
    return display_name.strip() if display_name and display_name.strip() else UNNAMED_CAREGIVER


def own_request(request: CareRequest | None, elder_id: str) -> CareRequest:
    """The request if it is the elder's; ``Refused("unknown_request")`` otherwise
    (another elder's request is reported exactly like a missing one)."""
    if request is None or request.elder_id != elder_id:
        raise Refused("unknown_request", "no such request")
    return request


def cancel_by_elder(request_id: str, elder_id: str, uow: OperatorUnitOfWork, now: datetime) -> None:
    """The elder cancels their own request: pending offers become *canceled*, a
    booked visit *cancelled*, the request ``cancelled`` (``operator_actions.cancel_request``).
    Refused for another elder's request, a final one (``closed``) or a visit in progress."""
    own_request(uow.requests.get(request_id), elder_id)
    operator_actions.cancel_request(request_id, uow, now, APP_ACTOR, reason="cancelled by the elder in the app")


def check_ratable(request: CareRequest) -> None:
    """Only a completed visit can be rated (``Refused("not_completed")``)."""
    if request.status != RequestStatus.COMPLETED:
        raise Refused("not_completed", f"only a completed visit can be rated; this request is {request.status.value}")


def check_offer_reply(offer: Offer | None, caregiver_id: str, now: datetime) -> Offer:
    """The offer a caregiver may still accept or decline. ``Refused``: ``unknown_offer``
    (missing or another caregiver's), ``answered`` (not pending), ``expired``."""
    if offer is None or offer.caregiver_id != caregiver_id:
        raise Refused("unknown_offer", "no such offer")
    if offer.status != OfferStatus.PENDING:
        raise Refused("answered", f"this offer is already {offer.status.value}")
    if now > offer.expires_at:
        raise Refused("expired", "this offer has expired")
    return offer


def own_visit(visit: Visit | None, caregiver_id: str) -> Visit:
    """The request's live visit if this caregiver holds it, else ``Refused("no_visit")``."""
    if visit is None or visit.caregiver_id != caregiver_id:
        raise Refused("no_visit", "you hold no visit for this request")
    return visit


def held_visit(visit: Visit | None, caregiver_id: str, action: str) -> Visit:
    """The caregiver's live visit for ``action`` ``check-in`` (must be scheduled) or
    ``check-out`` (scheduled or in progress: the check-in may still be on its way).
    ``Refused``: ``no_visit`` when they hold none, ``already_checked_in`` / ``visit_over``."""
    visit = own_visit(visit, caregiver_id)
    if action == "check-in" and visit.status != VisitStatus.SCHEDULED:
        raise Refused("already_checked_in", f"this visit is already {visit.status.value}")
    if visit.status not in (VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS):
        raise Refused("visit_over", f"this visit is already {visit.status.value}")
    return visit


def visit_report(
    action: str,
    visit: Visit,
    at: datetime,
    position: Position,
    accuracy_metres: float | None,
    tasks: Mapping[str, str],
    elder_position: Position | None,
    policy: EvvPolicy,
) -> dict[str, Any]:
    """The ``data`` a check-in or check-out from the app adds to its caregiver event:
    the visit, the phone's position (WGS84 degrees, accuracy in metres), the task
    outcomes (done / refused) at check-out, and the EVV flags (``handlers.visits.evv``)
    found now: geofence and too-early at check-in; checklist and short visit at
    check-out once the check-in time is known."""
    flags: list[EvvFlag]
    if action == "check-in":
        flags = verify_check_in("app_gps", at, visit.planned_start, position, elder_position, None, (), policy)
    elif visit.check_in_at is not None:
        planned = (visit.planned_end - visit.planned_start).total_seconds() / 60.0
        flags = verify_check_out(
            visit.check_in_at, max(at, visit.check_in_at), planned, visit.service_type, tasks, policy
        )
    else:
        flags = []
    data: dict[str, Any] = {
        "visit_id": visit.visit_id,
        "method": "app_gps",
        "position": {"latitude": position[0], "longitude": position[1], "accuracy_metres": accuracy_metres},
        "evv_flags": [{"code": f.code.value, "detail": f.detail} for f in flags],
    }
    if action == "check-out":
        data["tasks"] = dict(tasks)
    return data
