"""Repair a planned day when a visit falls through, instead of greedy insertion.

When a planned visit's offer is declined or times out (``handlers.dispatch.offers.close_offer``),
or its accepted visit is called off or missed (``handlers.visits.disruptions``), the rest of the
day of the caregivers it affects is re-optimised with OR-Tools routing, the model of
``handlers.dispatch.planning`` cut down to what is still open (``repair_or_offer``; a caregiver
running late is replaced the same way, with a start before her expected arrival:
``replace_late``):

- vehicles: the caregivers who may take the falling request (``rank_caregivers``' candidates,
  at most ``policy.repair_caregivers`` of the cheapest) and the caregiver who let it fall; each
  starts where it is: the place and end of its last commitment that starts before it could set
  off (``now`` plus the offer's answer time), or its home base at its shift start, and is back
  home by the shift end (plus the policy's overtime) when the shift end is hard;
- fixed nodes: visits (accepted, started) and pending offers after that point, and plan slots
  that cannot move (their window or service is not known, or they are half of a synchronised
  pair): each on its own caregiver at its own start; a slot may only be reached later when the
  caregiver is already running late for it (its start range is what the fixed chain allows);
- open nodes: the falling request, at any caregiver that may take it (never one already offered
  it) inside its window, and the plan's requests that have not arrived yet (no offer, no visit)
  whose window and service the plan knows, at any vehicle whose abilities cover the service;
- hard windows bound the start; soft windows allow lateness at one unit per minute, at most
  ``planning.MAX_PLANNED_LATENESS_MINUTES``; the objective is travel + tardiness in minutes
  (the UHHC objective the plan was made with), leaving a node out costs ``UNSERVED_PENALTY``.

The search is guided local search stopped by ``policy.repair_seconds`` of wall clock. When it
has no answer in time (or the budget is 0, or the falling request is left out), the caller falls
back to insertion (``offers.offer_next``). Every attempt is one ``care.dispatch.repaired`` event.
Times in the model are whole minutes from ``now`` (travel and durations rounded up, so a start
the model finds feasible is feasible in real minutes too).
"""

from __future__ import annotations

import math
import multiprocessing
import threading
import time as wall
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, Sequence, TypeVar

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from handlers import events as ev
from handlers.dispatch import offers
from handlers.dispatch.planned import PlannedVisit
from handlers.dispatch.scheduling import (
    DispatchPolicy,
    Ranking,
    TravelTimes,
    _excluded,  # the ranking's own eligibility rules, without the search for a gap
    earliest_start,
    insertion_at,
    travel_for,
)
from handlers.dispatch.shifts import shifts_between
from handlers.model import Caregiver, CareRequest, Offer, OfferStatus, RequestStatus, SyncType, Visit, VisitStatus
from handlers.ports import UnitOfWork

UNSERVED_PENALTY = 1_000_000
"""Cost of leaving an open node out of the repaired routes: above any day's travel and tardiness."""

TARDINESS_COST_PER_MINUTE = 1
"""Soft windows: one unit per minute late, as the plan (``planning``) counts it."""

MAX_MOVED_LATENESS_MINUTES = 90
"""Soft windows: a moved slot starts at most this late (``planning.MAX_PLANNED_LATENESS_MINUTES``)."""

FALLING_MAX_LATE_MINUTES = 90
"""Soft windows: how late the repair may place the request that fell through, the plan's own cap
(``planning.MAX_PLANNED_LATENESS_MINUTES``). Measured on rome-p44 (2026-12-06, 1 s repairs):
at 12 h the repair placed 8 of 12 fallen requests, total tardiness 983 min, highest 375; at
90 min it placed 6 (the others by insertion), 562 min, highest 110."""


@dataclass(frozen=True)
class RepairVehicle:
    """A caregiver as the repair sees it: free at ``free_at`` minutes (from the model's origin)
    at ``location``, back at ``home`` by ``back_by`` minutes (None: no limit)."""

    caregiver_id: str
    location: int
    free_at: int
    home: int
    back_by: int | None


@dataclass(frozen=True)
class RepairNode:
    """A visit of the repair: ``location`` index, ``duration`` minutes, start range
    ``earliest``..``latest`` minutes (``latest`` the latest on-time start). ``pinned``: the one
    caregiver of a fixed node; ``caregivers``: who may do an open node; ``hard``: a window that
    is never missed (else lateness costs, up to ``max_late`` minutes); ``required``: an open node
    that may move but not be left out (a pending offer: its caregiver holds the slot)."""

    request_id: str
    location: int
    duration: int
    earliest: int
    latest: int
    hard: bool = True
    pinned: str | None = None
    caregivers: frozenset[str] = frozenset()
    max_late: int = 90
    required: bool = False


@dataclass(frozen=True)
class RepairResult:
    """Routes per caregiver as (request id, start minute) in visiting order, the open nodes left
    out, the objective (travel + tardiness minutes) and the solver's wall seconds."""

    routes: dict[str, list[tuple[str, int]]]
    unserved: tuple[str, ...]
    objective: float
    seconds: float


Minutes = Callable[[str, int, int], float]
"""Travel minutes for a caregiver (its own mode) between two location indexes."""


def solve_repair(
    vehicles: Sequence[RepairVehicle], nodes: Sequence[RepairNode], minutes: Minutes, seconds: float
) -> RepairResult | None:
    """Re-plan ``nodes`` over ``vehicles`` within ``seconds`` of wall clock (guided local search).

    Returns None when the budget is not positive or the solver finds no solution in time (the
    caller falls back to insertion). Raises ``ValueError`` for a fixed node pinned to a caregiver
    that is not among ``vehicles``. The search runs in this process, or in the worker process
    ``use_solver_process`` started (OR-Tools holds the GIL while it searches: in a thread it
    would still stop the stream worker's event loop for the whole budget).
    """
    if seconds <= 0 or not vehicles:
        return None
    started = wall.perf_counter()
    ids = {v.caregiver_id for v in vehicles}
    for n in nodes:
        if n.pinned is not None and n.pinned not in ids:
            raise ValueError(f"{n.request_id}: pinned to {n.pinned}, who is not a vehicle of the repair")
    args = (list(vehicles), list(nodes), _legs(vehicles, nodes, minutes), seconds)
    found = _search(*args) if not _IN_WORKER_PROCESS else _search_in_worker(args)
    if found is None:
        return None
    routes, unserved = found
    objective = route_cost(vehicles, {n.request_id: n for n in nodes}, routes, minutes)
    return RepairResult(routes, unserved, objective, wall.perf_counter() - started)


def _legs(vehicles: Sequence[RepairVehicle], nodes: Sequence[RepairNode], minutes: Minutes) -> list[list[list[int]]]:
    """Per vehicle, whole travel minutes (up) between the search's places: the nodes' locations,
    then the vehicles' locations, then their homes (``_search`` indexes them so)."""
    locations = [n.location for n in nodes] + [v.location for v in vehicles] + [v.home for v in vehicles]
    return [
        [[0 if a == b else int(math.ceil(minutes(v.caregiver_id, a, b))) for b in locations] for a in locations]
        for v in vehicles
    ]


_IN_WORKER_PROCESS = False
#: one solver process per lane (``in_solver_process``), started by the lane's first search
_POOLS: dict[str, ProcessPoolExecutor] = {}
_POOL_LOCK = threading.Lock()
#: the lanes: a day-of repair (and a late caregiver's replacement) never waits behind a
#: confirmation round's re-plan, which searches ten seconds per area and comes for every planned
#: area at once, the evening before
REPAIR_LANE, ROUND_LANE = "repairs", "rounds"


def use_solver_process() -> None:
    """Run every later repair's search in one worker process (from a clean ``forkserver``,
    started by the first repair), so the thread that waits for it holds no GIL: the stream
    worker calls this at start. Idempotent."""
    global _IN_WORKER_PROCESS
    _IN_WORKER_PROCESS = True


def _search_in_worker(
    args: tuple[list[RepairVehicle], list[RepairNode], list[list[list[int]]], float],
) -> tuple[dict[str, list[tuple[str, int]]], tuple[str, ...]] | None:
    """``_search`` in the solver process; a process that died is replaced and this repair
    answers None (the caller falls back to insertion)."""
    return in_solver_process(_search, *args, timeout=solver_timeout(args[3]))


T = TypeVar("T")


#: how long past its own budget a search may take before its process is taken for hung: building
#: the model of a large day (the 229-visit Venice day) takes a few seconds, and a search may wait
#: behind one other of its lane (the dispatch batch's thread and the lane's agent both search)
SOLVER_GRACE_SECONDS = 60.0


def solver_timeout(seconds: float) -> float:
    """Seconds to wait for a search of ``seconds`` of budget (``in_solver_process``'s ``timeout``):
    its own budget, one other search of the lane ahead of it, and ``SOLVER_GRACE_SECONDS``."""
    return 2 * max(seconds, 0.0) + SOLVER_GRACE_SECONDS


def in_solver_process(
    fn: Callable[..., T], *args: Any, lane: str = REPAIR_LANE, timeout: float | None = None
) -> T | None:
    """``fn(*args)`` where searches run: in ``lane``'s solver process once ``use_solver_process``
    was called, else here. Each lane has its own process, so a search waits only behind one of its
    own lane (``REPAIR_LANE``, ``ROUND_LANE``). ``fn`` and ``args`` must pickle
    (``handlers.dispatch.rounds`` passes ``planning.plan_day``).

    Answers None when the process died, or when no answer came within ``timeout`` seconds (None:
    no limit; callers pass ``solver_timeout(budget)``): a hung process is killed, so its lane
    does not stall until the worker restarts. The lane's next search starts a fresh process; a
    search queued behind the dead one answers None too. The callers treat None as "no answer"
    (a repair falls back to insertion, a round holds its requests)."""
    if not _IN_WORKER_PROCESS:
        return fn(*args)
    with _POOL_LOCK:  # the dispatch batch's thread and the solver agents' threads search here
        pool = _POOLS.get(lane)
        if pool is None:
            pool = _POOLS[lane] = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("forkserver")
            )
    try:
        future = pool.submit(fn, *args)
    except (BrokenProcessPool, RuntimeError):  # died, or shut down by another thread's timeout just now
        _forget(lane, pool)
        return None
    try:
        return future.result(timeout=timeout)
    except (BrokenProcessPool, CancelledError):  # died, or killed by another thread's timeout
        _forget(lane, pool)
        return None
    except FuturesTimeout:
        _forget(lane, pool)
        _kill(pool)
        return None


def _forget(lane: str, pool: ProcessPoolExecutor) -> None:
    """Drop ``pool`` as ``lane``'s process (unless another thread already replaced it)."""
    with _POOL_LOCK:
        if _POOLS.get(lane) is pool:
            del _POOLS[lane]


def _kill(pool: ProcessPoolExecutor) -> None:
    """Kill ``pool``'s process and let the pool go: Python 3.14 has ``terminate_workers``; before
    it, the executor's own table of its processes is the only handle on them."""
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()
    pool.shutdown(wait=False)  # searches queued behind the killed one fail with BrokenProcessPool


def _search(
    vehicles: Sequence[RepairVehicle], nodes: Sequence[RepairNode], legs: list[list[list[int]]], seconds: float
) -> tuple[dict[str, list[tuple[str, int]]], tuple[str, ...]] | None:
    """The routing model and its search: routes (request id, start minute) and open nodes left out."""
    index_of_vehicle = {v.caregiver_id: i for i, v in enumerate(vehicles)}
    n_nodes = len(nodes)
    starts = [n_nodes + i for i in range(len(vehicles))]
    ends = [n_nodes + len(vehicles) + i for i in range(len(vehicles))]
    n_locations = n_nodes + 2 * len(vehicles)
    durations = [n.duration for n in nodes] + [0] * (2 * len(vehicles))
    manager = pywrapcp.RoutingIndexManager(n_locations, len(vehicles), starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    horizon = (
        max(
            [v.free_at for v in vehicles]
            + [v.back_by or 0 for v in vehicles]
            + [n.latest + n.max_late + n.duration for n in nodes]
        )
        + 24 * 60
    )
    arc, transit = [], []
    for leg in legs:
        arc.append(routing.RegisterTransitMatrix(leg))
        transit.append(
            routing.RegisterTransitMatrix(
                [[durations[i] + leg[i][j] for j in range(n_locations)] for i in range(n_locations)]
            )
        )
    for i in range(len(vehicles)):
        routing.SetArcCostEvaluatorOfVehicle(arc[i], i)
    routing.AddDimensionWithVehicleTransits(transit, horizon, horizon, False, "time")
    time = routing.GetDimensionOrDie("time")
    for i, v in enumerate(vehicles):
        time.CumulVar(routing.Start(i)).SetValue(v.free_at)
        time.CumulVar(routing.End(i)).SetRange(v.free_at, v.back_by if v.back_by is not None else horizon)
    for k, n in enumerate(nodes):
        index = manager.NodeToIndex(k)
        cumul = time.CumulVar(index)
        if n.pinned is not None:
            routing.VehicleVar(index).SetValue(index_of_vehicle[n.pinned])
            cumul.SetRange(n.earliest, max(n.earliest, n.latest))
        else:
            allowed = [index_of_vehicle[c] for c in sorted(n.caregivers) if c in index_of_vehicle]
            if n.required:
                routing.VehicleVar(index).SetValues(allowed)
            else:
                routing.AddDisjunction([index], UNSERVED_PENALTY)
                routing.VehicleVar(index).SetValues([-1] + allowed)
            last = n.latest if n.hard else n.latest + n.max_late
            if last < n.earliest:
                routing.ActiveVar(index).SetValue(0)
                continue
            cumul.SetRange(n.earliest, last)
            if not n.hard:
                time.SetCumulVarSoftUpperBound(index, n.latest, TARDINESS_COST_PER_MINUTE)
        routing.AddVariableMinimizedByFinalizer(cumul)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(max(1, int(seconds * 1000)))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        return None
    routes: dict[str, list[tuple[str, int]]] = {}
    served: set[str] = set()
    for i, v in enumerate(vehicles):
        stops, index = [], solution.Value(routing.NextVar(routing.Start(i)))
        while not routing.IsEnd(index):
            node = nodes[manager.IndexToNode(index)]
            stops.append((node.request_id, solution.Value(time.CumulVar(index))))
            served.add(node.request_id)
            index = solution.Value(routing.NextVar(index))
        routes[v.caregiver_id] = stops
    return routes, tuple(n.request_id for n in nodes if n.request_id not in served)


def route_cost(
    vehicles: Sequence[RepairVehicle],
    nodes: Mapping[str, RepairNode],
    routes: Mapping[str, Sequence[tuple[str, int]]],
    minutes: Minutes,
) -> float:
    """Travel (from where each caregiver is, back home) plus tardiness of soft-window nodes, in
    minutes: the repair's objective, for the routes before and after."""
    total = 0.0
    for v in vehicles:
        here = v.location
        for rid, start in routes.get(v.caregiver_id, ()):
            node = nodes[rid]
            total += minutes(v.caregiver_id, here, node.location) if here != node.location else 0.0
            if not node.hard and node.pinned is None:
                total += max(0, start - node.latest)
            here = node.location
        total += minutes(v.caregiver_id, here, v.home) if here != v.home else 0.0
    return total


# -- the use case ---------------------------------------------------------------------------


@dataclass
class _Problem:
    origin: datetime
    vehicles: list[RepairVehicle] = field(default_factory=list)
    nodes: list[RepairNode] = field(default_factory=list)
    before: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    plan: dict[str, PlannedVisit] = field(default_factory=dict)  # movable plan slots, as they were
    offers: dict[str, Offer] = field(default_factory=dict)  # movable pending offers, as they were


def _minute(origin: datetime, at: datetime, up: bool = False) -> int:
    value = (at - origin).total_seconds() / 60
    return int(math.ceil(value - 1e-9)) if up else int(math.floor(value + 1e-9))


def repair_or_offer(
    request: CareRequest,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    background: bool = False,
) -> bool:
    """Offer a planned request whose offer or visit fell through (a decline, a timeout, a
    call-off, a no-show) by repairing the day (module docstring), or by insertion
    (``offers.offer_next``) when the repair has no answer. Returns True when the repair placed
    it, or, with ``background`` (the stream worker), asked the solver agent to search (the
    answer places it later: ``apply_answer``). Emits one ``care.dispatch.repaired`` event per
    attempt (repaired or not) and updates the plan slots it moved (``uow.replan``)."""
    attempt = _attempt(request, uow, now, policy, travel, background=background)
    if attempt is None or attempt.placed:
        return attempt is not None
    return _fallback(request, uow, now, policy, travel, attempt.reason, attempt.result)


def replace_late(
    request: CareRequest,
    expected: datetime,
    hand_over: Callable[[str], None],
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    background: bool = False,
) -> bool:
    """Replace a caregiver running late for ``request``'s accepted visit by repairing the day: the
    request is open to every other caregiver who may take it (the late one holds its accepted
    offer, so the ranking leaves her out), inside its window and starting before ``expected`` (her
    predicted arrival); the rest as ``repair_or_offer``. When the repair places it,
    ``hand_over(caregiver id)`` is called first (the late visit is cancelled there,
    ``handlers.visits.lateness``), then the new caregiver is offered the repaired slot and the
    moved slots are updated; returns True. Otherwise nothing changes but one
    ``care.dispatch.repaired`` event (``insertion``, with the reason) and it returns False: the
    caller's own rule decides. With ``background`` (the stream worker) the search is asked of the
    solver agent and this returns True: the late visit stands until the answer, which hands it
    over or, when it cannot, runs the caller's rule then (``apply_answer``)."""
    attempt = _attempt(request, uow, now, policy, travel, before=expected, hand_over=hand_over, background=background)
    if attempt is None or attempt.placed:
        return attempt is not None
    seconds = attempt.result.seconds if attempt.result else 0.0
    reason = f"{attempt.reason}; the late caregiver's replacement is ranked"
    uow.emit(ev.dispatch_repaired(request, now, "insertion", [], seconds, None, None, 0, reason=reason))
    return False


@dataclass(frozen=True)
class _Attempt:
    """A repair's answer: ``placed`` (offered at its repaired slot), else why not."""

    placed: bool
    reason: str = ""
    result: RepairResult | None = None


def _attempt(
    request: CareRequest,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    before: datetime | None = None,
    hand_over: Callable[[str], None] | None = None,
    background: bool = False,
) -> _Attempt | None:
    """Repair the day for ``request`` (starting before ``before`` when given, inside a hard
    bound at its window's end): None when an offer of it is still pending. ``background``: the
    search is asked of the solver agent (``ask_solver``) and this returns a placed attempt; the
    answer comes back as ``apply_answer``."""
    offered = uow.offers.for_request(request.request_id)
    if any(o.status == OfferStatus.PENDING for o in offered):
        return None
    fell = max(offered, key=lambda o: o.created_at) if offered else None
    ranked_for = offers.rank_for(request, uow, now, policy, travel, offered=offered)
    roster, context, already, ranking = ranked_for.roster, ranked_for.context, ranked_for.asked, ranked_for.ranking
    # who may take it: every caregiver the ranking's rules allow, the ranked ones (a gap today) first;
    # one without a gap may get one when the repair moves a slot of the plan
    ranked = [c.caregiver_id for c in ranking.candidates]
    able = [c.caregiver_id for c in roster if _excluded(request, c, policy, context, already) is None]
    takers = (ranked + [c for c in able if c not in ranked])[: max(0, policy.repair_caregivers)]
    if policy.repair_seconds < MIN_SOLVER_SECONDS or not takers or request.location_index is None:
        return _Attempt(False, _why_not(policy, takers))
    by_id = {c.caregiver_id: c for c in roster}
    cast = takers + ([fell.caregiver_id] if fell is not None and fell.caregiver_id not in takers else [])
    caregivers = [by_id[c] for c in cast if c in by_id]
    # searched beside the worker, the model is built for when its answer comes back, so that an
    # answer on time still holds then (``apply_answer`` rebuilds it at that moment)
    ahead = timedelta(seconds=policy.repair_seconds + ANSWER_TRIP_SECONDS) if background else timedelta(0)
    problem = _problem(request, caregivers, set(takers), uow, now + ahead, policy, travel, fell, before)

    def minutes(cid: str, a: int, b: int) -> float:
        return travel_for(by_id[cid], travel).minutes(a, b)

    result = None
    try:
        if not _reachable(problem.nodes[-1], problem.vehicles, minutes):
            return _Attempt(False, "nobody who may take it can start it in time")
        if background:
            visit = uow.visits.for_request(request.request_id) if before is not None else None
            late = (visit.visit_id, before) if visit is not None and before is not None else None
            cast = [c.caregiver_id for c in caregivers]
            ask_solver(request, problem, cast, takers, minutes, uow, now, policy, late, now + ahead)
            return _Attempt(True)
        result = solve_repair(problem.vehicles, problem.nodes, minutes, policy.repair_seconds)
    except LookupError:  # a place without travel times: insertion says why
        result = None
    if result is None or request.request_id in result.unserved:
        why = "the solver found no answer in time" if result is None else "the solver left the request out"
        return _Attempt(False, why, result)
    return _carry_out(request, problem, result, fell, len(offered), by_id, minutes, uow, now, policy, travel,
                      before, hand_over)  # fmt: skip


def _carry_out(
    request: CareRequest,
    problem: _Problem,
    result: RepairResult,
    fell: Offer | None,
    offered: int,
    by_id: Mapping[str, Caregiver],
    minutes: Minutes,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    before: datetime | None = None,
    hand_over: Callable[[str], None] | None = None,
) -> _Attempt:
    """Offer ``request`` at the slot ``result`` gave it (``offered``: its offers so far) and move
    what the result moved: pending offers withdrawn and made again, plan slots re-stored and their
    caregivers told; or, when its slot no longer fits the caregiver's bookings, nothing."""
    nodes = {n.request_id: n for n in problem.nodes}
    cost_before = route_cost(problem.vehicles, nodes, problem.before, minutes)
    where = {rid: (cid, start) for cid, stops in result.routes.items() for rid, start in stops}
    cid, start_min = where[request.request_id]
    start = problem.origin + timedelta(minutes=start_min)
    moved_offers = {
        rid: (new_cid, problem.origin + timedelta(minutes=where[rid][1]))
        for rid, offer in problem.offers.items()
        if rid in where
        for new_cid in [where[rid][0]]
        if new_cid != offer.caregiver_id or problem.origin + timedelta(minutes=where[rid][1]) != offer.planned_start
    }
    for rid in moved_offers:  # withdrawn first: their slots are free for what moves in
        _withdraw(problem.offers[rid], uow, now)
    fit = insertion_at(request, by_id[cid], uow.bookings([cid])[cid], travel, start, now, policy)
    if not isinstance(fit, str) and before is not None and (fit.start >= before or fit.lateness_minutes > 0):
        fit = f"starts {fit.start:%H:%M}, not before the late caregiver ({before:%H:%M}) inside the window"
    if isinstance(fit, str):
        for rid, offer in problem.offers.items():
            if rid in moved_offers:
                _offer_again(uow.requests.get(rid), offer.caregiver_id, offer.planned_start, uow, now, policy, travel)
        return _Attempt(False, f"the repaired slot does not fit: {fit}", result)
    if hand_over is not None:
        hand_over(cid)
    moved = _moves(problem, result, request, fell, start, cid)
    changed = _new_plan(problem, result, request, cid, start, now, moved_offers)
    uow.replan(changed)
    uow.emit(
        ev.dispatch_repaired(
            request, now, "repaired", moved, result.seconds, cost_before, result.objective, len(problem.vehicles)
        )
    )
    _tell_new_days(problem, changed, request, uow, now)
    uow.emit(ev.dispatch_decided(request, Ranking((fit,), {}), policy, now))
    offers.offer_to(request, fit, offered + 1, uow, now, policy)
    for rid, (new_cid, new_start) in sorted(moved_offers.items(), key=lambda kv: kv[1][1]):
        _offer_again(uow.requests.get(rid), new_cid, new_start, uow, now, policy, travel)
    return _Attempt(True)


def _tell_new_days(
    problem: _Problem, changed: Mapping[str, PlannedVisit], request: CareRequest, uow: UnitOfWork, now: datetime
) -> None:
    """Each caregiver who was told a plan slot the repair moved (its start or its caregiver; an
    announced slot whose request has not arrived) hears her new day (``ev.plan_changed``): the
    planned visits still to be offered to her, from now on. Slots never announced, and the falling
    request and moved offers (their caregivers get offers and withdrawals), tell nobody here."""
    told: dict[str, datetime] = {}
    for rid, was in problem.plan.items():
        now_slot = changed.get(rid)
        if now_slot is None or was.announced_at is None or was.announced_at > now:
            continue
        if (now_slot.caregiver_id, now_slot.start) == (was.caregiver_id, was.start):
            continue
        for cid in {was.caregiver_id, now_slot.caregiver_id}:
            told[cid] = min(told.get(cid, was.start), was.start, now_slot.start)
    plan = uow.day_plan(told) if told else {}
    for cid, day in sorted(told.items()):
        ahead = sorted(
            (pv.start, rid, pv)
            for rid, pv in plan.items()
            if pv.caregiver_id == cid and pv.end > now and _plan_state(rid, uow) == "unreceived"
        )
        visits = [
            {"request_id": rid, "service_type": pv.service_type or "", "start": _iso(pv.start) or "",
             "end": _iso(pv.end) or ""}
            for _, rid, pv in ahead
        ]  # fmt: skip
        uow.emit(ev.plan_changed(request, now, cid, day, visits))


def _reachable(node: RepairNode, vehicles: Sequence[RepairVehicle], minutes: Minutes) -> bool:
    """Whether some vehicle that may do the open ``node`` can start it by its latest allowed start
    (its window's end, plus ``max_late`` when soft) from where and when it is free: the solver's
    own lower bound (whole minutes, travel rounded up). Without one the solver would only spend
    its budget to leave the node out (a late caregiver's request that nobody can reach before
    her, measured on rome-p44: 10 searches of 3 s each that placed nothing)."""
    last = node.latest if node.hard else node.latest + node.max_late
    if last < node.earliest:
        return False
    for v in vehicles:
        if v.caregiver_id not in node.caregivers:
            continue
        leg = 0 if v.location == node.location else int(math.ceil(minutes(v.caregiver_id, v.location, node.location)))
        if v.free_at + leg <= last:
            return True
    return False


def _withdraw(offer: Offer, uow: UnitOfWork, now: datetime) -> None:
    """Rescind a pending offer the repair moves (its caregiver is told as for any rescinded offer)."""
    req = uow.requests.get(offer.request_id)
    assert req is not None
    offer.status, offer.responded_at = OfferStatus.RESCINDED, now
    uow.emit(ev.offer_closed(req, offer, now))


def _offer_again(
    request: CareRequest | None,
    cid: str,
    start: datetime,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
) -> None:
    """Offer a moved request at its repaired slot, or by insertion when that slot no longer fits."""
    if request is None:
        return
    caregiver = uow.caregivers.get(cid)
    fit = (
        insertion_at(request, caregiver, uow.bookings([cid])[cid], travel, start, now, policy)
        if caregiver is not None
        else "unknown caregiver"
    )
    if isinstance(fit, str):
        offers.offer_next(request, uow, now, policy, travel)
        return
    uow.emit(ev.dispatch_decided(request, Ranking((fit,), {}), policy, now))
    offers.offer_to(request, fit, len(uow.offers.for_request(request.request_id)) + 1, uow, now, policy)


#: below this wall budget (seconds) the solver is not started: the solver process alone takes
#: longer to answer (a replay clock scales the budget down: ``AreaContext.at_clock_speed``)
MIN_SOLVER_SECONDS = 0.2


def _why_not(policy: DispatchPolicy, takers: Sequence[str]) -> str:
    if policy.repair_seconds <= 0:
        return "the policy gives the solver no time"
    if policy.repair_seconds < MIN_SOLVER_SECONDS:
        return f"{policy.repair_seconds:.3f} s of solver time (a replay clock's share of the budget) is too little"
    if not takers:
        return "no caregiver may take it"
    return "the request has no place"


def _fallback(
    request: CareRequest,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    reason: str,
    result: RepairResult | None = None,
) -> bool:
    uow.emit(
        ev.dispatch_repaired(
            request, now, "insertion", [], result.seconds if result else 0.0, None, None, 0, reason=reason
        )
    )
    offers.offer_next(request, uow, now, policy, travel)
    return False


def _shift_window(caregiver: Caregiver, cut: datetime, policy: DispatchPolicy) -> tuple[datetime, datetime] | None:
    shift = next((s for s in shifts_between(caregiver, cut, cut + timedelta(hours=24)) if s.end > cut), None)
    if shift is None:
        return None
    over = timedelta(minutes=policy.overtime_minutes) if policy.shift_end_hard else timedelta(days=1)
    return shift.start, shift.end + over


def _problem(
    request: CareRequest,
    caregivers: Sequence[Caregiver],
    takers: set[str],
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    fell: Offer | None,
    before: datetime | None = None,
) -> _Problem:
    origin = now.replace(second=0, microsecond=0)
    cut = now + timedelta(seconds=policy.offer_timeout_seconds)
    problem = _Problem(origin)
    ids = [c.caregiver_id for c in caregivers]
    bookings = uow.bookings(ids)
    plan = uow.day_plan(ids)
    partner_cids = _partner_caregivers(request, uow)
    for caregiver in caregivers:
        cid = caregiver.caregiver_id
        window = _shift_window(caregiver, cut, policy)
        if window is None or caregiver.home_base_index is None:
            continue  # off today, or without a home base: not a vehicle of the repair
        home: int = caregiver.home_base_index
        shift_start, back_by = window
        mins = travel_for(caregiver, travel)
        commitments: list[tuple[datetime, datetime, int, str, PlannedVisit | None]] = []
        movable: list[tuple[str, datetime, RepairNode]] = []
        for b in bookings.get(cid, []):
            if b.request_id == request.request_id or not (b.end > shift_start and b.start < back_by):
                continue
            loc = b.location_index if b.location_index is not None else home
            pending = _movable_offer(b.request_id, cid, b.start, origin, cut, caregivers, uow, now, policy)
            if pending is None:
                commitments.append((b.start, b.end, loc, b.request_id, None))
            else:
                problem.offers[b.request_id] = pending[0]
                movable.append((b.request_id, b.start, pending[1]))
        for rid, pv in plan.items():
            if pv.caregiver_id != cid or rid == request.request_id or not (shift_start < pv.end and pv.start < back_by):
                continue
            state = _plan_state(rid, uow)
            if state == "live":
                continue  # its offer or visit is a booking already, or it is being dispatched
            loc = pv.location_index if pv.location_index is not None else home
            slot = _movable_node(rid, pv, origin, cut, caregivers, policy) if state == "unreceived" else None
            if slot is None:
                commitments.append((pv.start, pv.end, loc, rid, None))
            else:
                problem.plan[rid] = pv
                movable.append((rid, pv.start, slot))
        commitments.sort(key=lambda c: c[0])
        here, free = home, max(shift_start, cut)
        route: list[tuple[str, int]] = []
        for start, end, loc, _rid, _pv in commitments:
            if start < cut:  # under way, or too soon to change: the caregiver sets off from there
                here, free = loc, max(free, end)
        vehicle = RepairVehicle(cid, here, _minute(origin, free, up=True), home,
                                _minute(origin, back_by) if policy.shift_end_hard else None)  # fmt: skip
        problem.vehicles.append(vehicle)
        # fixed nodes: the chain as it would run, each reached no later than the chain allows
        t, at = vehicle.free_at, here
        for start, end, loc, rid, _ in commitments:
            if start < cut:
                continue
            s = _minute(origin, start)
            reach = t + (int(math.ceil(mins.minutes(at, loc))) if at != loc else 0)
            duration = _minute(origin, end, up=True) - s
            latest = max(s, reach)
            problem.nodes.append(RepairNode(rid, loc, duration, s, latest, pinned=cid))
            route.append((rid, s))
            t, at = latest + duration, loc
        for rid, was, node in movable:
            problem.nodes.append(node)
            route.append((rid, _minute(origin, was)))
        problem.before[cid] = sorted(route, key=lambda r: r[1])
    problem.nodes.append(_falling_node(request, origin, cut, takers - partner_cids, fell, uow, before))
    return problem


def _partner_caregivers(request: CareRequest, uow: UnitOfWork) -> set[str]:
    """Caregivers of the request's synchronised partner (a simultaneous pair needs two people)."""
    if request.sync_type != SyncType.SIMULTANEOUS:
        return set()
    ids = [request.sync_partner_id or ""] + [f.request_id for f in uow.requests.followers_of(request.request_id)]
    found = set()
    for rid in ids:
        visit = uow.visits.for_request(rid)
        if visit is not None:
            found.add(visit.caregiver_id)
        found |= {o.caregiver_id for o in uow.offers.for_request(rid) if o.status == OfferStatus.PENDING}
    return found


def _movable_offer(
    rid: str,
    cid: str,
    start: datetime,
    origin: datetime,
    cut: datetime,
    caregivers: Sequence[Caregiver],
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
) -> tuple[Offer, RepairNode] | None:
    """A pending offer the repair may move (not yet accepted: the plan's open request), with its
    node; None for a visit, an offer of a synchronised pair, or one starting before ``cut``."""
    if start < cut:
        return None
    offer = next(
        (o for o in uow.offers.for_request(rid) if o.status == OfferStatus.PENDING and o.caregiver_id == cid), None
    )
    req = uow.requests.get(rid)
    if offer is None or req is None or req.location_index is None or uow.visits.for_request(rid) is not None:
        return None
    if req.sync_type in (SyncType.SIMULTANEOUS, SyncType.SEQUENTIAL) or req.sync_partner_id:
        return None
    if any(o.status == OfferStatus.PENDING and o.offer_id != offer.offer_id for o in uow.offers.for_request(rid)):
        return None  # parallel offers: the first yes wins, nothing to move
    earliest = _minute(origin, max(earliest_start(req), cut), up=True)
    latest = _minute(origin, req.latest_start)
    if (latest if req.window_hard else latest + MAX_MOVED_LATENESS_MINUTES) < max(earliest, _minute(origin, start)):
        return None  # already late where it is: it stays
    context = uow.ranking_context(req, now)
    asked = {o.caregiver_id for o in uow.offers.for_request(rid)} - {cid}
    able = frozenset(c.caregiver_id for c in caregivers if _excluded(req, c, policy, context, asked) is None)
    return offer, RepairNode(
        rid,
        req.location_index,
        int(math.ceil(req.duration_minutes - 1e-9)),
        earliest,
        latest,
        hard=req.window_hard,
        caregivers=able | {cid},
        max_late=MAX_MOVED_LATENESS_MINUTES,
        required=True,
    )


def _plan_state(rid: str, uow: UnitOfWork) -> str:
    """``unreceived`` (the plan's slot is all there is), ``done`` or ``live``."""
    req = uow.requests.get(rid)
    if req is None or req.status == RequestStatus.REQUESTED:
        return "unreceived"
    return "live"


def _movable_node(
    rid: str,
    pv: PlannedVisit,
    origin: datetime,
    cut: datetime,
    caregivers: Sequence[Caregiver],
    policy: DispatchPolicy,
) -> RepairNode | None:
    """An open node for a plan slot whose request has not arrived, or None when it must stay
    (the plan does not know its window or service, it is half of a synchronised pair, or it
    starts before the caregiver could change course)."""
    if pv.window_start is None or pv.latest_start is None or pv.service_type is None or pv.synchronised:
        return None
    if pv.start < cut or pv.location_index is None:
        return None
    able = frozenset(c.caregiver_id for c in caregivers if c.active and policy.covers(c.abilities, pv.service_type))
    return RepairNode(
        rid,
        pv.location_index,
        _minute(origin, pv.end, up=True) - _minute(origin, pv.start),
        max(_minute(origin, pv.window_start, up=True), _minute(origin, cut, up=True)),
        _minute(origin, pv.latest_start),
        hard=pv.window_hard,
        caregivers=able | {pv.caregiver_id},
    )


def _falling_node(
    request: CareRequest,
    origin: datetime,
    cut: datetime,
    takers: set[str],
    fell: Offer | None,
    uow: UnitOfWork,
    before: datetime | None = None,
) -> RepairNode:
    """The open node of the request that fell through; with ``before`` (a late caregiver's
    expected arrival) it must start inside its window and strictly before that (a hard bound)."""
    earliest = max(earliest_start(request), cut)
    latest = request.latest_start
    if request.sync_is_follower and request.sync_anchor_start is not None:
        latest = min(latest, request.sync_anchor_start + timedelta(minutes=request.sync_max_gap))
    elif request.sync_type in (SyncType.SIMULTANEOUS, SyncType.SEQUENTIAL) and uow.requests.followers_of(
        request.request_id
    ):
        slot = fell.planned_start if fell else None  # an anchor keeps its start: its follower counts on it
        if slot is not None:
            earliest, latest = slot, slot
    duration = int(math.ceil(request.duration_minutes - 1e-9))
    hard = request.window_hard or (request.sync_type is not None and latest < request.latest_start)
    last = _minute(origin, latest)
    if before is not None:
        hard, last = True, min(last, _minute(origin, before, up=True) - 1)
    return RepairNode(
        request.request_id,
        request.location_index if request.location_index is not None else 0,
        duration,
        _minute(origin, earliest, up=True),
        last,
        hard=hard,
        caregivers=frozenset(takers),
        max_late=FALLING_MAX_LATE_MINUTES,
    )


def _moves(
    problem: _Problem,
    result: RepairResult,
    request: CareRequest,
    fell: Offer | None,
    start: datetime,
    cid: str,
) -> list[dict[str, object]]:
    """What the repair moved: the falling request and every plan slot that changed caregiver or start."""
    moved: list[dict[str, object]] = [
        {
            "request_id": request.request_id,
            "caregiver_before": fell.caregiver_id if fell else None,
            "caregiver_after": cid,
            "start_before": _iso(fell.planned_start if fell else None),
            "start_after": _iso(start),
        }
    ]
    for new_cid, stops in result.routes.items():
        for rid, minute in stops:
            was = problem.plan.get(rid) or problem.offers.get(rid)
            if was is None:
                continue
            old_cid, old_start = was.caregiver_id, was.start if isinstance(was, PlannedVisit) else was.planned_start
            new_start = problem.origin + timedelta(minutes=minute)
            if old_cid != new_cid or old_start != new_start:
                moved.append(
                    {
                        "request_id": rid,
                        "caregiver_before": old_cid,
                        "caregiver_after": new_cid,
                        "start_before": _iso(old_start),
                        "start_after": _iso(new_start),
                        "offered": rid in problem.offers,
                    }
                )
    return moved


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _new_plan(
    problem: _Problem,
    result: RepairResult,
    request: CareRequest,
    cid: str,
    start: datetime,
    now: datetime,
    moved_offers: Mapping[str, tuple[str, datetime]],
) -> dict[str, PlannedVisit]:
    """The plan slots the repair changed: the falling request's, and every movable slot it kept
    (moved or not; a slot it left out keeps its old place and goes online when it arrives)."""
    changed: dict[str, PlannedVisit] = {
        request.request_id: PlannedVisit(
            cid, start, start + timedelta(minutes=request.duration_minutes), request.location_index, now
        )
    }
    for new_cid, stops in result.routes.items():
        for rid, minute in stops:
            pv = problem.plan.get(rid)
            if pv is None:
                continue
            new_start = problem.origin + timedelta(minutes=minute)
            if pv.caregiver_id == new_cid and new_start == pv.start:
                continue
            changed[rid] = replace(
                pv,
                caregiver_id=new_cid,
                start=new_start,
                end=new_start + (pv.end - pv.start),
                announced_at=now if new_cid != pv.caregiver_id else pv.announced_at,
            )
    location = {n.request_id: n.location for n in problem.nodes}
    for rid, (new_cid, new_start) in moved_offers.items():
        offer = problem.offers[rid]
        changed[rid] = PlannedVisit(
            new_cid, new_start, new_start + (offer.planned_end - offer.planned_start), location.get(rid), now
        )
    return changed


# --- the search off the partition ------------------------------------------------------------
# Issue 18: "the worker keeps deciding other areas meanwhile". In the stream worker a repair's
# search does not hold the area's partition: the repair is written as a job (an event on
# ``dispatch.repairs.v1``), the solver agent searches it in the solver process while the
# dispatch agent goes on, and the answer comes back on the area's partition of
# ``care.timers.v1`` as a command (``apply_answer``). The day may have changed meanwhile: the
# answer is checked against the day as it is then (``_stale``) and used only if it still holds;
# otherwise, and when no answer comes within the budget and ``ANSWER_GRACE_SECONDS`` (a timer:
# a worker that died mid-search loses nothing), the request goes to insertion.

OVERDUE_KIND = "repair-overdue"
"""The timer kind that sends a request to insertion when its repair's answer does not come."""

ANSWER_TRIP_SECONDS = 15.0
"""How long a repair's job and answer take through the broker and the solver agent, beyond the
search (seconds, generous: about a second each way on an idle worker): the job's model is built
for its budget plus this ahead, so an answer that comes back within it still holds."""

ANSWER_GRACE_SECONDS = 30.0
"""How long beyond its search budget a repair's answer is awaited (seconds): the job's and the
answer's trips through the broker, and a solver busy with the search before it."""


def attempt_id(request_id: str, offers_made: int) -> str:
    """The id of the repair a request's fall started: ``<request id>#<offers made so far>`` (one
    repair per fall; an answer for an older fall is not used)."""
    return f"{request_id}#{offers_made}"


def ask_solver(
    request: CareRequest,
    problem: _Problem,
    cast: Sequence[str],
    takers: Sequence[str],
    minutes: Minutes,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    late: tuple[str, datetime] | None = None,
    modelled_at: datetime | None = None,
) -> None:
    """Write the search as a job for the solver agent (``ev.repair_requested``, keyed by the
    area), say so in the audit trail (``care.dispatch.repaired``, outcome ``solving``) and set the
    overdue timer. The job holds the model (vehicles, nodes, whole-minute legs per distinct pace),
    what ``apply_answer`` needs to rebuild it (the origin, the caregivers and the takers) and the
    overdue time (``due``: a job still waiting for the solver then is not searched). ``late``: a
    late caregiver's replacement, (her visit's id, her expected arrival); its attempt id adds
    ``L<expected arrival in spans of lateness.REALERT_MINUTES>`` and is asked once (a late check
    repeated while it searches asks nothing, unless her arrival moved to a later span, as a new
    alert would)."""
    modelled_at = modelled_at or now
    attempt = attempt_id(request.request_id, len(uow.offers.for_request(request.request_id)))
    if late is not None:
        from handlers.visits.lateness import REALERT_MINUTES

        attempt += f"L{int(late[1].timestamp() // 60 // REALERT_MINUTES)}"
        if not uow.claim(f"repair-asked:{attempt}"):
            return
    legs = _legs(problem.vehicles, problem.nodes, minutes)
    paces: list[list[list[int]]] = []
    pace_of: list[int] = []
    for matrix in legs:  # caregivers on one travel mode share one matrix
        if matrix not in paces:
            paces.append(matrix)
        pace_of.append(paces.index(matrix))
    due = now + timedelta(seconds=policy.repair_seconds + ANSWER_GRACE_SECONDS)
    job = {
        "attempt_id": attempt,
        "due": due.isoformat(),
        "modelled_at": modelled_at.isoformat(),
        "request_id": request.request_id,
        "service_area": request.service_area,
        "origin": problem.origin.isoformat(),
        "seconds": policy.repair_seconds,
        "cast": list(cast),
        "takers": list(takers),
        "vehicles": [asdict(v) for v in problem.vehicles],
        "nodes": [{**asdict(n), "caregivers": sorted(n.caregivers)} for n in problem.nodes],
        "paces": paces,
        "pace_of": pace_of,
        **({"late_visit_id": late[0], "expected": late[1].isoformat()} if late is not None else {}),
    }
    uow.emit(ev.repair_requested(request, now, job))
    why = f"{policy.repair_seconds:g} s of solver time, repair {attempt}"
    uow.emit(ev.dispatch_repaired(request, now, "solving", [], 0.0, None, None, len(problem.vehicles), reason=why))
    uow.emit(ev.timer_requested(OVERDUE_KIND, attempt, request, due, now))


def search_job(job: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any] | None:
    """The solver agent's work: search the repair ``job`` (``ask_solver``) where searches run
    (``in_solver_process``) and return the answer's data for ``apply_answer``: the job's ids,
    ``routes`` (caregiver id -> [[request id, start minute from the job's origin], ...]) or None
    when nothing was found in time, ``unserved`` and the search's wall ``seconds``. None (not
    searched) when ``now`` (the clock) is past the job's ``due``: its overdue timer has placed
    the request, and a burst of falls must not queue searches nobody will use. Raises
    ``KeyError``, ``TypeError`` or ``ValueError`` for a job that is not one."""
    if now is not None and "due" in job and datetime.fromisoformat(str(job["due"])) <= now:
        return None
    vehicles = [RepairVehicle(**v) for v in job["vehicles"]]
    nodes = [RepairNode(**{**n, "caregivers": frozenset(n["caregivers"])}) for n in job["nodes"]]
    legs = [job["paces"][i] for i in job["pace_of"]]
    started = wall.perf_counter()
    seconds = float(job["seconds"])
    found = in_solver_process(_search, vehicles, nodes, legs, seconds, timeout=solver_timeout(seconds))
    kept = ("attempt_id", "request_id", "service_area", "origin", "modelled_at", "cast", "takers", "late_visit_id",
            "expected")  # fmt: skip
    answer = {k: job[k] for k in kept if k in job}
    routes, unserved = found if found is not None else (None, ())
    return {
        **answer,
        "routes": None if routes is None else {c: [[rid, m] for rid, m in stops] for c, stops in routes.items()},
        "unserved": list(unserved),
        "seconds": round(wall.perf_counter() - started, 3),
    }


def _waiting(request: CareRequest | None, attempt: str, uow: UnitOfWork) -> bool:
    """Whether ``request`` still waits for the repair ``attempt``: not final, not booked, no offer
    pending, and no offer made since the fall that started it."""
    if request is None or request.status.is_final or request.status != RequestStatus.RECEIVED:
        return False
    if uow.visits.for_request(request.request_id) is not None:
        return False
    made = uow.offers.for_request(request.request_id)
    if any(o.status == OfferStatus.PENDING for o in made):
        return False
    return attempt == attempt_id(request.request_id, len(made))


def apply_answer(
    answer: Mapping[str, Any], uow: UnitOfWork, now: datetime, policy: DispatchPolicy, travel: TravelTimes
) -> bool:
    """Use a repair's answer (``search_job``'s data) at ``now``: the first of the answer and the
    overdue timer to come decides (``uow.claim``); nothing when the request no longer waits for
    this repair. The model is rebuilt from the day as it is now, for the same caregivers; when the
    answer's routes still hold in it (``_stale``) the request is offered at its slot and what moved
    moves (as a repair in the worker's own thread does), else it goes to insertion saying why.
    Returns True when the answer placed it."""
    attempt = str(answer["attempt_id"])
    if not uow.claim(f"repair:{attempt}"):
        return False
    if answer.get("late_visit_id"):
        return _replace_late_now(answer, uow, now, policy, travel)
    request = uow.requests.get(str(answer["request_id"]))
    if request is None or not _waiting(request, attempt, uow):
        return False
    made = uow.offers.for_request(request.request_id)
    why, problem, result, by_id, minutes = _rebuilt(answer, request, made, None, uow, now, policy, travel)
    if why is not None or problem is None or result is None:
        return _fallback(request, uow, now, policy, travel, why or "the solver found no answer in time")
    fell = max(made, key=lambda o: o.created_at) if made else None
    attempt_done = _carry_out(request, problem, result, fell, len(made), by_id, minutes, uow, now, policy, travel)
    if not attempt_done.placed:
        return _fallback(request, uow, now, policy, travel, attempt_done.reason, result)
    return True


def _rebuilt(
    answer: Mapping[str, Any],
    request: CareRequest,
    made: Sequence[Offer],
    before: datetime | None,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
) -> tuple[str | None, _Problem | None, RepairResult | None, dict[str, Caregiver], Minutes]:
    """The answer against the day as it is ``now``: (why it cannot be used or None, the rebuilt
    model, the answer as a result in its minutes, the caregivers by id, their travel minutes).
    The same caregivers as the job's, the takers checked again (an exclusion or absence since)."""
    by_id = {c: cg for c in answer["cast"] if (cg := uow.caregivers.get(c)) is not None and cg.active}

    def minutes(cid: str, a: int, b: int) -> float:
        return travel_for(by_id[cid], travel).minutes(a, b)

    routes = answer.get("routes")
    if routes is None:
        return "the solver found no answer in time", None, None, by_id, minutes
    if request.request_id in answer.get("unserved", ()):
        return "the solver left the request out", None, None, by_id, minutes
    fell = max(made, key=lambda o: o.created_at) if made else None
    context, asked = uow.ranking_context(request, now), {o.caregiver_id for o in made}
    takers = {
        c for c in answer["takers"] if c in by_id and _excluded(request, by_id[c], policy, context, asked) is None
    }
    # the day as the job saw it ahead, or as it is now if later: both models agree on what is under way
    modelled = datetime.fromisoformat(str(answer["modelled_at"])) if answer.get("modelled_at") else now
    problem = _problem(request, list(by_id.values()), takers, uow, max(now, modelled), policy, travel, fell, before)
    shift = _minute(problem.origin, datetime.fromisoformat(str(answer["origin"])))
    moved = {c: [(str(rid), int(m) + shift) for rid, m in stops] for c, stops in routes.items()}
    why = _stale(problem, moved, request.request_id, minutes)
    if why is not None:
        return f"the day changed during the search: {why}", None, None, by_id, minutes
    moved = {c: stops for c, stops in moved.items() if any(v.caregiver_id == c for v in problem.vehicles)}
    objective = route_cost(problem.vehicles, {n.request_id: n for n in problem.nodes}, moved, minutes)
    result = RepairResult(moved, tuple(answer.get("unserved", ())), objective, float(answer.get("seconds", 0.0)))
    return None, problem, result, by_id, minutes


def _still_late(request: CareRequest | None, visit: Visit | None) -> bool:
    """Whether a late caregiver's visit still waits for its replacement: booked, not begun."""
    return (
        request is not None
        and not request.status.is_final
        and visit is not None
        and visit.status == VisitStatus.SCHEDULED
        and visit.check_in_at is None
    )


def _replace_late_now(
    answer: Mapping[str, Any], uow: UnitOfWork, now: datetime, policy: DispatchPolicy, travel: TravelTimes
) -> bool:
    """``apply_answer`` for a late caregiver's replacement: when the answer still holds, her visit
    is handed over (``handlers.visits.lateness.hand_over``) and the new caregiver offered the slot;
    otherwise the late check runs again without a repair (another caregiver ranked, or the alert
    with the new expected time), as it would have in the batch."""
    from handlers.visits import lateness  # lateness offers through offers, as the repair does

    request = uow.requests.get(str(answer["request_id"]))
    visit = uow.visits.get(str(answer["late_visit_id"]))
    if not _still_late(request, visit):
        return False
    assert request is not None and visit is not None
    made = uow.offers.for_request(request.request_id)
    if any(o.status == OfferStatus.PENDING for o in made):
        return False
    expected = datetime.fromisoformat(str(answer["expected"]))
    late = uow.caregivers.get(visit.caregiver_id)
    home = late.home_base_index if late is not None else None
    fresh = lateness.expected_arrival(visit, uow.visits.for_caregiver(visit.caregiver_id), home, travel, now)
    if fresh <= request.latest_start:
        return False  # on time again (an early check-out meanwhile): her visit stands
    why, problem, result, by_id, minutes = _rebuilt(answer, request, made, expected, uow, now, policy, travel)
    if why is None and problem is not None and result is not None:
        fell = max(made, key=lambda o: o.created_at) if made else None
        placed = _carry_out(request, problem, result, fell, len(made), by_id, minutes, uow, now, policy, travel,
                            expected, lambda cid: lateness.hand_over(request, visit, fresh, cid, uow, now))  # fmt: skip
        if placed.placed:
            return True
        why = placed.reason
    _rank_the_late_one(request, visit, f"{why}; the late caregiver's replacement is ranked", uow, now, policy, travel)
    return False


def _rank_the_late_one(
    request: CareRequest,
    visit: Visit,
    reason: str,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
) -> None:
    """The late check again without a repair (``handlers.visits.lateness.check_visit``): another
    caregiver ranked, or the alert with her new expected time; the audit trail says why the repair
    gave way only when she is still late."""
    from handlers.visits import lateness

    if lateness.check_visit(visit, uow, now, policy, travel, on_the_way=False):
        uow.emit(ev.dispatch_repaired(request, now, "insertion", [], 0.0, None, None, 0, reason=reason))


def answer_overdue(attempt: str, uow: UnitOfWork, now: datetime, policy: DispatchPolicy, travel: TravelTimes) -> bool:
    """The overdue timer of repair ``attempt`` (``<request id>#<n>``, a late caregiver's
    ``<request id>#<n>L<k>``): when no answer came first (``uow.claim``) and the request still
    waits, insertion offers it (a late visit: the late check runs again). True when it acted."""
    if not uow.claim(f"repair:{attempt}"):
        return False
    head, _, tail = attempt.rpartition("#")
    request = uow.requests.get(head)
    if "L" in tail:  # a late caregiver's replacement: the late check runs again without it
        visit = uow.visits.for_request(head) if request is not None else None
        made = len(uow.offers.for_request(head))
        if not _still_late(request, visit) or str(made) != tail.partition("L")[0]:
            return False  # handed over, begun, or another offer since: not this repair's visit
        assert request is not None and visit is not None
        _rank_the_late_one(request, visit, "the solver did not answer in time; the late caregiver's replacement is "
                           "ranked", uow, now, policy, travel)  # fmt: skip
        return True
    if request is None or not _waiting(request, attempt, uow):
        return False
    _fallback(request, uow, now, policy, travel, "the solver did not answer in time")
    return True


def _stale(problem: _Problem, routes: dict[str, list[tuple[str, int]]], falling: str, minutes: Minutes) -> str | None:
    """Why ``routes`` (minutes from ``problem.origin``) no longer hold in ``problem`` (the day as
    it is now), or None. Stops of movable offers and plan slots gone since (answered, arrived,
    expired) are dropped from ``routes`` first (in place: the walk below checks what is left), and
    empty routes of caregivers no longer in it are ignored. Then: every stop is a node of it on a
    caregiver who may do it, reached in time from where she is free, inside its start range (soft
    windows up to ``max_late``), she is back by her shift's end, every fixed booking and every
    pending offer the search had to keep is still on a route, and the request that fell is placed."""
    nodes = {n.request_id: n for n in problem.nodes}
    vehicles = {v.caregiver_id: v for v in problem.vehicles}
    for stops in routes.values():
        stops[:] = [(rid, start) for rid, start in stops if rid in nodes or rid == falling]
    seen: set[str] = set()
    for cid, stops in routes.items():
        v = vehicles.get(cid)
        if v is None:
            if stops:
                return f"{cid} is no longer free to take part"
            continue
        t, at = v.free_at, v.location
        for rid, start in stops:
            n = nodes.get(rid)
            if n is None:
                return f"{rid} is no longer open"
            if (n.pinned is not None and n.pinned != cid) or (n.pinned is None and cid not in n.caregivers):
                return f"{rid} may no longer go to {cid}"
            leg = 0 if at == n.location else int(math.ceil(minutes(cid, at, n.location)))
            last = n.latest if n.hard else n.latest + n.max_late
            if start < t + leg or start < n.earliest or start > last:
                return f"{rid} can no longer start at minute {start} with {cid}"
            t, at = start + n.duration, n.location
            seen.add(rid)
        back = 0 if at == v.home else int(math.ceil(minutes(cid, at, v.home)))
        if v.back_by is not None and stops and t + back > v.back_by:
            return f"{cid} would be home after her shift"
    kept = [n.request_id for n in problem.nodes if (n.pinned is not None or n.required) and n.request_id not in seen]
    if kept:
        return f"a booking made meanwhile is not in the answer ({kept[0]})"
    if falling not in seen:
        return "the request is not in the answer"
    return None


__all__ = [
    "ANSWER_GRACE_SECONDS",
    "OVERDUE_KIND",
    "RepairNode",
    "RepairResult",
    "RepairVehicle",
    "repair_or_offer",
    "replace_late",
    "route_cost",
    "search_job",
    "solve_repair",
    "ask_solver",
    "apply_answer",
    "answer_overdue",
    "attempt_id",
]
