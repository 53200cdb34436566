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

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, Sequence

from handlers.model import Booking, CareRequest, Caregiver


class TravelTimes(Protocol):
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
class DispatchPolicy:
    """Weights of the ranking (per minute) and the rules a decision records."""

    version: str = "2026-11-30.1"
    travel_weight: float = 1.0
    lateness_weight: float = 5.0
    sync_weight: float = 20.0
    offer_timeout_seconds: float = 120.0
    shift_end_hard: bool = False
    max_offers_per_request: int = 20


@dataclass(frozen=True)
class Candidate:
    caregiver_id: str
    start: datetime
    end: datetime
    travel_added_minutes: float
    lateness_minutes: float
    sync_deviation_minutes: float
    cost: float


@dataclass(frozen=True)
class Ranking:
    candidates: tuple[Candidate, ...]
    exclusions: dict[str, str]


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60.0


def earliest_start(request: CareRequest) -> datetime:
    """The earliest allowed start: the window start, or the synchronised slot
    after the anchor visit for a follower service."""
    if request.sync_is_follower and request.sync_anchor_start is not None:
        return max(request.window_start,
                   request.sync_anchor_start + timedelta(minutes=request.sync_min_gap))
    return request.window_start


def _sync_latest(request: CareRequest) -> datetime | None:
    if request.sync_is_follower and request.sync_anchor_start is not None:
        return request.sync_anchor_start + timedelta(minutes=request.sync_max_gap)
    return None


def best_insertion(request: CareRequest, caregiver: Caregiver, bookings: Sequence[Booking],
                   travel: TravelTimes, now: datetime, policy: DispatchPolicy) -> Candidate | str:
    """The cheapest future gap for ``request`` in the caregiver's day, or the
    reason why none fits (a string)."""
    slots = sorted(bookings, key=lambda b: b.start)
    home = caregiver.home_base_index
    chain = [(home, caregiver.shift_start)] + [(b.location_index, b.end) for b in slots]
    nexts = [(b.location_index, b.start) for b in slots] + [(home, None)]
    duration = timedelta(minutes=request.duration_minutes)
    sync_latest = _sync_latest(request)
    best: Candidate | None = None
    reason = "no gap in the day is long enough"
    for (prev_loc, prev_free), (next_loc, next_start) in zip(chain, nexts):
        if next_start is not None and next_start <= now:
            continue
        depart = max(prev_free, now)
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
        added = (travel.minutes(prev_loc, request.location_index)
                 + travel.minutes(request.location_index, next_loc)
                 - travel.minutes(prev_loc, next_loc))
        cost = (policy.travel_weight * added + policy.lateness_weight * lateness
                + policy.sync_weight * sync_dev)
        if best is None or cost < best.cost:
            best = Candidate(caregiver.caregiver_id, start, end, added, lateness, sync_dev, cost)
    return best if best is not None else reason


def rank_caregivers(request: CareRequest, caregivers: Sequence[Caregiver],
                    bookings: dict[str, list[Booking]], travel: TravelTimes, now: datetime,
                    policy: DispatchPolicy, already_offered: set[str]) -> Ranking:
    """Eligible caregivers, cheapest first, and why each other one was excluded.

    Eligibility: active, ability covers the service type, same service area,
    not yet offered this request, and a feasible gap (see ``best_insertion``).
    """
    ranked: list[Candidate] = []
    exclusions: dict[str, str] = {}
    for caregiver in caregivers:
        cid = caregiver.caregiver_id
        if not caregiver.active:
            exclusions[cid] = "not available"
        elif caregiver.service_area != request.service_area:
            exclusions[cid] = f"serves area {caregiver.service_area}, not {request.service_area}"
        elif not caregiver.can_perform(request.service_type):
            exclusions[cid] = f"lacks the ability {request.service_type}"
        elif cid in already_offered:
            exclusions[cid] = "already offered this request"
        else:
            fit = best_insertion(request, caregiver, bookings.get(cid, []), travel, now, policy)
            if isinstance(fit, str):
                exclusions[cid] = fit
            else:
                ranked.append(fit)
    ranked.sort(key=lambda c: (c.cost, c.start, c.caregiver_id))
    return Ranking(tuple(ranked), exclusions)
