"""The street map and a caregiver's day without a browser: the pure rules
(``handlers.operations.street_map``, ``handlers.operations.caregiver_day``), the read model on
SQLite (``db.street_map``) and the web routes through a TestClient."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from careline.web.app import create_app
from careline.web.street_map import tile_origin, tile_origins
from config.settings import Settings
from db import street_map as read
from db import tables
from db.session import session_factory
from handlers.model import Visit
from handlers.operations.caregiver_day import Stop, day_of, route
from handlers.operations.street_map import CaregiverPlace, OpenRequest, street_map
from tests.unit.street_map_seed import BASES, HOMES, ZONE, place_on_streets
from tests.unit.web_client import _seeded, center, login, settings_for  # noqa: F401

T0 = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


# --- the street map's rules ---


def test_one_home_lists_all_its_open_requests_and_an_emergency_is_drawn_on_top():
    found = street_map(
        [
            OpenRequest("R-2", "e1", "meal", "received", "routine", (32.06, 118.77)),
            OpenRequest("SOS-1", "e1", "emergency", "received", "stat", (32.06, 118.77)),
            OpenRequest("R-3", "e2", "cleaning", "accepted", "routine", (32.05, 118.78)),
        ],
        [],
    )
    assert [(m.ident, m.emergency) for m in found.markers] == [("e2", False), ("e1", True)]
    assert [r.request_id for r in found.markers[1].requests] == ["SOS-1", "R-2"]


def test_a_caregiver_stands_at_its_last_check_in_else_at_its_home_base_else_is_counted_off_the_map():
    found = street_map(
        [OpenRequest("R-1", "e9", "meal", "received", "routine", None)],
        [
            CaregiverPlace("cg-a", "busy", (32.06, 118.77), (32.00, 118.70)),
            CaregiverPlace("cg-b", "available", None, (32.00, 118.70)),
            CaregiverPlace("cg-c", "available", None, None),
        ],
    )
    assert [(m.ident, m.latitude, m.placed_by) for m in found.markers] == [
        ("cg-a", 32.06, "check_in"),
        ("cg-b", 32.00, "home_base"),
    ]
    assert (found.unplaced_requests, found.unplaced_caregivers) == (1, 1)


# --- a caregiver's day ---


def stop(rid: str, source: str, status: str, hours: float, **kw) -> Stop:
    start = T0 + timedelta(hours=hours)
    return Stop(rid, "e1", "meal", source, status, start, start + timedelta(minutes=45), **kw)


def test_the_most_live_record_of_a_request_is_shown_and_refused_offers_are_not_the_caregivers():
    day = day_of(
        [
            stop("R-1", "plan", "planned", 1),
            stop("R-1", "visit", "scheduled", 1.5),
            stop("R-2", "offer", "pending", 3),
            stop("R-2", "plan", "planned", 3),
            stop("R-3", "offer", "rejected", 2),
        ]
    )
    assert [(s.request_id, s.source, s.status) for s in day] == [
        ("R-1", "visit", "scheduled"),
        ("R-2", "offer", "pending"),
    ]


def test_stops_follow_the_check_in_then_the_plan_and_a_cancelled_visit_takes_no_number():
    day = day_of(
        [
            stop("R-late", "visit", "in-progress", 1, checked_in_at=T0 + timedelta(hours=2.5)),
            stop("R-early", "visit", "completed", 2, checked_in_at=T0 + timedelta(hours=2)),
            stop("R-off", "visit", "cancelled", 2.2),
            stop("R-next", "plan", "planned", 4),
        ]
    )
    assert [(s.request_id, s.number) for s in day] == [("R-early", 1), ("R-off", None), ("R-late", 2), ("R-next", 3)]


def test_the_route_starts_at_the_home_base_and_skips_stops_without_a_point():
    day = day_of([stop("R-1", "visit", "completed", 1, home=(1.0, 2.0)), stop("R-2", "plan", "planned", 2)])
    assert route(day, (0.0, 0.0)) == [(0.0, 0.0), (1.0, 2.0)]
    assert route(day, None) == [(1.0, 2.0)]


# --- configuration ---


def test_the_content_security_policy_opens_to_the_tile_servers_origin_only():
    assert tile_origin(TILES) == "https://tile.openstreetmap.org"
    assert tile_origin("https://t{s}.tianditu.gov.cn/vec_w/wmts?TILEMATRIX={z}&TILEROW={y}&TILECOL={x}") == (
        "https://*.tianditu.gov.cn"
    )
    assert tile_origin("http://127.0.0.1:8123/tiles/{z}/{x}/{y}.png") == "http://127.0.0.1:8123"
    assert tile_origin(None) is None


def test_a_labels_layer_on_another_host_is_allowed_too():
    settings = Settings(
        map_tile_url="https://t{s}.tianditu.gov.cn/vec_w/wmts?TILEMATRIX={z}&TILEROW={y}&TILECOL={x}",
        map_tile_labels_url="https://labels.example.org/{z}/{x}/{y}.png",
    )
    assert tile_origins(settings) == "https://*.tianditu.gov.cn https://labels.example.org"
    assert tile_origins(Settings()) is None


def test_a_tile_template_without_its_placeholders_is_refused_at_start():
    with pytest.raises(ValidationError, match=r"\{z\}"):
        Settings(map_tile_url="https://tile.openstreetmap.org/tile.png")
    assert Settings(map_tile_url="").map_tile_url is None


# --- the read model ---


def test_the_read_model_places_caregivers_and_lists_a_day_from_plan_and_live(center):
    place_on_streets(center)
    with session_factory(center.database_url)() as s:
        assert read.area_has_coordinates(s, "gulou-xikang") and not read.area_has_coordinates(s, "gulou-qingyun")
        places = read.caregiver_places(s, {"cg-li": "busy", "cg-wu": "available"}, center.now - timedelta(hours=12))
        assert places[0].checked_in_at == HOMES["e1"] and places[1].checked_in_at is None
        assert places[1].home_base == BASES["cg-wu"]
        day = day_of(read.bookings(s, "cg-li", center.now - timedelta(hours=12), center.now + timedelta(hours=12)))
    assert [(s.request_id, s.source, s.number) for s in day] == [
        ("R-DONE", "visit", 1),
        ("R-1001", "visit", 2),
        ("R-1003", "offer", 3),
        ("R-PLAN", "plan", 4),
    ]
    assert day[0].home == HOMES["e3"] and day[3].home == HOMES["e2"]


# --- the web ---


def test_without_a_tile_source_the_board_keeps_its_schematic_and_images_stay_local(center):
    place_on_streets(center)
    op = login(create_app(settings_for(center)), "op")
    board = op.get("/dashboard")
    assert "<svg viewBox" in board.text and 'id="street-map"' not in board.text
    assert "img-src 'self' data:;" in board.headers["content-security-policy"]


def test_with_a_tile_source_the_board_draws_the_street_map_from_its_points(center):
    place_on_streets(center)
    op = login(create_app(settings_for(center, map_tile_url=TILES)), "op")
    board = op.get("/dashboard", params={"area": "gulou-xikang"})
    assert 'id="street-map"' in board.text and "/static/vendor/leaflet/leaflet.js" in board.text
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in board.headers["content-security-policy"]
    assert op.get("/static/vendor/leaflet/leaflet.js").status_code == 200  # served by careline, no CDN
    points = op.get("/dashboard/map/points", params={"area": "gulou-xikang"}).json()
    homes = {m["id"]: m for m in points["markers"] if m["kind"] == "home"}
    assert sorted(homes) == ["e1", "e2", "e3", "e4"] and homes["e4"]["emergency"]
    assert [r["id"] for r in homes["e2"]["requests"]] == ["R-1002", "R-PLAN"]
    assert homes["e1"]["name"] == "王秀英" and homes["e1"]["card"] == "/dashboard/elders/e1"
    assert points["unplaced"]["caregivers"] == 1  # cg-zhou has no home base
    other = op.get("/dashboard", params={"area": "gulou-qingyun"})  # no elder there has coordinates
    assert 'id="street-map"' not in other.text and "<svg viewBox" in other.text


def test_a_supervisor_sees_names_masked_on_the_map_and_in_the_day(center):
    place_on_streets(center)
    sup = login(create_app(settings_for(center, map_tile_url=TILES)), "sup")
    points = sup.get("/dashboard/map/points", params={"area": "gulou-xikang"}).json()
    assert {m["name"] for m in points["markers"] if m["kind"] == "home"} == {"王**", "李**", "张**", "刘**"}
    day = sup.get("/dashboard/caregivers/cg-li/day", params={"date": center.now.date().isoformat()})
    assert "王秀英" not in day.text


def test_the_day_page_lists_the_visits_in_order_and_refuses_outsiders_and_bad_dates(center):
    place_on_streets(center)
    app = create_app(settings_for(center, map_tile_url=TILES))
    op = login(app, "op")
    with session_factory(center.database_url)() as s:
        visit = s.scalars(select(Visit).where(tables.visits.c.request_id == "R-1001")).one()
        local = visit.planned_start.astimezone(ZONE)  # the seed's day may cross midnight in Shanghai
    page = op.get("/dashboard/caregivers/cg-li/day", params={"date": local.date().isoformat()})
    assert page.status_code == 200 and "Times in Asia/Shanghai" in page.text
    assert f'<b class="time">{local:%H:%M}–' in page.text  # the center's time, not UTC
    shown = [rid for rid in ("R-DONE", "R-1001", "R-1003", "R-PLAN") if f'data-stop-request="{rid}"' in page.text]
    assert "R-1001" in shown
    assert [page.text.index(f'data-stop-request="{rid}"') for rid in shown] == sorted(
        page.text.index(f'data-stop-request="{rid}"') for rid in shown
    )
    assert op.get("/dashboard/caregivers/cg-li/day", params={"date": "6.12.2026"}).status_code == 400
    assert op.get("/dashboard/caregivers/nobody/day").status_code == 404
    assert login(app, "far").get("/dashboard/caregivers/cg-li/day").status_code == 403


def test_on_gcj02_tiles_the_markers_move_onto_the_offset_datum_inside_china_only(center):
    """AMap (高德) draws its tiles in GCJ-02: a WGS-84 point from the register lands some hundreds
    of metres off on them unless moved (``map_tile_datum = gcj02``)."""
    from geopy.distance import geodesic

    from careline.web.street_map import onto_tiles

    place_on_streets(center)
    wgs = login(create_app(settings_for(center, map_tile_url=TILES)), "op")
    gcj = login(create_app(settings_for(center, map_tile_url=TILES, map_tile_datum="gcj02")), "op")
    area = {"area": "gulou-xikang"}
    before = {(m["kind"], m["id"]): m for m in wgs.get("/dashboard/map/points", params=area).json()["markers"]}
    after = {(m["kind"], m["id"]): m for m in gcj.get("/dashboard/map/points", params=area).json()["markers"]}
    assert before.keys() == after.keys() and {k for k, _ in before} == {"home", "caregiver"}
    for key, m in before.items():
        moved = geodesic((m["lat"], m["lon"]), (after[key]["lat"], after[key]["lon"])).meters
        assert 200 < moved < 800, (key, moved)  # Nanjing: GCJ-02 lies about 500 m east-south-east
        assert after[key]["lon"] > m["lon"]

    def route(client) -> dict:
        with session_factory(center.database_url)() as s:
            visit = s.scalars(select(Visit).where(tables.visits.c.request_id == "R-1001")).one()
        day = {"date": visit.planned_start.astimezone(ZONE).date().isoformat()}
        page = client.get("/dashboard/caregivers/cg-li/day", params=day).text
        return json.loads(html.unescape(re.search(r"data-route='([^']*)'", page).group(1)))

    route_wgs, route_gcj = route(wgs), route(gcj)
    assert route_wgs["line"] and len(route_wgs["line"]) == len(route_gcj["line"])
    for a, b in zip([route_wgs["base"], *route_wgs["line"]], [route_gcj["base"], *route_gcj["line"]], strict=True):
        assert 200 < geodesic(a, b).meters < 800  # the route and its home base are moved too

    new_york = (40.7128, -74.0060)
    assert onto_tiles(Settings(map_tile_datum="gcj02"))(new_york) == new_york
    assert onto_tiles(Settings())((32.0603, 118.7969)) == (32.0603, 118.7969)
    with pytest.raises(ValidationError):
        Settings(map_tile_datum="bd09")
