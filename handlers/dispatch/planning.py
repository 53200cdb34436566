"""Plan a day of home care before it starts: routing with time windows (OR-Tools).

Every service need of a UHHC instance becomes a node of a vehicle routing
problem with time windows; every caregiver is a vehicle that leaves its home
base and comes back to it inside its shift. The model follows the UHHC
definitions (iolab-uniud/uhhc, ITOR 2026, doi 10.1111/itor.70140):

- time windows bound the service start, or its end when the instance says
  ``time_window_met: at_service_end`` (``Instance.start_ranges``); a patient with
  two or three windows ("morning or afternoon") may be served in any of them (the
  gaps between windows are removed from the start's domain); hard on
  instances that mark tardiness ``HARD`` (bazirha), otherwise soft at one cost
  unit per minute late, at most ``MAX_PLANNED_LATENESS_MINUTES`` late (rome:
  travel + total tardiness + highest tardiness; the highest tardiness is
  measured, not optimised — the routing objective is a sum, not a maximum); with
  several soft windows only the last may be missed (lateness inside a gap between
  windows is not allowed), a restriction, not a mis-count: ``evaluate_routes``
  judges the plan by every window;
- a node may be visited only by caregivers whose abilities include its service;
- the time dimension's transit is the service duration at the origin plus the
  travel minutes, so a caregiver's day has no overlap and includes every leg;
- a patient's two services keep their synchronisation: ``simultaneous`` starts
  together with two caregivers, ``sequential`` starts the follower ``min``..``max``
  minutes after the anchor;
- every need is served unless no plan can serve it (an optional node dropped
  at a penalty far above any travel).

The search is OR-Tools' guided local search (Voudouris & Tsang 1999), run from
a small portfolio of first solutions and stopped by a wall-clock limit. Times are
whole minutes from the start of the day (the benchmark's data are integers).
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Mapping, Sequence

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from handlers.datasets.uhhc import Instance, ServiceNeed, Stop, evaluate_routes
from handlers.dispatch.planned import PlannedVisit
from handlers.model import SyncType

UNSERVED_PENALTY = 10_000_000
"""Cost of leaving a need unserved: above any day's travel and tardiness in minutes."""

TARDINESS_COST_PER_MINUTE = 1
"""Soft windows: one unit per minute late, as the UHHC weights (rome) count tardiness."""

MAX_PLANNED_LATENESS_MINUTES = 90
"""Soft windows: the plan never starts a visit later than this after its latest
on-time start (a need it cannot fit goes unserved and is dispatched online).
Bounding the lateness lets the search settle: on rome-p44 the objective fell
from 1260–3500 to 1100–1250 at 5 s per run (three seeds, measured 2026-11-30)."""


def _ordered_needs(instance: Instance, seed: int) -> list[ServiceNeed]:
    needs = list(instance.needs)
    if seed:
        random.Random(seed).shuffle(needs)
    return needs


PORTFOLIO = (("LOCAL_CHEAPEST_INSERTION", 0.3), ("PATH_CHEAPEST_ARC", 0.1))
"""First-solution strategy and guided-local-search lambda of each run of a plan;
chosen on the three UHHC instances in the shared data (bazirha-E2, -F1, rome-p44):
the first is steady on hard windows, the second on soft ones."""


Need = tuple[str, str]
"""A need of the instance: (patient id, service id)."""


def plan_day(
    instance: Instance,
    time_limit_seconds: float = 10,
    seed: int = 0,
    allowed: Mapping[Need, frozenset[str]] | None = None,
    keep: Mapping[Need, str] | None = None,
    keep_minutes: int = 0,
    hint: Mapping[str, Sequence[Stop]] | None = None,
) -> dict[str, list[Stop]]:
    """A day plan: caregiver id -> stops in visiting order, start/end in minutes.

    A re-plan after caregivers answered (``tools.bench.confirm``): ``allowed`` narrows who may do a
    need (caregiver ids; a need not listed keeps every able caregiver), ``keep`` names the caregiver
    who holds a need now, any other costing ``keep_minutes`` in the objective (a change is a new
    offer that may be declined), and ``hint`` (an earlier plan; stops no longer allowed are dropped
    from it) is where each run's search starts.

    The time limit (wall clock, seconds) is split evenly over the ``PORTFOLIO``
    runs and the plan with the lowest UHHC objective is kept (fewest unserved
    needs, then travel + total tardiness + highest tardiness, tardiness counting
    only on soft-window instances). Results may differ between machines.
    ``seed`` permutes the order in which needs are given to the solver
    (0 keeps the instance order). Each visit starts as early as its route
    allows. Needs no plan can serve are left out of every route
    (``evaluate_routes`` counts them as unserved).
    Raises ``RuntimeError`` when no run finds a plan.
    """
    needs = _ordered_needs(instance, seed)
    limit = time_limit_seconds / len(PORTFOLIO)
    runs = [
        _solve(instance, needs, strategy, lam, limit, allowed or {}, keep or {}, keep_minutes, hint)
        for strategy, lam in PORTFOLIO
    ]
    plans = [p for p in runs if p is not None]
    if not plans:
        raise RuntimeError(f"{instance.name}: the routing solver found no plan")
    return min(plans, key=lambda routes: plan_objective(instance, routes))


def plan_objective(instance: Instance, routes: Mapping[str, Sequence[Stop]]) -> tuple[int, float]:
    """(unserved needs, travel + total + highest tardiness in minutes): the
    UHHC objective with equal weights, lower is better."""
    cost = evaluate_routes(instance, routes)
    return cost.unserved, cost.travel_time + cost.total_tardiness + cost.highest_tardiness


def _solve(
    instance: Instance,
    needs: Sequence[ServiceNeed],
    strategy: str,
    lam: float,
    time_limit_seconds: float,
    allowed: Mapping[Need, frozenset[str]],
    keep: Mapping[Need, str],
    keep_minutes: int,
    hint: Mapping[str, Sequence[Stop]] | None,
) -> dict[str, list[Stop]] | None:
    homes = sorted({c.home_index for c in instance.roster})
    depot_node = {home: len(needs) + i for i, home in enumerate(homes)}
    locations = [n.location_index for n in needs] + homes
    durations = [int(round(n.duration)) for n in needs] + [0] * len(homes)
    starts = [depot_node[c.home_index] for c in instance.roster]
    manager = pywrapcp.RoutingIndexManager(len(locations), len(instance.roster), starts, starts)
    routing = pywrapcp.RoutingModel(manager)
    dist = [[int(round(instance.distances[a][b])) for b in locations] for a in locations]
    if keep and keep_minutes > 0:  # entering a need held by another caregiver costs keep_minutes
        held = [keep.get((n.patient_id, n.service_id)) for n in needs] + [None] * len(homes)
        for v, c in enumerate(instance.roster):
            extra = [keep_minutes if h not in (None, c.caregiver_id) else 0 for h in held]
            cost = [[dist[a][b] + extra[b] for b in range(len(locations))] for a in range(len(locations))]
            routing.SetArcCostEvaluatorOfVehicle(routing.RegisterTransitMatrix(cost), v)
    else:
        routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(dist))
    time_cb = routing.RegisterTransitMatrix(
        [[durations[i] + dist[i][j] for j in range(len(locations))] for i in range(len(locations))]
    )
    horizon = int(
        max(
            [instance.horizon]
            + [c.shift_end for c in instance.roster]
            + [n.all_windows[-1][1] + n.duration for n in needs]
        )
    )
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    time = routing.GetDimensionOrDie("time")
    _bound_shifts(instance, routing, time, horizon)
    index_of = {(n.patient_id, n.service_id): manager.NodeToIndex(i) for i, n in enumerate(needs)}
    for need in needs:
        key = (need.patient_id, need.service_id)
        _bound_need(instance, need, index_of[key], routing, time, horizon, allowed.get(key))
    _synchronise(needs, index_of, routing, time)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, strategy)
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.guided_local_search_lambda_coefficient = lam
    params.time_limit.FromMilliseconds(max(1, int(time_limit_seconds * 1000)))
    solution = None
    if hint is not None:
        vehicle = {c.caregiver_id: v for v, c in enumerate(instance.roster)}
        routes: list[list[int]] = [[] for _ in instance.roster]
        for cid, stops in hint.items():
            for stop in stops:
                key = (stop.patient_id, stop.service_id)
                if cid in vehicle and key in index_of and (key not in allowed or cid in allowed[key]):
                    routes[vehicle[cid]].append(index_of[key])
        routing.CloseModelWithParameters(params)
        start = routing.ReadAssignmentFromRoutes(routes, True)
        if start is not None:
            solution = routing.SolveFromAssignmentWithParameters(start, params)
    if solution is None:
        solution = routing.SolveWithParameters(params)
    return None if solution is None else _routes(instance, needs, manager, routing, time, solution)


def _bound_shifts(
    instance: Instance, routing: pywrapcp.RoutingModel, time: pywrapcp.RoutingDimension, horizon: int
) -> None:
    for v, c in enumerate(instance.roster):
        start, end = int(c.shift_start), int(c.shift_end) if instance.shift_end_hard else horizon
        time.CumulVar(routing.Start(v)).SetRange(start, end)
        time.CumulVar(routing.End(v)).SetRange(start, end)


def _bound_need(
    instance: Instance,
    need: ServiceNeed,
    index: int,
    routing: pywrapcp.RoutingModel,
    time: pywrapcp.RoutingDimension,
    horizon: int,
    who: frozenset[str] | None = None,
) -> None:
    allowed = [
        v
        for v, c in enumerate(instance.roster)
        if need.service_id in c.abilities and (who is None or c.caregiver_id in who)
    ]
    routing.AddDisjunction([index], UNSERVED_PENALTY)
    routing.VehicleVar(index).SetValues([-1] + allowed)
    ranges = [(int(math.ceil(a)), int(math.floor(b))) for a, b in instance.start_ranges(need)]
    ranges = [(a, b) for a, b in ranges if a <= b]
    cumul = time.CumulVar(index)
    if instance.windows_hard:
        if not ranges:
            routing.ActiveVar(index).SetValue(0)
            return
    else:
        if not ranges:  # a window shorter than the service: as late as the first window allows
            earliest = int(need.window_start)
            ranges = [(earliest, max(earliest, int(instance.latest_start(need))))]
        last_earliest, last_latest = ranges[-1]
        ranges[-1] = (last_earliest, min(horizon, last_latest + MAX_PLANNED_LATENESS_MINUTES))
        time.SetCumulVarSoftUpperBound(index, last_latest, TARDINESS_COST_PER_MINUTE)
    cumul.SetRange(ranges[0][0], ranges[-1][1])
    for (_, gap_start), (gap_end, _) in zip(ranges, ranges[1:], strict=False):
        if gap_end - gap_start > 1:
            cumul.RemoveInterval(gap_start + 1, gap_end - 1)
    routing.AddVariableMinimizedByFinalizer(time.CumulVar(index))


def _synchronise(
    needs: Sequence[ServiceNeed],
    index_of: Mapping[tuple[str, str], int],
    routing: pywrapcp.RoutingModel,
    time: pywrapcp.RoutingDimension,
) -> None:
    solver = routing.solver()
    for f in needs:
        if f.sync_partner is None or f.sync_type not in (SyncType.SIMULTANEOUS, SyncType.SEQUENTIAL):
            continue
        a, b = index_of[(f.patient_id, f.sync_partner)], index_of[(f.patient_id, f.service_id)]
        if f.sync_type == SyncType.SIMULTANEOUS:
            solver.Add(time.CumulVar(a) == time.CumulVar(b))
            solver.Add(solver.IsDifferentVar(routing.VehicleVar(a), routing.VehicleVar(b)) >= routing.ActiveVar(a))
        else:
            solver.Add(time.CumulVar(b) >= time.CumulVar(a) + int(f.sync_min_gap))
            solver.Add(time.CumulVar(b) <= time.CumulVar(a) + int(f.sync_max_gap))


def _routes(
    instance: Instance,
    needs: Sequence[ServiceNeed],
    manager: pywrapcp.RoutingIndexManager,
    routing: pywrapcp.RoutingModel,
    time: pywrapcp.RoutingDimension,
    solution: pywrapcp.Assignment,
) -> dict[str, list[Stop]]:
    routes: dict[str, list[Stop]] = {}
    for v, c in enumerate(instance.roster):
        stops, index = [], solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(index):
            need = needs[manager.IndexToNode(index)]
            start = float(solution.Value(time.CumulVar(index)))
            stops.append(Stop(need.patient_id, need.service_id, start, start + need.duration))
            index = solution.Value(routing.NextVar(index))
        routes[c.caregiver_id] = stops
    return routes


def sync_violations(instance: Instance, routes: Mapping[str, Sequence[Stop]]) -> list[str]:
    """Every synchronised pair whose visits break their rule, as sentences.

    ``simultaneous``: both start at the same minute, with two different
    caregivers; ``sequential``: the follower starts ``sync_min_gap``..``sync_max_gap``
    minutes after the anchor (UHHC ``synchronization.distance``). Pairs with a
    visit missing are not judged here (``evaluate_routes`` counts them unserved).
    """
    where: dict[tuple[str, str], tuple[str, Stop]] = {}
    for caregiver_id, stops in routes.items():
        for stop in stops:
            where[(stop.patient_id, stop.service_id)] = (caregiver_id, stop)
    found: list[str] = []
    for f in instance.needs:
        if f.sync_partner is None or f.sync_type not in (SyncType.SIMULTANEOUS, SyncType.SEQUENTIAL):
            continue
        anchor, follower = where.get((f.patient_id, f.sync_partner)), where.get((f.patient_id, f.service_id))
        if anchor is None or follower is None:
            continue
        pair = f"{f.patient_id} {f.sync_partner}/{f.service_id}"
        gap = follower[1].start - anchor[1].start
        if f.sync_type == SyncType.SIMULTANEOUS:
            if abs(gap) > 1e-6:
                found.append(f"{pair}: simultaneous services start {gap:+.1f} min apart")
            if anchor[0] == follower[0]:
                found.append(f"{pair}: simultaneous services both done by {anchor[0]}")
        elif not f.sync_min_gap - 1e-6 <= gap <= f.sync_max_gap + 1e-6:
            found.append(
                f"{pair}: follower starts {gap:.1f} min after the anchor, not {f.sync_min_gap:g}..{f.sync_max_gap:g}"
            )
    return found


def planned_visits(
    instance: Instance, routes: Mapping[str, Sequence[Stop]], run: str, day_start: datetime
) -> dict[str, PlannedVisit]:
    """The plan keyed by care request id, with the ids ``handlers.datasets.day.build_day``
    gives a run (``<run>.<patient>.<service>``, caregivers ``<run>.<id>``),
    announced to the caregivers at ``day_start``; each visit carries the service, the
    start range it was planned in and whether its window is hard, so a repair may move it."""

    def at(minute: float) -> datetime:
        return day_start + timedelta(minutes=minute)

    synchronised = {n.patient_id for n in instance.needs if n.sync_type in (SyncType.SIMULTANEOUS, SyncType.SEQUENTIAL)}
    plan: dict[str, PlannedVisit] = {}
    for caregiver_id, stops in routes.items():
        for s in stops:
            need = instance.need(s.patient_id, s.service_id)
            ranges = instance.start_ranges(need) or [(need.window_start, instance.latest_start(need))]
            first, last = next(((a, b) for a, b in ranges if a <= s.start <= b), (ranges[0][0], ranges[-1][1]))
            plan[f"{run}.{s.patient_id}.{s.service_id}"] = PlannedVisit(
                f"{run}.{caregiver_id}",
                at(s.start),
                at(s.end),
                need.location_index,
                day_start,
                service_type=need.service_id,
                window_start=at(first),
                latest_start=at(last),
                window_hard=instance.windows_hard,
                synchronised=need.patient_id in synchronised,
            )
    return plan
