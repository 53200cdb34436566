"""The board's street map and a caregiver's day (issue 17).

* The street map is Leaflet (``leaflet`` from the npm registry, copied into
  ``careline/static/vendor/leaflet/`` by ``scripts/setup`` / the image build: ``tools.assets``)
  over the tile source of ``CARELINE_MAP_TILE_URL`` (OpenStreetMap, Tianditu, AMap ...:
  docs/STREET_MAP.md). The board uses it for an area when a tile source is set, Leaflet is
  installed and an elder of the area has coordinates; otherwise it keeps its schematic
  (``careline.web.board_map``), which needs no network. The browser reads the markers from
  ``GET /dashboard/map/points`` (``handlers.operations.street_map``) when the board loads and
  after each live update; clicking one opens its card.
* ``GET /dashboard/caregivers/{id}/day?date=YYYY-MM-DD`` lists one caregiver's visits of a day
  of the center's time zone (``programme_timezone``) in order, from the plan or live
  (``handlers.operations.caregiver_day``), and draws them as a numbered route when they have
  coordinates.

Names are shown as the board shows them: in full to roles with ``view_personal_data``,
masked for the others. Texts come from the gettext catalogs (``map.*``, ``day.*`` keys).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any, Callable
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import prcoords
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from careline.web import auth, board_i18n, i18n
from careline.web.pages import STATIC, render
from config.locale import get_texts
from config.settings import Settings
from db import dashboard as readmodel
from db import street_map as places
from db.regions import area_regions
from db.session import Session
from handlers.channels.texts import KEYS
from handlers.model import Caregiver
from handlers.operations.access import Permission, personal
from handlers.operations.caregiver_day import Stop, day_of, route
from handlers.operations.queues import activities, unserved
from handlers.operations.regions import within
from handlers.operations.street_map import Marker, OpenRequest, street_map

router = APIRouter(prefix="/dashboard", include_in_schema=False)
_viewer = auth.require(Permission.VIEW_DASHBOARD, page=True)
LEAFLET = STATIC / "vendor" / "leaflet"
TEXT_KEYS = [key for key in KEYS if key.startswith(("map.", "day."))]


def _merge_texts() -> None:
    """The map's and the day's texts from the gettext catalogs into the dashboard's ``t()``."""
    texts = get_texts()
    for key in TEXT_KEYS:
        i18n.CATALOGUE.setdefault(key, {lang: texts.catalogs[lang].gettext(key) for lang in i18n.LANGUAGES})


_merge_texts()


def tile_origin(template: str | None) -> str | None:
    """The origin images come from for tile ``template`` (for the Content-Security-Policy):
    ``https://tile.openstreetmap.org`` for ``https://tile.openstreetmap.org/{z}/{x}/{y}.png``; a
    host label holding ``{s}`` becomes ``*`` (``https://*.tianditu.gov.cn``). None without one."""
    if not template:
        return None
    parts = urlsplit(template)
    host = ".".join("*" if "{" in label else label for label in parts.hostname.split("."))  # type: ignore[union-attr]
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def tile_origins(settings: Settings) -> str | None:
    """The origins of the tile source and its labels layer, space-separated (CSP ``img-src``)."""
    found = [o for o in (tile_origin(settings.map_tile_url), tile_origin(settings.map_tile_labels_url)) if o]
    return " ".join(dict.fromkeys(found)) or None


def leaflet_installed() -> bool:
    """True when ``scripts/setup`` (``tools.assets``) put Leaflet's ``leaflet.js`` and
    ``leaflet.css`` under ``careline/static/vendor/leaflet``; without them the board keeps the
    schematic map."""
    return (LEAFLET / "leaflet.js").is_file() and (LEAFLET / "leaflet.css").is_file()


def tiles(settings: Settings) -> dict[str, Any] | None:
    """The tile source for the browser, or None when there is no street map (no tile source
    configured, or Leaflet not installed: run scripts/setup)."""
    if not settings.map_tile_url or not leaflet_installed():
        return None
    return {
        "url": settings.map_tile_url,
        "labels_url": settings.map_tile_labels_url or "",
        "attribution": settings.map_tile_attribution,
        "subdomains": settings.map_tile_subdomains,
        "max_zoom": settings.map_tile_max_zoom,
    }


Point = tuple[float, float]


def onto_tiles(settings: Settings) -> Callable[[Point], Point]:
    """(latitude, longitude) in degrees, WGS-84 as the register keeps them, to where the tile source
    draws that place: unchanged for WGS-84 tiles; with ``map_tile_datum = gcj02`` (AMap, Tencent)
    the GCJ-02 point inside ``prcoords``' rough box around China (some hundreds of metres; the box
    also holds Seoul and Hanoi), unchanged outside it, where GCJ-02 is WGS-84."""
    if settings.map_tile_datum != "gcj02":
        return lambda point: point

    def gcj02(point: Point) -> Point:
        wgs = prcoords.Coords(*point)
        if not prcoords.sanity_in_china_p(wgs):
            return point
        moved = prcoords.wgs_gcj(wgs, check_china=False)
        return (moved.lat, moved.lon)

    return gcj02


def board_street_map(session: Session, settings: Settings, area: str | None) -> dict[str, Any] | None:
    """The tile source with ``on``: whether ``area`` is drawn on the street map (else the board
    keeps its schematic, e.g. while no elder of the area has coordinates); None without a
    street map at all (no tile source, or Leaflet not installed)."""
    source = tiles(settings)
    if source is None:
        return None
    return {**source, "on": area is not None and places.area_has_coordinates(session, area)}


def _zone(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.programme_timezone)


def _term(kind: str, value: str, lang: str) -> str:
    if kind == "service":
        return board_i18n.service(value, lang)
    entry = board_i18n.BOARD_TEXT.get(f"{kind}.{value}") or i18n.CATALOGUE.get(value)
    return entry[lang] if entry else value


def _marker_json(m: Marker, names: dict[str, str], lang: str, t: Any) -> dict[str, Any]:
    """A marker as the map script draws it; ``m``'s point is already where the tiles draw it."""
    if m.kind == "caregiver":
        where = t("map.at_check_in" if m.placed_by == "check_in" else "map.at_home_base")
        return {
            "kind": "caregiver",
            "id": m.ident,
            "lat": m.latitude,
            "lon": m.longitude,
            "state": m.activity,
            "title": f"{t('caregiver')} {m.ident} · {_term('status', m.activity, lang)}",
            "detail": f"{_term('status', m.activity, lang)} · {where}",
            "day": f"/dashboard/caregivers/{m.ident}/day",
        }
    name = names.get(m.ident, "")
    return {
        "kind": "home",
        "id": m.ident,
        "lat": m.latitude,
        "lon": m.longitude,
        "emergency": m.emergency,
        "state": m.requests[0].status,
        "name": name,
        "title": f"{t('map.emergency') + ' · ' if m.emergency else ''}{t('map.home')} {name or m.ident} · "
        + " ".join(r.request_id for r in m.requests),
        "card": f"/dashboard/elders/{m.ident}",
        "requests": [
            {
                "id": r.request_id,
                "emergency": r.priority == "stat",
                "priority": t(f"priority.{r.priority}"),
                "service": _term("service", r.service_type, lang),
                "status": _term("status", r.status, lang),
            }
            for r in m.requests
        ],
    }


@router.get("/map/points")
def points(
    request: Request, region: str | None = None, area: str | None = None, principal: auth.Principal = Depends(_viewer)
) -> JSONResponse:
    """The street map's markers of ``area`` in the operator's region (JSON: ``markers``, each
    with ``lat``/``lon`` in degrees, and ``unplaced`` counts and their sentence)."""
    settings = request.app.state.settings
    lang = i18n.language(request, settings.default_language)
    t = i18n.translator(lang)
    shown = onto_tiles(settings)
    scope = auth.region_for(principal, region)
    with auth.sessions_of(request)() as session:
        now = readmodel.clock_now(session)
        snap = readmodel.realtime_snapshot(session, scope, now).in_region(scope)
        open_requests = [
            r for r in snap.requests if r.service_area == area and (not r.status.is_final or unserved(r, snap.resolved))
        ]
        elders = readmodel.elders_of(session, {r.elder_id for r in open_requests})
        states = activities(snap, now)
        since = datetime.combine(now.astimezone(_zone(settings)).date(), time(), _zone(settings))
        crew = {c.caregiver_id: states[c.caregiver_id].value for c in snap.caregivers if c.service_area == area}
        standing = places.caregiver_places(session, crew, since)
    found = street_map(
        [
            OpenRequest(
                r.request_id,
                r.elder_id,
                r.service_type,
                r.status.value,
                r.priority.value,
                shown(p) if (p := _point(elders.get(r.elder_id))) is not None else None,
            )
            for r in open_requests
        ],
        [
            replace(
                place,
                checked_in_at=shown(place.checked_in_at) if place.checked_in_at else None,
                home_base=shown(place.home_base) if place.home_base else None,
            )
            for place in standing
        ],
    )
    names = {e: personal(principal.role, elders[e].name, elders[e].phone)["name"] for e in elders}
    unplaced = {"requests": found.unplaced_requests, "caregivers": found.unplaced_caregivers}
    return JSONResponse(
        {
            "markers": [_marker_json(m, names, lang, t) for m in found.markers],
            "unplaced": {**unplaced, "text": t("map.unplaced").format(**unplaced) if any(unplaced.values()) else ""},
        },
        headers={"Cache-Control": "no-store"},
    )


def _point(elder: Any) -> tuple[float, float] | None:
    if elder is None or elder.latitude is None or elder.longitude is None:
        return None
    return (elder.latitude, elder.longitude)


def _day(value: str | None, today: date) -> date:
    if not value:
        return today
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"date {value!r} is not YYYY-MM-DD") from None


def _stop_row(s: Stop, names: dict[str, str], zone: ZoneInfo, lang: str, t: Any) -> dict[str, Any]:
    def hm(at: datetime | None) -> str:
        return at.astimezone(zone).strftime("%H:%M") if at else "–"

    return {
        "number": s.number,
        "request_id": s.request_id,
        "elder_id": s.elder_id,
        "elder": names.get(s.elder_id, ""),
        "service": _term("service", s.service_type, lang) if s.service_type else "–",
        "status": s.status,
        "status_text": t("day.planned") if s.status == "planned" else _term("status", s.status, lang),
        "source": t(f"day.source.{s.source}"),
        "time": f"{hm(s.start)}–{hm(s.end)}",
        "actual": f"{hm(s.checked_in_at)} / {hm(s.checked_out_at)}" if s.checked_in_at else "",
        "lat": s.home[0] if s.home else None,
        "lon": s.home[1] if s.home else None,
    }


@router.get("/caregivers/{caregiver_id}/day")
def caregiver_day(
    request: Request, caregiver_id: str, date: str | None = None, principal: auth.Principal = Depends(_viewer)
) -> Response:
    """One caregiver's visits of one day in the center's time zone, in order (module docstring)."""
    settings = request.app.state.settings
    zone = _zone(settings)
    lang = i18n.language(request, settings.default_language)
    t = i18n.translator(lang)
    with auth.sessions_of(request)() as session:
        caregiver = session.get(Caregiver, caregiver_id)
        if caregiver is None:
            raise HTTPException(404, f"no caregiver {caregiver_id!r}")
        path = caregiver.region_path or area_regions(session).get(caregiver.service_area, "")
        if principal.region_scope and not (path and within(path, principal.region_scope)):
            raise HTTPException(403, "outside your region")
        now = readmodel.clock_now(session)
        day = _day(date, now.astimezone(zone).date())
        start = datetime.combine(day, time(), zone)
        end = datetime.combine(day + timedelta(days=1), time(), zone)
        stops = day_of(places.bookings(session, caregiver_id, start, end))
        elders = readmodel.elders_of(session, {s.elder_id for s in stops if s.elder_id})
        base = places.home_bases(session, {caregiver_id}).get(caregiver_id)
        source = tiles(settings)
    shown = onto_tiles(settings)
    stops = [replace(s, home=shown(s.home)) if s.home is not None else s for s in stops]
    base = shown(base) if base is not None else None
    names = {e: personal(principal.role, elders[e].name, elders[e].phone)["name"] for e in elders}
    rows = [_stop_row(s, names, zone, lang, t) for s in stops]
    path_points = route(stops, base)
    has_route = any(s.home for s in stops if s.number is not None)
    return render(
        request,
        "dashboard/caregiver_day.html",
        principal,
        caregiver=caregiver,
        day=day,
        previous=(day - timedelta(days=1)).isoformat(),
        following=(day + timedelta(days=1)).isoformat(),
        rows=rows,
        zone=settings.programme_timezone,
        tiles=source,
        has_route=has_route,
        route={
            "base": list(base) if base else None,
            "stops": [r for r in rows if r["number"] is not None and r["lat"] is not None],
            "line": [list(p) for p in path_points],
        },
    )
