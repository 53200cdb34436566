"""The messages dispatch takes, typed and frozen, and how a record becomes one.

Every input of a service area's dispatch — a validated request, a caregiver's
reply or visit report, a deadline the timer service fired — is one of the
commands below (imperative names: what dispatch is asked to do). They travel
as CloudEvents JSON (``care.requests.v1``, ``caregiver.events.v1``,
``care.timers.v1``); ``decode`` turns a record into a command and names the
first bad field, so a malformed record is dead-lettered with a reason a person
can act on (``InvalidMessage``), never as a ``KeyError``.

``handlers.messagebus.handle`` runs a command; the stream worker, the offline
runner and the dashboard all call it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, ClassVar, Mapping


class InvalidMessage(ValueError):
    """A record that is not a valid dispatch input; ``field`` is the dotted path
    of the first bad field (``data.offer_id``), ``reason`` says what is wrong."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason, self.field = reason, field


@dataclass(frozen=True)
class Command:
    """What every input carries: the inbound event id (duplicates are dropped
    by it) and when it happened (CloudEvents ``time``; ``None`` when the record
    had none)."""

    event_id: str
    at: datetime | None

    decides_now: ClassVar[bool] = False
    """Handled at the clock's time, not the stamp (``handlers.messagebus.event_time``): a command
    that re-plans what is still ahead must know the present, however late it is handled."""


@dataclass(frozen=True)
class DispatchCommand(Command):
    """An input of one service area's dispatch (``service_area`` keys its partition)."""

    service_area: str


@dataclass(frozen=True)
class ReceiveRequest(DispatchCommand):
    """A validated intake record (``care.request.validated``): the request's
    fields as ``handlers.channels.intake.validate_intake`` reads them."""

    record: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AcceptOffer(DispatchCommand):
    """A caregiver said yes to an offer (SMS, app or replay)."""

    offer_id: str = ""
    caregiver_id: str = ""


@dataclass(frozen=True)
class DeclineOffer(DispatchCommand):
    """A caregiver said no to an offer."""

    offer_id: str = ""
    caregiver_id: str = ""


@dataclass(frozen=True)
class CheckIn(DispatchCommand):
    """A caregiver checked in at the elder's home; ``evv_flags`` are the
    channel's verification findings (``[{"code", "detail"}]``), ``evv_method``
    how it verified (``handlers.visits.evv.CHECK_IN_METHODS``; None: not at all)."""

    request_id: str = ""
    caregiver_id: str = ""
    evv_flags: tuple[Mapping[str, Any], ...] | None = None
    evv_method: str | None = None


@dataclass(frozen=True)
class CheckOut(DispatchCommand):
    """A caregiver checked out; ``evv_flags`` and ``evv_method`` as for ``CheckIn``."""

    request_id: str = ""
    caregiver_id: str = ""
    evv_flags: tuple[Mapping[str, Any], ...] | None = None
    evv_method: str | None = None


@dataclass(frozen=True)
class CallOff(DispatchCommand):
    """A caregiver who accepted calls the visit off."""

    request_id: str = ""
    caregiver_id: str = ""


@dataclass(frozen=True)
class ExpireOffer(DispatchCommand):
    """An offer's answer time ran out (timer ``offer-expiry``)."""

    offer_id: str = ""


@dataclass(frozen=True)
class EscalateRequest(DispatchCommand):
    """A ladder step's deadline passed (timer ``ladder-step``, target ``<request>#<step>``)."""

    request_id: str = ""
    step: int = 0


@dataclass(frozen=True)
class EnforceCheckIn(DispatchCommand):
    """No check-in by the no-show deadline (timer ``check-in-deadline``)."""

    visit_id: str = ""


@dataclass(frozen=True)
class CloseRound(DispatchCommand):
    """A planned day's confirmation round closes (timer ``confirm-round``, target
    ``<announced ISO 8601>#<round>``): re-plan what fell since (``handlers.dispatch.rounds``).
    Decided at the clock: a round handled late must not move visits already under way."""

    decides_now: ClassVar[bool] = True
    announced_at: datetime = datetime.min
    round: int = 0


@dataclass(frozen=True)
class OfferPlan(DispatchCommand):
    """A planned day was announced (``careline plan --announce``, the evening job): offer its
    received requests to their planned caregivers (``handlers.dispatch.rounds.offer_plan``);
    decided at the clock, so a slot already begun is not offered."""

    decides_now: ClassVar[bool] = True


@dataclass(frozen=True)
class ApplyRepair(DispatchCommand):
    """The solver agent's answer to a planned day's repair (``dispatch.repair.solved`` on the
    area's timers partition; ``handlers.dispatch.repair.search_job`` gives ``answer``'s shape,
    checked by ``decode``). Decided at the clock: the day as it is when the answer arrives."""

    decides_now: ClassVar[bool] = True
    answer: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RepairOverdue(DispatchCommand):
    """A repair's answer did not come in time (timer ``repair-overdue``, target
    ``<request id>#<offers made>``, or ``...L<span>`` for a late caregiver's replacement:
    ``handlers.dispatch.repair.ask_solver``): insertion offers the request (a late visit: the late
    check runs again), at the clock (a timer handled late must not offer a start already gone)."""

    decides_now: ClassVar[bool] = True
    attempt_id: str = ""


@dataclass(frozen=True)
class ApplyRound(DispatchCommand):
    """The solver agent's answer to a confirmation round's re-plan (``dispatch.round.solved`` on
    the area's timers partition; ``handlers.dispatch.rounds.search_round_job`` gives ``answer``'s
    shape, checked by ``decode``). Decided at the clock: the day as it is when the answer arrives."""

    decides_now: ClassVar[bool] = True
    answer: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RoundOverdue(DispatchCommand):
    """A confirmation round's answer did not come in time (timer ``round-overdue``, target
    ``round_target``): its requests stay held, and the last round finishes; at the clock."""

    decides_now: ClassVar[bool] = True
    announced_at: datetime = datetime.min
    round: int = 0


@dataclass(frozen=True)
class CheckLateness(DispatchCommand):
    """A booked visit's window is closing (timer ``late-check``): can it still start in time?"""

    visit_id: str = ""


@dataclass(frozen=True)
class FollowUpComplaint(DispatchCommand):
    """A complaint's follow-up call is due (timer ``followup-deadline``)."""

    request_id: str = ""


@dataclass(frozen=True)
class RecordFeedback(Command):
    """A rating (1–5 stars) or a complaint about a request (``care.feedback.v1``)."""

    request_id: str = ""
    stars: int | None = None
    complaint: str | None = None
    comment: str | None = None


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidMessage("missing or not a non-empty string", f"data.{name}")
    return value


def _flags(data: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...] | None:
    value = data.get("evv_flags")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(f, dict) for f in value):
        raise InvalidMessage("not a list of objects", "data.evv_flags")
    return tuple(value)


def _method(data: Mapping[str, Any]) -> str | None:
    value = data.get("evv_method")
    if value is not None and not isinstance(value, str):
        raise InvalidMessage("not a string", "data.evv_method")
    return value


def _at(value: Mapping[str, Any]) -> datetime | None:
    raw = value.get("time")
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(raw)
    except (TypeError, ValueError):
        raise InvalidMessage("not an ISO 8601 time", "time") from None
    if at.tzinfo is None:
        raise InvalidMessage("time without a zone", "time")
    return at


def _ladder(env: tuple[str, datetime | None, str], data: Mapping[str, Any]) -> Command:
    request_id, _, step = _text(data, "target_id").rpartition("#")
    if not request_id or not step.isdigit():
        raise InvalidMessage("not <request id>#<step number>", "data.target_id")
    return EscalateRequest(*env, request_id=request_id, step=int(step))


_BY_TYPE: dict[str, Callable[[tuple[str, datetime | None, str], Mapping[str, Any]], Command]] = {
    "care.request.validated": lambda env, d: ReceiveRequest(*env, record=d),
    "caregiver.offer.accepted": lambda env, d: AcceptOffer(*env, _text(d, "offer_id"), _text(d, "caregiver_id")),
    "caregiver.offer.declined": lambda env, d: DeclineOffer(*env, _text(d, "offer_id"), _text(d, "caregiver_id")),
    "caregiver.visit.checked_in": lambda env, d: CheckIn(
        *env, _text(d, "request_id"), _text(d, "caregiver_id"), _flags(d), _method(d)
    ),
    "caregiver.visit.checked_out": lambda env, d: CheckOut(
        *env, _text(d, "request_id"), _text(d, "caregiver_id"), _flags(d), _method(d)
    ),
    "caregiver.visit.called_off": lambda env, d: CallOff(*env, _text(d, "request_id"), _text(d, "caregiver_id")),
}
_BY_TIMER: dict[str, Callable[[tuple[str, datetime | None, str], Mapping[str, Any]], Command]] = {
    "offer-expiry": lambda env, d: ExpireOffer(*env, offer_id=_text(d, "target_id")),
    "ladder-step": _ladder,
    "check-in-deadline": lambda env, d: EnforceCheckIn(*env, visit_id=_text(d, "target_id")),
    "late-check": lambda env, d: CheckLateness(*env, visit_id=_text(d, "target_id")),
    "followup-deadline": lambda env, d: FollowUpComplaint(*env, request_id=_text(d, "target_id")),
}


def round_target(area: str, announced_at: datetime, k: int) -> str:
    """The timer target of confirmation round ``k`` of ``area``'s plan announced at
    ``announced_at`` (aware): ``<area>|<ISO 8601>#<k>``, one timer job per area, plan and round
    (``handlers.dispatch.rounds``); ``_round`` reads it back."""
    return f"{area}|{announced_at.isoformat()}#{k}"


def _round_of(data: Mapping[str, Any]) -> tuple[datetime, int]:
    """(announced at, round) of a ``round_target`` in ``data.target_id``."""
    target = _text(data, "target_id")
    head, _, k = target.rpartition("#")
    try:
        at = datetime.fromisoformat(head.rpartition("|")[2])
    except ValueError:
        at = None
    if at is None or at.tzinfo is None or not k.isdigit() or int(k) < 1:
        raise InvalidMessage("not <area>|<announced ISO 8601 with zone>#<round number>", "data.target_id")
    return at, int(k)


def _round(env: tuple[str, datetime | None, str], data: Mapping[str, Any]) -> Command:
    at, k = _round_of(data)
    return CloseRound(*env, announced_at=at, round=k)


def _round_overdue(env: tuple[str, datetime | None, str], data: Mapping[str, Any]) -> Command:
    at, k = _round_of(data)
    return RoundOverdue(*env, announced_at=at, round=k)


def _aware_time(data: Mapping[str, Any], name: str) -> datetime:
    """``data[name]`` as an aware datetime; ``InvalidMessage`` naming ``data.<name>`` otherwise."""
    try:
        value = datetime.fromisoformat(_text(data, name))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise InvalidMessage("not an ISO 8601 time with a zone", f"data.{name}")
    return value


def _repair_answer(env: tuple[str, datetime | None, str], data: Mapping[str, Any]) -> Command:
    """``dispatch.repair.solved``: the shape ``handlers.dispatch.repair.search_job`` answers with."""
    for name in ("attempt_id", "request_id"):
        _text(data, name)
    _aware_time(data, "origin")
    for name in ("cast", "takers", "unserved"):
        if not isinstance(data.get(name), list) or not all(isinstance(x, str) for x in data[name]):
            raise InvalidMessage("not a list of strings", f"data.{name}")
    routes = data.get("routes")
    if routes is not None and not (
        isinstance(routes, dict)
        and all(
            isinstance(stops, list)
            and all(isinstance(s, list) and len(s) == 2 and isinstance(s[0], str) and type(s[1]) is int for s in stops)
            for stops in routes.values()
        )
    ):
        raise InvalidMessage("not null or caregiver id -> [[request id, start minute], ...]", "data.routes")
    if data.get("modelled_at") is not None:
        _aware_time(data, "modelled_at")
    if data.get("late_visit_id") is not None:
        _text(data, "late_visit_id")
        _aware_time(data, "expected")
    seconds = data.get("seconds", 0.0)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise InvalidMessage("not a number of seconds", "data.seconds")
    return ApplyRepair(*env, answer=dict(data))


def _round_answer(env: tuple[str, datetime | None, str], data: Mapping[str, Any]) -> Command:
    """``dispatch.round.solved``: the shape ``handlers.dispatch.rounds.search_round_job`` answers with."""
    _aware_time(data, "announced_at")
    _aware_time(data, "origin")
    if data.get("modelled_at") is not None:
        _aware_time(data, "modelled_at")
    k = data.get("round")
    if type(k) is not int or k < 1:
        raise InvalidMessage("not a round number (1, 2, ...)", "data.round")
    routes = data.get("routes")
    if routes is not None and not (
        isinstance(routes, dict)
        and all(
            isinstance(stops, list)
            and all(
                isinstance(s, list)
                and len(s) == 3
                and isinstance(s[0], str)
                and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in s[1:])
                for s in stops
            )
            for stops in routes.values()
        )
    ):
        raise InvalidMessage("not null or vehicle id -> [[request id, start minute, end minute], ...]", "data.routes")
    if data.get("why") is not None:
        _text(data, "why")
    keep = data.get("keep")
    if keep is not None and not (
        isinstance(keep, list)
        and all(isinstance(x, list) and len(x) == 3 and all(isinstance(y, str) for y in x) for x in keep)
    ):
        raise InvalidMessage("not [[elder id, request id, vehicle id], ...]", "data.keep")
    return ApplyRound(*env, answer=dict(data))


_BY_TYPE["dispatch.repair.solved"] = _repair_answer
_BY_TYPE["dispatch.round.solved"] = _round_answer
_BY_TIMER["round-overdue"] = _round_overdue
_BY_TIMER["repair-overdue"] = lambda env, d: RepairOverdue(*env, attempt_id=_text(d, "target_id"))
_BY_TIMER["confirm-round"] = _round
_BY_TIMER["offer-plan"] = lambda env, d: OfferPlan(*env)


def decode(value: Mapping[str, Any]) -> Command:
    """The command a CloudEvents record (a JSON object) asks for.

    Reads ``id``, ``type``, ``time`` and ``data`` (with ``data.service_area``
    and the fields of its type; timer firings by ``data.kind``). Raises
    ``InvalidMessage`` naming the first missing or malformed field, or an
    unknown ``type`` / ``data.kind``.
    """
    event_id, data = _envelope(value)
    env = (event_id, _at(value), _text(data, "service_area"))
    etype = value.get("type")
    if etype == "timer.fired":
        kind = data.get("kind")
        build = _BY_TIMER.get(kind) if isinstance(kind, str) else None
        if build is None:
            raise InvalidMessage(f"unknown timer kind {kind!r}", "data.kind")
        return build(env, data)
    build = _BY_TYPE.get(etype) if isinstance(etype, str) else None
    if build is None:
        raise InvalidMessage(f"unknown event type {etype!r}", "type")
    return build(env, data)


def _envelope(value: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    event_id = value.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise InvalidMessage("missing or not a non-empty string", "id")
    data = value.get("data")
    if not isinstance(data, dict):
        raise InvalidMessage("missing or not an object", "data")
    return event_id, data


def decode_feedback(value: Mapping[str, Any]) -> RecordFeedback:
    """The feedback a ``care.feedback.v1`` record carries: ``data.request_id`` and
    any of ``stars``, ``complaint``, ``comment`` (checked by
    ``handlers.evaluation.feedback.record_feedback``). Raises ``InvalidMessage``."""
    event_id, data = _envelope(value)
    stars = data.get("stars")
    if stars is not None and (isinstance(stars, bool) or not isinstance(stars, int)):
        raise InvalidMessage("not a whole number of stars", "data.stars")
    for name in ("complaint", "comment"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise InvalidMessage("not a string", f"data.{name}")
    return RecordFeedback(
        event_id, _at(value), _text(data, "request_id"), stars, data.get("complaint"), data.get("comment")
    )
