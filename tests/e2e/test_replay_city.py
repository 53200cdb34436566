"""A slice of a New York City night replayed end to end through Apache Kafka, the worker, the
timer service and PostgreSQL: the aging department's providers, 311 calls as elders' requests.

Travel is checked against a recomputation written here with geopy from the stored points, and
the map against the PNG format's own header."""

from __future__ import annotations

import struct

import pytest
from geopy.distance import geodesic
from rich.console import Console
from sqlalchemy import select

from db import tables
from tools.replay.city import CityReplayDriver, read_city
from tools.replay.city_map import draw_city_map
from tools.replay.driver import ReplayOptions

pytestmark = pytest.mark.e2e

E_BIKE_KMH, CAR_KMH, CIRCUITY = 17.0, 25.0, 1.3


def test_a_slice_of_a_new_york_night_reaches_final_states_with_travel_from_coordinates(pipeline, shared_data, tmp_path):
    city = read_city(
        shared_data / "nyc-aging" / "contracted_providers.csv",
        shared_data / "nyc311" / "service_requests_2024-04-15.csv",
    )
    driver = CityReplayDriver(
        pipeline.bootstrap,
        pipeline.sessions,
        city,
        ReplayOptions(speed=1200, timeout_seconds=300),
        Console(stderr=True),
        worker_alive=lambda: pipeline.worker.poll() is None,
        limit=100,
    )
    result = driver.run()
    s, run = result.summary, result.run

    # every request ends in a final state; a failed one is on the operator queue with its reason
    assert len(result.final) == 100 == s.requests
    assert s.all_final, s.by_status
    assert s.by_status.get("completed", 0) >= 50, s.by_status
    with pipeline.sessions() as session:
        rows = session.execute(
            select(tables.care_requests.c.status, tables.care_requests.c.status_reason).where(
                tables.care_requests.c.request_id.like(f"{run}.%")
            )
        ).all()
        stored_points = {
            row.location_id: (row.latitude, row.longitude)
            for row in session.execute(select(tables.locations)).all()
            if row.location_id in result.points
        }
    assert all(reason for status, reason in rows if status == "failed")
    assert sum(s.failure_reasons.values()) == s.by_status.get("failed", 0)
    assert set(s.by_channel) <= {"hotline", "app", "operator"} and s.by_channel.get("hotline", 0) > 0

    # travel comes from the stored coordinates: each leg is geodesic km x 1.3 / the mode's speed
    modes = {c.caregiver_id: c.travel_mode for c in result.day.caregivers}
    assert s.legs and s.visits == s.by_status["completed"]
    for leg in s.legs:
        a, b = stored_points[leg.origin], stored_points[leg.destination]
        speed = CAR_KMH if modes[leg.caregiver_id] == "car" else E_BIKE_KMH
        assert leg.minutes == pytest.approx(geodesic(a, b).km * CIRCUITY / speed * 60, rel=1e-6)
    into = [leg.minutes for leg in s.legs if leg.to_request is not None]
    assert sum(1 for m in into if m > 0) >= 0.9 * len(into), "visits start 0 minutes away"
    assert 2 < s.travel_per_visit_p50_minutes < 90, s.travel_per_visit_p50_minutes
    assert s.travel_per_visit_max_minutes < 240
    with pipeline.sessions() as session:
        offered = session.scalars(
            select(tables.offers.c.travel_minutes).where(tables.offers.c.request_id.like(f"{run}.%"))
        ).all()
    assert offered and sum(1 for m in offered if m > 0) >= 0.9 * len(offered), "dispatch ranked 0-minute travel"

    path = draw_city_map(result.day, result.final, s.legs, result.points, tmp_path / "city.png", "test")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert 800 <= width <= 3000 and 800 <= height <= 3000
    assert 30_000 < len(data) < 5_000_000
