"""Read models of the register: exports, the register pages, the elder's card and the lookup
(plain queries for pages, outside the domain). Scoping by region happens here in SQL (a
region path prefix, segment-wise as ``handlers.operations.regions.within``) and again on
the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, or_, select, true
from sqlalchemy.orm import Session

from config import topics
from db import tables
from handlers.model import AlarmDevice, Caregiver, CareRequest, Elder, ProviderOrganisation

_E, _C, _P, _D, _L = (
    tables.elders.c,
    tables.caregivers.c,
    tables.provider_organisations.c,
    tables.alarm_devices.c,
    tables.locations.c,
)


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def in_region(path_column: Any, area_column: Any, scope: str) -> ColumnElement[bool]:
    """Rows whose region path lies within ``scope``, or whose service area is placed within it."""
    if scope == "":
        return true()
    placed = tables.service_area_regions.c
    areas = select(placed.service_area).where(
        or_(placed.region_path == scope, placed.region_path.like(_like(scope) + "/%", escape="\\"))
    )
    return or_(
        path_column == scope,
        path_column.like(_like(scope) + "/%", escape="\\"),
        (path_column.is_(None) & area_column.in_(areas)),
    )


def elders(session: Session, scope: str = "", query: str = "", limit: int | None = None) -> list[Elder]:
    """Elders within ``scope`` matching ``query`` (see ``find_elders``), by id."""
    stmt = select(Elder).where(in_region(_E.region_path, _E.service_area, scope)).order_by(_E.elder_id)
    if query:
        stmt = stmt.where(_matches(query))
    return list(session.scalars(stmt.limit(limit) if limit else stmt))


def _matches(query: str, phones: tuple[str, ...] = (), tails: tuple[str, ...] = ()) -> ColumnElement[bool]:
    like = "%" + _like(query.strip()) + "%"
    conditions = [
        _E.elder_id == query.strip(),
        _E.name.like(like, escape="\\"),
        _E.address.like(like, escape="\\"),
        _E.region_path.like(like, escape="\\"),
    ]
    for phone in phones:
        conditions += [_E.phone == phone, _E.landline == phone, cast(_E.family_contacts, String).like(f'%"{phone}"%')]
    digits = "".join(ch for ch in query if ch.isdigit())
    for tail in {*tails, *([digits] if len(digits) >= 4 else [])}:
        conditions += [_E.phone.like("%" + tail), _E.landline.like("%" + tail)]
    return or_(*conditions)


def find_elders(
    session: Session, query: str, phones: tuple[str, ...], scope: str, limit: int = 20, tails: tuple[str, ...] = ()
) -> list[Elder]:
    """Elders within ``scope`` found by ``query``: the id exactly, a fragment of the name, the
    address or the region, a phone or landline in E.164 (``phones``: the query read as a number)
    or ending in the query's digits (the last 4 or more digits a caller gives) or in ``tails``
    (the national number of ``phones``, for numbers stored without their country code). Exact
    id and phone matches first."""
    if not query.strip():
        return []
    found = list(
        session.scalars(
            select(Elder)
            .where(in_region(_E.region_path, _E.service_area, scope), _matches(query, phones, tails))
            .order_by(_E.elder_id)
            .limit(limit * 3)
        )
    )
    exact = {e.elder_id for e in found if e.elder_id == query.strip() or e.phone in phones or e.landline in phones}
    return sorted(found, key=lambda e: (e.elder_id not in exact, e.elder_id))[:limit]


@dataclass(frozen=True)
class CaregiverView:
    caregiver: Caregiver
    latitude: float | None
    longitude: float | None
    provenance: str | None


def caregivers(
    session: Session, scope: str = "", query: str = "", provider_id: str | None = None
) -> list[CaregiverView]:
    """Caregivers within ``scope`` (of ``provider_id`` when given) with their home base point."""
    stmt = (
        select(Caregiver, _L.latitude, _L.longitude, _L.provenance)
        .outerjoin(tables.locations, _L.location_id == _C.home_base_index)
        .where(in_region(_C.region_path, _C.service_area, scope))
        .order_by(_C.caregiver_id)
    )
    if provider_id is not None:
        stmt = stmt.where(_C.provider_id == provider_id)
    if query:
        like = "%" + _like(query.strip()) + "%"
        stmt = stmt.where(
            or_(
                _C.caregiver_id == query.strip(),
                _C.display_name.like(like, escape="\\"),
                _C.provider_id == query.strip(),
                _C.phone.like(like, escape="\\"),
            )
        )
    return [CaregiverView(c, lat, lon, prov) for c, lat, lon, prov in session.execute(stmt)]


def providers(session: Session, scope: str = "") -> list[ProviderOrganisation]:
    return list(
        session.scalars(
            select(ProviderOrganisation)
            .where(in_region(_P.region_path, _P.service_area, scope))
            .order_by(_P.provider_id)
        )
    )


def devices(session: Session, scope: str = "", elder_ids: set[str] | None = None) -> list[AlarmDevice]:
    stmt = (
        select(AlarmDevice)
        .join(tables.elders, _E.elder_id == _D.elder_id)
        .where(in_region(_E.region_path, _E.service_area, scope))
        .order_by(_D.device_id)
    )
    if elder_ids is not None:
        stmt = stmt.where(_D.elder_id.in_(elder_ids))
    return list(session.scalars(stmt))


def requests_of_elder(session: Session, elder_id: str, limit: int = 10) -> list[CareRequest]:
    """The elder's requests, newest first: the card's open and recent requests."""
    r = tables.care_requests.c
    return list(
        session.scalars(select(CareRequest).where(r.elder_id == elder_id).order_by(r.submitted_at.desc()).limit(limit))
    )


def submitted_not_stored(session: Session, elder_id: str, limit: int = 5, recent: int = 500) -> list[Any]:
    """Requests the app or an operator submitted for the elder that dispatch has not stored
    yet (the intake record is on its way): ``request_id``, ``service_type``, ``submitted_at``.
    App submissions have their own table; an operator's request is an intake record in the
    outbox (its request id is the intake id, ``handlers.channels.intake``), of which the
    newest ``recent`` are read."""
    s, r, o = tables.app_submissions.c, tables.care_requests.c, tables.outbox.c
    found: list[Any] = list(
        session.execute(
            select(s.request_id, s.service_type, s.submitted_at)
            .where(s.elder_id == elder_id, s.request_id.not_in(select(r.request_id)))
            .order_by(s.submitted_at.desc())
            .limit(limit)
        )
    )
    intakes = session.execute(
        select(o.key, o.value, o.created_at)
        .where(o.topic == topics.INTAKE.name, o.key.not_in(select(r.request_id)))
        .order_by(o.seq.desc())
        .limit(recent)
    )
    found += [
        _Submitted(str(v.get("request_id") or key), str(v.get("service_type", "")), at)
        for key, v, at in intakes
        if isinstance(v, dict) and v.get("elder_id") == elder_id and v.get("channel") == "operator"
    ]
    return sorted(found, key=lambda row: row.submitted_at, reverse=True)[:limit]


@dataclass(frozen=True)
class _Submitted:
    request_id: str
    service_type: str
    submitted_at: datetime


def active_calls(session: Session, since: datetime, scope: str, limit: int = 10) -> list[Any]:
    """Hotline calls from registered elders (own phone, landline or a family member's) that
    started since ``since`` and are still on the line or just decided, newest first, within
    ``scope``: ``call_sid`` (not shown), ``seq``, ``elder_id``, ``started_at``, ``outcome``."""
    h = tables.hotline_calls.c
    return list(
        session.execute(
            select(h.seq, h.elder_id, h.started_at, h.outcome, h.request_id)
            .join(tables.elders, _E.elder_id == h.elder_id)
            .where(h.started_at >= since, h.elder_id.is_not(None), in_region(_E.region_path, _E.service_area, scope))
            .order_by(h.started_at.desc())
            .limit(limit)
        )
    )


def counts(session: Session, scope: str) -> dict[str, int]:
    """How many elders, caregivers, providers and devices lie within ``scope``."""
    return {
        "elders": session.scalar(
            select(func.count()).select_from(tables.elders).where(in_region(_E.region_path, _E.service_area, scope))
        )
        or 0,
        "caregivers": session.scalar(
            select(func.count()).select_from(tables.caregivers).where(in_region(_C.region_path, _C.service_area, scope))
        )
        or 0,
        "providers": len(providers(session, scope)),
        "devices": len(devices(session, scope)),
    }
