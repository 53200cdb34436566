"""The elder's card and the lookup: who is calling, and any elder by phone, name, address or id.

* ``GET /dashboard/elders?q=`` finds elders of the operator's region by id, a fragment of the
  name, the address or the region, a phone or landline in any written form (read into E.164 as
  the register reads it) or its last four or more digits.
* ``GET /dashboard/elders/{id}`` is the card: name, address on a map (the home among the area's
  caregivers, the point marked approximate when it is a district centroid), health and access
  notes, family contacts, devices with their last heartbeat, open and recent requests, and one
  button per service to ask for it now (the third click at most: search or caller list, card,
  service).
* ``GET /dashboard/callers`` is the dashboard's panel of registered callers on the hotline in
  the last ``CALLER_MINUTES`` minutes (own phone, landline or a family member's), each linking
  to the card; the page polls it every two seconds.

Personal data (names, phones, address, notes, contacts) is shown in full only to roles holding
``view_personal_data`` (``handlers.operations.access``), masked for the others.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from careline.web import auth
from careline.web.pages import render
from db import dashboard as readmodel
from db import register_views as views
from db.app_api import offered_service_types
from db.operator_uow import region_of_area
from db.session import Session
from handlers.dispatch.shifts import on_shift
from handlers.model import Elder
from handlers.operations.access import Permission, can_see_personal, mask_name, mask_phone
from handlers.operations.mapping import fit_to_view, project_lat_lon
from handlers.operations.regions import within
from handlers.register.phones import PhoneError, parse_phone
from handlers.register.services import SERVICE_TYPES

router = APIRouter(prefix="/dashboard", include_in_schema=False)
_viewer = auth.require(Permission.VIEW_DASHBOARD, page=True)
CALLER_MINUTES = 10
MAP_RADIUS_KM = 5.0


def phone_candidates(query: str, region: str, area_code: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The E.164 form ``query`` is when read as a phone number, and its national number (to
    find numbers stored without the country code); none when it is not a number."""
    try:
        phone = parse_phone(query, region, area_code)
    except (PhoneError, ValueError):
        return (), ()
    national = phonenumbers.national_significant_number(phonenumbers.parse(phone.e164))
    return (phone.e164,), (national,)


def find(session: Session, query: str, scope: str, settings: Any, limit: int = 20) -> list[Elder]:
    """Elders of ``scope`` matching ``query`` (see the module docstring)."""
    phones, tails = phone_candidates(query, settings.default_phone_region, settings.landline_area_code)
    return views.find_elders(session, query, phones, scope, limit, tails)


def elder_region(session: Session, elder: Elder) -> str:
    """The elder's region: its own path, else where its service area is placed (``""``)."""
    return elder.region_path or region_of_area(session, elder.service_area) or ""


def visible(session: Session, elder: Elder, scope: str) -> bool:
    return scope == "" or (bool(elder_region(session, elder)) and within(elder_region(session, elder), scope))


def summary(elder: Elder, role: Any) -> dict[str, Any]:
    """One line of a result list, masked for roles without personal-data rights."""
    full = can_see_personal(role)
    return {
        "elder_id": elder.elder_id,
        "name": elder.name if full else mask_name(elder.name),
        "phone": (elder.phone if full else mask_phone(elder.phone)) or "",
        "landline": (elder.landline if full else mask_phone(elder.landline)) or "",
        "address": (elder.address if full else None) or elder.region_path or "",
        "status": elder.status,
        "service_area": elder.service_area,
    }


def _age(now: datetime, then: datetime | None) -> float | None:
    return (now - then).total_seconds() if then is not None else None


def _map(session: Session, elder: Elder, now: datetime) -> dict[str, Any]:
    """The home and the area's caregivers' home bases within ``MAP_RADIUS_KM`` on a 0..1 plane
    (north up), with a scale bar of one kilometre."""
    if elder.latitude is None or elder.longitude is None:
        return {"points": [], "km": None}
    home = (elder.latitude, elder.longitude)
    around: dict[str, tuple[float, float]] = {"home": home}
    states: dict[str, str] = {}
    for view in views.caregivers(session, ""):
        c = view.caregiver
        if c.service_area != elder.service_area or view.latitude is None or view.longitude is None:
            continue
        plane = project_lat_lon({"a": home, "b": (view.latitude, view.longitude)})
        if abs(plane["a"][0] - plane["b"][0]) <= MAP_RADIUS_KM and abs(plane["a"][1] - plane["b"][1]) <= MAP_RADIUS_KM:
            around[f"c:{c.caregiver_id}"] = (view.latitude, view.longitude)
            states[c.caregiver_id] = "on" if c.active and on_shift(c, now) else "off"
    km = project_lat_lon(around)
    box = {**km, "_n": (km["home"][0] - 1.0, km["home"][1] - 1.0), "_e": (km["home"][0] + 1.0, km["home"][1] + 1.0)}
    fitted = fit_to_view(box, margin=0.1)
    scale = abs(fitted["_e"][0] - fitted["_n"][0]) / 2.0  # one kilometre in drawing units
    points = [
        {
            "kind": "home" if k == "home" else "caregiver",
            "ident": k.removeprefix("c:"),
            "x": x,
            "y": y,
            "state": states.get(k.removeprefix("c:"), ""),
        }
        for k, (x, y) in fitted.items()
        if not k.startswith("_")
    ]
    return {"points": sorted(points, key=lambda p: p["kind"] == "home"), "km": round(scale, 4)}


def build_card(session: Session, elder: Elder, role: Any, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """Everything the card shows (see the module docstring)."""
    full = can_see_personal(role)
    requests = views.requests_of_elder(session, elder.elder_id, 10)
    devices = views.devices(session, "", {elder.elder_id})
    contacts = [
        {
            "name": c.get("name") if full else mask_name(c.get("name")),
            "relation": c.get("relation", ""),
            "phone": c.get("phone") if full else mask_phone(c.get("phone")),
            "sms": bool(c.get("sms_opt_in")),
        }
        for c in elder.family_contacts or []
    ]
    age = now.astimezone(zone).year - elder.birth_year if elder.birth_year else None
    return {
        **summary(elder, role),
        "personal_visible": full,
        "gender": elder.gender,
        "age": age,
        "language": elder.language,
        "region_path": elder_region(session, elder),
        "provenance": elder.location_provenance,
        "precision": elder.location_precision,
        "latitude": elder.latitude,
        "longitude": elder.longitude,
        "notes": elder.notes if full else None,
        "access_notes": elder.access_notes if full else None,
        "has_notes": bool(elder.notes or elder.access_notes),
        "contacts": contacts,
        "devices": [
            {
                "device_id": d.device_id,
                "kind": d.kind or "",
                "active": d.active,
                "heartbeat_age": _age(now, d.last_heartbeat_at),
                "heartbeat_at": d.last_heartbeat_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                if d.last_heartbeat_at
                else None,
            }
            for d in devices
        ],
        "open_requests": [_request(r, now, zone) for r in requests if not r.status.is_final],
        "recent_requests": [_request(r, now, zone) for r in requests if r.status.is_final][:5],
        "submitted": [
            {"request_id": s.request_id, "service_type": s.service_type}
            for s in views.submitted_not_stored(session, elder.elder_id)
        ],
        "map": _map(session, elder, now),
    }


def _request(r: Any, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "request_id": r.request_id,
        "service_type": r.service_type,
        "priority": r.priority.value,
        "status": r.status.value,
        "reason": r.status_reason or "",
        "window": f"{r.window_start.astimezone(zone):%m-%d %H:%M}–{r.window_end.astimezone(zone):%H:%M}",
    }


def quick_request(session: Session, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """What the card's request form starts with: the services some caregiver performs, a window
    from the next quarter hour for two hours in the center's time zone (``datetime-local``
    values with the zone's offset for the action, as the dashboard's form sends them)."""
    local = now.astimezone(zone)
    start = (local + timedelta(minutes=15 - local.minute % 15)).replace(second=0, microsecond=0)
    offset = local.utcoffset() or timedelta(0)
    offered = offered_service_types(session)
    return {
        "services": [s for s in SERVICE_TYPES if s in offered],
        "window_start": start.strftime("%Y-%m-%dT%H:%M"),
        "window_end": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "tz_offset_minutes": int(-offset.total_seconds() // 60),
    }


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.programme_timezone)


@router.get("/elders")
def lookup(request: Request, q: str = "", principal: auth.Principal = Depends(_viewer)) -> Response:
    q = q.strip()[:120]
    with auth.sessions_of(request)() as session:
        found = find(session, q, principal.region_scope, request.app.state.settings) if q else []
        rows = [summary(e, principal.role) for e in found]
    return render(request, "dashboard/elders.html", principal, q=q, rows=rows)


@router.get("/elders/{elder_id}")
def card(request: Request, elder_id: str, principal: auth.Principal = Depends(_viewer)) -> Response:
    zone = _zone(request)
    with auth.sessions_of(request)() as session:
        elder = session.get(Elder, elder_id)
        if elder is None:
            raise HTTPException(404, f"no registered elder {elder_id!r}")
        if not visible(session, elder, principal.region_scope):
            raise HTTPException(403, "outside your region")
        now = readmodel.clock_now(session)
        view = build_card(session, elder, principal.role, now, zone)
        form = quick_request(session, now, zone)
    return render(request, "dashboard/elder_card.html", principal, card=view, form=form, now=now)


@router.get("/callers")
def callers(request: Request, principal: auth.Principal = Depends(_viewer)) -> Response:
    zone = _zone(request)
    with auth.sessions_of(request)() as session:
        now = readmodel.clock_now(session)
        calls = views.active_calls(session, now - timedelta(minutes=CALLER_MINUTES), principal.region_scope)
        elders = readmodel.elders_of(session, {c.elder_id for c in calls})
        rows = [
            {
                **summary(elders[c.elder_id], principal.role),
                "call": c.seq,
                "at": c.started_at.astimezone(zone).strftime("%H:%M:%S"),
                "age": _age(now, c.started_at),
                "on_line": c.outcome is None,
                "request_id": c.request_id,
                "has_notes": bool(elders[c.elder_id].notes or elders[c.elder_id].access_notes),
            }
            for c in calls
            if c.elder_id in elders
        ]
    return render(request, "dashboard/_callers.html", principal, callers=rows)
