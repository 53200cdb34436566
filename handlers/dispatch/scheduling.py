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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, Sequence

from handlers.model import Booking, Caregiver, CareRequest


class TravelTimes(Protocol):
    """Travel minutes between location indexes; ``MatrixTravelTimes`` reads a UHHC matrix."""

    def minutes(self, origin: int | None, destination: int | None) -> float:
        """Travel time in minutes between two location indexes."""


@dataclass(frozen=True)
class MatrixTravelTimes:
    """Travel minutes read from a square matrix (UHHC ``distances``)."""

    matrix: Sequence[Sequence[float]]

    def minutes(self, origin: int | None, destination: int | None) -> float:
        if origin is None or destination is None:
            return 0.0
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
    max_offers_per_request: int = 20
    no_show_minutes: float = 5.0
    continuity_bonus_minutes: float = 15.0
    provider_score_weight: float = 0.3
    fairness_weight: float = 2.0
    daily_capacity: int | None = None
    exploration_share: float = 0.1
    parallel_offers: dict[str, int] = field(default_factory=lambda: {"stat": 3, "asap": 2})
    skill_hierarchy: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sla_minutes: dict[str, float] = field(default_factory=lambda: {"stat": 1, "asap": 5, "urgent": 15, "routine": 60})
    ladder: dict[str, tuple[LadderStep, ...]] = field(default_factory=lambda: dict(_DEFAULT_LADDER))

    def covers(self, abilities: str, service_type: str) -> bool:
        """An ability list covers a service directly or through the skill hierarchy."""
        return any(a == service_type or service_type in self.skill_hierarchy.get(a, ()) for a in abilities.split())

    def parallel_for(self, priority: str) -> int:
        return max(1, self.parallel_offers.get(priority, 1))

    def steps_for(self, priority: str) -> tuple[LadderStep, ...]:
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


def best_insertion(
    request: CareRequest,
    caregiver: Caregiver,
    bookings: Sequence[Booking],
    travel: TravelTimes,
    now: datetime,
    policy: DispatchPolicy,
) -> Candidate | str:
    """The cheapest future gap for ``request`` in the caregiver's day, or the
    reason why none fits (a string). Costs are minutes.

    The caregiver sets off from the previous slot (or the home base at shift
    start) no earlier than the offer's expiry, ``now`` plus
    ``policy.offer_timeout_seconds``: they leave only after saying yes, and a
    yes may come that late. A hard window that only a departure before the
    answer could meet is not offered. (Day plans, ``insertion_at``, differ:
    the planned caregiver knew the slot from the plan's announcement.)
    """
    slots = sorted(bookings, key=lambda b: b.start)
    home = caregiver.home_base_index
    chain = [(home, caregiver.shift_start)] + [(b.location_index, b.end) for b in slots]
    nexts = [(b.location_index, b.start) for b in slots] + [(home, None)]
    duration = timedelta(minutes=request.duration_minutes)
    sync_latest = _sync_latest(request)
    answer_allowance = timedelta(seconds=policy.offer_timeout_seconds)
    best: Candidate | None = None
    reason = "no gap in the day is long enough"
    for (prev_loc, prev_free), (next_loc, next_start) in zip(chain, nexts, strict=False):
        if next_start is not None and next_start <= now:
            continue
        depart = max(prev_free, now + answer_allowance)
        arrive = depart + timedelta(minutes=travel.minutes(prev_loc, request.location_index))
        start = max(arrive, earliest_start(request))
        end = start + duration
        back = end + timedelta(minutes=travel.minutes(request.location_index, next_loc))
        if next_start is not None and back > next_start:
            continue
        if next_start is None and policy.shift_end_hard and back > caregiver.shift_end:
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
        cost = policy.travel_weight * added + policy.lateness_weight * lateness + policy.sync_weight * sync_dev
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

    Same rules as ``best_insertion``: the caregiver leaves the previous slot
    (or the home base at shift start) no earlier than ``now`` and travels the
    matrix minutes, reaches the next slot in time, is back by the shift end
    when that is hard, and a hard window is never missed. Costs are minutes.
    For a slot of a plan announced earlier, ``now`` is when it was announced:
    the caregiver may set off before the request itself arrives.
    """
    end = start + timedelta(minutes=request.duration_minutes)
    home = caregiver.home_base_index
    prev_loc, prev_free, next_loc, next_start = home, caregiver.shift_start, home, None
    for b in sorted(bookings, key=lambda b: b.start):
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
    if (
        next_start is None
        and policy.shift_end_hard
        and end + timedelta(minutes=travel.minutes(here, home)) > caregiver.shift_end
    ):
        return "would not be back at the home base by the end of the shift"
    lateness = max(0.0, _minutes(start - request.latest_start))
    if request.window_hard and lateness > 0:
        return "would arrive after the time window (hard window)"
    sync_latest = _sync_latest(request)
    sync_dev = max(0.0, _minutes(start - sync_latest)) if sync_latest else 0.0
    added = travel.minutes(prev_loc, here) + travel.minutes(here, next_loc) - travel.minutes(prev_loc, next_loc)
    cost = policy.travel_weight * added + policy.lateness_weight * lateness + policy.sync_weight * sync_dev
    return Candidate(caregiver.caregiver_id, start, end, added, lateness, sync_dev, cost)


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
    request, and a feasible gap (see ``best_insertion``). The cost then gains
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
        fit = best_insertion(request, caregiver, bookings.get(cid, []), travel, now, policy)
        if isinstance(fit, str):
            exclusions[cid] = fit
        else:
            ranked.append(_adjusted(fit, caregiver, policy, ctx))
    ranked.sort(key=lambda c: (c.cost, c.start, c.caregiver_id))
    return Ranking(tuple(ranked), exclusions)
