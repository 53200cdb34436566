"""Use cases of feedback: ratings from the callback survey (回访) and complaints.

A rating (1–5 stars) is stored once per feedback id. A complaint — from an
SMS keyword, the hotline's complaint menu, the app or the dashboard, or a
callback survey — is stored with its follow-up deadline (``followup_hours``,
default 24 h: the hotline's ``complaint_followup_hours``) and reopens the
request for an operator follow-up call: an event for the operator queue and a
timer. The follow-up stays on the operator's board until an operator closes
it with a note (``close_followup``); past its deadline it is an alert.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from handlers import events as ev
from handlers.model import Feedback, Visit, VisitStatus
from handlers.ports import UnitOfWork

COMPLAINT_CATEGORIES = ("late", "no-show", "rude", "incomplete", "safety", "other")
FEEDBACK_CHANNELS = ("sms", "hotline", "app", "dashboard", "survey", "simulator")


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
    channel: str | None = None,
) -> bool:
    """Store a rating and/or a complaint about ``request_id``; False for a
    repeated feedback id. ``channel``: where it came from (``FEEDBACK_CHANNELS``).
    Raises ``InvalidFeedback`` for stars outside 1–5, an unknown complaint
    category or channel, or an unknown request."""
    if stars is not None and not 1 <= stars <= 5:
        raise InvalidFeedback(f"stars: must be 1 to 5, got {stars}")
    if complaint is not None and complaint not in COMPLAINT_CATEGORIES:
        raise InvalidFeedback(f"complaint: unknown category {complaint!r}")
    if channel is not None and channel not in FEEDBACK_CHANNELS:
        raise InvalidFeedback(f"channel: unknown channel {channel!r}")
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
                f"{feedback_id}.rating",
                request_id,
                "rating",
                now,
                rating=stars,
                comment=comment,
                visit_id=visit_id,
                channel=channel,
            )
        )
        uow.emit(ev.feedback_recorded(request, now, "rating", stars=stars, **people))
    if complaint is not None:
        due = now + timedelta(hours=followup_hours)
        uow.feedback.add(
            Feedback(
                f"{feedback_id}.complaint",
                request_id,
                "complaint",
                now,
                category=complaint,
                comment=comment,
                visit_id=visit_id,
                followup_due_at=due,
                channel=channel,
            )
        )
        uow.emit(
            ev.feedback_recorded(
                request,
                now,
                "complaint",
                category=complaint,
                channel=channel,
                feedback_id=f"{feedback_id}.complaint",
                followup_due=due.isoformat(),
                **people,
            )
        )
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


class FollowUpRefused(ValueError):
    """A follow-up that cannot be closed: ``code`` ``unknown_complaint``, ``closed`` or ``no_note``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def close_followup(feedback_id: str, uow: UnitOfWork, now: datetime, operator_id: str, note: str) -> Feedback:
    """An operator called the elder back about a complaint: close its follow-up with
    a note (what was said or done). Raises ``FollowUpRefused`` for an unknown
    complaint, one already closed, or an empty note (the note is the record)."""
    complaint = uow.feedback.get(feedback_id)
    if complaint is None or complaint.kind != "complaint":
        raise FollowUpRefused("unknown_complaint", f"no complaint {feedback_id}")
    if complaint.followup_closed_at is not None:
        raise FollowUpRefused("closed", f"the follow-up of {feedback_id} is already closed")
    if not note.strip():
        raise FollowUpRefused("no_note", "say what was done: the note is the record of the call back")
    complaint.followup_closed_at, complaint.followup_closed_by = now, operator_id
    complaint.followup_note = note.strip()[:2000]
    request = uow.requests.get(complaint.request_id)
    if request is not None:
        uow.emit(
            ev.feedback_recorded(request, now, "followup_closed", feedback_id=feedback_id, operator_id=operator_id)
        )
    return complaint
