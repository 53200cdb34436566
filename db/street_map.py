"""Read models of the street map and of a caregiver's day (``handlers.operations.street_map``,
``handlers.operations.caregiver_day``): plain queries for two views, outside the domain.

Points are WGS-84 degrees: an elder's home is ``elders.latitude/longitude`` (the register,
issue 15); a caregiver's home base is its ``home_base_index`` row of ``locations``. A UHHC
replay's elders have no coordinates (their places are travel-matrix indexes), so a board of
such an area keeps its schematic (``area_has_coordinates``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from db import tables
from handlers.operations.caregiver_day import Stop
from handlers.operations.street_map import CaregiverPlace, Point

_E, _L, _C = tables.elders.c, tables.locations.c, tables.caregivers.c
_R, _O, _V, _P = tables.care_requests.c, tables.offers.c, tables.visits.c, tables.planned_visits.c


def area_has_coordinates(session: Session, area: str) -> bool:
    """Whether any elder of ``area`` has a point (else the board keeps its schematic)."""
    return bool(
        session.scalar(
            select(exists().where(_E.service_area == area, _E.latitude.is_not(None), _E.longitude.is_not(None)))
        )
    )


def home_bases(session: Session, caregiver_ids: set[str]) -> dict[str, Point]:
    """caregiver id -> its home base point, for those that have one."""
    if not caregiver_ids:
        return {}
    rows = session.execute(
        select(_C.caregiver_id, _L.latitude, _L.longitude)
        .join(tables.locations, _L.location_id == _C.home_base_index)
        .where(_C.caregiver_id.in_(caregiver_ids))
    )
    return {r.caregiver_id: (r.latitude, r.longitude) for r in rows}


def last_check_ins(session: Session, caregiver_ids: set[str], since: datetime) -> dict[str, Point]:
    """caregiver id -> the home of the elder it last checked in with at or after ``since``."""
    if not caregiver_ids:
        return {}
    rows = session.execute(
        select(_V.caregiver_id, _E.latitude, _E.longitude)
        .join(tables.elders, _E.elder_id == _V.elder_id)
        .where(
            _V.caregiver_id.in_(caregiver_ids),
            _V.check_in_at.is_not(None),
            _V.check_in_at >= since,
            _E.latitude.is_not(None),
            _E.longitude.is_not(None),
        )
        .order_by(_V.check_in_at)
    )
    return {r.caregiver_id: (r.latitude, r.longitude) for r in rows}  # the latest wins


def caregiver_places(session: Session, activities: dict[str, str], since: datetime) -> list[CaregiverPlace]:
    """``CaregiverPlace`` of each caregiver of ``activities`` (id -> activity), its check-ins
    counted from ``since`` (the start of the center's day)."""
    ids = set(activities)
    checked, bases = last_check_ins(session, ids, since), home_bases(session, ids)
    return [CaregiverPlace(c, activities[c], checked.get(c), bases.get(c)) for c in sorted(ids)]


def _home(lat: float | None, lon: float | None) -> Point | None:
    return (lat, lon) if lat is not None and lon is not None else None


def bookings(session: Session, caregiver_id: str, start: datetime, end: datetime) -> list[Stop]:
    """Every visit, offer and planned visit of ``caregiver_id`` planned (or checked in) in
    ``[start, end)``, unmerged (``handlers.operations.caregiver_day.day_of`` merges them)."""
    found: list[Stop] = []
    visits = session.execute(
        select(tables.visits, _E.latitude, _E.longitude)
        .outerjoin(tables.elders, _E.elder_id == _V.elder_id)
        .where(
            _V.caregiver_id == caregiver_id,
            or_(
                and_(_V.planned_start >= start, _V.planned_start < end),
                and_(_V.check_in_at >= start, _V.check_in_at < end),
            ),
        )
    )
    for v in visits:
        found.append(
            Stop(
                v.request_id,
                v.elder_id,
                v.service_type,
                "visit",
                str(v.status.value if hasattr(v.status, "value") else v.status),
                v.planned_start,
                v.planned_end,
                v.check_in_at,
                v.check_out_at,
                _home(v.latitude, v.longitude),
            )
        )
    offers = session.execute(
        select(
            _O.request_id,
            _O.status,
            _O.planned_start,
            _O.planned_end,
            _R.elder_id,
            _R.service_type,
            _E.latitude,
            _E.longitude,
        )
        .join(tables.care_requests, _R.request_id == _O.request_id)
        .outerjoin(tables.elders, _E.elder_id == _R.elder_id)
        .where(_O.caregiver_id == caregiver_id, _O.planned_start >= start, _O.planned_start < end)
    )
    for o in offers:
        status = str(o.status.value if hasattr(o.status, "value") else o.status)
        found.append(
            Stop(
                o.request_id,
                o.elder_id,
                o.service_type,
                "offer",
                status,
                o.planned_start,
                o.planned_end,
                home=_home(o.latitude, o.longitude),
            )
        )
    plans = session.execute(
        select(_P.request_id, _P.planned_start, _P.planned_end, _R.elder_id, _R.service_type, _E.latitude, _E.longitude)
        .outerjoin(tables.care_requests, _R.request_id == _P.request_id)  # a plan may precede its request
        .outerjoin(tables.elders, _E.elder_id == _R.elder_id)
        .where(_P.caregiver_id == caregiver_id, _P.planned_start >= start, _P.planned_start < end)
    )
    for p in plans:
        found.append(
            Stop(
                p.request_id,
                p.elder_id or "",
                p.service_type or "",
                "plan",
                "planned",
                p.planned_start,
                p.planned_end,
                home=_home(p.latitude, p.longitude),
            )
        )
    return found
