"""Wire models of the app API (``careline.web.app_api``) and its error shapes.

Request bodies forbid unknown fields, so a typo in an app is a 422 naming the
field, not a silently ignored value. Types are strict: a number must be a JSON
number (``"30"`` and ``true`` are refused, not read as 30 and 1), a whole number
a JSON integer, a boolean a JSON boolean, a time an ISO 8601 string with a zone
offset (a time without a zone, or a bare number of seconds, is refused, as in
``handlers.channels.intake``), answered in UTC; durations are minutes, positions WGS84
degrees, accuracy metres.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StringConstraints,
    field_validator,
)
from pydantic_core.core_schema import ValidationInfo

from handlers.model import Priority, RequestStatus, VisitStatus

#: ids as careline makes them (request ids, offer ids ``<request>.o<n>``)
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:#-]{0,119}$"
#: free text without control characters other than tab and newline
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
#: a service type or care-plan task name (``meal``, ``skin_check``)
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,59}$"
#: what an ``Idempotency-Key`` may hold: printable ASCII without spaces (a UUID, say)
KEY_PATTERN = r"^[!-~]{1,120}$"

#: ids the OpenAPI examples use (and the schema tests seed)
EXAMPLE_REQUEST_ID = "AP3F9A1C22B7E0"
EXAMPLE_OFFER_ID = "AP7C2E9D41A0B5.o1"
EXAMPLE_VISIT_REQUEST_ID = "AP5B8D0E37F1C4"
EXAMPLE_DONE_REQUEST_ID = "AP9E4F2A61D3C8"

TaskName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
#: a JSON number, never a string or a boolean (pydantic's strict float takes integers too)
Number = Annotated[float, Strict()]
#: a JSON integer, never 5.0, "5" or true
WholeNumber = Annotated[int, Strict()]


def _iso_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string with a zone offset")
    return value


#: an ISO 8601 string with a zone offset; a number of seconds is refused
IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_text)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TimeWindow(_In):
    """When a visit may start: ``start`` < ``end``, both with a zone offset."""

    start: IsoTime = Field(description="earliest start", examples=["2026-12-01T09:00:00+08:00"])
    end: IsoTime = Field(
        description="latest start; after start; both within CARELINE_APP_BOOKING_HORIZON_DAYS (30) from now",
        examples=["2026-12-01T11:00:00+08:00"],
    )

    @field_validator("start", "end")
    @classmethod
    def _representable_in_utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range") from None

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and value <= start:
            raise ValueError("must be after window.start")
        return value


class NewRequest(_In):
    """A care request from the elder's (or family's) app."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "service_type": "meal",
                    "window": {"start": "2026-12-01T09:00:00+08:00", "end": "2026-12-01T11:00:00+08:00"},
                    "duration_minutes": 30,
                    "priority": "routine",
                    "notes": "please ring twice",
                }
            ]
        }
    )
    service_type: str = Field(
        pattern=NAME_PATTERN,
        examples=["meal"],
        description="a service the programme offers: meal, cleaning, bathing, …",
    )
    window: TimeWindow
    duration_minutes: Number = Field(
        gt=0,
        le=24 * 60,
        allow_inf_nan=False,
        examples=[30],
        description="length of the service in minutes (a JSON number)",
    )
    priority: Priority = Field(default=Priority.ROUTINE, description="FHIR priority: routine, urgent, asap, stat")
    notes: str | None = Field(
        default=None,
        max_length=500,
        pattern=TEXT_PATTERN,
        description="for the caregiver; kept with the request, never logged",
    )


class Window(BaseModel):
    start: datetime
    end: datetime


class RequestAccepted(BaseModel):
    request_id: str = Field(examples=[EXAMPLE_REQUEST_ID])
    status: Literal["requested"] = "requested"
    duplicate: bool = Field(default=False, description="true when this Idempotency-Key was seen before")
    joined: bool = Field(
        default=False,
        description="true when this emergency (stat) joined the elder's open one: request_id is that one's",
    )


class RequestState(BaseModel):
    """A request as the elder sees it; ``caregiver_name`` once a caregiver has accepted;
    ``arrival_window`` the window careline promises (``handlers.dispatch.promise``: around the
    accepted visit's planned start, or a planned area's slot before that, clipped to ``window``),
    with ``arrival_source`` ``visit`` or ``plan``; both null while no time is known yet (the elder
    is told the time once a caregiver accepts)."""

    request_id: str
    status: RequestStatus
    service_type: str
    priority: Priority
    window: Window
    duration_minutes: float
    caregiver_name: str | None = Field(default=None, examples=["Li Mei"])
    arrival_window: Window | None = None
    arrival_source: Literal["visit", "plan"] | None = Field(
        default=None, description="visit: around the accepted visit's planned start; plan: a planned area's slot"
    )


class Cancelled(BaseModel):
    request_id: str
    status: RequestStatus = RequestStatus.CANCELLED


class NewRating(_In):
    stars: WholeNumber = Field(ge=1, le=5, examples=[5], description="1 (poor) to 5 (excellent), a JSON integer")
    comment: str | None = Field(default=None, max_length=1000, pattern=TEXT_PATTERN, examples=["on time, kind"])


class RatingStored(BaseModel):
    request_id: str
    stars: int = Field(description="the stored rating: the first one when rated twice")
    duplicate: bool = False


class OfferView(BaseModel):
    """An offer as the caregiver sees it before accepting: no address yet."""

    offer_id: str
    short_code: str = Field(description="the code an SMS reply would quote")
    service_type: str
    service_area: str
    priority: Priority
    duration_minutes: float
    window: Window = Field(description="planned start and end of the visit")
    expires_at: datetime = Field(description="answer before this time")


class OfferList(BaseModel):
    offers: list[OfferView]


class OfferAnswered(BaseModel):
    offer_id: str
    request_id: str
    answer: Literal["accept", "decline"]
    duplicate: bool = False


class VisitView(BaseModel):
    """A visit the caregiver holds, with the elder's address (given on acceptance)."""

    request_id: str
    visit_id: str
    service_type: str
    status: VisitStatus
    planned: Window
    address: str | None = None
    neighbourhood: str | None = None


class VisitList(BaseModel):
    visits: list[VisitView]


class CheckIn(_In):
    """Where the caregiver's phone is (WGS84); EVV compares it with the elder's home."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"latitude": 32.0603, "longitude": 118.7969}]})
    latitude: Number = Field(ge=-90, le=90, allow_inf_nan=False, examples=[32.0603])
    longitude: Number = Field(ge=-180, le=180, allow_inf_nan=False, examples=[118.7969])
    accuracy_metres: Number | None = Field(
        default=None, ge=0, le=100_000, allow_inf_nan=False, description="the phone's reported accuracy radius"
    )


class CheckOut(CheckIn):
    """Check-in's position plus each care-plan task's outcome (done or refused by the elder)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"latitude": 32.0603, "longitude": 118.7969, "tasks": {"delivered": "done", "eaten": "refused"}}
            ]
        }
    )
    tasks: dict[TaskName, Literal["done", "refused"]] = Field(default_factory=dict, max_length=30)


class EvvFlagView(BaseModel):
    code: str = Field(examples=["outside_geofence"])
    detail: str


class VisitReported(BaseModel):
    request_id: str
    visit_id: str
    action: Literal["check-in", "check-out"]
    evv_flags: list[EvvFlagView] = Field(description="findings an operator will review; the visit goes on")
    duplicate: bool = False


class NewCenterRating(_In):
    """A provider's rating of the center for one visit its caregiver did."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "information_correct": True,
                    "notice_sufficient": False,
                    "stars": 4,
                    "comment": "address right; the offer came 20 minutes before the visit",
                }
            ]
        }
    )
    information_correct: StrictBool = Field(
        description="was the information the center gave right (address, needs, service)?"
    )
    notice_sufficient: StrictBool = Field(description="was the notice (offer to visit) enough?")
    stars: WholeNumber | None = Field(
        default=None, ge=1, le=5, examples=[4], description="1 (poor) to 5 (excellent), a JSON integer"
    )
    comment: str | None = Field(
        default=None, max_length=1000, pattern=TEXT_PATTERN, description="for the center's supervisors; never logged"
    )


class CenterRatingStored(BaseModel):
    request_id: str
    visit_id: str
    provider_id: str
    information_correct: bool
    notice_sufficient: bool
    stars: int | None = None
    rated_at: datetime


class ProviderVisitView(BaseModel):
    """A completed visit of one of the provider's caregivers; no elder data."""

    request_id: str
    visit_id: str
    caregiver_id: str
    service_type: str
    planned_start: datetime
    checked_out_at: datetime | None = None
    center_rated: bool = Field(description="whether the provider has rated the center for this visit")


class ProviderVisitList(BaseModel):
    visits: list[ProviderVisitView]


class ShiftView(BaseModel):
    """One shift on the calendar (``extra``: an extra shift, not a weekly one)."""

    start: datetime
    end: datetime
    extra: bool = False


class AbsenceView(BaseModel):
    """Leave or a sick day from ``first`` to ``last``, inclusive (the center's dates)."""

    first: date
    last: date
    kind: str = Field(description="`leave` or `sick`")


class ProviderCaregiverView(BaseModel):
    """One of the provider's caregivers and when it works (``handlers.register.rota``)."""

    caregiver_id: str
    name: str | None = None
    active: bool
    rota: str | None = Field(default=None, description="the rota in its canonical text; null: one fixed shift")
    absences: list[AbsenceView]
    on_shift: bool = Field(description="on shift now")
    on_leave: str | None = Field(default=None, description="`leave` or `sick` today; null: not absent")
    current_or_next_shift: ShiftView | None = None


class ProviderCaregiverList(BaseModel):
    caregivers: list[ProviderCaregiverView]


class NewRota(_In):
    """A weekly rota as people write it: ``mon-fri 08:00-16:00; sat 09:00-12:00``,
    ``周一至周五 08:00-16:00；周六 09:00-12:00``; leave, sick days and extra shifts may be
    written in it too. Times in the center's time zone. Replaces the whole rota."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"rota": "mon-fri 08:00-16:00; sat 09:00-12:00"}]})

    rota: Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=TEXT_PATTERN)]


class NewAbsence(_In):
    """Leave or a sick day from ``first`` to ``last`` inclusive (``last`` absent: one day)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"first": "2026-12-24", "last": "2026-12-31"}]})

    first: date
    last: date | None = None
    kind: Literal["leave", "sick"] = "leave"


class Problem(BaseModel):
    """An error: ``code`` is stable for apps (unauthenticated, forbidden, unknown_request,
    closed, in_progress, not_completed, answered, expired, no_visit, unknown_visit,
    already_rated, …)."""

    code: str | None = None
    detail: str


class FieldError(BaseModel):
    """One invalid input; ``field`` is its dotted path (``window.start``); ``loc``,
    ``msg`` and ``type`` keep FastAPI's standard validation-error fields."""

    field: str = Field(examples=["window.start"])
    message: str = Field(examples=["Input should have timezone info"])
    loc: list[str | int]
    msg: str
    type: str


class ValidationProblem(BaseModel):
    detail: list[FieldError]
