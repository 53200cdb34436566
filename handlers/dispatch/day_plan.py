"""A live day plan: the planning instance of one service area's day, built from the register.

``careline plan --date D --area A`` (and the timer service's evening job) read that day's
known visits — requests booked ahead (stored, not final, window opening on D) and those
the recurring services will submit on D (``recurring_visits``, with the request ids the
timer service will give them) — and the area's caregivers with their rotas, and hand this
module's ``DayInstance`` to the OR-Tools planner (``handlers.dispatch.planning.plan_day``,
which takes a UHHC ``Instance``). Rules of the translation:

* the day is local midnight to midnight in the programme's time zone; times in the
  instance are minutes from that midnight;
* every shift of a caregiver on D (``handlers.dispatch.shifts.shifts_between``: the rota's
  weekly shifts less leave and sick days, plus extra shifts; a UHHC-style fixed shift) is one
  vehicle of the routing problem, leaving the caregiver's home base at the shift's start at
  the earliest and back by its end; a caregiver with a split shift is two vehicles, merged
  back in ``planned_visits``;
* abilities: a vehicle may serve a service type its caregiver covers under the routing
  policy's skill hierarchy (``covers``);
* windows are hard: the plan never promises a start outside the elder's window (a request
  it cannot fit stays out of the plan and is dispatched online when it arrives); a window
  that bounds the end of the service is turned into a window on its start;
* travel: one matrix at the pace of the slowest travel mode among the caregivers on duty
  (``scheduling.travel_for``), so every planned leg is long enough for whoever drives it;
* a visit already accepted stays with its caregiver at its start (a need only that
  caregiver may serve, in a one-minute window), so the plan works around it;
* left out, each with its reason: a visit with no known place, a synchronised pair
  (planned visits are single), a caregiver without a home base.

Not modelled: ``max_visits_per_day`` (a route may hold more; the offer then refuses it),
elders' preferred or excluded caregivers (the offer's ranking still honours them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from handlers.channels.subscriptions import Subscription, intake_for
from handlers.datasets.uhhc import Instance, RosterEntry, ServiceNeed, Stop
from handlers.dispatch.planned import PlannedVisit
from handlers.dispatch.scheduling import TravelTimes, travel_for
from handlers.dispatch.shifts import shifts_between
from handlers.model import Caregiver
from handlers.register.geo import UnknownLocation
from handlers.register.rota import Shift

MINUTES_PER_DAY = 24 * 60


class PlanRefused(ValueError):
    """The day cannot be planned (no caregiver on duty, nothing to plan); the message says why."""


@dataclass(frozen=True)
class KnownVisit:
    """A visit known before the day: a booked request or one a recurring service will submit.

    ``window_start``/``window_end`` aware datetimes bounding the start (or the end, when
    ``window_at_service_end``); ``location_index`` the elder's ``locations`` row;
    ``source`` ``booked`` or ``recurring``; ``fixed_caregiver``/``fixed_start`` a visit
    already accepted by that caregiver at that start."""

    request_id: str
    elder_id: str
    service_type: str
    duration_minutes: float
    window_start: datetime
    window_end: datetime
    location_index: int | None
    window_at_service_end: bool = False
    source: str = "booked"
    sync_partner_id: str | None = None
    fixed_caregiver: str | None = None
    fixed_start: datetime | None = None


@dataclass(frozen=True)
class DayInstance:
    """The planning instance of one area's day and how to read the solver's routes back.

    ``vehicles``: roster id -> (caregiver id, the shift it stands for); ``places``: matrix
    index -> ``locations`` row; ``visits``: request id -> its ``KnownVisit`` (the need's
    ``patient_id`` is the request id); ``left_out``: request or caregiver id -> reason."""

    instance: Instance
    day: date
    day_start: datetime
    vehicles: Mapping[str, tuple[str, Shift]]
    places: Sequence[int]
    visits: Mapping[str, KnownVisit]
    left_out: Mapping[str, str] = field(default_factory=dict)

    def at(self, minute: float) -> datetime:
        """The aware datetime ``minute`` minutes after the day's local midnight."""
        return self.day_start + timedelta(minutes=minute)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight of ``day`` and of the next day in ``zone`` (aware)."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def recurring_visits(
    subscriptions: Iterable[Subscription], places: Mapping[str, int | None], day: date
) -> list[KnownVisit]:
    """The visits active recurring services will submit for ``day`` (the elder's local date),
    with the request id and window ``handlers.channels.subscriptions.intake_for`` gives them
    (``sub.<subscription id>.<date>``), so the plan names the requests the timer service
    submits. ``places``: elder id -> ``locations`` row (an elder not in it is skipped)."""
    out: list[KnownVisit] = []
    for sub in subscriptions:
        if not sub.active or sub.elder_id not in places or day.weekday() not in sub.weekdays():
            continue
        start = datetime.combine(day, sub.local_time(), tzinfo=sub.zone())
        record = intake_for(sub, start - timedelta(minutes=sub.lead_minutes))
        out.append(
            KnownVisit(
                record["request_id"],
                sub.elder_id,
                sub.service_type,
                sub.duration_minutes,
                datetime.fromisoformat(record["window"]["start"]),
                datetime.fromisoformat(record["window"]["end"]),
                places[sub.elder_id],
                source="recurring",
            )
        )
    return out


def build_day_instance(
    name: str,
    day: date,
    zone: ZoneInfo,
    visits: Sequence[KnownVisit],
    caregivers: Sequence[Caregiver],
    travel: TravelTimes,
    covers: Callable[[str, str], bool],
) -> DayInstance:
    """The planning instance of ``visits`` (those whose window opens on ``day``) served by
    ``caregivers`` on their shifts of ``day``; ``travel`` the area's travel times (location
    indexes), ``covers(abilities, service_type)`` the routing policy's skill rule
    (``DispatchPolicy.covers``). Raises ``PlanRefused`` when no caregiver works that day or
    no visit can be planned; visits and caregivers left out are named in ``left_out``."""
    day_start, day_end = day_bounds(day, zone)
    left_out: dict[str, str] = {}

    def minutes(at: datetime) -> float:
        return (at - day_start).total_seconds() / 60.0

    def known_place(index: int | None) -> bool:
        try:
            travel.minutes(index, index)
        except UnknownLocation:
            return False
        return index is not None

    on_duty: list[tuple[Caregiver, tuple[Shift, ...]]] = []
    for c in sorted(caregivers, key=lambda c: c.caregiver_id):
        shifts = shifts_between(c, day_start, day_end) if c.active else ()
        shifts = tuple(s for s in shifts if s.end > day_start and s.start < day_end)
        if not shifts:
            continue
        if not known_place(c.home_base_index):
            left_out[c.caregiver_id] = "no home base with a known place"
            continue
        on_duty.append((c, shifts))
    if not on_duty:
        raise PlanRefused(f"no caregiver is on duty on {day.isoformat()}")
    ids = {c.caregiver_id for c, _ in on_duty}

    kept: list[KnownVisit] = []
    for v in sorted(visits, key=lambda v: (v.window_start, v.request_id)):
        if not day_start <= v.window_start < day_end:
            continue
        if v.sync_partner_id:
            left_out[v.request_id] = "one of a synchronised pair: dispatched when it arrives"
        elif not known_place(v.location_index):
            left_out[v.request_id] = "the elder has no known place"
        elif v.fixed_caregiver is not None and v.fixed_caregiver not in ids:
            left_out[v.request_id] = f"accepted by {v.fixed_caregiver}, who is not on duty in the plan"
        else:
            kept.append(v)
    if not kept:
        raise PlanRefused(f"no visit to plan on {day.isoformat()}")

    places: list[int] = []
    where: dict[int, int] = {}
    for index in [c.home_base_index for c, _ in on_duty] + [v.location_index for v in kept]:
        assert index is not None  # known_place checked it
        if index not in where:
            where[index] = len(places)
            places.append(index)
    paces = {c.travel_mode or "": travel_for(c, travel) for c, _ in on_duty}
    distances = tuple(
        tuple(0.0 if a == b else max(t.minutes(a, b) for t in paces.values()) for b in places) for a in places
    )

    service_types = sorted({v.service_type for v in kept})
    roster: list[RosterEntry] = []
    vehicles: dict[str, tuple[str, Shift]] = {}
    for c, shifts in on_duty:
        skills = tuple(st for st in service_types if covers(c.abilities, st))
        fixed = tuple(_fixed_id(v) for v in kept if v.fixed_caregiver == c.caregiver_id)
        for shift in shifts:
            vid = f"v{len(roster)}"
            home = where[c.home_base_index]  # type: ignore[index]  # known_place checked it
            start, end = max(0.0, minutes(shift.start)), minutes(shift.end)
            roster.append(RosterEntry(vid, skills + fixed, home, start, end))
            vehicles[vid] = (c.caregiver_id, shift)

    needs: list[ServiceNeed] = []
    for v in kept:
        if v.fixed_caregiver is not None and v.fixed_start is not None:
            first = last = float(round(minutes(v.fixed_start)))
            service = _fixed_id(v)
        else:
            first = minutes(v.window_start)
            last = minutes(v.window_end) - (v.duration_minutes if v.window_at_service_end else 0.0)
            service = v.service_type
        needs.append(ServiceNeed(v.request_id, service, v.duration_minutes, where[v.location_index], first, last))  # type: ignore[index]
    horizon = max([float(MINUTES_PER_DAY)] + [r.shift_end for r in roster] + [n.window_end + n.duration for n in needs])
    instance = Instance(
        name=name,
        distances=distances,
        needs=tuple(needs),
        roster=tuple(roster),
        at_service_end=False,
        windows_hard=True,
        shift_end_hard=True,
        horizon=horizon,
        raw={},
    )
    return DayInstance(instance, day, day_start, vehicles, tuple(places), {v.request_id: v for v in kept}, left_out)


def _fixed_id(v: KnownVisit) -> str:
    return f"accepted:{v.request_id}"


def planned_visits(
    day: DayInstance, routes: Mapping[str, Sequence[Stop]], announced_at: datetime | None
) -> dict[str, PlannedVisit]:
    """The plan to store: request id -> caregiver, start and end (aware), the elder's
    ``locations`` row and when it is announced. Visits already accepted are not in it
    (their visit stands). Each slot also carries what a repair needs to move it before its
    request arrives (``handlers.dispatch.repair``): the service, the on-time start range
    (``window_start``..``latest_start``, aware), ``window_hard`` (always: a live plan holds
    windows hard) and whether it is half of a synchronised pair (never moved)."""
    partners = {v.sync_partner_id for v in day.visits.values() if v.sync_partner_id}
    plan: dict[str, PlannedVisit] = {}
    for vid, stops in routes.items():
        caregiver_id = day.vehicles[vid][0]
        for s in stops:
            v = day.visits[s.patient_id]
            if v.fixed_caregiver is not None:
                continue
            plan[v.request_id] = PlannedVisit(
                caregiver_id,
                day.at(s.start),
                day.at(s.end),
                v.location_index,
                announced_at,
                service_type=v.service_type,
                window_start=v.window_start,
                latest_start=_latest_start(v),
                window_hard=True,
                synchronised=bool(v.sync_partner_id) or v.request_id in partners,
            )
    return plan


def _latest_start(v: KnownVisit) -> datetime:
    """The latest on-time start of a known visit (aware): its window's end, less the service's
    duration when the window bounds the end (``window_at_service_end``)."""
    return v.window_end - (timedelta(minutes=v.duration_minutes) if v.window_at_service_end else timedelta())


def unplanned(day: DayInstance, plan: Mapping[str, PlannedVisit]) -> list[str]:
    """Request ids of the day's visits the plan leaves to online dispatch (not accepted
    already, not in the plan, not left out before solving), in window order."""
    return [r for r, v in day.visits.items() if v.fixed_caregiver is None and r not in plan]


def routes_by_caregiver(plan: Mapping[str, PlannedVisit]) -> dict[str, list[tuple[str, PlannedVisit]]]:
    """The plan as each caregiver's day: caregiver id -> (request id, visit) by start."""
    out: dict[str, list[tuple[str, PlannedVisit]]] = {}
    for request_id, v in plan.items():
        out.setdefault(v.caregiver_id, []).append((request_id, v))
    for day in out.values():
        day.sort(key=lambda item: item[1].start)
    return dict(sorted(out.items()))


def plan_problems(day: DayInstance, plan: Mapping[str, PlannedVisit]) -> list[str]:
    """What in ``plan`` breaks a promise, as sentences (none for a sound plan): a start
    outside the elder's on-time window, or a visit outside the shift of the vehicle that
    carries it (the caregiver's rota on the day). Checked after every solve: the planner
    holds windows and shifts hard, this says so instead of assuming it."""
    shifts: dict[str, list[Shift]] = {}
    for caregiver_id, shift in day.vehicles.values():
        shifts.setdefault(caregiver_id, []).append(shift)
    found: list[str] = []
    slack = timedelta(seconds=60)  # the plan is in whole minutes
    for request_id, v in plan.items():
        k = day.visits[request_id]
        latest = _latest_start(k)
        if not k.window_start - slack <= v.start <= latest + slack:
            found.append(f"{request_id}: starts {v.start.isoformat()} outside its window")
        if not any(s.start - slack <= v.start and v.end <= s.end + slack for s in shifts.get(v.caregiver_id, [])):
            found.append(f"{request_id}: outside every shift of {v.caregiver_id}")
    return found
