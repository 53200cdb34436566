"""Times an operator reads are on the center's clock (``CARELINE_PROGRAMME_TIMEZONE``), not
UTC (issue 17): caregivers' shifts on the board, the audit log, the EVV review page, and the
window an operator books from the board's form on a computer set to another zone.
Asia/Shanghai (UTC+8, the default) and America/New_York (UTC-5 in December) by settings."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from careline.web.app import create_app
from db import tables
from db.session import session_factory
from tests.unit.test_web_evv_review import flagged  # noqa: F401
from tests.unit.web_client import _seeded, center, login, post_action, settings_for  # noqa: F401

ZONES = ["Asia/Shanghai", "America/New_York"]


def app_in(center, zone: str):
    return create_app(settings_for(center, programme_timezone=zone))


def caregiver_line(board: str, cid: str) -> str:
    block = board.split(f'data-caregiver="{cid}"', 1)[1].split("data-caregiver=", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", block))


@pytest.mark.parametrize("zone", ZONES)
def test_the_board_shows_a_caregivers_shift_on_the_centers_clock(center, zone):
    board = login(app_in(center, zone), "op").get("/dashboard/board").text
    start, end = center.now - timedelta(hours=2), center.now + timedelta(hours=8)  # the seed's shift, in UTC
    local = f"{start.astimezone(ZoneInfo(zone)):%H:%M}–{end.astimezone(ZoneInfo(zone)):%H:%M}"
    utc = f"{start:%H:%M}–{end:%H:%M}"
    line = caregiver_line(board, "cg-li")
    assert local in line and utc not in line, line
    register = login(app_in(center, zone), "adm").get("/admin/register/caregivers").text
    cell = register.split('data-id="cg-li"', 1)[1].split('class="shift">', 1)[1].split("</td>", 1)[0]
    assert local in cell and utc not in cell, cell  # the register's caregivers page says the same


@pytest.mark.parametrize("zone", ZONES)
def test_the_audit_log_shows_when_on_the_centers_clock_and_says_which(center, zone):
    page = login(app_in(center, zone), "adm").get("/admin/audit").text
    assert f"({zone})" in page
    shown = re.search(r"<td>(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)</td><td>adm</td><td>login</td>", page).group(1)
    now = datetime.now(ZoneInfo(zone)).replace(tzinfo=None)
    assert abs((datetime.fromisoformat(shown) - now).total_seconds()) < 300  # the login just now, local


def test_an_evv_flag_is_dated_on_the_centers_clock(flagged):
    page = login(app_in(flagged, "America/New_York"), "op").get("/dashboard/evv").text
    row = page.split('data-visit="R-1001.o1.v" data-flag="outside_geofence"', 1)[1].split("</tr>", 1)[0]
    checked_in = flagged.now - timedelta(minutes=5)  # the check-in that raised it
    assert f"{checked_in.astimezone(ZoneInfo('America/New_York')):%Y-%m-%d %H:%M}" in row
    assert f"{checked_in:%Y-%m-%d %H:%M}" not in row and "UTC" not in row and "America/New_York" in row


@pytest.mark.parametrize("zone, stored", [("Asia/Shanghai", "+08:00"), ("America/New_York", "-05:00")])
def test_a_window_booked_from_the_board_is_the_centers_local_time_whatever_the_browsers_zone(center, zone, stored):
    app = app_in(center, zone)
    op = login(app, "op")
    assert f'name="time_zone" value="{zone}"' in op.get("/dashboard").text
    answer = post_action(
        op,
        "/dashboard/actions/requests",
        elder_id="e2",
        service_type="meal",
        duration_minutes="45",
        window_start="2030-01-15T14:00",
        window_end="2030-01-15T16:00",
        tz_offset_minutes="0",  # the operator's computer is set to UTC
        time_zone=zone,
    )
    assert answer.json()["ok"], answer.json()
    with session_factory(center.database_url)() as s:
        row = s.execute(select(tables.outbox).where(tables.outbox.c.topic == "care.intake.v1")).one()
    assert row.value["window"]["start"] == f"2030-01-15T14:00:00{stored}"


@pytest.mark.parametrize("zone", ZONES)
def test_a_late_alert_on_the_board_says_when_the_caregiver_is_expected_on_the_centers_clock(center, zone):
    expected = center.now + timedelta(hours=3, minutes=20)  # after R-1001's window ends (its latest on-time start)
    with session_factory(center.database_url)() as s:
        s.execute(tables.visits.update().where(tables.visits.c.request_id == "R-1001").values(expected_at=expected))
        s.commit()
    board = login(app_in(center, zone), "op").get("/dashboard/board").text
    alert = board.split('class="alert late"', 1)[1].split("</li>", 1)[0]
    assert "R-1001" in alert and alert.rstrip().endswith(f"· {expected.astimezone(ZoneInfo(zone)):%H:%M}"), alert
    assert "+00:00" not in alert
