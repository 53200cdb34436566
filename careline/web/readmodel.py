"""Read what the dashboard and the statistics show, from the database, into the
plain lists ``handlers.operations.queues`` and ``handlers.operations.alerts`` compute on.

Scoping happens in SQL first (only service areas inside the operator's region
are read) and again in the pure functions. "Now" is the clock every component
reads: the replay clock when one is set, else the wall clock.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from db import tables
from handlers.operations.alerts import Acknowledgement
from db.register import read_clock
from handlers.operations.mapping import fit_to_view, plane_from_travel_matrix, project_lat_lon
from handlers.model import FINAL_STATUSES, CareRequest, Caregiver, Elder, Offer, Visit, VisitStatus
from handlers.operations.queues import Snapshot, activities
from handlers.operations.regions import areas_within, child_regions

#: Closed requests stay in real-time views this long (TaskRouter's task time-to-live, 24 h).
RECENT_SECONDS = 24 * 3600
_R, _O, _V = tables.care_requests.c, tables.offers.c, tables.visits.c


def clock_now(session: Session) -> datetime:
    return read_clock(session).now()


def area_regions(session: Session) -> dict[str, str]:
    t = tables.service_area_regions.c
    return dict(session.execute(select(t.service_area, t.region_path)).all())


def areas_in(session: Session, regions: dict[str, str], region: str) -> list[str] | None:
    """Service areas inside ``region``; None means every area (the root)."""
    if region == "":
        return None
    known = set(session.scalars(select(tables.service_areas.c.service_area))) | set(regions)
    return sorted(areas_within(regions, known, region))


@dataclass(frozen=True)
class RegionView:
    """A region-scoped page's frame: the ``region`` path shown, its service ``areas``
    (None: every area) and the ``subregions`` one level below it for the picker."""

    region: str
    areas: list[str] | None
    subregions: list[str]


def region_view(session: Session, region: str) -> RegionView:
    """``RegionView`` of ``region`` (already checked against the operator's scope)."""
    regions = area_regions(session)
    return RegionView(region, areas_in(session, regions, region), child_regions(regions.values(), region))


def _scoped(stmt, column, areas: list[str] | None):  # noqa: ANN001, ANN202
    return stmt if areas is None else stmt.where(column.in_(areas))


def _snapshot(session: Session, request_filter, regions: dict[str, str],
              areas: list[str] | None, extra_offer_filter=None) -> Snapshot:  # noqa: ANN001
    ids = _scoped(select(_R.request_id).where(request_filter), _R.service_area, areas)
    if extra_offer_filter is not None:
        ids = ids.union(_scoped(select(_O.request_id).join(tables.care_requests, _R.request_id == _O.request_id)
                                .where(extra_offer_filter), _R.service_area, areas))
    id_list = list(session.scalars(ids))
    requests = list(session.scalars(select(CareRequest).where(_R.request_id.in_(id_list)))) if id_list else []
    offers = list(session.scalars(select(Offer).where(_O.request_id.in_(id_list)))) if id_list else []
    visits = list(session.scalars(select(Visit).where(_V.request_id.in_(id_list)))) if id_list else []
    caregivers = list(session.scalars(_scoped(select(Caregiver), tables.caregivers.c.service_area, areas)))
    return Snapshot(requests, offers, visits, caregivers, regions)


def realtime_snapshot(session: Session, region: str, now: datetime) -> Snapshot:
    """Open requests and those closed in the last ``RECENT_SECONDS``, with their offers and visits."""
    regions = area_regions(session)
    recent = or_(_R.status.not_in(list(FINAL_STATUSES)), _R.closed_at >= now - timedelta(seconds=RECENT_SECONDS))
    return _snapshot(session, recent, regions, areas_in(session, regions, region))


def window_snapshot(session: Session, region: str, start: datetime, end: datetime) -> Snapshot:
    """Requests with anything in ``[start, end)``: received, assigned, closed, or an offer."""
    regions = area_regions(session)
    touched = or_(*[(c >= start) & (c < end) for c in (_R.received_at, _R.submitted_at, _R.assigned_at,
                                                        _R.closed_at)])
    offer_touched = or_((_O.created_at >= start) & (_O.created_at < end),
                        (_O.responded_at >= start) & (_O.responded_at < end))
    return _snapshot(session, touched, regions, areas_in(session, regions, region), offer_touched)


def elders_of(session: Session, elder_ids: set[str]) -> dict[str, Elder]:
    if not elder_ids:
        return {}
    return {e.elder_id: e for e in session.scalars(select(Elder).where(tables.elders.c.elder_id.in_(elder_ids)))}


def acknowledgements(session: Session, request_ids: set[str]) -> dict[str, Acknowledgement]:
    t = tables.emergency_acknowledgements.c
    if not request_ids:
        return {}
    rows = session.execute(select(t.request_id, t.operator_id, t.acknowledged_at)
                           .where(t.request_id.in_(request_ids))).all()
    return {r.request_id: Acknowledgement(r.request_id, r.operator_id, r.acknowledged_at) for r in rows}


def escalation_steps(session: Session, request_ids: set[str]) -> dict[str, str]:
    """The last ``care.request.escalated`` step the event log holds per request."""
    t = tables.event_log.c
    if not request_ids:
        return {}
    steps: dict[str, str] = {}
    for subject, payload in session.execute(select(t.subject, t.payload).where(
            t.type == "care.request.escalated", t.subject.in_(request_ids)).order_by(t.seq)):
        step = (payload.get("data") or {}).get("step") if isinstance(payload, dict) else None
        if step:
            steps[subject] = str(step)
    return steps


_plane_cache: dict[str, tuple[float, dict[int, tuple[float, float]]]] = {}


def _plane(session: Session, area: str) -> dict[int, tuple[float, float]]:
    cached = _plane_cache.get(area)
    if cached and time.monotonic() - cached[0] < 300:
        return cached[1]
    matrix = session.execute(select(tables.service_areas.c.travel_matrix).where(
        tables.service_areas.c.service_area == area)).scalar()
    plane = dict(enumerate(plane_from_travel_matrix(matrix or [])))
    _plane_cache[area] = (time.monotonic(), plane)
    return plane


def _spread(points: dict[str, tuple[float, float]], step: float = 0.06) -> dict[str, tuple[float, float]]:
    """Points at the same spot (one home, several requests; a caregiver at the visit) are
    stacked downwards one label height apart, so each stays visible and readable."""
    groups: dict[tuple[float, float], list[str]] = {}
    for key, xy in sorted(points.items()):
        groups.setdefault(xy, []).append(key)
    return {key: (x, round(min(0.98, y + i * step), 4))
            for (x, y), keys in groups.items() for i, key in enumerate(keys)}


@dataclass(frozen=True)
class MapPoint:
    kind: str  # "request" or "caregiver"
    ident: str
    x: float
    y: float
    state: str
    emergency: bool = False


def map_points(session: Session, snap: Snapshot, elders: dict[str, Elder], area: str,
               now: datetime) -> list[MapPoint]:
    """Open requests and caregivers of ``area`` on a 0..1 plane: elders' latitude and
    longitude when all open requests have them, else the travel-matrix plane."""
    open_requests = [r for r in snap.requests if r.service_area == area and not r.status.is_final]
    caregivers = [c for c in snap.caregivers if c.service_area == area]
    states = activities(snap, now)
    current = {v.caregiver_id: v for v in snap.visits if v.status == VisitStatus.IN_PROGRESS}
    geo = {r.request_id: (elders[r.elder_id].latitude, elders[r.elder_id].longitude) for r in open_requests
           if r.elder_id in elders and elders[r.elder_id].latitude is not None
           and elders[r.elder_id].longitude is not None}
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
