"""What-if replay of a recorded day (issue 18): the same arrivals, another policy or mode.

A ``RecordedDay`` is what the event log and the register say about one area's day: the
register (elders, providers, caregivers), each request as it arrived and when, each offer's
recorded answer by (request, caregiver) and each visit's recorded check-in, plus the day's
own outcome (its offers and visits). ``rerun`` sends the arrivals through the offline runner
(``handlers.simulation.offline.run_day``: the same message handlers as the worker) under a
policy and mode; a caregiver offered the same request as in the record answers as recorded
(accept, decline or silence until the timeout, after the recorded delay) and checks in when
recorded; any other offer is answered by the seeded caregiver model
(``handlers.simulation.caregiver_model``, draws seeded by the offer id, so a re-run is
repeatable). ``measures`` sums a day up; ``differences`` lines two days up, row by row.

Determinism: the handlers take their ids from the request (offer ``<request>.o<n>``), the
runner orders simultaneous events by scheduling order, the model's draws are seeded by ids,
and the solver of a planned area's repair is given its time budget by the policy — with the
recorded policy and mode, a re-run makes the same offers to the same caregivers at the same
times and gets the same answers, so its outcome is the record's (tested).
No sqlalchemy here; ``db.whatif`` reads a ``RecordedDay`` from the database.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterable, Literal, Mapping, Sequence

from handlers.datasets.day import Day, Submission
from handlers.dispatch.area import Mode
from handlers.dispatch.scheduling import DispatchPolicy, TravelTimes
from handlers.model import (
    Caregiver,
    CareRequest,
    DomainEvent,
    Elder,
    Offer,
    OfferStatus,
    ProviderOrganisation,
    Visit,
    VisitStatus,
)
from handlers.simulation.caregiver_model import Answer, CaregiverAction, CaregiverFleet, CaregiverModel
from handlers.simulation.offline import OfflineRun, run_day

if TYPE_CHECKING:
    from handlers.dispatch.planned import PlannedVisit

_DEAD = (VisitStatus.CANCELLED, VisitStatus.NO_SHOW)
_ANSWERED = {"dispatch.offer.accepted": "accept", "dispatch.offer.accept_refused": "accept"}
_ANSWERED |= {"dispatch.offer.rejected": "decline", "dispatch.offer.timeout": "ignore"}


@dataclass(frozen=True)
class RecordedAnswer:
    """A caregiver's recorded answer to an offer of a request: ``accept``, ``decline`` or
    ``ignore`` (the offer timed out), ``delay_seconds`` after the offer was made."""

    answer: Answer
    delay_seconds: float


@dataclass(frozen=True)
class RecordedDay:
    """One area's recorded day. ``arrivals`` are (time the request arrived, the request as
    submitted: window, service, duration, priority, sync); ``answers`` by (request id,
    caregiver id) the recorded answers, one per offer in the order made; ``check_ins`` by (request id, caregiver id)
    (the visit's planned start, the recorded check-in time); ``offers`` and ``visits`` the day's own outcome (for the
    comparison). Times are aware datetimes."""

    area: str
    start: datetime
    elders: tuple[Elder, ...]
    providers: tuple[ProviderOrganisation, ...]
    caregivers: tuple[Caregiver, ...]
    arrivals: tuple[tuple[datetime, CareRequest], ...]
    answers: Mapping[tuple[str, str], tuple[RecordedAnswer, ...]] = field(default_factory=dict)
    check_ins: Mapping[tuple[str, str], tuple[datetime, datetime]] = field(default_factory=dict)
    offers: tuple[Offer, ...] = ()
    visits: tuple[Visit, ...] = ()


def recorded_answers(events: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[RecordedAnswer, ...]]:
    """Each (request id, caregiver id)'s answered offers, in the order made, from logged
    events (dicts with ``type``, ``time`` (aware datetime) and ``data``, the payload, in log
    order): an offer made (``dispatch.offer.created``) then accepted (also an accept refused
    as too late), rejected, or timed out. A rescinded or cancelled offer was never answered:
    not listed."""
    made: dict[str, datetime] = {}
    order: list[str] = []
    answered: dict[str, tuple[tuple[str, str], RecordedAnswer]] = {}
    for e in events:
        data = e["data"]
        if e["type"] == "dispatch.offer.created":
            if data["offer_id"] not in made:
                made[data["offer_id"]] = e["time"]
                order.append(data["offer_id"])
            continue
        kind = _ANSWERED.get(e["type"])
        oid = data.get("offer_id")
        if kind is None or oid not in made or oid in answered:
            continue
        delay = max(0.0, (e["time"] - made[oid]).total_seconds())
        answered[oid] = ((data["request_id"], data["caregiver_id"]), RecordedAnswer(kind, delay))  # type: ignore[arg-type]
    answers: dict[tuple[str, str], tuple[RecordedAnswer, ...]] = {}
    for oid in order:
        if oid in answered:
            key, answer = answered[oid]
            answers[key] = (*answers.get(key, ()), answer)
    return answers


def recorded_check_ins(events: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[datetime, datetime]]:
    """Each (request id, caregiver id)'s first check-in (``care.visit.checked_in``): the
    visit's planned start and the check-in time."""
    found: dict[tuple[str, str], tuple[datetime, datetime]] = {}
    for e in events:
        if e["type"] == "care.visit.checked_in":
            data = e["data"]
            start = datetime.fromisoformat(data["planned_start"])
            found.setdefault((data["request_id"], data["caregiver_id"]), (start, e["time"]))
    return found


def logged(events: Iterable[DomainEvent]) -> list[dict[str, Any]]:
    """Domain events (e.g. an offline run's ``uow.events``) in the shape ``recorded_answers``
    reads (``type``, ``time``, ``data``)."""
    return [{"type": e.type, "time": e.time, "data": e.payload} for e in events]


class ReplayFleet(CaregiverFleet):
    """The caregiver fleet of a re-run: recorded answers and check-ins where the same
    request was offered to the same caregiver (the n-th such offer gets the n-th recorded
    answer; the recorded check-in when the visit has the recorded planned start), the seeded
    model everywhere else. A recorded timeout stays silent until the
    (possibly different) timeout of the policy fires; ``from_record`` and ``from_model``
    count the offers answered each way."""

    def __init__(self, day: RecordedDay, model: CaregiverModel, travel: TravelTimes) -> None:
        super().__init__(
            model,
            travel,
            {c.caregiver_id: c.home_base_index for c in day.caregivers},
            {c.caregiver_id: c.provider_id for c in day.caregivers},
        )
        self.answers, self.check_ins = day.answers, day.check_ins
        self.from_record = 0
        self.from_model = 0
        self._asked: dict[tuple[str, str], int] = {}

    def on_event(self, event_type: str, payload: Mapping[str, Any], now: datetime) -> list[CaregiverAction]:
        """The caregivers' actions an event causes (``CaregiverFleet.on_event``): an offer is answered
        as recorded, after the recorded delay (an ``ignore`` not at all), or by the model when the
        record has no such answer; an accepted visit is checked into at the recorded time when it
        keeps its recorded planned start."""
        if event_type == "dispatch.offer.created":
            key = (payload["request_id"], payload["caregiver_id"])
            nth = self._asked[key] = self._asked.get(key, -1) + 1
            answers = self.answers.get(key, ())
            recorded = answers[nth] if nth < len(answers) else None
            if recorded is None:
                self.from_model += 1
                return super().on_event(event_type, payload, now)
            self.from_record += 1
            if recorded.answer == "ignore":
                return []
            due = now + timedelta(seconds=recorded.delay_seconds)
            return [CaregiverAction(due, recorded.answer, *key, payload["offer_id"])]
        actions = super().on_event(event_type, payload, now)
        if event_type == "dispatch.offer.accepted":
            seen = self.check_ins.get((payload["request_id"], payload["caregiver_id"]))
            if seen is not None and seen[0] == datetime.fromisoformat(payload["planned_start"]):
                actions = [
                    CaregiverAction(max(seen[1], now), a.kind, a.request_id, a.caregiver_id, a.offer_id)
                    for a in actions
                ]
        return actions


def intake_record(request: CareRequest) -> dict[str, Any]:
    """The intake record (``handlers.channels.intake``) that submits ``request`` again."""
    record: dict[str, Any] = {
        "intake_id": request.request_id,
        "request_id": request.request_id,
        "channel": request.channel,
        "elder_id": request.elder_id,
        "service_type": request.service_type,
        "duration_minutes": request.duration_minutes,
        "window": {"start": request.window_start.isoformat(), "end": request.window_end.isoformat()},
        "priority": request.priority.value,
        "window_hard": request.window_hard,
        "window_at_service_end": request.window_at_service_end,
        "submitted_at": request.submitted_at.isoformat(),
    }
    if request.sync_type is not None and request.sync_partner_id is not None:
        record["sync"] = {
            "type": request.sync_type.value,
            "partner_request_id": request.sync_partner_id,
            "follower": request.sync_is_follower,
            "min_gap_minutes": request.sync_min_gap,
            "max_gap_minutes": request.sync_max_gap,
        }
    return record


@dataclass
class Rerun:
    """A re-run's final state (``run``) and how many offers were answered from the record
    and how many by the caregiver model."""

    run: OfflineRun
    answered_from_record: int
    answered_by_model: int


def rerun(
    day: RecordedDay,
    policy: DispatchPolicy,
    travel: TravelTimes,
    model: CaregiverModel,
    mode: Mode = "online",
    plan: Mapping[str, PlannedVisit] | None = None,
    batch_interval_seconds: float = 60.0,
) -> Rerun:
    """Re-run ``day``'s arrivals (requests arriving at the same time in the order given, the
    log's) through the dispatch handlers under ``policy`` and ``mode``
    (``plan``: request id -> planned visit, for ``planned``). Raises ``ValueError`` for an
    unknown mode or ``planned`` without a plan (``run_day``)."""
    services = {r.service_type for _, r in day.arrivals}
    for c in day.caregivers:
        services.update(c.abilities.split())
    sim = Day(
        day.area,
        day.start,
        day.elders,
        day.providers,
        day.caregivers,
        tuple(
            Submission(at, intake_record(r)) for at, r in sorted(day.arrivals, key=lambda a: a[0])
        ),  # stable: log order
    )
    fleet = ReplayFleet(day, model, travel)
    run = run_day(sim, travel, policy, model, services, None, mode, batch_interval_seconds, plan, fleet=fleet)
    return Rerun(run, fleet.from_record, fleet.from_model)


@dataclass(frozen=True)
class Measures:
    """A day summed up. Seconds from arrival to the accepted offer (median, 90th percentile;
    None when nothing was accepted); ``fill_rate``: share of requests with a live visit;
    ``sla_share``: share of requests accepted within their priority's ``sla_minutes``;
    ``travel_minutes``: the caregivers' routes home -> visits (by check-in, else planned
    start) -> home; ``lateness_minutes``: total and largest minutes a visit started (or, for a
    window on the service's end, ended) after its window; ``in_window_share``: share of
    served visits inside their window; ``first_offer_share``: provider id -> share of the
    requests whose first offer went to that provider's caregivers. Shares 0..1 or None."""

    requests: int
    accept_seconds_p50: float | None
    accept_seconds_p90: float | None
    fill_rate: float | None
    sla_share: float | None
    travel_minutes: float
    lateness_total_minutes: float
    lateness_max_minutes: float
    in_window_share: float | None
    first_offer_share: dict[str, float]

    def as_json(self) -> dict[str, Any]:
        """Every measure by field name, units as in the class docstring (JSON-ready: numbers, None, dicts)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def measures(
    arrivals: Sequence[tuple[datetime, CareRequest]],
    offers: Iterable[Offer],
    visits: Iterable[Visit],
    caregivers: Sequence[Caregiver],
    travel: TravelTimes,
    sla_minutes: Mapping[str, float],
) -> Measures:
    """The ``Measures`` of a day: ``arrivals`` as in ``RecordedDay``, its offers and visits
    (a re-run's from ``uow``, the record's from the database), ``sla_minutes`` per priority."""
    arrived = {r.request_id: (at, r) for at, r in arrivals}
    offers = [o for o in offers if o.request_id in arrived]
    visits = [v for v in visits if v.request_id in arrived and v.status not in _DEAD]
    provider = {c.caregiver_id: c.provider_id for c in caregivers}
    home = {c.caregiver_id: c.home_base_index for c in caregivers}
    waits: dict[str, float] = {}
    first: dict[str, Offer] = {}
    for o in sorted(offers, key=lambda o: (o.created_at, o.offer_id)):
        first.setdefault(o.request_id, o)
        if o.status == OfferStatus.ACCEPTED and o.responded_at is not None:
            waits.setdefault(o.request_id, (o.responded_at - arrived[o.request_id][0]).total_seconds())
    sla_hits = sum(
        1 for rid, w in waits.items() if w <= 60 * sla_minutes.get(arrived[rid][1].priority.value, float("inf"))
    )
    late: list[float] = []
    inside = 0
    routes: dict[str, list[Visit]] = {}
    for v in visits:
        r = arrived[v.request_id][1]
        start = v.check_in_at or v.planned_start
        duration = timedelta(minutes=r.duration_minutes)
        point = start + duration if r.window_at_service_end else start
        over = max(0.0, (point - r.window_end).total_seconds() / 60)
        late.append(over)
        inside += over == 0 and point >= (r.window_start + (duration if r.window_at_service_end else timedelta()))
        routes.setdefault(v.caregiver_id, []).append(v)
    travel_total = 0.0
    for cid, stops in routes.items():
        at = home.get(cid)
        for v in sorted(stops, key=lambda v: (v.check_in_at or v.planned_start, v.visit_id)):
            travel_total += travel.minutes(at, v.location_index)
            at = v.location_index
        travel_total += travel.minutes(at, home.get(cid))
    firsts = [provider.get(o.caregiver_id, "?") for o in first.values()]
    ordered = sorted(waits.values())
    return Measures(
        requests=len(arrived),
        accept_seconds_p50=statistics.median(ordered) if ordered else None,
        accept_seconds_p90=ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] if ordered else None,
        fill_rate=_share(len({v.request_id for v in visits}), len(arrived)),
        sla_share=_share(sla_hits, len(arrived)),
        travel_minutes=round(travel_total, 3),
        lateness_total_minutes=round(sum(late), 3),
        lateness_max_minutes=round(max(late, default=0.0), 3),
        in_window_share=_share(inside, len(visits)),
        first_offer_share={p: firsts.count(p) / len(firsts) for p in sorted(set(firsts))},
    )


@dataclass(frozen=True)
class Decisions:
    """What dispatch decided: each offer as (request id, caregiver id, status, made at) in
    the order made, and each request's accepted caregiver (live visits only)."""

    offers: tuple[tuple[str, str, str, datetime], ...]
    accepted: dict[str, str]


def decisions(offers: Iterable[Offer], visits: Iterable[Visit]) -> Decisions:
    """The ``Decisions`` in a day's offers and visits."""
    made = sorted(offers, key=lambda o: (o.created_at, o.offer_id))
    return Decisions(
        tuple((o.request_id, o.caregiver_id, o.status.value, o.created_at) for o in made),
        {v.request_id: v.caregiver_id for v in sorted(visits, key=lambda v: v.visit_id) if v.status not in _DEAD},
    )


Kind = Literal["seconds", "share", "minutes", "count"]
_ROWS: tuple[tuple[str, str, Kind], ...] = (
    ("requests", "requests", "count"),
    ("time to accept, median (s)", "accept_seconds_p50", "seconds"),
    ("time to accept, p90 (s)", "accept_seconds_p90", "seconds"),
    ("fill rate", "fill_rate", "share"),
    ("SLA met", "sla_share", "share"),
    ("travel (min)", "travel_minutes", "minutes"),
    ("lateness total (min)", "lateness_total_minutes", "minutes"),
    ("lateness max (min)", "lateness_max_minutes", "minutes"),
    ("visits inside the window", "in_window_share", "share"),
)


@dataclass(frozen=True)
class Difference:
    """One row of the comparison: ``measure`` (its label), the recorded and re-run values
    (None: not defined, e.g. nothing accepted) and ``delta`` (re-run minus recorded)."""

    measure: str
    recorded: float | None
    rerun: float | None
    kind: Kind

    @property
    def delta(self) -> float | None:
        """Re-run minus recorded, in the measure's unit; None when either is undefined."""
        if self.recorded is None or self.rerun is None:
            return None
        return self.rerun - self.recorded

    @property
    def changed(self) -> bool:
        """True when the re-run's value differs from the recording's (None against a number included)."""
        return self.recorded != self.rerun


def differences(recorded: Measures, rerun_: Measures) -> list[Difference]:
    """The measures side by side, one row each (first offers: one row per provider)."""
    rows = [Difference(label, getattr(recorded, key), getattr(rerun_, key), kind) for label, key, kind in _ROWS]
    for p in sorted(set(recorded.first_offer_share) | set(rerun_.first_offer_share)):
        rows.append(
            Difference(
                f"first offers to {p}",
                recorded.first_offer_share.get(p, 0.0),
                rerun_.first_offer_share.get(p, 0.0),
                "share",
            )
        )
    return rows


def changed_decisions(recorded: Decisions, rerun_: Decisions) -> list[tuple[str, str | None, str | None]]:
    """Each request whose accepted caregiver differs: (request id, recorded, re-run)."""
    ids = sorted(set(recorded.accepted) | set(rerun_.accepted))
    return [
        (r, recorded.accepted.get(r), rerun_.accepted.get(r))
        for r in ids
        if recorded.accepted.get(r) != rerun_.accepted.get(r)
    ]
