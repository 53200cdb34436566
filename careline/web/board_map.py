"""The board's map: open requests and caregivers of one service area on a 0..1 plane.

Elders' latitude and longitude are projected when every open request has them;
otherwise positions come from the area's travel-time matrix
(``handlers.operations.mapping.plane_from_travel_matrix``), cached per area for
5 minutes since the matrix changes only with the register.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from db.dashboard import travel_matrix
from db.session import Session
from handlers.model import Elder, VisitStatus
from handlers.operations.mapping import fit_to_view, plane_from_travel_matrix, project_lat_lon
from handlers.operations.queues import Snapshot, activities

_plane_cache: dict[str, tuple[float, dict[int, tuple[float, float]]]] = {}


def _plane(session: Session, area: str) -> dict[int, tuple[float, float]]:
    cached = _plane_cache.get(area)
    if cached and time.monotonic() - cached[0] < 300:
        return cached[1]
    plane = dict(enumerate(plane_from_travel_matrix(travel_matrix(session, area) or [])))
    _plane_cache[area] = (time.monotonic(), plane)
    return plane


def _spread(points: dict[str, tuple[float, float]], step: float = 0.06) -> dict[str, tuple[float, float]]:
    """Points at the same spot (one home, several requests; a caregiver at the visit) are
    stacked downwards one label height apart, so each stays visible and readable."""
    groups: dict[tuple[float, float], list[str]] = {}
    for key, xy in sorted(points.items()):
        groups.setdefault(xy, []).append(key)
    return {
        key: (x, round(min(0.98, y + i * step), 4)) for (x, y), keys in groups.items() for i, key in enumerate(keys)
    }


@dataclass(frozen=True)
class MapPoint:
    kind: str  # "request" or "caregiver"
    ident: str
    x: float
    y: float
    state: str
    emergency: bool = False


def map_points(session: Session, snap: Snapshot, elders: dict[str, Elder], area: str, now: datetime) -> list[MapPoint]:
    """Open requests and caregivers of ``area`` on a 0..1 plane: elders' latitude and
    longitude when all open requests have them, else the travel-matrix plane."""
    open_requests = [r for r in snap.requests if r.service_area == area and not r.status.is_final]
    caregivers = [c for c in snap.caregivers if c.service_area == area]
    states = activities(snap, now)
    current = {v.caregiver_id: v for v in snap.visits if v.status == VisitStatus.IN_PROGRESS}
    geo: dict[str, tuple[float, float]] = {}
    for r in open_requests:
        elder = elders.get(r.elder_id)
        if elder is not None and elder.latitude is not None and elder.longitude is not None:
            geo[r.request_id] = (elder.latitude, elder.longitude)
    raw: dict[str, tuple[float, float]] = {}
    if open_requests and len(geo) == len(open_requests):
        raw = {f"r:{k}": p for k, p in project_lat_lon(geo).items()}
    else:
        plane = _plane(session, area)
        for r in open_requests:
            if r.location_index in plane:
                raw[f"r:{r.request_id}"] = plane[r.location_index]
        for c in caregivers:
            where = current[c.caregiver_id].location_index if c.caregiver_id in current else c.home_base_index
            if where in plane:
                raw[f"c:{c.caregiver_id}"] = plane[where]
    fitted = _spread(fit_to_view(raw, margin=0.08))
    by_id = {r.request_id: r for r in open_requests}
    points = []
    for key, (x, y) in sorted(fitted.items()):
        kind, ident = key.split(":", 1)
        if kind == "r":
            r = by_id[ident]
            points.append(MapPoint("request", ident, x, y, r.status.value, r.priority.value == "stat"))
        else:
            points.append(MapPoint("caregiver", ident, x, y, states[ident].value))
    return points
