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
from typing import TYPE_CHECKING, Any, Callable, Mapping

from handlers import messagebus
from handlers import messages as m
from handlers.channels.intake import InvalidIntake, validate_intake, validated_record
from handlers.datasets.day import Day
from handlers.dispatch import batching
from handlers.dispatch.area import AreaContext, Mode
from handlers.dispatch.scheduling import DispatchPolicy, TravelTimes
from handlers.evaluation.kpis import KpiPolicy
from handlers.evaluation.provider_scores import scores_from
from handlers.model import CareRequest
from handlers.simulation.caregiver_model import CaregiverAction, CaregiverFleet, CaregiverModel
from handlers.simulation.memory import InMemoryUnitOfWork

if TYPE_CHECKING:
    from handlers.dispatch.planned import PlannedVisit


@dataclass
class ScoringLoop:
    """Recompute provider scores every ``every_minutes`` (simulated) with these
    weights; ``history`` collects (time, {provider: score})."""

    weights: Mapping[str, float]
    kpi_policy: KpiPolicy
    every_minutes: float = 30.0
    history: list[tuple[datetime, dict[str, float]]] = field(default_factory=list)


@dataclass
class OfflineRun:
    """What an offline day left: the in-memory unit of work (state, and every event in
    ``uow.events``) and each intake record refused by validation with the reason (the run's
    dead-letter topic)."""

    uow: InMemoryUnitOfWork
    dead_letters: list[tuple[Mapping[str, Any], str]]


def run_day(
    day: Day,
    travel: TravelTimes,
    policy: DispatchPolicy,
    model: CaregiverModel,
    known_services: set[str],
    scoring: ScoringLoop | None = None,
    mode: Mode = "online",
    batch_interval_seconds: float = 60.0,
    plan: Mapping[str, PlannedVisit] | None = None,
    fleet: CaregiverFleet | None = None,
) -> OfflineRun:
    """Replay every submission of ``day`` and everything it causes until
    nothing is left to happen; returns the final state. With ``scoring``,
    provider scores are recomputed every ``scoring.every_minutes`` of
    simulated time and dispatch reads them (the evaluation loop).

    ``mode`` says how a request is first offered: ``online`` (default) to its
    best caregiver on arrival; ``batched`` together with the requests that
    arrived in the same ``batch_interval_seconds`` of simulated time
    (``handlers.dispatch.batching``); ``planned`` to the caregiver and start ``plan``
    gives it (``handlers.dispatch.planned.receive_planned``, request id -> visit).
    Declines, timeouts and the ladder then follow ``handlers.dispatch.offers`` in
    every mode. Raises ``ValueError`` for an unknown mode or ``planned`` without a plan.
    ``fleet``: the caregivers' answers and arrivals (default: ``model``'s fleet of the day's
    caregivers; a what-if replay passes one that answers as recorded, ``handlers.simulation.whatif``).
    """
    _check_mode(mode, plan)
    uow = InMemoryUnitOfWork()
    for elder in day.elders:
        uow.elders.add(elder)
    for caregiver in day.caregivers:
        uow.caregivers.add(caregiver)
    for provider in day.providers:
        uow.providers.add(replace(provider))  # scores change during the run; leave the day as it was
    uow.plan = dict(plan or {})
    area = AreaContext(policy, travel, mode, batch_interval_seconds)
    seq, ids = itertools.count(), itertools.count()
    queue: list[tuple[datetime, int, Callable[[datetime], None]]] = []

    def at(when: datetime, action: Callable[[datetime], None]) -> None:
        heapq.heappush(queue, (when, next(seq), action))

    def run(command: m.Command, now: datetime) -> None:
        messagebus.handle(command, uow, now, area)

    batch = _BatchTicks(uow, policy, travel, at, day.start, batch_interval_seconds) if mode == "batched" else None
    dead: list[tuple[Mapping[str, Any], str]] = []

    def submit(record: Mapping[str, Any]) -> Callable[[datetime], None]:
        def intake(now: datetime) -> None:
            try:
                request = validate_intake(record, uow.elders.get, known_services)
            except InvalidIntake as exc:
                dead.append((record, str(exc)))
                return
            run(m.decode(validated_record(record, request)), now)
            if batch is not None:
                batch.add(uow.requests[request.request_id], now)

        return intake

    fleet = fleet or CaregiverFleet(
        model,
        travel,
        {c.caregiver_id: c.home_base_index for c in day.caregivers},
        {c.caregiver_id: c.provider_id for c in day.caregivers},
    )

    def caregiver_does(act: CaregiverAction) -> Callable[[datetime], None]:
        def answer(now: datetime) -> None:
            todo, later = fleet.act(act)
            for follow in later:
                at(follow.due, caregiver_does(follow))
            if todo is None:
                return
            rid, cid, oid, eid = todo.request_id, todo.caregiver_id, todo.offer_id, f"offline:{next(ids)}"
            if todo.kind == "feedback":
                run(m.RecordFeedback(f"{rid}.fb", None, rid, todo.stars, "late" if todo.complaint else None), now)
                return
            area_name = uow.requests[rid].service_area
            build: dict[str, Callable[[], m.Command]] = {
                "accept": lambda: m.AcceptOffer(eid, None, area_name, oid, cid),
                "decline": lambda: m.DeclineOffer(eid, None, area_name, oid, cid),
                "check_in": lambda: m.CheckIn(eid, None, area_name, rid, cid, evv_method="simulated"),
                "check_out": lambda: m.CheckOut(eid, None, area_name, rid, cid, evv_method="simulated"),
            }
            run(build[todo.kind](), now)

        return answer

    def deadline(payload: Mapping[str, Any]) -> Callable[[datetime], None]:
        command = m.decode({"id": f"offline:{next(ids)}", "type": "timer.fired", "data": payload})
        return lambda now: run(command, now)

    for s in day.submissions:
        at(s.at, submit(s.record))
    if scoring is not None and day.submissions:
        first, last = day.submissions[0].at, day.submissions[-1].at + timedelta(hours=12)
        provider_of = {c.caregiver_id: c.provider_id for c in day.caregivers}

        def rescore(now: datetime) -> None:
            scores = scores_from(
                uow.offers.values(),
                uow.visits.values(),
                uow.feedback.values(),
                provider_of,
                scoring.weights,
                scoring.kpi_policy,
            )
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
                at(datetime.fromisoformat(event.payload["due"]), deadline(event.payload))
            for act in fleet.on_event(event.type, event.payload, event.time):
                at(act.due, caregiver_does(act))
        seen = len(uow.events)
    return OfflineRun(uow, dead)


def _check_mode(mode: Mode, plan: Mapping[str, PlannedVisit] | None) -> None:
    if mode not in ("online", "batched", "planned"):
        raise ValueError(f"unknown dispatch mode {mode!r}")
    if mode == "planned" and plan is None:
        raise ValueError("planned dispatch needs a plan")


class _BatchTicks:
    """Batched areas offline: requests waiting for a batch are matched together
    at whole multiples of the interval from the start of the day (the worker's
    batch timer does the same on its clock), while any wait."""

    def __init__(
        self,
        uow: InMemoryUnitOfWork,
        policy: DispatchPolicy,
        travel: TravelTimes,
        at: Callable[[datetime, Callable[[datetime], None]], None],
        day_start: datetime,
        interval_seconds: float,
    ) -> None:
        self.uow, self.policy, self.travel, self.at, self.day_start = uow, policy, travel, at, day_start
        self.interval = timedelta(seconds=interval_seconds)
        self.pool: list[CareRequest] = []
        self.due: datetime | None = None

    def add(self, request: CareRequest, now: datetime) -> None:
        if batching.waiting_for_batch(request, self.uow):
            self.pool.append(request)
            self._schedule(self.day_start + self.interval * math.ceil((now - self.day_start) / self.interval))

    def _schedule(self, when: datetime) -> None:
        if self.due is None:
            self.due = when
            self.at(when, self._tick)

    def _tick(self, now: datetime) -> None:
        self.due = None
        self.pool = [r for r in self.pool if batching.waiting_for_batch(r, self.uow)]
        left = set(batching.offer_batch(self.pool, self.uow, now, self.policy, self.travel))
        self.pool = [r for r in self.pool if r.request_id in left]
        if self.pool:
            self._schedule(now + self.interval)
