"""What an operator records to close what the system could not: an emergency, a
request nobody took, a loose end of the channels.

An alarm centre closes every emergency with an outcome code and a note (who
did what); until then it stays on the red card (``handlers.operations.alerts``).
A request dispatch failed to the operator queue (nobody accepted) stays waiting
and counts against the SLA until an operator records how the elder was served
(``handlers.operations.queues``). A loose end (a caller who hung up in the menu,
an unknown caller, a check-in texted from a phone that is no caregiver's, a
complaint that names no request) stays on the board until closed.

Same contract as ``handlers.operations.operator_actions``: ``Refused`` before
anything changes; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from handlers.model import DomainEvent, Priority, RequestStatus
from handlers.operations.operator_actions import OperatorUnitOfWork, Refused

#: how an emergency ended (the codes an alarm centre records; the elder's SMS says which)
EMERGENCY_OUTCOMES = ("resolved_by_phone", "helper_on_site", "family_attended", "ambulance_called", "false_alarm")
#: how an operator served a request nobody took
UNSERVED_OUTCOMES = ("served_by_phone", "arranged_another_way", "rescheduled", "no_longer_needed", "elder_unreachable")
#: what the channels leave for an operator (``loose_ends.kind``)
LOOSE_END_KINDS = ("hangup", "unknown_caller", "unknown_sms", "complaint")
LOOSE_END_OUTCOMES = ("called_back", "no_answer", "registered", "not_needed", "handled")


@dataclass(frozen=True)
class Outcome:
    """How an operator closed an emergency or an unserved request: ``code`` of ``codes_for`` its
    priority, ``note`` (at most 2000 characters) saying what happened, when (aware UTC) and who."""

    request_id: str
    code: str
    note: str
    operator_id: str
    recorded_at: datetime


class OutcomeRepository(Protocol):
    """Recorded outcomes by request id: at most one per request (a second is ``Refused``)."""

    def get(self, request_id: str) -> Outcome | None:
        """The request's outcome, or None while none is recorded."""

    def add(self, outcome: Outcome) -> None:
        """Store a new outcome; its request must already be stored."""


class OutcomeUnitOfWork(OperatorUnitOfWork, Protocol):
    """The operator unit of work plus the recorded outcomes."""

    @property
    def outcomes(self) -> OutcomeRepository:
        """Outcomes, read and written in this unit of work's transaction."""


def codes_for(priority: Priority) -> tuple[str, ...]:
    """The outcome codes a request of ``priority`` may be closed with."""
    return EMERGENCY_OUTCOMES if priority == Priority.STAT else UNSERVED_OUTCOMES


def needs_outcome(priority: Priority, status: RequestStatus) -> bool:
    """An emergency always ends with an outcome; another request once dispatch failed it."""
    return priority == Priority.STAT or status == RequestStatus.FAILED


def record_outcome(
    request_id: str, code: str, note: str, uow: OutcomeUnitOfWork, now: datetime, operator_id: str
) -> Outcome:
    """Close an emergency or an unserved request with ``code`` and ``note``. Refused:
    ``unknown_request``; ``no_outcome_needed`` for a request that is neither an
    emergency nor failed; ``unknown_code`` for a code not of ``codes_for`` its
    priority; ``no_note`` for an empty note; ``closed`` when an outcome is recorded.
    Emits ``care.emergency.outcome_recorded`` (the elder and family are told) or
    ``care.request.outcome_recorded``."""
    request = uow.requests.get(request_id)
    if request is None:
        raise Refused("unknown_request", f"no request {request_id}")
    if not needs_outcome(request.priority, request.status):
        raise Refused("no_outcome_needed", f"request {request_id} is {request.status.value}: cancel or reassign it")
    if code not in codes_for(request.priority):
        raise Refused("unknown_code", f"outcome must be one of {', '.join(codes_for(request.priority))}")
    if not note.strip():
        raise Refused("no_note", "say what happened: the note is the record")
    if uow.outcomes.get(request_id) is not None:
        raise Refused("closed", f"an outcome of {request_id} is recorded already")
    outcome = Outcome(request_id, code, note.strip()[:2000], operator_id, now)
    uow.outcomes.add(outcome)
    kind = "care.emergency.outcome_recorded" if request.priority == Priority.STAT else "care.request.outcome_recorded"
    uow.emit(
        DomainEvent(
            kind,
            request_id,
            now,
            "lifecycle",
            request_id,
            {
                "request_id": request_id,
                "service_area": request.service_area,
                "elder_id": request.elder_id,
                "code": code,
                "operator_id": operator_id,
            },
        )
    )
    return outcome


def check_loose_end_outcome(code: str, note: str) -> None:
    """Refused ``unknown_code`` or ``no_note`` for closing a loose end."""
    if code not in LOOSE_END_OUTCOMES:
        raise Refused("unknown_code", f"outcome must be one of {', '.join(LOOSE_END_OUTCOMES)}")
    if not note.strip():
        raise Refused("no_note", "say what happened: the note is the record")
