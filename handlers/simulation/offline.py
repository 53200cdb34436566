"""Run a day through the dispatch use cases in-process, in simulated time.

No broker and no database: a discrete-event loop drives the same handlers the
Kafka agents call, with the in-memory unit of work. Used by unit tests to
check the whole flow quickly and by benchmarks to compare dispatch methods.
"""
from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Literal, Mapping

from handlers.dispatch import batching

from handlers.visits import disruptions

from handlers.dispatch import offers

from handlers.evaluation import feedback

from handlers.visits import attendance
from handlers.evaluation.provider_scores import scores_from
from handlers.datasets.day import Day
from handlers.channels.intake import InvalidIntake, validate_intake
from handlers.evaluation.kpis import KpiPolicy
from handlers.simulation.memory import InMemoryUnitOfWork
from handlers.model import CareRequest, OfferStatus
from handlers.dispatch.scheduling import DispatchPolicy, TravelTimes
from handlers.simulation.caregiver_model import CaregiverAction, CaregiverFleet, CaregiverModel

if TYPE_CHECKING:
    from handlers.dispatch.planning import PlannedVisit

Mode = Literal["online", "batched", "planned"]


@dataclass
class ScoringLoop:
    """Recompute provider scores every ``every_minutes`` (simulated) with these
    weights; ``history`` collects (time, {provider: score})."""

    weights: dict
    kpi_policy: KpiPolicy
    every_minutes: float = 30.0
    history: list = field(default_factory=list)


@dataclass
class OfflineRun:
    uow: InMemoryUnitOfWork
    dead_letters: list[tuple[dict, str]]


def run_day(day: Day, travel: TravelTimes, policy: DispatchPolicy, model: CaregiverModel,
            known_services: set[str], scoring: ScoringLoop | None = None, mode: Mode = "online",
            batch_interval_seconds: float = 60.0, plan: Mapping[str, PlannedVisit] | None = None) -> OfflineRun:
    """Replay every submission of ``day`` and everything it causes until
    nothing is left to happen; returns the final state. With ``scoring``,
    provider scores are recomputed every ``scoring.every_minutes`` of
    simulated time and dispatch reads them (the evaluation loop).

    ``mode`` says how a request is first offered: ``online`` (default) to its
    best caregiver on arrival; ``batched`` together with the requests that
    arrived in the same ``batch_interval_seconds`` of simulated time
    (``handlers.dispatch.batching``); ``planned`` to the caregiver and start ``plan``
    gives it (``handlers.dispatch.planning.receive_planned``, request id -> visit).
    Declines, timeouts and the ladder then follow ``handlers.dispatch.offers`` in
    every mode. Raises ``ValueError`` for an unknown mode or ``planned`` without a plan.
    """
    _check_mode(mode, plan)
    uow = InMemoryUnitOfWork()
    for obj in (*day.elders, *day.caregivers):
        (uow.elders if hasattr(obj, "elder_id") else uow.caregivers).add(obj)
    for provider in day.providers:
        uow.providers.add(replace(provider))  # scores change during the run; leave the day as it was
    seq = itertools.count()
    queue: list[tuple[datetime, int, Callable[[datetime], None]]] = []

    def at(when: datetime, action: Callable[[datetime], None]) -> None:
        heapq.heappush(queue, (when, next(seq), action))

    receive = _receiver(mode, uow, policy, travel, at, day.start, batch_interval_seconds, plan)
    dead: list[tuple[dict, str]] = []

    def submit(record: dict) -> Callable[[datetime], None]:
        def run(now: datetime) -> None:
            try:
                request = validate_intake(record, uow.elders.get, known_services)
            except InvalidIntake as exc:
                dead.append((record, str(exc)))
                return
            receive(request, now)
        return run

    fleet = CaregiverFleet(model, travel, {c.caregiver_id: c.home_base_index for c in day.caregivers},
                           {c.caregiver_id: c.provider_id for c in day.caregivers})

    def caregiver_does(act: CaregiverAction) -> Callable[[datetime], None]:
        def run(now: datetime) -> None:
            todo, later = fleet.act(act)
            for follow in later:
                at(follow.due, caregiver_does(follow))
            if todo is None:
                return
            kind, rid, cid, oid = todo.kind, todo.request_id, todo.caregiver_id, todo.offer_id
            if kind == "accept":
                offers.accept_offer(oid, cid, uow, now, policy, travel)
            elif kind == "decline":
                offers.close_offer(oid, OfferStatus.REJECTED, uow, now, policy, travel, cid)
            elif kind == "check_in":
                attendance.check_in(rid, cid, uow, now, travel)
            elif kind == "feedback":
                feedback.record_feedback(f"{rid}.fb", rid, uow, now, todo.stars,
                                         "late" if todo.complaint else None)
            else:
                attendance.check_out(rid, cid, uow, now)
        return run

    def deadline(kind: str, target: str) -> Callable[[datetime], None]:
        def run(now: datetime) -> None:
            if kind == "offer-expiry":
                offers.close_offer(target, OfferStatus.TIMEOUT, uow, now, policy, travel)
            elif kind == "ladder-step":
                request_id, step = target.rsplit("#", 1)
                offers.step_deadline(request_id, int(step), uow, now, policy, travel)
            elif kind == "check-in-deadline":
                disruptions.missed_check_in(target, uow, now, policy, travel)
        return run

    for s in day.submissions:
        at(s.at, submit(s.record))
    if scoring is not None and day.submissions:
        first, last = day.submissions[0].at, day.submissions[-1].at + timedelta(hours=12)
        provider_of = {c.caregiver_id: c.provider_id for c in day.caregivers}

        def rescore(now: datetime) -> None:
            scores = scores_from(uow.offers.values(), uow.visits.values(), uow.feedback.values(),
                                 provider_of, scoring.weights, scoring.kpi_policy)
            for pid, score in scores.items():
                if uow.providers.get(pid) is not None:
                    uow.providers[pid].score = score
            scoring.history.append((now, dict(scores)))

        tick = first
        while tick < last:
            tick += timedelta(minutes=scoring.every_minutes)
            at(tick, rescore)
    seen = 0
    while queue:
        now, _, action = heapq.heappop(queue)
        action(now)
        for event in uow.events[seen:]:
            if event.topic_role == "schedule":
                at(datetime.fromisoformat(event.payload["due"]),
                   deadline(event.payload["kind"], event.payload["target_id"]))
            for act in fleet.on_event(event.type, event.payload, event.time):
                at(act.due, caregiver_does(act))
        seen = len(uow.events)
    return OfflineRun(uow, dead)


def _check_mode(mode: Mode, plan: Mapping[str, PlannedVisit] | None) -> None:
    if mode not in ("online", "batched", "planned"):
        raise ValueError(f"unknown dispatch mode {mode!r}")
    if mode == "planned" and plan is None:
        raise ValueError("planned dispatch needs a plan")


def _receiver(mode: Mode, uow: InMemoryUnitOfWork, policy: DispatchPolicy, travel: TravelTimes,
              at: Callable[[datetime, Callable[[datetime], None]], None], day_start: datetime,
              interval_seconds: float, plan: Mapping[str, PlannedVisit] | None
              ) -> Callable[[CareRequest, datetime], None]:
    """What happens to a validated request on arrival, per mode. Batches run at
    whole multiples of the interval from the start of the day, while requests wait."""
    if mode == "online":
        return lambda request, now: offers.receive_request(request, uow, now, policy, travel)
    if mode == "planned":
        from handlers.dispatch.planning import receive_planned

        return lambda request, now: receive_planned(request, plan or {}, uow, now, policy, travel)
    interval, pool, due = timedelta(seconds=interval_seconds), [], []

    def schedule(when: datetime) -> None:
        if not due:
            due.append(when)
            at(when, tick)

    def tick(now: datetime) -> None:
        due.clear()
        pool[:] = [r for r in pool if batching.waiting_for_batch(r, uow)]
        left = set(batching.offer_batch(pool, uow, now, policy, travel))
        pool[:] = [r for r in pool if r.request_id in left]
        if pool:
            schedule(now + interval)

    def receive(request: CareRequest, now: datetime) -> None:
        if offers.register_request(request, uow, now, policy):
            pool.append(request)
            schedule(day_start + interval * math.ceil((now - day_start) / interval))
    return receive
