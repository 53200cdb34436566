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
        return need.window_end - (need.duration if self.at_service_end else 0.0)

    def need(self, patient_id: str, service_id: str) -> ServiceNeed:
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
    window = _list(p, "time_windows", where)[0]
    start = _number(_field(window, "start", where), where, "time_windows.start")
    end = _number(_field(window, "end", where), where, "time_windows.end", start)
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


def parse_instance(data: Mapping[str, Any], name: str | None = None) -> Instance:
    """Turn an instance's JSON object into an ``Instance``.

    A patient with two services and ``synchronization`` ``simultaneous`` or
    ``sequential`` yields an anchor (first service) and a follower that starts
    ``distance.min``..``distance.max`` minutes after the anchor starts
    (0..0 when simultaneous). Raises ``InstanceError`` naming the first field
    that is missing or wrong: not an object or list, a time or duration that is
    not a finite number (or negative), a window ending before it starts, a
    matrix index outside the square ``distances`` matrix, an unknown terminal.
    """
    meta = _field(data, "metadata", "instance")
    if not isinstance(meta, Mapping):
        raise InstanceError("instance: 'metadata' must be an object")
    for required in ("terminal_points", "patients", "caregivers", "distances"):
        _field(data, required, "instance")
    costs = _optional(meta, "cost_components", "metadata")
    distances = _distances(data)
    terminals = {
        _text(t, "id", "terminal point"): _index(t, "terminal point", len(distances))
        for t in _list(data, "terminal_points", "instance")
    }
    needs = [n for p in _list(data, "patients", "instance") for n in _patient_needs(p, len(distances))]
    horizon = meta.get("horizon")
    horizon = _number(horizon, "metadata", "horizon", 0) if horizon else max(n.window_end for n in needs) + 480
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


def routes_from_solution(solution: Mapping[str, Any]) -> dict[str, list[Stop]]:
    """Routes of a published solution file, caregiver id -> stops in order."""
    return {
        r["caregiver_id"]: [
            Stop(s["patient"], s["service"], float(s["arrival_time"]), float(s["departure_time"]))
            for s in r["locations"]
        ]
        for r in solution["routes"]
    }


def evaluate_routes(instance: Instance, routes: Mapping[str, Sequence[Stop]]) -> RouteCost:
    """Travel minutes and tardiness of routes, per the UHHC definitions above.
    Stops are visited in ascending start time."""
    by_id = {c.caregiver_id: c for c in instance.roster}
    travel = total = highest = 0.0
    served: set[tuple[str, str]] = set()
    for caregiver_id, stops in routes.items():
        home = by_id[caregiver_id.split("~")[0]].home_index  # "c1~p2": c1's twin at another provider
        here = home
        for stop in sorted(stops, key=lambda s: s.start):
            need = instance.need(stop.patient_id, stop.service_id)
            travel += instance.distances[here][need.location_index]
            here = need.location_index
            late = max(0.0, stop.start - instance.latest_start(need))
            total += late
            highest = max(highest, late)
            served.add((stop.patient_id, stop.service_id))
        if stops:
            travel += instance.distances[here][home]
    unserved = sum(1 for n in instance.needs if (n.patient_id, n.service_id) not in served)
    return RouteCost(travel, total, highest, len(served), unserved)


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
    recomputed from their routes."""
    folder = instance_path.resolve().parent.parent / "solutions"
    return {
        p.name.removeprefix(instance_path.stem + ".").removesuffix(".json"): evaluate_routes(
            instance, routes_from_solution(json.loads(p.read_text()))
        )
        for p in sorted(folder.glob(f"{instance_path.stem}.*.json"))
    }
