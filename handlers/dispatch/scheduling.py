"""Where a visit fits in a caregiver's day: gap insertion and candidate ranking.

A caregiver's day is a chain home base -> booked slots -> home base. A new
visit may go into any gap that is still in the future without moving a slot
already promised to another elder (committed visits never shift). For each
eligible caregiver we keep the cheapest gap, then rank caregivers by

    cost = travel_weight * added travel minutes
         + lateness_weight * minutes late against the time window
         + sync_weight * minutes off the synchronisation with the anchor visit.

Exclusion reasons are kept so every decision can be explained.
The insertion rule is the classic cheapest-insertion heuristic for routing
with time windows (Solomon 1987, Operations Research 35(2)).

Shifts (``handlers.dispatch.shifts``): the day is searched shift by shift, among the
caregiver's shifts that overlap the request's window. A visit starts inside a shift,
never outside it. The caregiver is back at the home base by the shift end when the
policy says the end is hard (``shift_end_hard``), unless it allows ``overtime_minutes``;
each minute past the end costs ``overtime_weight`` (a soft end, as some UHHC days have,
allows any overtime at that cost). Travel is the caregiver's own mode's when the area's
travel times depend on it (``handlers.register.geo.ModalTravelTimes``); a location with
no known point excludes the caregiver with that reason, never counts as 0 minutes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, Sequence

from handlers.dispatch.shifts import absence_on, local_date, shifts_between
from handlers.model import Booking, Caregiver, CareRequest
from handlers.register.geo import ModalTravelTimes, UnknownLocation
from handlers.register.rota import Shift


class TravelTimes(Protocol):
    """Travel minutes between location indexes; ``MatrixTravelTimes`` reads a UHHC matrix."""

    def minutes(self, origin: int | None, destination: int | None) -> float:
        """Travel time in minutes between two location indexes."""


@dataclass(frozen=True)
class MatrixTravelTimes:
    """Travel minutes read from a square matrix (UHHC ``distances``)."""

    matrix: Sequence[Sequence[float]]

    def minutes(self, origin: int | None, destination: int | None) -> float:
        """Raises ``handlers.register.geo.UnknownLocation`` for a place without a matrix index
        (it used to count as 0 minutes away)."""
        if (
            origin is None
            or destination is None
            or not (0 <= origin < len(self.matrix) and 0 <= destination < len(self.matrix))
        ):
            raise UnknownLocation(
                f"location {origin if origin is None or not 0 <= origin < len(self.matrix) else destination} has no row in the travel matrix"
            )
        return float(self.matrix[origin][destination])


@dataclass(frozen=True)
class LadderStep:
    """One rung of the escalation ladder: ``best`` (top-ranked caregivers),
    ``widen`` (every eligible caregiver of any contracted provider) or
    ``emergency_services``; the request moves on after ``deadline_seconds``."""

    step: str
    deadline_seconds: float


_DEFAULT_LADDER = {
    "stat": (LadderStep("best", 60), LadderStep("emergency_services", 0)),
    "asap": (LadderStep("best", 300), LadderStep("widen", 600)),
    "urgent": (LadderStep("best", 600), LadderStep("widen", 1800)),
    "routine": (LadderStep("best", 1800), LadderStep("widen", 7200)),
}


@dataclass(frozen=True)
class DispatchPolicy:
    """Weights of the ranking (per minute) and the rules a decision records;
    read from ``config/policy.toml`` by ``config.policy.load_policy``."""

    version: str = "2026-11-30.1"
    travel_weight: float = 1.0
    lateness_weight: float = 5.0
    sync_weight: float = 20.0
    offer_timeout_seconds: float = 120.0
    shift_end_hard: bool = False
    overtime_minutes: float = 0.0
    overtime_weight: float = 0.0
    max_offers_per_request: int = 20
    no_show_minutes: float = 5.0
    continuity_bonus_minutes: float = 15.0
    provider_score_weight: float = 0.3
    fairness_weight: float = 2.0
    daily_capacity: int | None = None
    exploration_share: float = 0.1
    repair_seconds: float = 3.0
    """Planned areas: wall seconds the solver may spend repairing the day when a planned visit
    falls through (``handlers.dispatch.repair``); 0 falls back to insertion at once."""
    repair_caregivers: int = 12
    """Planned areas: how many caregivers who may take the falling request (the ranked ones
    first) a repair re-plans, with the caregiver who let it fall."""
    confirm_rounds: int = 0
    """Planned areas: confirmation rounds after a plan is announced (``handlers.dispatch.rounds``):
    the planned offers go out at the announcement, and every ``confirm_round_minutes`` the day is
    re-planned from the answers, this many times, before elders are told their windows; 0: none
    (a fallen planned visit is repaired at once)."""
    confirm_round_minutes: float = 30.0
    """Planned areas: minutes between an announcement and the close of each confirmation round."""
    confirm_round_seconds: float = 10.0
    """Planned areas: wall seconds the planner may spend on each confirmation round's re-plan."""
    confirm_keep_minutes: int = 20
    """Planned areas: what moving an accepted visit to another caregiver costs the last round's
    re-plan, in minutes of travel (each move is a new offer that may fall again); round ``k`` of
    ``confirm_rounds`` costs ``keep_minutes_in(k)``, less while more rounds remain to place what a
    move's new offer loses (measured by ``careline bench dispatch``, docs/NOTES.md "Rounds that
    churn less": 20 in the last of five rounds)."""
    confirm_lead_minutes: float = 60.0
    """Planned areas: a slot takes part in the rounds only when it starts at least this long after
    the last round closes (the early slots of a plan announced on the day repair instead), and a
    round changes nothing that starts within this long of when it is handled."""
    promise_before_minutes: float = 15.0
    """The window told to the elder opens this many minutes before the held start
    (``handlers.dispatch.promise``)."""
    promise_after_minutes: float = 45.0
    """The window told to the elder closes this many minutes after the held start: the slack for
    declines re-dispatched later (``handlers.dispatch.promise``)."""
    parallel_offers: dict[str, int] = field(default_factory=lambda: {"stat": 3, "asap": 2})
    skill_hierarchy: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sla_minutes: dict[str, float] = field(default_factory=lambda: {"stat": 1, "asap": 5, "urgent": 15, "routine": 60})
    ladder: dict[str, tuple[LadderStep, ...]] = field(default_factory=lambda: dict(_DEFAULT_LADDER))

    def round_due(self, announced_at: datetime | None, slot_start: datetime, now: datetime) -> int | None:
        """The confirmation round (1..``confirm_rounds``) whose close comes next at ``now`` for a slot
        announced at ``announced_at`` and starting at ``slot_start`` (aware); None when the slot
        takes no part in rounds (none configured, never announced, the last round closed, or the
        slot starts less than ``confirm_lead_minutes`` after the last close)."""
        if self.confirm_rounds <= 0 or announced_at is None or now < announced_at:
            return None
        last = self.round_closes_at(announced_at, self.confirm_rounds)
        if now >= last or slot_start < last + timedelta(minutes=self.confirm_lead_minutes):
            return None
        return int((now - announced_at) / timedelta(minutes=self.confirm_round_minutes)) + 1

    def round_closes_at(self, announced_at: datetime, k: int) -> datetime:
        """When confirmation round ``k`` of a plan announced at ``announced_at`` closes (aware)."""
        return announced_at + k * timedelta(minutes=self.confirm_round_minutes)

    def keep_minutes_in(self, k: int) -> int:
        """What moving an accepted visit to another caregiver costs round ``k`` (1..``confirm_rounds``):
        ``confirm_keep_minutes`` times ``k / confirm_rounds``, rounded up, at least 1 (a move that
        saves nothing, such as two caregivers swapping whole routes, is never made). Minutes of
        travel in the re-plan's objective; ``k`` outside 1..``confirm_rounds`` is clamped to it.
        The ramp is careline policy, measured over five seeds of the UHHC bazirha days
        (docs/NOTES.md "Rounds that churn less"), not a published rule."""
        rounds = max(1, self.confirm_rounds)
        return max(1, math.ceil(self.confirm_keep_minutes * min(max(k, 1), rounds) / rounds))

    def covers(self, abilities: str, service_type: str) -> bool:
        """An ability list covers a service directly or through the skill hierarchy."""
        return any(a == service_type or service_type in self.skill_hierarchy.get(a, ()) for a in abilities.split())

    def parallel_for(self, priority: str) -> int:
        """How many caregivers a request of ``priority`` is offered to at once, first accept wins
        (``[offers.parallel]`` of config/policy.toml; 1 for a priority not listed, never below 1)."""
        return max(1, self.parallel_offers.get(priority, 1))

    def steps_for(self, priority: str) -> tuple[LadderStep, ...]:
        """The escalation ladder of ``priority`` (``[[ladder.<priority>]]`` of config/policy.toml),
        else routine's, else one ``best`` step of 1800 s."""
        return self.ladder.get(priority) or self.ladder.get("routine") or (LadderStep("best", 1800),)


@dataclass(frozen=True)
class RankingContext:
    """What else a ranking weighs besides the day: the elder's recent
    caregivers (continuity), excluded caregivers, each caregiver's provider,
    the providers' contracts (service types) and scores 0..100, and how many
    visits each caregiver already holds that day (fairness, capacity)."""

    recent_caregivers: frozenset[str] = frozenset()
    excluded_caregivers: frozenset[str] = frozenset()
    provider_services: dict[str, frozenset[str]] = field(default_factory=dict)
    provider_scores: dict[str, float] = field(default_factory=dict)
    visits_today: dict[str, int] = field(default_factory=dict)
    explore: bool = False
    language: str | None = None
    preferred_gender: str | None = None
    preferred_caregivers: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Candidate:
    """A caregiver's best slot for a request: start/end (aware UTC), added travel, lateness and sync deviation in minutes, and the ranking cost (minute-equivalents, lower is better)."""

    caregiver_id: str
    start: datetime
    end: datetime
    travel_added_minutes: float
    lateness_minutes: float
    sync_deviation_minutes: float
    cost: float


@dataclass(frozen=True)
class Ranking:
    """Eligible candidates cheapest first, and the reason each other caregiver was excluded (caregiver id -> text)."""

    candidates: tuple[Candidate, ...]
    exclusions: dict[str, str]


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60.0


def earliest_start(request: CareRequest) -> datetime:
    """The earliest allowed start: the window start, or the synchronised slot
    after the anchor visit for a follower service."""
    if request.sync_is_follower and request.sync_anchor_start is not None:
        return max(request.window_start, request.sync_anchor_start + timedelta(minutes=request.sync_min_gap))
    return request.window_start


def _sync_latest(request: CareRequest) -> datetime | None:
    if request.sync_is_follower and request.sync_anchor_start is not None:
        return request.sync_anchor_start + timedelta(minutes=request.sync_max_gap)
    return None


def travel_for(caregiver: Caregiver, travel: TravelTimes) -> TravelTimes:
    """The travel times of ``caregiver``: its own travel mode's speed when ``travel``
    depends on the mode (coordinates, a road network), else ``travel`` (a UHHC matrix)."""
    if caregiver.travel_mode and isinstance(travel, ModalTravelTimes):
        return travel.for_mode(caregiver.travel_mode)
    return travel


def window_shifts(request: CareRequest, caregiver: Caregiver) -> tuple[Shift, ...]:
    """The caregiver's shifts that overlap the request's window (earliest start .. latest
    on-time start): the shifts in which it may be offered."""
    return shifts_between(caregiver, earliest_start(request), max(request.latest_start, earliest_start(request)))


def _no_shift(request: CareRequest, caregiver: Caregiver) -> str:
    absence = absence_on(caregiver, earliest_start(request))
    if absence is not None:
        return f"on {absence.kind} on {absence.first.isoformat()}" + (
            f"..{absence.last.isoformat()}" if absence.last != absence.first else ""
        )
    return "off shift during the time window"


def _overtime_limit(policy: DispatchPolicy) -> timedelta | None:
    """How far past its end a shift may run (None: without limit, a soft shift end)."""
    return timedelta(minutes=policy.overtime_minutes) if policy.shift_end_hard else None


def _in_shift(bookings: Sequence[Booking], shift: Shift, policy: DispatchPolicy) -> list[Booking]:
    limit = _overtime_limit(policy)
    last = shift.end + limit if limit is not None else None
    return sorted(
        (b for b in bookings if b.end > shift.start and (last is None or b.start < last)), key=lambda b: b.start
    )


def best_insertion(
    request: CareRequest,
    caregiver: Caregiver,
    bookings: Sequence[Booking],
    travel: TravelTimes,
    now: datetime,
    policy: DispatchPolicy,
) -> Candidate | str:
    """The cheapest future gap for ``request`` in the caregiver's shifts, or the
    reason why none fits (a string). Costs are minutes.

    The caregiver sets off from the previous slot (or the home base at shift
    start) no earlier than the offer's expiry, ``now`` plus
    ``policy.offer_timeout_seconds``: they leave only after saying yes, and a
    yes may come that late. A hard window that only a departure before the
    answer could meet is not offered. (Day plans, ``insertion_at``, differ:
    the planned caregiver knew the slot from the plan's announcement.) Only
    shifts that overlap the window are searched; the visit starts before the
    shift ends; overtime as the module docstring says. Raises nothing for an
    unknown location: that is a reason too.
    """
    shifts = window_shifts(request, caregiver)
    if not shifts:
        return _no_shift(request, caregiver)
    travel = travel_for(caregiver, travel)
    best: Candidate | None = None
    reason = "no gap in the day is long enough"
    for shift in shifts:
        try:
            fit = _best_in_shift(request, caregiver, _in_shift(bookings, shift, policy), shift, travel, now, policy)
        except LookupError as exc:  # handlers.register.geo.UnknownLocation, adapters' NoRoute
            return f"travel time unknown: {exc}"
        if isinstance(fit, str):
            reason = fit
        elif best is None or fit.cost < best.cost:
            best = fit
    return best if best is not None else reason


def _best_in_shift(
    request: CareRequest,
    caregiver: Caregiver,
    slots: Sequence[Booking],
    shift: Shift,
    travel: TravelTimes,
    now: datetime,
    policy: DispatchPolicy,
) -> Candidate | str:
    home = caregiver.home_base_index
    chain = [(home, shift.start)] + [(b.location_index, b.end) for b in slots]
    nexts = [(b.location_index, b.start) for b in slots] + [(home, None)]
    duration = timedelta(minutes=request.duration_minutes)
    sync_latest = _sync_latest(request)
    answer_allowance = timedelta(seconds=policy.offer_timeout_seconds)
    limit = _overtime_limit(policy)
    best: Candidate | None = None
    reason = "no gap in the day is long enough"
    for (prev_loc, prev_free), (next_loc, next_start) in zip(chain, nexts, strict=False):
        if next_start is not None and next_start <= now:
            continue
        depart = max(prev_free, now + answer_allowance)
        arrive = depart + timedelta(minutes=travel.minutes(prev_loc, request.location_index))
        start = max(arrive, earliest_start(request))
        if start >= shift.end:
            reason = "would start after the end of the shift"
            continue
        end = start + duration
        back = end + timedelta(minutes=travel.minutes(request.location_index, next_loc))
        if next_start is not None and back > next_start:
            continue
        overtime = max(0.0, _minutes(back - shift.end)) if next_start is None else 0.0
        if limit is not None and overtime > _minutes(limit):
            reason = "would not be back at the home base by the end of the shift"
            continue
        lateness = max(0.0, _minutes(start - request.latest_start))
        if request.window_hard and lateness > 0:
            reason = "would arrive after the time window (hard window)"
            continue
        sync_dev = max(0.0, _minutes(start - sync_latest)) if sync_latest else 0.0
        added = (
            travel.minutes(prev_loc, request.location_index)
            + travel.minutes(request.location_index, next_loc)
            - travel.minutes(prev_loc, next_loc)
        )
        cost = (
            policy.travel_weight * added
            + policy.lateness_weight * lateness
            + policy.sync_weight * sync_dev
            + policy.overtime_weight * overtime
        )
        if best is None or cost < best.cost:
            best = Candidate(caregiver.caregiver_id, start, end, added, lateness, sync_dev, cost)
    return best if best is not None else reason


def insertion_at(
    request: CareRequest,
    caregiver: Caregiver,
    bookings: Sequence[Booking],
    travel: TravelTimes,
    start: datetime,
    now: datetime,
    policy: DispatchPolicy,
) -> Candidate | str:
    """The candidate for starting ``request`` exactly at ``start`` (a slot a day
    plan chose), or the reason why that slot no longer fits (a string).

    Same rules as ``best_insertion``: the slot starts inside a shift; the caregiver
    leaves the previous slot (or the home base at shift start) no earlier than
    ``now`` and travels its mode's minutes, reaches the next slot in time, is back
    by the shift end (with the overtime the policy allows), and a hard window is
    never missed. Costs are minutes. For a slot of a plan announced earlier,
    ``now`` is when it was announced: the caregiver may set off before the request
    itself arrives.
    """
    shift = next((s for s in shifts_between(caregiver, start, start) if s.contains(start)), None)
    if shift is None:
        return "the planned start is outside the caregiver's shifts"
    travel = travel_for(caregiver, travel)
    try:
        return _insertion_in_shift(
            request, caregiver, _in_shift(bookings, shift, policy), shift, travel, start, now, policy
        )
    except LookupError as exc:
        return f"travel time unknown: {exc}"


def _insertion_in_shift(
    request: CareRequest,
    caregiver: Caregiver,
    slots: Sequence[Booking],
    shift: Shift,
    travel: TravelTimes,
    start: datetime,
    now: datetime,
    policy: DispatchPolicy,
) -> Candidate | str:
    end = start + timedelta(minutes=request.duration_minutes)
    home = caregiver.home_base_index
    prev_loc, prev_free, next_loc, next_start = home, shift.start, home, None
    for b in slots:
        if b.start < start:
            if b.end > start:
                return "the planned slot overlaps another visit"
            prev_loc, prev_free = b.location_index, b.end
        elif next_start is None:
            next_loc, next_start = b.location_index, b.start
    here = request.location_index
    if max(prev_free, now) + timedelta(minutes=travel.minutes(prev_loc, here)) > start:
        return "cannot be there by the planned start"
    if start < earliest_start(request):
        return "the planned start is before the window opens"
    if next_start is not None and end + timedelta(minutes=travel.minutes(here, next_loc)) > next_start:
        return "would not reach the next visit in time"
    overtime = 0.0
    if next_start is None:
        overtime = max(0.0, _minutes(end + timedelta(minutes=travel.minutes(here, home)) - shift.end))
        limit = _overtime_limit(policy)
        if limit is not None and overtime > _minutes(limit):
            return "would not be back at the home base by the end of the shift"
    lateness = max(0.0, _minutes(start - request.latest_start))
    if request.window_hard and lateness > 0:
        return "would arrive after the time window (hard window)"
    sync_latest = _sync_latest(request)
    sync_dev = max(0.0, _minutes(start - sync_latest)) if sync_latest else 0.0
    added = travel.minutes(prev_loc, here) + travel.minutes(here, next_loc) - travel.minutes(prev_loc, next_loc)
    cost = (
        policy.travel_weight * added
        + policy.lateness_weight * lateness
        + policy.sync_weight * sync_dev
        + policy.overtime_weight * overtime
    )
    return Candidate(caregiver.caregiver_id, start, end, added, lateness, sync_dev, cost)


def daily_maximum_reached(caregiver: Caregiver, bookings: Sequence[Booking], start: datetime) -> bool:
    """True when the caregiver already holds its ``max_visits_per_day`` (visits and
    pending offers) on the local date of ``start``."""
    if caregiver.max_visits_per_day is None:
        return False
    day = local_date(caregiver, start)
    return sum(1 for b in bookings if local_date(caregiver, b.start) == day) >= caregiver.max_visits_per_day


def _excluded(
    request: CareRequest, caregiver: Caregiver, policy: DispatchPolicy, ctx: RankingContext, already_offered: set[str]
) -> str | None:
    cid = caregiver.caregiver_id
    contract = ctx.provider_services.get(caregiver.provider_id)
    if not caregiver.active:
        return "not available"
    if caregiver.service_area != request.service_area:
        return f"serves area {caregiver.service_area}, not {request.service_area}"
    if not policy.covers(caregiver.abilities, request.service_type):
        return f"lacks the ability {request.service_type}"
    if contract is not None and contract and request.service_type not in contract:
        return f"provider {caregiver.provider_id} has no contract for {request.service_type}"
    if cid in ctx.excluded_caregivers:
        return "excluded by the elder"
    if ctx.preferred_gender and caregiver.gender and caregiver.gender != ctx.preferred_gender:
        return f"the elder asks for a {ctx.preferred_gender} caregiver"
    if ctx.language and caregiver.language and ctx.language not in caregiver.language.split():
        return f"does not speak {ctx.language}"
    if policy.daily_capacity is not None and ctx.visits_today.get(cid, 0) >= policy.daily_capacity:
        return f"daily capacity of {policy.daily_capacity} visits reached"
    if cid in already_offered:
        return "already offered this request"
    return None


def _adjusted(c: Candidate, caregiver: Caregiver, policy: DispatchPolicy, ctx: RankingContext) -> Candidate:
    cost = c.cost + policy.fairness_weight * ctx.visits_today.get(caregiver.caregiver_id, 0)
    if caregiver.caregiver_id in ctx.recent_caregivers:
        cost -= policy.continuity_bonus_minutes
    if caregiver.caregiver_id in ctx.preferred_caregivers:
        cost -= policy.continuity_bonus_minutes  # the elder asked for this caregiver
    score = None if ctx.explore else ctx.provider_scores.get(caregiver.provider_id)
    if score is not None:
        cost += policy.provider_score_weight * (100.0 - score)
    return Candidate(
        c.caregiver_id, c.start, c.end, c.travel_added_minutes, c.lateness_minutes, c.sync_deviation_minutes, cost
    )


def rank_caregivers(
    request: CareRequest,
    caregivers: Sequence[Caregiver],
    bookings: dict[str, list[Booking]],
    travel: TravelTimes,
    now: datetime,
    policy: DispatchPolicy,
    already_offered: set[str],
    context: RankingContext | None = None,
) -> Ranking:
    """Eligible caregivers, cheapest first, and why each other one was excluded.

    Eligibility: active, same service area, ability covers the service type
    (with the policy's skill hierarchy), the provider's contract covers it,
    not excluded by the elder, under the daily capacity, not yet offered this
    request, a feasible gap inside a shift (see ``best_insertion``) and under
    its own daily maximum of visits on that day. The cost then gains
    the fairness and provider-score terms and loses the continuity bonus.
    """
    ctx = context or RankingContext()
    ranked: list[Candidate] = []
    exclusions: dict[str, str] = {}
    for caregiver in caregivers:
        cid = caregiver.caregiver_id
        why = _excluded(request, caregiver, policy, ctx, already_offered)
        if why is not None:
            exclusions[cid] = why
            continue
        held = bookings.get(cid, [])
        fit = best_insertion(request, caregiver, held, travel, now, policy)
        if isinstance(fit, str):
            exclusions[cid] = fit
        elif daily_maximum_reached(caregiver, held, fit.start):
            exclusions[cid] = f"daily maximum of {caregiver.max_visits_per_day} visits reached"
        else:
            ranked.append(_adjusted(fit, caregiver, policy, ctx))
    ranked.sort(key=lambda c: (c.cost, c.start, c.caregiver_id))
    return Ranking(tuple(ranked), exclusions)
