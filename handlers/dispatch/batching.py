"""Batched matching: offer the requests waiting in one interval together.

Online dispatch offers each request to its best caregiver the moment it
arrives, so an early request may take the only caregiver a later one could
use. A batch instead collects the requests that arrived in an interval and
solves one assignment problem over them (the linear sum assignment, Kuhn 1955 /
Jonker–Volgenant 1987, ``scipy.optimize.linear_sum_assignment``): each
caregiver gets at most one request per batch and the total cost is lowest.

Priorities are weighted, not solved class by class: a served request earns a
reward that grows with its priority (FHIR order stat > asap > urgent > routine)
so steeply that the batch first serves as many stat requests as possible, then
as many asap, urgent and routine ones, and only then minimises the summed
insertion cost (minutes, ``scheduling.rank_caregivers``). Unlike solving class
by class, a stat request will not take a caregiver a routine request needs when
another caregiver serves the stat request as well.
"""

from __future__ import annotations

from datetime import datetime
from typing import Mapping, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from handlers import events as ev
from handlers.dispatch import offers
from handlers.dispatch.scheduling import (
    Candidate,
    DispatchPolicy,
    Ranking,
    RankingContext,
    TravelTimes,
    rank_caregivers,
)
from handlers.model import Booking, Caregiver, CareRequest, OfferStatus, Priority, RequestStatus
from handlers.ports import UnitOfWork

_TIER = {p: i for i, p in enumerate(Priority)}  # routine 0 .. stat 3


def rank_batch(
    requests: Sequence[CareRequest],
    caregivers: Sequence[Caregiver],
    bookings: dict[str, list[Booking]],
    travel: TravelTimes,
    now: datetime,
    policy: DispatchPolicy,
    already_offered: Mapping[str, set[str]],
    contexts: Mapping[str, RankingContext] | None = None,
) -> dict[str, Ranking]:
    """Each request's ranking (``scheduling.rank_caregivers``) against the same bookings."""
    ctx = contexts or {}
    return {
        r.request_id: rank_caregivers(
            r,
            caregivers,
            bookings,
            travel,
            now,
            policy,
            set(already_offered.get(r.request_id, ())),
            ctx.get(r.request_id),
        )
        for r in requests
    }


def match(requests: Sequence[CareRequest], rankings: Mapping[str, Ranking]) -> list[tuple[str, Candidate]]:
    """The assignment over precomputed rankings: (request id, candidate) pairs,
    highest priority first. A request with no candidate, or one that lost every
    caregiver it could use to requests that needed them more, gets no pair."""
    caregivers = sorted({c.caregiver_id for r in rankings.values() for c in r.candidates})
    if not requests or not caregivers:
        return []
    column = {cid: j for j, cid in enumerate(caregivers)}
    n = len(requests)
    costs = [c.cost for r in requests for c in rankings[r.request_id].candidates]
    spread = 2.0 * sum(abs(c) for c in costs) + 1.0  # above any difference in summed cost
    matrix = np.full((n, len(caregivers) + n), np.inf)
    matrix[:, len(caregivers) :] = 0.0  # one "left for the next batch" column per request
    chosen: dict[tuple[int, int], Candidate] = {}
    for i, request in enumerate(requests):
        reward = spread * float(n + 2) ** _TIER[request.priority]
        for cand in rankings[request.request_id].candidates:
            j = column[cand.caregiver_id]
            matrix[i, j] = cand.cost - reward
            chosen[(i, j)] = cand
    rows, cols = linear_sum_assignment(matrix)
    pairs = [(requests[i], chosen[(i, j)]) for i, j in zip(rows, cols, strict=False) if (i, j) in chosen]
    pairs.sort(key=lambda p: (-_TIER[p[0].priority], p[1].start, p[0].request_id))
    return [(r.request_id, c) for r, c in pairs]


def assign_batch(
    requests: Sequence[CareRequest],
    caregivers: Sequence[Caregiver],
    bookings: dict[str, list[Booking]],
    travel: TravelTimes,
    now: datetime,
    policy: DispatchPolicy,
    already_offered: Mapping[str, set[str]],
    contexts: Mapping[str, RankingContext] | None = None,
) -> list[tuple[str, Candidate]]:
    """Match waiting requests to caregivers, at most one request per caregiver.

    A pair is allowed when ``rank_caregivers`` finds the caregiver eligible
    with a feasible gap (``scheduling.best_insertion``); its cost is the
    ranking cost in minutes. ``already_offered`` maps a request id to the
    caregivers asked before; ``contexts`` to its ranking context (continuity,
    scores, fairness). Returns (request id, candidate) pairs, highest priority
    first. Exact while the largest reward stays below 2**53, i.e. batches of a
    few hundred requests.
    """
    rankings = rank_batch(requests, caregivers, bookings, travel, now, policy, already_offered, contexts)
    return match(requests, rankings)


def offer_batch(
    requests: Sequence[CareRequest], uow: UnitOfWork, now: datetime, policy: DispatchPolicy, travel: TravelTimes
) -> list[str]:
    """The use case behind a batch tick: offer each matched request to its
    caregiver (``offers.offer_to``), fail the requests no caregiver can take
    (``offers.offer_next`` escalates them to the operator) and return the ids
    of the requests left waiting for the next batch."""
    if not requests:
        return []
    area_caregivers: dict[str, list[Caregiver]] = {}
    for r in requests:
        area_caregivers.setdefault(r.service_area, uow.caregivers.in_area(r.service_area))
    waiting: list[str] = []
    for area, caregivers in area_caregivers.items():
        group = [r for r in requests if r.service_area == area]
        offered = {r.request_id: uow.offers.for_request(r.request_id) for r in group}
        rankings = rank_batch(
            group,
            caregivers,
            uow.bookings(c.caregiver_id for c in caregivers),
            travel,
            now,
            policy,
            {rid: {o.caregiver_id for o in offers} for rid, offers in offered.items()},
            {r.request_id: uow.ranking_context(r, now) for r in group},
        )
        matched = dict(match(group, rankings))
        taken = {c.caregiver_id: rid for rid, c in matched.items()}
        for request in group:
            ranking = rankings[request.request_id]
            if request.request_id in matched:
                uow.emit(
                    ev.dispatch_decided(request, _as_decided(ranking, matched[request.request_id], taken), policy, now)
                )
                offers.offer_to(
                    request, matched[request.request_id], len(offered[request.request_id]) + 1, uow, now, policy
                )
            elif not ranking.candidates:
                offers.offer_next(request, uow, now, policy, travel)
            else:
                waiting.append(request.request_id)
    return waiting


def _as_decided(ranking: Ranking, chosen: Candidate, taken: Mapping[str, str]) -> Ranking:
    """The ranking as the batch decided it: the chosen caregiver first, and the
    caregivers another request of the batch got listed with that reason."""
    others = tuple(c for c in ranking.candidates if c.caregiver_id not in taken)
    lost = {
        c.caregiver_id: f"matched to {taken[c.caregiver_id]} in the same batch"
        for c in ranking.candidates
        if c.caregiver_id in taken and c.caregiver_id != chosen.caregiver_id
    }
    return Ranking((chosen,) + others, {**ranking.exclusions, **lost})


def waiting_for_batch(request: CareRequest, uow: UnitOfWork) -> bool:
    """Still to be matched: received, not final, no pending offer, no visit."""
    return (
        request.status == RequestStatus.RECEIVED
        and uow.visits.for_request(request.request_id) is None
        and not any(o.status == OfferStatus.PENDING for o in uow.offers.for_request(request.request_id))
    )


def waits_for_batch_on_arrival(request: CareRequest, policy: DispatchPolicy) -> bool:
    """In a batched area, whether a new request waits for the next batch: every
    priority except those the policy offers in parallel (stat, asap), which
    are offered at once — an emergency never waits for a batch."""
    return request.priority.value not in policy.parallel_offers


def receive_batched(
    request: CareRequest, uow: UnitOfWork, now: datetime, policy: DispatchPolicy, travel: TravelTimes
) -> None:
    """Receive a request in a batched area: register it for the next batch, or
    dispatch it at once when ``waits_for_batch_on_arrival`` says it must not wait."""
    if waits_for_batch_on_arrival(request, policy):
        offers.register_request(request, uow, now, policy)
    else:
        offers.receive_request(request, uow, now, policy, travel)
