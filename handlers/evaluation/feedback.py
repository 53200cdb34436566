"""Use cases of feedback: ratings from the callback survey (回访) and complaints.

A rating (1–5 stars) is stored once per feedback id. A complaint is stored
and reopens the request for an operator follow-up call with its own deadline
(``followup_hours``, default 24 h): an event for the operator queue and a
timer, so the follow-up cannot be forgotten.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from handlers import events as ev
from handlers.model import Feedback, Visit, VisitStatus
from handlers.ports import UnitOfWork

COMPLAINT_CATEGORIES = ("late", "no-show", "rude", "incomplete", "safety")


class InvalidFeedback(ValueError):
    """Feedback that cannot be stored; the message names the field."""


def visit_concerned(visits: Iterable[Visit]) -> Visit | None:
    """The visit feedback about a request counts against, from that request's
    visits (``VisitRepository.all_for_request``): its live visit (scheduled, in
    progress or completed), else its latest no-show (a complaint about a no-show
    is about that caregiver); never a cancelled one (called off and
    re-dispatched). None before any visit."""
    mine = [v for v in visits if v.status != VisitStatus.CANCELLED]
    live = [v for v in mine if v.status != VisitStatus.NO_SHOW]
    return max(live or mine, key=lambda v: (v.planned_start, v.visit_id), default=None)


def record_feedback(
    feedback_id: str,
    request_id: str,
    uow: UnitOfWork,
    now: datetime,
    stars: int | None = None,
    complaint: str | None = None,
    comment: str | None = None,
    followup_hours: float = 24.0,
) -> bool:
    """Store a rating and/or a complaint about ``request_id``; False for a
    repeated feedback id. Raises ``InvalidFeedback`` for stars outside 1–5,
    an unknown complaint category or an unknown request."""
    if stars is not None and not 1 <= stars <= 5:
        raise InvalidFeedback(f"stars: must be 1 to 5, got {stars}")
    if complaint is not None and complaint not in COMPLAINT_CATEGORIES:
        raise InvalidFeedback(f"complaint: unknown category {complaint!r}")
    request = uow.requests.get(request_id)
    if request is None:
        raise InvalidFeedback(f"request_id: no request {request_id!r}")
    if uow.feedback.get(f"{feedback_id}.rating") or uow.feedback.get(f"{feedback_id}.complaint"):
        return False
    visit = visit_concerned(uow.visits.all_for_request(request_id))
    people = {"provider_id": visit.provider_id, "caregiver_id": visit.caregiver_id} if visit else {}
    visit_id = visit.visit_id if visit else None
    if stars is not None:
        uow.feedback.add(
            Feedback(
                f"{feedback_id}.rating", request_id, "rating", now, rating=stars, comment=comment, visit_id=visit_id
            )
        )
        uow.emit(ev.feedback_recorded(request, now, "rating", stars=stars, **people))
    if complaint is not None:
        uow.feedback.add(
            Feedback(
                f"{feedback_id}.complaint",
                request_id,
                "complaint",
                now,
                category=complaint,
                comment=comment,
                visit_id=visit_id,
            )
        )
        uow.emit(ev.feedback_recorded(request, now, "complaint", category=complaint, **people))
        due = now + timedelta(hours=followup_hours)
        uow.emit(ev.escalated(request, now, "operator_followup", f"complaint ({complaint}): call the elder back"))
        uow.emit(ev.timer_requested("followup-deadline", request_id, request, due, now))
    return True


def followup_due(request_id: str, uow: UnitOfWork, now: datetime) -> bool:
    """The follow-up deadline of a complaint passed: alert the operators
    (the call back is a person's job; the alert keeps it from being forgotten)."""
    request = uow.requests.get(request_id)
    if request is None:
        return False
    uow.emit(ev.operator_alert(request, now, "complaint follow-up call is due"))
    return True
