"""The street map's and the day's queries on PostgreSQL (CARELINE_TEST_DATABASE_URL), in a
migrated database of their own: the same answers as on SQLite (tests/unit/test_street_map.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from db import street_map as read
from db.session import session_factory
from handlers.operations.caregiver_day import day_of
from tests.integration.test_reviews_and_ratings_postgres import pg_url  # noqa: F401
from tests.unit.dashboard_seed import seed
from tests.unit.street_map_seed import BASES, HOMES, local_noon, place_on_streets
from tests.unit.web_client import create_app, login, settings_for

pytestmark = pytest.mark.integration


def test_the_map_and_the_day_read_the_same_on_postgresql(pg_url):
    center = seed(pg_url, now=local_noon())
    place_on_streets(center)
    with session_factory(pg_url)() as s:
        assert read.area_has_coordinates(s, "gulou-xikang") and not read.area_has_coordinates(s, "gulou-qingyun")
        places = read.caregiver_places(s, {"cg-li": "busy", "cg-wu": "available"}, center.now - timedelta(hours=12))
        assert [(p.checked_in_at, p.home_base) for p in places] == [
            (HOMES["e1"], BASES["cg-li"]),
            (None, BASES["cg-wu"]),
        ]
        day = day_of(read.bookings(s, "cg-li", center.now - timedelta(hours=12), center.now + timedelta(hours=12)))
    assert [(s.request_id, s.status, s.number) for s in day] == [
        ("R-DONE", "completed", 1),
        ("R-1001", "in-progress", 2),
        ("R-1003", "pending", 3),
        ("R-PLAN", "planned", 4),
    ]
    op = login(create_app(settings_for(center, map_tile_url="https://tile.openstreetmap.org/{z}/{x}/{y}.png")), "op")
    points = op.get("/dashboard/map/points", params={"area": "gulou-xikang"}).json()
    assert sorted(m["id"] for m in points["markers"] if m["kind"] == "home") == ["e1", "e2", "e3", "e4"]
