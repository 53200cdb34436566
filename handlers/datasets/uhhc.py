"""Read UHHC home-healthcare routing instances and judge routes against them.

Source: the UHHC problem repository (iolab-uniud/uhhc), "A Unified Formulation
for Home Healthcare Routing and Scheduling Problems", International
Transactions in Operational Research, 2026, doi 10.1111/itor.70140, CC BY 4.0.

Times in an instance are minutes from the start of the day; travel is the
``distances`` matrix in minutes. Tardiness of a visit is how many minutes its
start exceeds the window end (or its end does, when the instance says
``time_window_met: at_service_end``). Travel of a route counts the legs from
the departing terminal through every visit back to the arrival terminal.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from handlers.model import SyncType


class InstanceError(ValueError):
    """The instance file does not have the UHHC shape; the message names the field."""


class SolutionError(InstanceError):
    """A solution file does not have the UHHC solution shape, or names a caregiver,
    patient or service the instance does not have; the message names the route and field."""


@dataclass(frozen=True)
class ServiceNeed:
    """One service a patient needs: the seed of one care request."""

    patient_id: str
    service_id: str
    duration: float
    location_index: int
    window_start: float
    window_end: float
    sync_type: SyncType | None = None
    sync_partner: str | None = None  # service id of the anchor, for a follower
    sync_min_gap: float = 0.0
    sync_max_gap: float = 0.0
    windows: tuple[tuple[float, float], ...] = ()
    """Every (start, end) window of the patient in ascending order, minutes; empty means
    the one window ``window_start``..``window_end``. ``window_start``/``window_end`` are
    the first window (what online dispatch offers)."""

    @property
    def all_windows(self) -> tuple[tuple[float, float], ...]:
        """``windows``, or the one first window when the need was built without them."""
        return self.windows or ((self.window_start, self.window_end),)


@dataclass(frozen=True)
class RosterEntry:
    """A UHHC caregiver: abilities (service ids), home terminal matrix index, shift start/end in minutes from the start of the day."""

    caregiver_id: str
    abilities: tuple[str, ...]
    home_index: int
    shift_start: float
    shift_end: float


@dataclass(frozen=True)
class Instance:
    """A parsed UHHC day: matrix (minutes), needs, roster, and the instance's rules (windows at service end, hard windows, hard shift end, horizon in minutes)."""

    name: str
    distances: tuple[tuple[float, ...], ...]
    needs: tuple[ServiceNeed, ...]
    roster: tuple[RosterEntry, ...]
    at_service_end: bool
    windows_hard: bool
    shift_end_hard: bool
    horizon: float
    raw: Mapping[str, Any]

    def latest_start(self, need: ServiceNeed) -> float:
        """The latest on-time start in the need's first window (minutes)."""
        return need.window_end - (need.duration if self.at_service_end else 0.0)

    def start_ranges(self, need: ServiceNeed) -> list[tuple[float, float]]:
        """On-time start ranges (earliest, latest) of every window, ascending; a window
        shorter than the service (``at_service_end``) has an empty range and is left out."""
        cut = need.duration if self.at_service_end else 0.0
        return [(start, end - cut) for start, end in need.all_windows if end - cut >= start]

    def tardiness(self, need: ServiceNeed, start: float) -> float:
        """Minutes a visit starting at ``start`` is late: 0 inside any window's on-time
        range, otherwise the minutes past the latest on-time start of the last window
        that had opened by then (0 before the first window opens). With one window this
        is ``max(0, start - latest_start)``."""
        cut = need.duration if self.at_service_end else 0.0
        opened = [end - cut for begin, end in need.all_windows if begin <= start + 1e-9]
        if not opened:
            return 0.0
        if any(begin <= start + 1e-9 and start <= end - cut + 1e-9 for begin, end in need.all_windows):
            return 0.0
        return max(0.0, start - opened[-1])

    def need(self, patient_id: str, service_id: str) -> ServiceNeed:
        """The need of ``patient_id`` for ``service_id``; raises ``KeyError`` when the instance has none."""
        for n in self.needs:
            if n.patient_id == patient_id and n.service_id == service_id:
                return n
        raise KeyError(f"{patient_id}/{service_id}")


def _field(obj: Any, name: str, where: str) -> Any:
    if not isinstance(obj, Mapping):
        raise InstanceError(f"{where}: not a JSON object")
    if name not in obj:
        raise InstanceError(f"{where}: missing field '{name}'")
    return obj[name]


def _optional(obj: Any, name: str, where: str) -> Mapping[str, Any]:
    """An optional object field: ``{}`` when absent or null."""
    value = obj.get(name) if isinstance(obj, Mapping) else None
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InstanceError(f"{where}: '{name}' must be an object")
    return value


def _list(obj: Any, name: str, where: str) -> list[Any]:
    value = _field(obj, name, where)
    if not isinstance(value, list) or not value:
        raise InstanceError(f"{where}: '{name}' must be a non-empty list")
    return value


def _text(obj: Any, name: str, where: str) -> str:
    value = _field(obj, name, where)
    if not isinstance(value, str) or not value:
        raise InstanceError(f"{where}: '{name}' must be a non-empty string")
    return value


def _number(value: Any, where: str, name: str, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InstanceError(f"{where}: '{name}' must be a finite number")
    if minimum is not None and value < minimum:
        raise InstanceError(f"{where}: '{name}' must be at least {minimum:g}")
    return float(value)


def _index(obj: Any, where: str, size: int) -> int:
    value = _field(obj, "distance_matrix_index", where)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < size:
        raise InstanceError(f"{where}: 'distance_matrix_index' must be a row of the {size}x{size} distance matrix")
    return value


def _distances(data: Mapping[str, Any]) -> tuple[tuple[float, ...], ...]:
    rows = _list(data, "distances", "instance")
    if not all(isinstance(row, list) and len(row) == len(rows) for row in rows):
        raise InstanceError("instance: 'distances' must be a square matrix")
    return tuple(tuple(_number(x, f"distances[{i}]", "minutes", 0) for x in row) for i, row in enumerate(rows))


def _patient_needs(p: Any, size: int) -> list[ServiceNeed]:
    where = f"patient {p.get('id', '?') if isinstance(p, Mapping) else '?'}"
    patient_id, index = _text(p, "id", where), _index(p, where, size)
    windows = []
    for window in _list(p, "time_windows", where):
        w_start = _number(_field(window, "start", where), where, "time_windows.start")
        windows.append((w_start, _number(_field(window, "end", where), where, "time_windows.end", w_start)))
    windows.sort()
    for (_, end_a), (start_b, _) in zip(windows, windows[1:], strict=False):
        if start_b < end_a:
            raise InstanceError(f"{where}: 'time_windows' overlap ({start_b:g} starts before {end_a:g} ends)")
    start, end = windows[0]
    services = _list(p, "required_services", where)
    sync = _optional(p, "synchronization", where)
    try:
        sync_type = SyncType(sync["type"]) if sync.get("type") else None
    except (ValueError, TypeError):
        raise InstanceError(f"{where}: unknown synchronization type {sync['type']!r:.40}") from None
    gap = _optional(sync, "distance", where)
    needs = []
    for i, s in enumerate(services):
        follower = i == 1 and sync_type in (SyncType.SIMULTANEOUS, SyncType.SEQUENTIAL)
        needs.append(
            ServiceNeed(
                patient_id=patient_id,
                service_id=_text(s, "service", where),
                duration=_number(_field(s, "duration", where), where, "duration", 0),
                location_index=index,
                window_start=start,
                window_end=end,
                sync_type=sync_type if len(services) > 1 else None,
                sync_partner=services[0]["service"] if follower else None,
                sync_min_gap=_number(gap.get("min", 0), where, "distance.min", 0) if follower else 0.0,
                sync_max_gap=_number(gap.get("max", 0), where, "distance.max", 0) if follower else 0.0,
                windows=tuple(windows),
            )
        )
    return needs


def _roster_entry(c: Any, terminals: Mapping[str, int], horizon: float) -> RosterEntry:
    where = f"caregiver {c.get('id', '?') if isinstance(c, Mapping) else '?'}"
    abilities = _field(c, "abilities", where)
    if not isinstance(abilities, list) or not all(isinstance(a, str) for a in abilities):
        raise InstanceError(f"{where}: 'abilities' must be a list of service ids")
    departing = _field(c, "departing_point", where)
    if not isinstance(departing, str) or departing not in terminals:
        raise InstanceError(f"{where}: 'departing_point' is not one of the terminal_points")
    shift = _optional(c, "working_shift", where)
    start = _number(shift.get("start", 0), where, "working_shift.start")
    return RosterEntry(
        _text(c, "id", where),
        tuple(abilities),
        terminals[departing],
        start,
        _number(shift.get("end", horizon), where, "working_shift.end", start),
    )


def _refuse_unplanned_features(data: Mapping[str, Any], costs: Mapping[str, Any]) -> None:
    """Raise ``InstanceError`` naming an instance feature the planner would otherwise
    ignore and so break: lunch breaks, incompatible caregivers, hard caregiver
    preferences (``caregiver_preferences`` absent or ``HARD``, as the authors'
    validator reads it), a caregiver ending the day elsewhere than it started."""
    if data.get("lunch_breaks"):
        raise InstanceError("instance: 'lunch_breaks' are not planned by careline (refused rather than ignored)")
    hard_preferences = costs.get("caregiver_preferences", "HARD") == "HARD"
    # a list of the wrong shape is left to the parser after this check, which names the field
    caregivers, patients = data.get("caregivers"), data.get("patients")
    for c in caregivers if isinstance(caregivers, list) else ():
        if not isinstance(c, Mapping):
            continue
        where = f"caregiver {c.get('id', '?')}"
        if c.get("lunch_break"):
            raise InstanceError(f"{where}: 'lunch_break' is not planned by careline (refused rather than ignored)")
        arrival = c.get("arrival_point")
        if arrival is not None and arrival != c.get("departing_point"):
            raise InstanceError(
                f"{where}: 'arrival_point' differs from 'departing_point'; careline plans round trips only"
            )
    for p in patients if isinstance(patients, list) else ():
        if not isinstance(p, Mapping):
            continue
        where = f"patient {p.get('id', '?')}"
        if p.get("incompatible_caregivers"):
            raise InstanceError(
                f"{where}: 'incompatible_caregivers' are not planned by careline (refused rather than ignored)"
            )
        if p.get("preferred_caregivers") and hard_preferences:
            raise InstanceError(
                f"{where}: hard 'preferred_caregivers' are not planned by careline (refused rather than ignored)"
            )


def parse_instance(data: Mapping[str, Any], name: str | None = None) -> Instance:
    """Turn an instance's JSON object into an ``Instance``.

    A patient with two services and ``synchronization`` ``simultaneous`` or
    ``sequential`` yields an anchor (first service) and a follower that starts
    ``distance.min``..``distance.max`` minutes after the anchor starts
    (0..0 when simultaneous). Raises ``InstanceError`` naming the first field
    that is missing or wrong: not an object or list, a time or duration that is
    not a finite number (or negative), a window ending before it starts, a
    matrix index outside the square ``distances`` matrix, an unknown terminal, overlapping
    ``time_windows``; and for a feature careline does not plan (``_refuse_unplanned_features``:
    lunch breaks, incompatible or hard-preferred caregivers, one-way caregiver days).
    Several ``time_windows`` per patient are kept (``ServiceNeed.windows``); cost components
    other than travel and tardiness are listed by ``ignored_cost_components``.
    """
    meta = _field(data, "metadata", "instance")
    if not isinstance(meta, Mapping):
        raise InstanceError("instance: 'metadata' must be an object")
    for required in ("terminal_points", "patients", "caregivers", "distances"):
        _field(data, required, "instance")
    costs = _optional(meta, "cost_components", "metadata")
    _refuse_unplanned_features(data, costs)
    distances = _distances(data)
    terminals = {
        _text(t, "id", "terminal point"): _index(t, "terminal point", len(distances))
        for t in _list(data, "terminal_points", "instance")
    }
    needs = [n for p in _list(data, "patients", "instance") for n in _patient_needs(p, len(distances))]
    horizon = meta.get("horizon")
    horizon = _number(horizon, "metadata", "horizon", 0) if horizon else max(n.all_windows[-1][1] for n in needs) + 480
    roster = tuple(_roster_entry(c, terminals, horizon) for c in _list(data, "caregivers", "instance"))
    return Instance(
        name=name or f"{meta.get('origin', '')}-{meta.get('name', '')}".strip("-"),
        distances=distances,
        needs=tuple(needs),
        roster=roster,
        at_service_end=meta.get("time_window_met") == "at_service_end",
        windows_hard=costs.get("total_tardiness") == "HARD",
        shift_end_hard=costs.get("total_extra_time") == "HARD",
        horizon=horizon,
        raw=data,
    )


def load_instance(text: str | bytes, name: str | None = None) -> Instance:
    """``parse_instance`` of a replay file's text (UTF-8 JSON). Raises ``InstanceError``
    for text that is not UTF-8 JSON (or nested too deeply to read) and for every
    problem ``parse_instance`` names."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InstanceError(f"instance: not UTF-8 JSON ({type(exc).__name__}: {str(exc)[:80]})") from None
    if not isinstance(data, Mapping):
        raise InstanceError("instance: not a JSON object")
    return parse_instance(data, name)


@dataclass(frozen=True)
class Stop:
    """A visit on a route: ``start``/``end`` in minutes from the start of the day."""

    patient_id: str
    service_id: str
    start: float
    end: float


@dataclass(frozen=True)
class RouteCost:
    """What the UHHC objective counts, recomputed from routes (minutes)."""

    travel_time: float
    total_tardiness: float
    highest_tardiness: float
    visits: int
    unserved: int
    late_visits: int = 0

    @property
    def in_window_share(self) -> float | None:
        """Share of served visits that start on time (0..1); None when nothing was served."""
        return None if not self.visits else (self.visits - self.late_visits) / self.visits


def routes_from_solution(solution: Any) -> dict[str, list[Stop]]:
    """Routes of a UHHC solution file (a JSON object), caregiver id -> stops in order.

    Shape: ``routes`` [{``caregiver_id``, ``locations`` [{``patient``, ``service``,
    ``arrival_time``, ``departure_time``}]}] with times in minutes; ``arrival_time`` is
    the service start. A caregiver with no visits may have no ``locations`` (or
    ``null``, or an empty list) or no route at all. Other fields (``cost``,
    ``cost_components``, ``global_ordering``) are not read. Raises ``SolutionError``
    naming the route and field that is missing or wrong.
    """
    try:
        return _solution_routes(solution)
    except SolutionError:
        raise
    except InstanceError as exc:
        raise SolutionError(str(exc)) from None


def _solution_routes(solution: Any) -> dict[str, list[Stop]]:
    if not isinstance(solution, Mapping):
        raise SolutionError("solution: not a JSON object")
    raw_routes = solution.get("routes")
    if not isinstance(raw_routes, list):
        raise SolutionError("solution: 'routes' must be a list")
    routes: dict[str, list[Stop]] = {}
    for i, r in enumerate(raw_routes):
        where = f"solution routes[{i}]"
        caregiver_id = _text(r, "caregiver_id", where)
        where = f"solution route of {caregiver_id}"
        if caregiver_id in routes:
            raise SolutionError(f"{where}: caregiver has two routes")
        locations = r.get("locations")
        if locations is None:
            locations = []
        if not isinstance(locations, list):
            raise SolutionError(f"{where}: 'locations' must be a list")
        stops = []
        for j, s in enumerate(locations):
            at = f"{where}, locations[{j}]"
            arrival = _number(_field(s, "arrival_time", at), at, "arrival_time")
            stops.append(
                Stop(
                    _text(s, "patient", at),
                    _text(s, "service", at),
                    arrival,
                    _number(_field(s, "departure_time", at), at, "departure_time", arrival),
                )
            )
        routes[caregiver_id] = stops
    return routes


def check_solution_against(instance: Instance, routes: Mapping[str, Sequence[Stop]]) -> None:
    """Raise ``SolutionError`` when routes name a caregiver, or a patient/service pair,
    that the instance does not have, or serve a pair twice."""
    caregivers = {c.caregiver_id for c in instance.roster}
    needs = {(n.patient_id, n.service_id) for n in instance.needs}
    seen: set[tuple[str, str]] = set()
    for caregiver_id, stops in routes.items():
        if caregiver_id.split("~")[0] not in caregivers:
            raise SolutionError(f"solution route of {caregiver_id}: no such caregiver in {instance.name}")
        for stop in stops:
            pair = (stop.patient_id, stop.service_id)
            if pair not in needs:
                raise SolutionError(
                    f"solution route of {caregiver_id}: {stop.patient_id}/{stop.service_id} is not a need of {instance.name}"
                )
            if pair in seen:
                raise SolutionError(f"solution: {stop.patient_id}/{stop.service_id} is served twice")
            seen.add(pair)


def solution_from_routes(instance: Instance, routes: Mapping[str, Sequence[Stop]]) -> dict[str, Any]:
    """Routes as a UHHC solution object, the shape of the published solutions
    (``solutions/*.sa.json``): ``cost_components`` recomputed by ``evaluate_routes``
    (``travel_time``, ``total_tardiness``, ``highest_tardiness``, whole minutes: the
    authors' validator (iolab-uniud/uhhc-toolbox) reads them as integers),
    ``global_ordering`` (every served patient once, by the start of their first visit),
    ``routes`` with one entry per caregiver of the instance in roster order, each
    ``locations`` [{``arrival_time``, ``departure_time``, ``patient``, ``service``}] in
    visiting order (``arrival_time`` = service start, minutes; whole minutes are written
    as integers). A caregiver without visits is written without ``locations`` (the
    validator fails on an empty list).
    ``routes_from_solution`` reads it back to the same routes."""

    def minute(x: float) -> float | int:
        return int(x) if float(x).is_integer() else x

    cost = evaluate_routes(instance, routes)
    first: dict[str, tuple[float, int]] = {}
    out_routes = []
    for v, c in enumerate(instance.roster):
        stops = sorted(routes.get(c.caregiver_id, ()), key=lambda s: s.start)
        for s in stops:
            first[s.patient_id] = min(first.get(s.patient_id, (s.start, v)), (s.start, v))
        route: dict[str, Any] = {"caregiver_id": c.caregiver_id}
        if stops:  # the authors' validator reads a route without locations as empty, not []
            route["locations"] = [
                {
                    "arrival_time": minute(s.start),
                    "departure_time": minute(s.end),
                    "patient": s.patient_id,
                    "service": s.service_id,
                }
                for s in stops
            ]
        out_routes.append(route)
    return {
        "cost_components": {
            "highest_tardiness": round(cost.highest_tardiness),
            "total_tardiness": round(cost.total_tardiness),
            "travel_time": round(cost.travel_time),
        },
        "global_ordering": sorted(first, key=lambda p: first[p]),
        "routes": out_routes,
    }


HONOURED_COST_COMPONENTS = frozenset({"travel_time", "total_tardiness", "highest_tardiness"})
"""Cost components the planner counts (``handlers.dispatch.planning.plan_objective``);
``total_extra_time`` only as ``HARD`` (the shift end is a hard bound)."""


def ignored_cost_components(instance: Instance) -> list[str]:
    """Cost components of the instance's ``metadata.cost_components`` that the planner
    does not count, as ``name (weight)``, e.g. ``total_waiting_time (1)``: anything but
    travel and tardiness, and ``total_extra_time`` unless it is ``HARD``. Components
    with weight 0 are not listed."""
    costs = instance.raw.get("metadata", {}).get("cost_components") or {}
    if not isinstance(costs, Mapping):
        return []
    ignored = []
    for name, weight in costs.items():
        if name in HONOURED_COST_COMPONENTS or weight == 0 or (name == "total_extra_time" and weight == "HARD"):
            continue
        ignored.append(f"{name} ({weight})")
    return ignored


def evaluate_routes(instance: Instance, routes: Mapping[str, Sequence[Stop]]) -> RouteCost:
    """Travel minutes and tardiness of routes, per the UHHC definitions above
    (``Instance.tardiness`` for patients with several windows), and how many served
    visits were late. Stops are visited in ascending start time."""
    by_id = {c.caregiver_id: c for c in instance.roster}
    travel = total = highest = 0.0
    late_visits = 0
    served: set[tuple[str, str]] = set()
    for caregiver_id, stops in routes.items():
        home = by_id[caregiver_id.split("~")[0]].home_index  # "c1~p2": c1's twin at another provider
        here = home
        for stop in sorted(stops, key=lambda s: s.start):
            need = instance.need(stop.patient_id, stop.service_id)
            travel += instance.distances[here][need.location_index]
            here = need.location_index
            late = instance.tardiness(need, stop.start)
            late_visits += late > 1e-6
            total += late
            highest = max(highest, late)
            served.add((stop.patient_id, stop.service_id))
        if stops:
            travel += instance.distances[here][home]
    unserved = sum(1 for n in instance.needs if (n.patient_id, n.service_id) not in served)
    return RouteCost(travel, total, highest, len(served), unserved, late_visits)


def submission_minute(need: ServiceNeed, lead_minutes: float) -> float:
    """When the request for a need is submitted: ``lead_minutes`` before its
    window opens, never before the start of the day (minute 0)."""
    return max(0.0, need.window_start - lead_minutes)


def needs_in_submission_order(instance: Instance, lead_minutes: float) -> Iterable[ServiceNeed]:
    """Needs sorted by submission time; an anchor always precedes its follower."""
    order = {id(n): i for i, n in enumerate(instance.needs)}
    return sorted(instance.needs, key=lambda n: (submission_minute(n, lead_minutes), order[id(n)]))


def published_costs(instance_path: Path, instance: Instance) -> dict[str, RouteCost]:
    """Published solutions beside the instance (``../solutions/<stem>.<method>.json``),
    recomputed from their routes. Raises ``SolutionError`` (naming the file) for a file
    that is not a UHHC solution of this instance, ``OSError`` when one cannot be read."""
    found: dict[str, RouteCost] = {}
    folder = instance_path.resolve().parent.parent / "solutions"
    for p in sorted(folder.glob(f"{instance_path.stem}.*.json")):
        try:
            routes = routes_from_solution(json.loads(p.read_text()))
            check_solution_against(instance, routes)
        except ValueError as exc:  # SolutionError and JSON errors
            raise SolutionError(f"{p}: {exc}") from None
        found[p.name.removeprefix(instance_path.stem + ".").removesuffix(".json")] = evaluate_routes(instance, routes)
    return found
