"""What the channels (hotline, SMS, one-key button, callback survey) write.

- ``intake_record``: the raw record of ``handlers.channels.intake`` that every channel
  sends to ``care.intake.v1``; the stream worker validates it.
- ``caregiver_event``: a caregiver's SMS reply as the event ``streams.steps``
  reads from ``caregiver.events.v1`` (keyed by service area, so it meets the
  area's requests on one partition); the id comes from Twilio's MessageSid so
  a redelivered webhook is deduplicated downstream too.
- ``operator_alert``: ``care.operator.alert`` on ``care.lifecycle.v1``, the
  same shape as ``handlers.events.operator_alert`` (which needs a stored request).
- ``call_queued``: a hotline call put through to an operator, with the caller's
  number so the operator can call back (event data, never a log line).
- ``rating_given``: a callback-survey rating on ``care.feedback.v1``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.channels.sms import ReplyKind
from handlers.model import DomainEvent, Priority

CAREGIVER_EVENT_TYPES = {
    ReplyKind.ACCEPT: "caregiver.offer.accepted",
    ReplyKind.DECLINE: "caregiver.offer.declined",
    ReplyKind.CHECK_IN: "caregiver.visit.checked_in",
    ReplyKind.CHECK_OUT: "caregiver.visit.checked_out",
}


def intake_record(
    intake_id: str,
    request_id: str,
    channel: str,
    elder_id: str,
    service_type: str,
    duration_minutes: float,
    window_start: datetime,
    window_end: datetime,
    priority: Priority,
    submitted_at: datetime,
) -> dict[str, Any]:
    """An intake record (``handlers.channels.intake`` shape); times must be timezone-aware."""
    for value in (window_start, window_end, submitted_at):
        if value.tzinfo is None:
            raise ValueError("intake times must be timezone-aware")
    return {
        "intake_id": intake_id,
        "request_id": request_id,
        "channel": channel,
        "elder_id": elder_id,
        "service_type": service_type,
        "duration_minutes": duration_minutes,
        "window": {"start": window_start.isoformat(), "end": window_end.isoformat()},
        "priority": Priority(priority).value,
        "submitted_at": submitted_at.isoformat(),
    }


def caregiver_event(
    kind: ReplyKind,
    request_id: str,
    caregiver_id: str,
    offer_id: str,
    service_area: str,
    now: datetime,
    channel: str = "sms",
    evv_method: str | None = None,
    evv_flags: list[dict[str, str]] | None = None,
) -> DomainEvent:
    """The caregiver event for an accept, decline, check-in or check-out reply;
    raises KeyError for other reply kinds. A check-in or check-out carries how the
    channel verified it (``evv_method``, ``handlers.visits.evv.CHECK_IN_METHODS``) and
    what it found (``evv_flags``, ``[{"code", "detail"}]``)."""
    verification = {"evv_method": evv_method, "evv_flags": evv_flags or []} if evv_method else {}
    return DomainEvent(
        type=CAREGIVER_EVENT_TYPES[kind],
        subject=request_id,
        time=now,
        topic_role="caregiver",
        key=service_area,
        payload={
            "request_id": request_id,
            "caregiver_id": caregiver_id,
            "offer_id": offer_id,
            "service_area": service_area,
            "channel": channel,
            **verification,
        },
    )


def operator_alert(
    request_id: str,
    elder_id: str | None,
    service_area: str | None,
    reason: str,
    priority: Priority,
    channel: str,
    now: datetime,
) -> DomainEvent:
    """``care.operator.alert`` (lifecycle, keyed by ``request_id``) raised at a channel, before or
    without a stored request (an alarm joining an open emergency); ``priority`` is checked as a FHIR
    ``Priority`` (ValueError for another value); ``elder_id``/``service_area`` None when unknown."""
    return DomainEvent(
        type="care.operator.alert",
        subject=request_id,
        time=now,
        topic_role="lifecycle",
        key=request_id,
        payload={
            "request_id": request_id,
            "service_area": service_area,
            "reason": reason,
            "priority": Priority(priority).value,
            "elder_id": elder_id,
            "channel": channel,
        },
    )


def call_queued(
    call_number: str, caller: str | None, elder_id: str | None, reason: str, emergency: bool, now: datetime
) -> DomainEvent:
    """``care.call.operator_queued`` (lifecycle, keyed ``call-<call_number>``): a hotline call or SOS
    text the operators must take, with the caller's number unmasked (``caller``, E.164; it is
    event data for the call-back, never logged), ``elder_id`` None for an unregistered number."""
    return DomainEvent(
        type="care.call.operator_queued",
        subject=f"call-{call_number}",
        time=now,
        topic_role="lifecycle",
        key=f"call-{call_number}",
        payload={
            "call_number": call_number,
            "caller": caller,
            "elder_id": elder_id,
            "reason": reason,
            "emergency": emergency,
        },
    )


def rating_given(
    request_id: str,
    rating: int,
    channel: str,
    now: datetime,
    caregiver_id: str | None = None,
    provider_id: str | None = None,
) -> DomainEvent:
    """A 1-5 rating (raises ValueError outside 1-5); ``channel`` is ``voice`` or ``sms``."""
    if not 1 <= rating <= 5:
        raise ValueError("a rating is 1 to 5")
    return DomainEvent(
        type="care.feedback.rated",
        subject=request_id,
        time=now,
        topic_role="feedback",
        key=request_id,
        payload={
            "request_id": request_id,
            "kind": "rating",
            "rating": rating,
            "channel": channel,
            "caregiver_id": caregiver_id,
            "provider_id": provider_id,
        },
    )
