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

from dataclasses import dataclass
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


def _field(obj: Mapping[str, Any], name: str, where: str) -> Any:
    if name not in obj:
        raise InstanceError(f"{where}: missing field '{name}'")
    return obj[name]


def parse_instance(data: Mapping[str, Any], name: str | None = None) -> Instance:
    """Turn an instance's JSON object into an ``Instance``.

    A patient with two services and ``synchronization`` ``simultaneous`` or
    ``sequential`` yields an anchor (first service) and a follower that starts
    ``distance.min``..``distance.max`` minutes after the anchor starts
    (0..0 when simultaneous). Raises ``InstanceError`` naming a missing field.
    """
    meta = _field(data, "metadata", "instance")
    costs = meta.get("cost_components", {})
    terminals = {t["id"]: int(t["distance_matrix_index"]) for t in _field(data, "terminal_points", "instance")}
    needs: list[ServiceNeed] = []
    for p in _field(data, "patients", "instance"):
        where = f"patient {p.get('id', '?')}"
        window = _field(p, "time_windows", where)[0]
        services = _field(p, "required_services", where)
        sync = p.get("synchronization", {}) or {}
        sync_type = SyncType(sync["type"]) if sync.get("type") else None
        gap = sync.get("distance", {}) or {}
        for i, s in enumerate(services):
            follower = i == 1 and sync_type in (SyncType.SIMULTANEOUS, SyncType.SEQUENTIAL)
            needs.append(ServiceNeed(
                patient_id=p["id"], service_id=s["service"], duration=float(s["duration"]),
                location_index=int(_field(p, "distance_matrix_index", where)),
                window_start=float(window["start"]), window_end=float(window["end"]),
                sync_type=sync_type if len(services) > 1 else None,
                sync_partner=services[0]["service"] if follower else None,
                sync_min_gap=float(gap.get("min", 0)) if follower else 0.0,
                sync_max_gap=float(gap.get("max", 0)) if follower else 0.0,
            ))
    horizon = float(meta.get("horizon") or max(n.window_end for n in needs) + 480)
    roster = tuple(
        RosterEntry(c["id"], tuple(c["abilities"]), terminals[c["departing_point"]],
                    float((c.get("working_shift") or {}).get("start", 0)),
                    float((c.get("working_shift") or {}).get("end", horizon)))
        for c in _field(data, "caregivers", "instance")
    )
    return Instance(
        name=name or f"{meta.get('origin', '')}-{meta.get('name', '')}".strip("-"),
        distances=tuple(tuple(float(x) for x in row) for row in data["distances"]),
        needs=tuple(needs), roster=roster,
        at_service_end=meta.get("time_window_met") == "at_service_end",
        windows_hard=costs.get("total_tardiness") == "HARD",
        shift_end_hard=costs.get("total_extra_time") == "HARD",
        horizon=horizon, raw=data,
    )


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
        r["caregiver_id"]: [Stop(s["patient"], s["service"], float(s["arrival_time"]),
                                 float(s["departure_time"])) for s in r["locations"]]
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
