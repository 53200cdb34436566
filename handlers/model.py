"""The care domain: requests, caregivers, offers and visits.

Plain dataclasses with no persistence or transport code; ``db.orm`` maps them
onto tables from the outside (SQLAlchemy imperative mapping), so the same
objects flow through unit tests with fakes and through the real system.

Times are timezone-aware UTC ``datetime``; durations are minutes.
Status names follow HL7 FHIR R4 Task.status and the offer states follow Twilio
TaskRouter reservations (pending / accepted / rejected / timeout / rescinded /
canceled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Mapping


class RequestStatus(StrEnum):
    """FHIR Task.status codes (http://hl7.org/fhir/task-status)."""

    REQUESTED = "requested"
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    READY = "ready"
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    FAILED = "failed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ENTERED_IN_ERROR = "entered-in-error"

    @property
    def is_final(self) -> bool:
        """True for rejected, failed, completed, cancelled and entered-in-error: nothing more
        happens to the request (a failed one still waits for an operator's outcome)."""
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {
        RequestStatus.REJECTED,
        RequestStatus.FAILED,
        RequestStatus.COMPLETED,
        RequestStatus.CANCELLED,
        RequestStatus.ENTERED_IN_ERROR,
    }
)


class Priority(StrEnum):
    """FHIR request priority codes, most urgent last."""

    ROUTINE = "routine"
    URGENT = "urgent"
    ASAP = "asap"
    STAT = "stat"


class OfferStatus(StrEnum):
    """Reservation states as Twilio TaskRouter names them."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TIMEOUT = "timeout"
    RESCINDED = "rescinded"
    CANCELED = "canceled"


class CancelReason(StrEnum):
    """Why an offer ended ``canceled`` (``Offer.cancel_reason``): the status alone cannot tell a
    caregiver who let the elder down from one whose visit was taken from her. A confirmation
    round plans without the first two, as without a caregiver who declined
    (``handlers.dispatch.rounds.refused_by``); the others say nothing about her."""

    CALLED_OFF = "called_off"  # she called the accepted visit off (handlers.visits.disruptions)
    NO_SHOW = "no_show"  # she did not check in by the deadline
    REASSIGNED = "reassigned"  # a confirmation round moved the visit to another caregiver
    HANDED_OVER = "handed_over"  # she ran late and the visit went to someone sooner
    #: still pending when an operator reassigned or cancelled the request, or the elder cancelled it
    WITHDRAWN = "withdrawn"


class SyncType(StrEnum):
    """How a patient's two services relate in time (UHHC benchmark terms)."""

    INDEPENDENT = "independent"
    SIMULTANEOUS = "simultaneous"
    SEQUENTIAL = "sequential"


class VisitStatus(StrEnum):
    """A visit's life: scheduled at accept, in progress from check-in, completed at check-out;
    no-show when nobody checked in by the deadline; cancelled when withdrawn or reassigned.
    Cancelled and no-show visits are dead: they hold no slot (``ports.VisitRepository.for_request``)."""

    SCHEDULED = "scheduled"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    NO_SHOW = "no-show"
    CANCELLED = "cancelled"


@dataclass(eq=False)
class Elder:
    """A registered elder living at home.

    ``location_index`` indexes the area's travel times (a UHHC matrix row, or a row of the
    register's ``locations``, whose point and provenance ``latitude``/``longitude`` and
    ``location_provenance`` repeat: ``given``, ``geocoded`` or ``approximate``). Phones are
    E.164; ``family_contacts`` a list of {name, relation, phone, sms_opt_in};
    ``region_path`` the 5-level path of ``handlers.operations.regions``; ``status`` one of
    ``handlers.register.services.ElderStatus`` (only ``active`` elders are dispatched to).
    """

    elder_id: str
    service_area: str
    location_index: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    phone: str | None = None
    name: str | None = None
    language: str | None = None
    preferred_gender: str | None = None  # "female" | "male" | None
    excluded_caregivers: str = ""  # space-separated caregiver ids the elder does not want again
    preferred_caregivers: str = ""  # space-separated caregiver ids the elder asks for
    gender: str | None = None
    birth_year: int | None = None
    landline: str | None = None
    family_contacts: list[dict[str, Any]] | None = None
    address: str | None = None
    region_path: str | None = None
    location_provenance: str | None = None  # given | geocoded | approximate
    location_precision: str | None = None  # district | city | province for an approximate point
    notes: str | None = None  # health and care notes
    access_notes: str | None = None  # how to get in (key safe, door code)
    status: str = "active"

    @property
    def active(self) -> bool:
        """True when ``status`` is ``active`` (or unset): only then is the elder dispatched to."""
        return (self.status or "active") == "active"


@dataclass(eq=False)
class ProviderOrganisation:
    """A contracted home-care provider; ``service_types`` is space-separated,
    ``opening_hours`` a JSON list of {weekday 0=Mon, opens, closes} (HH:MM)."""

    provider_id: str
    name: str
    service_area: str
    service_types: str = ""
    score: float | None = None
    provider_type: str | None = None
    sponsor: str | None = None
    address: str | None = None
    phone: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    opening_hours: str = "[]"
    region_path: str | None = None
    location_provenance: str | None = None
    active: bool = True


@dataclass(eq=False)
class Caregiver:
    """A caregiver of a provider organisation.

    ``abilities`` is a space-separated list of service types. When the caregiver works:
    either ``rota``, the canonical text of a weekly rota with leave and extra shifts
    (``handlers.register.rota``, wall-clock times in ``time_zone``), or, when ``rota`` is
    empty, the one fixed shift ``shift_start``..``shift_end`` (a UHHC day). A shift is when
    the caregiver may leave the home base and must be back by (``handlers.dispatch.shifts``).
    ``travel_mode`` (walk, e-bike, car) picks the speed of travel from coordinates;
    ``max_visits_per_day`` caps visits per local day.
    """

    caregiver_id: str
    provider_id: str
    service_area: str
    abilities: str
    home_base_index: int | None
    shift_start: datetime | None
    shift_end: datetime | None
    active: bool = True
    language: str | None = None  # space-separated languages spoken, e.g. "zh en"
    gender: str | None = None
    display_name: str | None = None
    phone: str | None = None
    rota: str = ""
    time_zone: str = "UTC"
    travel_mode: str | None = None
    max_visits_per_day: int | None = None
    home_address: str | None = None
    region_path: str | None = None

    def can_perform(self, service_type: str) -> bool:
        """True when ``service_type`` is one of the caregiver's abilities as written (no skill
        hierarchy: dispatch uses ``DispatchPolicy.covers`` for that)."""
        return service_type in self.abilities.split()


@dataclass(eq=False)
class AlarmDevice:
    """An elder's alarm device: ``kind`` one-key phone, pendant or watch
    (``handlers.register.services.DeviceKind``); ``phone`` the E.164 number its SIM calls
    from; ``token_sha256`` the hash of its bearer token (None until one is issued)."""

    device_id: str
    elder_id: str
    created_at: datetime
    active: bool = True
    kind: str | None = None
    phone: str | None = None
    last_heartbeat_at: datetime | None = None
    last_alarm_at: datetime | None = None
    token_sha256: str | None = None


@dataclass(eq=False)
class CareRequest:
    """A ServiceRequest for one service at an elder's home.

    ``window_start``/``window_end`` bound the visit start, or the whole
    service when ``window_at_service_end`` (UHHC ``time_window_met``).
    A follower of a synchronised pair starts ``sync_min_gap``..``sync_max_gap``
    minutes after its anchor (``sync_partner_id``) starts.
    ``promised_start``/``promised_end`` are the window the elder was last told
    (``handlers.dispatch.promise``), None until she is told one: a visit accepted
    while a planned day's confirmation rounds are open is not told, and a later
    change is judged against what she heard, not against the visits she had.
    """

    request_id: str
    elder_id: str
    service_type: str
    duration_minutes: float
    window_start: datetime
    window_end: datetime
    service_area: str
    submitted_at: datetime
    priority: Priority = Priority.ROUTINE
    channel: str = "app"
    location_index: int | None = None
    window_hard: bool = False
    window_at_service_end: bool = False
    sync_type: SyncType | None = None
    sync_partner_id: str | None = None
    sync_is_follower: bool = False
    sync_min_gap: float = 0.0
    sync_max_gap: float = 0.0
    sync_anchor_start: datetime | None = None
    escalation_step: int = 0
    status: RequestStatus = RequestStatus.REQUESTED
    status_reason: str | None = None
    received_at: datetime | None = None
    assigned_at: datetime | None = None
    closed_at: datetime | None = None
    promised_start: datetime | None = None
    promised_end: datetime | None = None
    version: int = 0

    @property
    def latest_start(self) -> datetime:
        """Latest on-time start: the window end, less the duration when the
        whole service must end inside the window."""
        if self.window_at_service_end:
            return self.window_end - timedelta(minutes=self.duration_minutes)
        return self.window_end

    @property
    def waits_for_anchor(self) -> bool:
        """True for the follower of a simultaneous or sequential pair (UHHC ``synchronization``) whose
        anchor's start is not known yet: dispatch holds it on hold until the anchor is booked."""
        return (
            self.sync_is_follower
            and self.sync_type in (SyncType.SIMULTANEOUS, SyncType.SEQUENTIAL)
            and self.sync_anchor_start is None
        )


@dataclass(eq=False)
class Offer:
    """A reservation of a caregiver's time for one request, pending a reply."""

    offer_id: str
    request_id: str
    caregiver_id: str
    planned_start: datetime
    planned_end: datetime
    created_at: datetime
    expires_at: datetime
    travel_minutes: float
    lateness_minutes: float
    short_code: str
    status: OfferStatus = OfferStatus.PENDING
    responded_at: datetime | None = None
    policy_version: str = ""
    #: ``CancelReason`` of a ``canceled`` offer; None otherwise, and for offers canceled before
    #: migration 0023 (not recorded then)
    cancel_reason: str | None = None


#: a visit's id is its accepted offer's id and this suffix (``handlers.dispatch.offers.accept_offer``)
VISIT_SUFFIX = ".v"


def visit_id_for(offer_id: str) -> str:
    """The id of the visit an accepted offer ``offer_id`` becomes."""
    return offer_id + VISIT_SUFFIX


def offer_id_of(visit_id: str) -> str:
    """The id of the offer whose acceptance made the visit ``visit_id``."""
    return visit_id.removesuffix(VISIT_SUFFIX)


@dataclass(eq=False)
class Visit:
    """An assignment carried out at the elder's home, with its EVV times."""

    visit_id: str
    request_id: str
    caregiver_id: str
    provider_id: str
    elder_id: str
    service_type: str
    location_index: int | None
    planned_start: datetime
    planned_end: datetime
    status: VisitStatus = VisitStatus.SCHEDULED
    check_in_at: datetime | None = None
    check_out_at: datetime | None = None
    lateness_minutes: float = 0.0
    travel_minutes: float = 0.0
    # [{"code", "detail"}] kept for operator review (handlers.visits.evv)
    evv_flags: list[Mapping[str, Any]] | None = None
    #: when a visit running late is now expected to start (handlers.visits.lateness)
    expected_at: datetime | None = None
    #: how the check-in was verified (handlers.visits.evv.CHECK_IN_METHODS), None: not verified
    evv_method: str | None = None

    @property
    def expected_end(self) -> datetime:
        """When the caregiver is free again: the check-out if done, else the
        check-in plus the planned duration, else the planned end."""
        if self.check_out_at is not None:
            return self.check_out_at
        if self.check_in_at is not None:
            return self.check_in_at + (self.planned_end - self.planned_start)
        return self.planned_end


@dataclass(eq=False)
class Feedback:
    """What an elder (or family) said after a visit: a ``rating`` (1–5 stars)
    or a ``complaint`` with a category (late, no-show, rude, incomplete, safety).
    ``visit_id``: the visit it is about, fixed when it was received
    (``handlers.evaluation.feedback.visit_concerned``); None before any visit."""

    feedback_id: str
    request_id: str
    kind: str
    received_at: datetime
    rating: int | None = None
    category: str | None = None
    comment: str | None = None
    visit_id: str | None = None
    #: a complaint's follow-up call: due by, and closed when and by whom, with a note
    followup_due_at: datetime | None = None
    followup_closed_at: datetime | None = None
    followup_closed_by: str | None = None
    followup_note: str | None = None
    #: where the feedback came from: sms, hotline, app, dashboard, survey
    channel: str | None = None


@dataclass(frozen=True)
class Booking:
    """A slot a caregiver holds: a scheduled visit or a pending offer (a
    reservation blocks the slot exactly as a visit does)."""

    request_id: str
    location_index: int | None
    start: datetime
    end: datetime


@dataclass
class DomainEvent:
    """Something that happened, to publish on Kafka and append to the event log.

    ``topic_role`` names the stream (see ``config.topics``); ``key`` keeps one
    request's events in order; ``payload`` is JSON-ready.
    """

    type: str
    subject: str
    time: datetime
    topic_role: str
    key: str
    payload: dict[str, Any] = field(default_factory=dict)
