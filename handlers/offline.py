"""Run a day through the dispatch use cases in-process, in simulated time.

No broker and no database: a discrete-event loop drives the same handlers the
Kafka agents call, with the in-memory unit of work. Used by unit tests to
check the whole flow quickly and by benchmarks to compare dispatch methods.
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from handlers import disruptions, dispatch, visits
from handlers.day import Day
from handlers.intake import InvalidIntake, validate_intake
from handlers.memory import InMemoryUnitOfWork
from handlers.model import OfferStatus
from handlers.scheduling import DispatchPolicy, TravelTimes
from handlers.simulation import CaregiverAction, CaregiverFleet, CaregiverModel


@dataclass
class OfflineRun:
    uow: InMemoryUnitOfWork
    dead_letters: list[tuple[dict, str]]


def run_day(day: Day, travel: TravelTimes, policy: DispatchPolicy, model: CaregiverModel,
            known_services: set[str]) -> OfflineRun:
    """Replay every submission of ``day`` and everything it causes until
    nothing is left to happen; returns the final state."""
    uow = InMemoryUnitOfWork()
    for obj in (*day.elders, *day.caregivers):
        (uow.elders if hasattr(obj, "elder_id") else uow.caregivers).add(obj)
    seq = itertools.count()
    queue: list[tuple[datetime, int, Callable[[datetime], None]]] = []

    def at(when: datetime, action: Callable[[datetime], None]) -> None:
        heapq.heappush(queue, (when, next(seq), action))

    dead: list[tuple[dict, str]] = []

    def submit(record: dict) -> Callable[[datetime], None]:
        def run(now: datetime) -> None:
            try:
                request = validate_intake(record, uow.elders.get, known_services)
            except InvalidIntake as exc:
                dead.append((record, str(exc)))
                return
            dispatch.receive_request(request, uow, now, policy, travel)
        return run

    fleet = CaregiverFleet(model, travel, {c.caregiver_id: c.home_base_index for c in day.caregivers})

    def caregiver_does(act: CaregiverAction) -> Callable[[datetime], None]:
        def run(now: datetime) -> None:
            todo, later = fleet.act(act)
            for follow in later:
                at(follow.due, caregiver_does(follow))
            if todo is None:
                return
            kind, rid, cid, oid = todo.kind, todo.request_id, todo.caregiver_id, todo.offer_id
            if kind == "accept":
                dispatch.accept_offer(oid, cid, uow, now, policy, travel)
            elif kind == "decline":
                dispatch.close_offer(oid, OfferStatus.REJECTED, uow, now, policy, travel, cid)
            elif kind == "check_in":
                visits.check_in(rid, cid, uow, now, travel)
            else:
                visits.check_out(rid, cid, uow, now)
        return run

    def deadline(kind: str, target: str) -> Callable[[datetime], None]:
        def run(now: datetime) -> None:
            if kind == "offer-expiry":
                dispatch.close_offer(target, OfferStatus.TIMEOUT, uow, now, policy, travel)
            elif kind == "ladder-step":
                request_id, step = target.rsplit("#", 1)
                dispatch.step_deadline(request_id, int(step), uow, now, policy, travel)
            elif kind == "check-in-deadline":
                disruptions.missed_check_in(target, uow, now, policy, travel)
        return run

    for s in day.submissions:
        at(s.at, submit(s.record))
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
