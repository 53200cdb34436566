"""Who must be told what: the notices each event calls for, decided in one place.

Every change that affects a person is an event on ``dispatch.offers.v1`` or
``care.lifecycle.v1``; ``notices_for(event, register)`` turns one into the
notices it calls for, reading who the people are through ``NoticeRegister``
(the register, behind the unit of work). The stream worker's ``tell_people``
agent sends them (``channels.notices``); nothing else sends a notice.

Caregivers hear of: an offer; the address once accepted; an offer withdrawn;
an answer that came too late; the visit cancelled, reassigned by an operator,
taken away after a no-show or because she cannot make it in time; the plan
changed (she is now expected later). Elders, and their family when they opted
in (``elders.family_updates``; emergencies always), hear of: the confirmation
with the window; the helper on the way; running late with the new time; a
no-show or call-off and what happens next; nobody available and the center
will call; the request cancelled; the emergency handled, with its outcome.

Channels: the app for a person who has one (an active app token), SMS to a
mobile, a voice call to a landline (``handlers.channels.phone.takes_sms``).
An urgent notice (anything that changes whether or when someone comes, or
where a caregiver must go) goes by phone even to an app user; a landline gets
only urgent ones. A person with no channel is not told (and nothing is written).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping, Protocol

from handlers.dispatch import promise
from handlers.model import CareRequest, Offer, Priority, offer_id_of

URGENT = frozenset(
    {
        "offer",
        "withdrawn",
        "refused",
        "cancelled",
        "reassigned",
        "no_show_taken",
        "late_taken",
        "plan_changed",
        "elder.late",
        "elder.late_replaced",
        "elder.rescheduled",
        "elder.no_show",
        "elder.called_off",
        "elder.unserved",
        "elder.emergency_handled",
        "family.emergency",
        "family.late",
        "family.late_replaced",
        "family.rescheduled",
        "family.no_show",
        "family.called_off",
        "family.unserved",
        "family.emergency_handled",
    }
)


@dataclass(frozen=True)
class Person:
    """Someone to tell: ``role`` caregiver, elder or family; ``person_id`` the
    caregiver's or elder's id (a family contact: the elder's); ``phone`` E.164."""

    role: str
    person_id: str
    phone: str | None
    language: str | None
    has_app: bool = False
    takes_sms: bool = True


@dataclass(frozen=True)
class Household:
    """An elder, the family contacts, whether they opted in to routine news,
    and the home's address (full, and the neighbourhood a caregiver may know before accepting)."""

    elder: Person
    family: tuple[Person, ...] = ()
    family_updates: bool = False
    address: str | None = None
    neighbourhood: str | None = None


class NoticeRegister(Protocol):
    """What deciding notices reads from the register (``db.notices`` in production); every
    lookup returns None for an unknown id rather than raising."""

    def caregiver(self, caregiver_id: str) -> Person | None:
        """The caregiver as someone to tell, or None when unknown or without any channel (no
        phone and no app)."""

    def household(self, elder_id: str) -> Household | None:
        """The elder, the family phones and the address, or None for an unknown elder."""

    def request(self, request_id: str) -> CareRequest | None:
        """The care request an event is about, or None."""

    def offer(self, offer_id: str) -> Offer | None:
        """The offer an event is about, or None."""

    def area_name(self, service_area: str) -> str | None:
        """The service area's display name, or None for an unknown area or one without a name."""


@dataclass(frozen=True)
class Notice:
    """One message to one person on one channel; ``kind`` names its text
    (``handlers.channels.notice_texts``), ``values`` what the text needs."""

    notice_id: str
    event_id: str
    kind: str
    request_id: str
    person: Person
    channel: str
    values: Mapping[str, Any] = field(default_factory=dict)


def channels_for(person: Person, urgent: bool) -> tuple[str, ...]:
    """``app`` for an app user; ``sms`` (mobile) or ``voice`` (landline, urgent only)
    when the person has no app or the notice is urgent; () when no channel is left."""
    out: tuple[str, ...] = ("app",) if person.has_app else ()
    if person.phone and (urgent or not person.has_app):
        if person.takes_sms:
            out += ("sms",)
        elif urgent:
            out += ("voice",)
    return out


@dataclass(frozen=True)
class _Event:
    event_id: str
    type: str
    time: datetime
    data: Mapping[str, Any]


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _tell(ev: _Event, kind: str, request: CareRequest, person: Person, **values: Any) -> list[Notice]:
    return [
        Notice(
            f"{ev.event_id}:{person.role}:{person.phone if person.role == 'family' else person.person_id}:{channel}",
            ev.event_id,
            kind,
            request.request_id,
            person,
            channel,
            {"service_type": request.service_type, "number": request.request_id, **values},
        )
        for channel in channels_for(person, kind in URGENT)
    ]


def _household(
    ev: _Event, kind: str, request: CareRequest, reg: NoticeRegister, always: bool = False, **values: Any
) -> list[Notice]:
    """``elder.<kind>`` to the elder and ``family.<kind>`` to the family (if they opted in, or ``always``)."""
    home = reg.household(request.elder_id)
    if home is None:
        return []
    out = _tell(ev, f"elder.{kind}", request, home.elder, **values)
    if always or home.family_updates:
        for person in home.family:
            out += _tell(ev, f"family.{kind}", request, person, **values)
    return out


def _caregiver(ev: _Event, kind: str, request: CareRequest, reg: NoticeRegister, **values: Any) -> list[Notice]:
    person = reg.caregiver(str(ev.data.get("caregiver_id", "")))
    return _tell(ev, kind, request, person, **values) if person else []


def _code(ev: _Event, reg: NoticeRegister) -> str | None:
    offer_id = ev.data.get("offer_id") or offer_id_of(str(ev.data.get("visit_id", "")))
    offer = reg.offer(str(offer_id))
    return offer.short_code if offer else None


def _offer_created(ev: _Event, r: CareRequest, reg: NoticeRegister) -> list[Notice]:
    offer = reg.offer(str(ev.data.get("offer_id")))
    if offer is None:
        return []
    home = reg.household(r.elder_id)
    place = (home.neighbourhood if home else None) or reg.area_name(r.service_area) or r.service_area
    return _caregiver(
        ev, "offer", r, reg, code=offer.short_code, start=offer.planned_start, end=offer.planned_end, place=place
    )


def _offer_accepted(ev: _Event, r: CareRequest, reg: NoticeRegister) -> list[Notice]:
    offer = reg.offer(str(ev.data.get("offer_id")))
    if offer is None:
        return []
    home = reg.household(r.elder_id)
    address = (home.address or home.neighbourhood if home else None) or reg.area_name(r.service_area) or ""
    times = {"start": offer.planned_start, "end": offer.planned_end}
    out = _caregiver(ev, "confirmed", r, reg, code=offer.short_code, address=address, **times)
    if r.priority == Priority.STAT:
        return out + _household(ev, "on_the_way", r, reg, always=True, time=offer.planned_start)
    if ev.data.get("promise_deferred"):  # a confirmation round may still move it: told after the last
        return out
    start, end = _when(ev.data.get("promised_start")), _when(ev.data.get("promised_end"))
    if start is None or end is None:  # an event from before promises were recorded on it
        told = promise.promised_window(r, offer.planned_start)
        assert told is not None
        start, end = told.start, told.end
    kind = "rescheduled" if ev.data.get("promise_changed") else "confirmed"
    return out + _household(ev, kind, r, reg, start=start, end=end)


def _caregiver_only(kind: str) -> Callable[[_Event, CareRequest, NoticeRegister], list[Notice]]:
    def decide(ev: _Event, r: CareRequest, reg: NoticeRegister) -> list[Notice]:
        code = _code(ev, reg)
        return _caregiver(ev, kind, r, reg, code=code) if code else []

    return decide


def _visit_cancelled(ev: _Event, r: CareRequest, reg: NoticeRegister) -> list[Notice]:
    code = _code(ev, reg)
    if code is None:
        return []
    kind = {"reassigned": "reassigned", "late": "late_taken"}.get(str(ev.data.get("reason")), "cancelled")
    times = {"start": _when(ev.data.get("planned_start")), "end": _when(ev.data.get("planned_end"))}
    return _caregiver(ev, kind, r, reg, code=code, **times)


def _promise_told(ev: _Event, r: CareRequest, reg: NoticeRegister) -> list[Notice]:
    """After a planned day's last confirmation round (``handlers.dispatch.rounds``): the household
    is told the window, as at a first acceptance, or as a change when it had been told another."""
    start, end = _when(ev.data.get("promised_start")), _when(ev.data.get("promised_end"))
    kind = "rescheduled" if ev.data.get("promise_changed") else "confirmed"
    return _household(ev, kind, r, reg, start=start, end=end) if start and end else []


def _visit_moved(ev: _Event, r: CareRequest, reg: NoticeRegister) -> list[Notice]:
    """``visit_moved`` to the caregiver: a confirmation round moved her accepted visit to another
    start (``handlers.dispatch.rounds``); the elder hears her window after the last round."""
    code, start = _code(ev, reg), _when(ev.data.get("planned_start"))
    return _caregiver(ev, "visit_moved", r, reg, code=code, time=start) if code and start else []


def _no_show(ev: _Event, r: CareRequest, reg: NoticeRegister) -> list[Notice]:
    code = _code(ev, reg)
    out = _caregiver(ev, "no_show_taken", r, reg, code=code, time=ev.time) if code else []
    return out + _household(ev, "no_show", r, reg)


def _late(ev: _Event, r: CareRequest, reg: NoticeRegister) -> list[Notice]:
    expected = _when(ev.data.get("expected_at")) or ev.time
    if ev.data.get("redispatched"):
        return _household(ev, "late_replaced", r, reg)
    code = _code(ev, reg)
    out = _caregiver(ev, "plan_changed", r, reg, code=code, time=expected) if code else []
    return out + _household(ev, "late", r, reg, time=expected)


def _status(ev: _Event, r: CareRequest, reg: NoticeRegister) -> list[Notice]:
    status = ev.data.get("status")
    if status == "failed" and r.priority != Priority.STAT:
        return _household(ev, "unserved", r, reg)
    if status == "cancelled":
        return _household(ev, "cancelled", r, reg)
    return []


def _alert(ev: _Event, r: CareRequest, reg: NoticeRegister) -> list[Notice]:
    if ev.data.get("reason") != "emergency received":
        return []
    home = reg.household(r.elder_id)
    return [n for person in (home.family if home else ()) for n in _tell(ev, "family.emergency", r, person)]


def _family_news(kind: str) -> Callable[[_Event, CareRequest, NoticeRegister], list[Notice]]:
    def decide(ev: _Event, r: CareRequest, reg: NoticeRegister) -> list[Notice]:
        home = reg.household(r.elder_id)
        if home is None or not home.family_updates:
            return []
        return [n for person in home.family for n in _tell(ev, f"family.{kind}", r, person)]

    return decide


_DECIDE: dict[str, Callable[[_Event, CareRequest, NoticeRegister], list[Notice]]] = {
    "dispatch.offer.created": _offer_created,
    "dispatch.offer.accepted": _offer_accepted,
    "dispatch.offer.rescinded": _caregiver_only("withdrawn"),
    "dispatch.offer.canceled": _caregiver_only("withdrawn"),
    "dispatch.offer.accept_refused": _caregiver_only("refused"),
    "care.visit.cancelled": _visit_cancelled,
    "care.visit.no_show": _no_show,
    "care.visit.moved": _visit_moved,
    "dispatch.promise.told": _promise_told,
    "care.visit.called_off": lambda ev, r, reg: _household(ev, "called_off", r, reg),
    "care.visit.late": _late,
    "care.visit.on_the_way": lambda ev, r, reg: _household(
        ev, "on_the_way", r, reg, time=_when(ev.data.get("expected_at")) or ev.time
    ),
    "care.visit.checked_in": _family_news("arrived"),
    "care.visit.completed": _family_news("completed"),
    "care.request.status_changed": _status,
    "care.operator.alert": _alert,
    "care.emergency.outcome_recorded": lambda ev, r, reg: _household(
        ev, "emergency_handled", r, reg, always=True, outcome=str(ev.data.get("code"))
    ),
}
#: a caregiver's planned day (``careline plan --date --announce``, the evening job): data
#: ``plan_id``, ``service_area``, ``date``, ``caregiver_id`` and ``visits`` (each ``request_id``,
#: ``service_type``, ``start``, ``end`` ISO 8601); not about one request, so it needs none stored
PLAN_ANNOUNCED = "dispatch.plan.announced"

#: a repair moved slots of an announced plan (``handlers.events.plan_changed``): data
#: ``caregiver_id``, ``day`` (ISO 8601) and her ``visits`` still to be offered (maybe none)
PLAN_CHANGED = "dispatch.plan.changed"

#: the event types that may call for a notice (the agent skips the rest unread)
EVENT_TYPES = frozenset(_DECIDE) | {PLAN_ANNOUNCED, PLAN_CHANGED}


def _planned_visits(visits: object) -> list[dict[str, Any]]:
    """A plan event's ``visits`` (each ``start``, ``end`` ISO 8601 and ``service_type``) with aware
    datetimes; entries that are not objects or have no readable start are left out."""
    if not isinstance(visits, list):
        return []
    return [
        {"start": _when(v.get("start")), "end": _when(v.get("end")), "service_type": str(v.get("service_type", ""))}
        for v in visits
        if isinstance(v, Mapping) and _when(v.get("start")) is not None
    ]


def _to_caregiver_day(
    ev: _Event, reg: NoticeRegister, kind: str, plan_id: str, values: dict[str, Any], urgent: bool
) -> list[Notice]:
    """One notice of a caregiver's day (``kind``) on each channel she has."""
    person = reg.caregiver(str(ev.data.get("caregiver_id", "")))
    if person is None:
        return []
    return [
        Notice(
            f"{ev.event_id}:{person.role}:{person.person_id}:{channel}",
            ev.event_id,
            kind,
            plan_id,
            person,
            channel,
            values,
        )  # fmt: skip
        for channel in channels_for(person, urgent)
    ]


def _plan_changed(ev: _Event, reg: NoticeRegister) -> list[Notice]:
    """``day_plan_changed`` to the caregiver: her planned visits from now on, after a repair moved
    some (``day_plan_cleared`` when none is left); urgent: the day has begun or is near."""
    day = _when(ev.data.get("day"))
    if day is None or not isinstance(ev.data.get("visits"), list):
        return []
    listed = _planned_visits(ev.data.get("visits"))
    kind = "day_plan_changed" if listed else "day_plan_cleared"
    plan_id = f"plan.{ev.data.get('service_area', '')}.{day.date().isoformat()}"
    return _to_caregiver_day(ev, reg, kind, plan_id, {"day": day, "visits": listed}, urgent=True)


def _plan_announced(ev: _Event, reg: NoticeRegister) -> list[Notice]:
    """``day_plan`` to the caregiver: the day's visits (start, end, service type), not
    urgent (an app user reads it in the app; SMS otherwise). No address: a caregiver hears
    where once she accepts the visit's offer."""
    day = _planned_visits(ev.data.get("visits"))
    if not day:
        return []
    values = {"date": str(ev.data.get("date", "")), "visits": day}
    return _to_caregiver_day(ev, reg, "day_plan", str(ev.data.get("plan_id", "")), values, urgent=False)


def wanted(event: Mapping[str, Any]) -> bool:
    """Whether ``event`` may call for a notice, from its type and data alone (no register read)."""
    kind = event.get("type")
    if kind not in EVENT_TYPES:
        return False
    data = event.get("data")
    if not isinstance(data, Mapping):
        return False
    if kind == "care.request.status_changed":
        return data.get("status") in ("failed", "cancelled")
    if kind == "care.operator.alert":
        return data.get("reason") == "emergency received"
    if kind in (PLAN_ANNOUNCED, PLAN_CHANGED):
        return bool(data.get("caregiver_id"))
    return True


def notices_for(event: Mapping[str, Any], register: NoticeRegister) -> list[Notice]:
    """The notices a CloudEvents record (``id``, ``type``, ``time``, ``data`` with
    ``request_id``) calls for; [] for an event that tells nobody anything, an
    unknown request, or people without a channel. Raises ``ValueError`` for a
    record without an id or a valid time."""
    if not wanted(event):
        return []
    data = event.get("data")
    if not isinstance(data, Mapping):
        return []
    event_id, at = event.get("id"), _when(event.get("time"))
    if event.get("type") == PLAN_ANNOUNCED:
        if not isinstance(event_id, str) or not event_id or at is None:
            raise ValueError("an event needs an id and an ISO 8601 time")
        return _plan_announced(_Event(event_id, PLAN_ANNOUNCED, at, data), register)
    if event.get("type") == PLAN_CHANGED:
        if not isinstance(event_id, str) or not event_id or at is None:
            raise ValueError("an event needs an id and an ISO 8601 time")
        return _plan_changed(_Event(event_id, PLAN_CHANGED, at, data), register)
    request = register.request(str(data.get("request_id", "")))
    if request is None:
        return []
    if not isinstance(event_id, str) or not event_id or at is None:
        raise ValueError("an event needs an id and an ISO 8601 time")
    return _DECIDE[str(event["type"])](_Event(event_id, str(event["type"]), at, data), request, register)
