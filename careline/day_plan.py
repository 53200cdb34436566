"""Plan one service area's day from the live system, store the plan and announce it.

``plan_area_day`` is what ``careline plan --date D --area A`` and the timer service's
evening job (``careline.scheduler.plan_tomorrow``) run: read the area, its caregivers and
the day's known visits (``db.day_plans``), build the planning instance
(``handlers.dispatch.day_plan``), solve it with OR-Tools (``handlers.dispatch.planning``)
in a child process (never on an event loop, never holding the caller's GIL) within a
stated wall budget, reporting progress each second, store the
plan (``planned_visits``: the worker offers each planned request to its planned caregiver
first, ``handlers.dispatch.planned``) and, when asked, tell each planned caregiver their day
through the notices machinery (``channels.notices.tell``: an app notice, or an SMS, in the
caregiver's language).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable
from zoneinfo import ZoneInfo

from config.bootstrap import Runtime
from db import day_plans
from db.notices import NoticeRow
from db.register import read_clock
from db.uow import write_events
from handlers.channels.notices import PLAN_ANNOUNCED
from handlers.datasets.uhhc import Stop
from handlers.dispatch.day_plan import (
    DayInstance,
    PlanRefused,
    build_day_instance,
    day_bounds,
    plan_problems,
    planned_visits,
    routes_by_caregiver,
    unplanned,
)
from handlers.dispatch.planned import PlannedVisit
from handlers.dispatch.planning import plan_day
from handlers.events import area_timer_requested
from handlers.model import DomainEvent

__all__ = ["DayPlan", "PlanRefused", "announce", "plan_area_day"]


@dataclass(frozen=True)
class DayPlan:
    """A stored day plan: the instance it solved, the plan (request id -> visit), the
    requests left to online dispatch, the area's mode, solver wall seconds, and the
    notices stored when it was announced."""

    area: str
    day: DayInstance
    plan: dict[str, PlannedVisit]
    unplanned: list[str]
    mode: str
    solve_seconds: float
    travel_minutes: float
    problems: tuple[str, ...] = ()
    notices: tuple[NoticeRow, ...] = ()


def plan_area_day(
    runtime: Runtime,
    area: str,
    day: date,
    time_limit_seconds: float,
    progress: Callable[[str], None] = lambda line: None,
    announce_now: bool = False,
) -> DayPlan:
    """Plan ``area``'s ``day`` (local to ``CARELINE_PROGRAMME_TIMEZONE``) within
    ``time_limit_seconds`` of solver wall time, store it, and with ``announce_now`` tell
    each planned caregiver their day. ``progress`` gets a line about once a second while
    the solver runs. Raises ``PlanRefused`` (unknown area, no caregiver on duty, nothing to
    plan) and ``RuntimeError`` when the solver finds no plan."""
    zone = ZoneInfo(runtime.settings.programme_timezone)
    start, end = day_bounds(day, zone)
    with runtime.sessions() as session:
        mode = day_plans.area_mode(session, area)
        if mode is None:
            raise PlanRefused(f"service_area: no area {area!r} in the register")
        context = runtime.areas.read(session, area)
        visits = day_plans.known_visits(session, area, start, end)
        caregivers = day_plans.caregivers_of(session, area)
        now = read_clock(session).now()
    instance = build_day_instance(
        f"{area} {day.isoformat()}", day, zone, visits, caregivers, context.travel, context.policy.covers
    )
    shifts = len(instance.instance.roster)
    people = len({cid for cid, _ in instance.vehicles.values()})
    what = f"{area} {day.isoformat()}: {len(instance.visits)} visits, {people} caregivers on duty ({shifts} shifts)"
    routes, seconds = _solve(
        instance, time_limit_seconds, lambda s: progress(f"planning {what}: {s:.0f} s of {time_limit_seconds:g} s")
    )
    plan = planned_visits(instance, routes, None)
    with runtime.sessions() as session:
        day_plans.store_plan(session, list(instance.visits), plan)
        session.commit()
    result = DayPlan(
        area,
        instance,
        plan,
        unplanned(instance, plan),
        mode,
        seconds,
        _travel(instance, routes),
        tuple(plan_problems(instance, plan)),
    )
    if announce_now:
        result = announce(runtime, result, now)
    return result


def _solve(day: DayInstance, limit: float, tick: Callable[[float], None]) -> tuple[dict[str, list[Stop]], float]:
    """``plan_day`` in a child process, ``tick(elapsed seconds)`` each second; the solver's
    own error is raised here. Not a thread: OR-Tools' routing solver keeps the GIL for the
    whole search (measured 2026-12-06: a thread beside a 4 s solve ran 3 times, not 40), so
    a thread would stall the caller (the timer service's timers, the progress line) as
    long as the solver runs. Spawned, not forked: the caller may hold threads and sockets."""
    began = time.monotonic()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        future = pool.submit(plan_day, day.instance, limit)
        while True:
            tick(time.monotonic() - began)
            try:
                routes = future.result(timeout=1.0)
                break
            except FuturesTimeout:
                continue
    return routes, time.monotonic() - began


def _travel(day: DayInstance, routes: dict[str, list[Stop]]) -> float:
    """Minutes travelled on the planned routes (home base, visits, home base)."""
    total = 0.0
    homes = {r.caregiver_id: r.home_index for r in day.instance.roster}
    for vid, stops in routes.items():
        here = homes[vid]
        for s in stops:
            there = day.instance.need(s.patient_id, s.service_id).location_index
            total += day.instance.distances[here][there]
            here = there
        if stops:
            total += day.instance.distances[here][homes[vid]]
    return total


def plan_event(
    area: str,
    day: date,
    caregiver_id: str,
    visits: list[tuple[str, PlannedVisit]],
    service_of: dict[str, str],
    now: datetime,
) -> dict:
    """The CloudEvents record announcing a caregiver's planned day (``dispatch.plan.announced``).
    Its id is a hash of the area, day, caregiver and visits: the same plan announced again
    tells nobody twice, a changed plan is told."""
    data = {
        "plan_id": f"plan.{area}.{day.isoformat()}",
        "service_area": area,
        "date": day.isoformat(),
        "caregiver_id": caregiver_id,
        "visits": [
            {
                "request_id": rid,
                "service_type": service_of[rid],
                "start": v.start.isoformat(),
                "end": v.end.isoformat(),
            }
            for rid, v in visits
        ],
    }
    digest = hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()[:40]
    return {
        "specversion": "1.0",
        "id": f"plan-{digest}",
        "source": "careline/plan",
        "type": PLAN_ANNOUNCED,
        "subject": caregiver_id,
        "time": now.isoformat(),
        "data": data,
    }


def offer_plan_timer(area: str, now: datetime) -> DomainEvent:
    """``timer.requested`` for ``offer-plan`` due ``now``: the timer service fires it into the
    area's dispatch partition, where the plan's received requests are offered to their planned
    caregivers and the confirmation rounds begin (``handlers.dispatch.rounds.offer_plan``)."""
    return area_timer_requested("offer-plan", f"{area}|{now.isoformat()}", area, now, now)


def announce(runtime: Runtime, result: DayPlan, now: datetime) -> DayPlan:
    """Tell each planned caregiver their day (``channels.notices.tell``) and mark the
    plan announced at ``now`` (so a caregiver may set off before the request arrives)."""
    from dataclasses import replace

    from channels.notices import tell

    service_of = {rid: v.service_type for rid, v in result.day.visits.items()}
    stored: list[NoticeRow] = []
    for caregiver_id, visits in routes_by_caregiver(result.plan).items():
        stored += tell(runtime.channels, plan_event(result.area, result.day.day, caregiver_id, visits, service_of, now))
    plan = {rid: replace(v, announced_at=now) for rid, v in result.plan.items()}
    with runtime.sessions() as session:
        day_plans.store_plan(session, list(plan), plan)
        write_events(session, [(str(uuid.uuid4()), offer_plan_timer(result.area, now))])
        session.commit()
    return replace(result, plan=plan, notices=tuple(stored))
