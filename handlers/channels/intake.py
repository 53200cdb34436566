"""Validate and normalise a raw intake record into a care request.

Every channel (hotline, one-key button, app, operator, replay) sends the same
JSON shape to ``care.intake.v1``; whatever fails here goes to the dead-letter
topic with the reason, naming the field. Shape::

    {"intake_id": str, "channel": str, "elder_id": str, "service_type": str,
     "duration_minutes": number > 0, "window": {"start": ISO-8601, "end": ISO-8601},
     "priority": "routine|urgent|asap|stat", "submitted_at": ISO-8601,
     "request_id": str?, "window_hard": bool?, "window_at_service_end": bool?,
     "sync": {"type": "independent|simultaneous|sequential", "partner_request_id": str,
              "follower": bool, "min_gap_minutes": number, "max_gap_minutes": number}?}

Naive timestamps are rejected: a time without a zone is ambiguous for a
hotline that may serve several time zones, and so are times with no UTC form
(year 1 at +14:00). Ids are 1-120 characters and service types 1-60, without
control characters.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Callable, Literal, Mapping

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from handlers.model import CareRequest, Elder, Priority, SyncType


class InvalidIntake(ValueError):
    """Raised for input that cannot become a care request; ``field`` names the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 has no UTC form
        raise ValueError("out of range in UTC") from None


#: an ISO 8601 time with a zone, as UTC
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class _Window(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: UtcDatetime
    end: UtcDatetime

    @model_validator(mode="after")
    def _ordered(self) -> _Window:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


#: ids and service types as careline stores them: no control characters (PostgreSQL refuses
#: NUL; the others are junk in a name), ids 1-120 characters, service types 1-60
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
_Id = Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=_PRINTABLE)]
_ServiceType = Annotated[str, StringConstraints(min_length=1, max_length=60, pattern=_PRINTABLE)]


def storable_id(value: object) -> bool:
    """Whether ``value`` could be an id careline stores (``_Id``: a string of 1-120 characters
    without control characters): what a batch may look up before the record is validated, so
    that a NUL never reaches PostgreSQL, which refuses it (``streams.batches``)."""
    return isinstance(value, str) and 1 <= len(value) <= 120 and re.match(_PRINTABLE, value) is not None


class _Sync(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: SyncType
    partner_request_id: _Id
    follower: bool = False
    min_gap_minutes: float = Field(default=0.0, ge=0)
    max_gap_minutes: float = Field(default=0.0, ge=0)


class IntakeRecord(BaseModel):
    """The wire shape of an intake record (see module docstring)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    intake_id: _Id
    channel: Literal["hotline", "button", "app", "sms", "operator", "replay", "subscription"]
    elder_id: _Id
    service_type: _ServiceType
    duration_minutes: Annotated[float, Field(gt=0, le=24 * 60)]
    window: _Window
    priority: Priority = Priority.ROUTINE
    submitted_at: UtcDatetime
    request_id: _Id | None = None
    window_hard: bool = False
    window_at_service_end: bool = False
    sync: _Sync | None = None


def validate_intake(
    raw: Mapping[str, Any], find_elder: Callable[[str], Elder | None], known_service_types: set[str] | None = None
) -> CareRequest:
    """A ``CareRequest`` (status ``requested``) from a raw record.

    Raises ``InvalidIntake`` naming the first bad field: shape and types,
    an unknown elder, or a service type the programme does not offer
    (checked when ``known_service_types`` is given, and never for an emergency
    (``stat``): one no caregiver can take still reaches the operator queue, with
    the emergency alert, instead of a dead-letter topic).
    """
    try:
        rec = IntakeRecord.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "record"
        raise InvalidIntake(field, first["msg"]) from None
    elder = find_elder(rec.elder_id)
    if elder is None:
        raise InvalidIntake("elder_id", f"no registered elder {rec.elder_id!r}")
    if (
        known_service_types is not None
        and rec.service_type not in known_service_types
        and rec.priority != Priority.STAT  # an emergency is never refused: dispatch sends it to an operator
    ):
        raise InvalidIntake("service_type", f"service {rec.service_type!r} is not offered")
    utc = UTC
    request = CareRequest(
        request_id=rec.request_id or rec.intake_id,
        elder_id=elder.elder_id,
        service_type=rec.service_type,
        duration_minutes=rec.duration_minutes,
        window_start=rec.window.start.astimezone(utc),
        window_end=rec.window.end.astimezone(utc),
        service_area=elder.service_area,
        submitted_at=rec.submitted_at.astimezone(utc),
        priority=rec.priority,
        channel=rec.channel,
        location_index=elder.location_index,
        window_hard=rec.window_hard,
        window_at_service_end=rec.window_at_service_end,
    )
    if rec.sync is not None and rec.sync.type != SyncType.INDEPENDENT:
        if rec.sync.max_gap_minutes < rec.sync.min_gap_minutes:
            raise InvalidIntake("sync.max_gap_minutes", "must not be below min_gap_minutes")
        request.sync_type, request.sync_partner_id = rec.sync.type, rec.sync.partner_request_id
        request.sync_is_follower = rec.sync.follower
        request.sync_min_gap, request.sync_max_gap = rec.sync.min_gap_minutes, rec.sync.max_gap_minutes
    return request


def validated_record(raw: Mapping[str, Any], request: CareRequest) -> dict[str, Any]:
    """The ``care.request.validated`` CloudEvent dispatch receives for a raw
    intake record that ``validate_intake`` accepted as ``request``: the record
    with the request id and the elder's service area added (``data``), stamped
    with the submission time. ``handlers.messages.decode`` reads it back as a
    ``ReceiveRequest``."""
    data = dict(raw, request_id=request.request_id, service_area=request.service_area)
    return {
        "specversion": "1.0",
        "id": f"validated:{request.request_id}",
        "source": "careline/intake",
        "type": "care.request.validated",
        "subject": request.request_id,
        "time": request.submitted_at.isoformat(),
        "schema_version": 1,
        "data": data,
    }
