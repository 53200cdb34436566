"""The app API and the alarm button against abuse: strict types, bounded windows, rate
limits per token, per elder and per device with a clear refusal, and one open emergency
per elder (a second press or stat request adds to it). SQLite, the app's own world."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from config import topics
from db import alarms
from tests.integration.app_world import build_app_world, teardown_worker_caches
from tests.integration.twilio_world import NOW as TWILIO_NOW
from tests.integration.twilio_world import build_world

pytestmark = pytest.mark.integration

WINDOW = {"start": "2026-12-01T09:00:00+08:00", "end": "2026-12-01T11:00:00+08:00"}
MEAL = {"service_type": "meal", "duration_minutes": 30, "priority": "routine", "window": WINDOW}
POSITION = {"latitude": 32.0603, "longitude": 118.7969}


@pytest.fixture
def world(tmp_path, monkeypatch):
    yield build_app_world(tmp_path, monkeypatch)
    teardown_worker_caches()


def submit(world, body, who="e-wang"):
    return world.client.post("/api/v1/requests", json=body, headers=world.auth(who))


def refused_field(response) -> str:
    assert response.status_code == 422, response.text
    return response.json()["detail"][0]["field"]


@pytest.mark.parametrize("value", [True, "30", "30.0", None, [30], {"minutes": 30}])
def test_a_duration_that_is_not_a_json_number_is_refused(world, value):
    assert refused_field(submit(world, {**MEAL, "duration_minutes": value})) == "duration_minutes"


def test_a_window_time_given_as_a_number_of_seconds_is_refused(world):
    body = {**MEAL, "window": {"start": 1796086800, "end": WINDOW["end"]}}
    assert refused_field(submit(world, body)) == "window.start"


@pytest.mark.parametrize(
    "start,end,field",
    [
        ("2026-12-01T09:00:00+08:00", "2036-12-01T11:00:00+08:00", "window.end"),  # ends 10 years out
        ("2027-01-05T09:00:00+08:00", "2027-01-05T11:00:00+08:00", "window.start"),  # starts 35 days out
    ],
)
def test_a_window_reaching_past_the_booking_horizon_is_refused(world, start, end, field):
    assert refused_field(submit(world, {**MEAL, "window": {"start": start, "end": end}})) == field


def test_a_window_within_the_horizon_is_taken(world):
    body = {**MEAL, "window": {"start": "2026-12-29T09:00:00+08:00", "end": "2026-12-29T11:00:00+08:00"}}
    assert submit(world, body).status_code == 202


@pytest.mark.parametrize("value", ["32", True, None])
def test_a_position_that_is_not_a_json_number_is_refused(world, value):
    response = world.client.post(
        "/api/v1/visits/R-1/check-in", json={**POSITION, "latitude": value}, headers=world.auth("cg-li")
    )
    assert refused_field(response) == "latitude"


@pytest.mark.parametrize("value", ["5", 5.0, True])
def test_stars_that_are_not_a_json_integer_are_refused(world, value):
    response = world.client.post("/api/v1/requests/R-1/rating", json={"stars": value}, headers=world.auth("e-wang"))
    assert refused_field(response) == "stars"


def test_a_token_over_its_rate_gets_429_with_retry_after_and_a_code(tmp_path, monkeypatch):
    world = build_app_world(tmp_path, monkeypatch, app_rate_limit="5/minute;50/hour")
    try:
        answers = [world.client.get("/api/v1/offers", headers=world.auth("cg-li")) for _ in range(7)]
        assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
        refusal = answers[-1]
        assert refusal.json()["code"] == "rate_limited" and 1 <= int(refusal.headers["retry-after"]) <= 60
        assert world.client.get("/api/v1/offers", headers=world.auth("cg-wu")).status_code == 200  # its own
    finally:
        teardown_worker_caches()


def test_new_requests_are_limited_per_elder_across_tokens(tmp_path, monkeypatch):
    world = build_app_world(tmp_path, monkeypatch, app_intake_rate_limit="3/minute;10/hour")
    try:
        codes = [submit(world, MEAL).status_code for _ in range(4)]
        assert codes == [202, 202, 202, 429]
        assert submit(world, MEAL, who="e-zhao").status_code == 202  # another elder
        assert len(world.outbox(topics.INTAKE.name)) == 4
    finally:
        teardown_worker_caches()


def test_500_requests_in_a_burst_from_three_tokens_are_mostly_refused(tmp_path, monkeypatch):
    world = build_app_world(tmp_path, monkeypatch)
    try:
        codes = [submit(world, MEAL, who).status_code for _ in range(167) for who in ("e-wang", "e-zhao", "e-wang")]
        assert codes.count(202) == 12 and codes.count(429) == len(codes) - 12  # 6 a minute per elder
    finally:
        teardown_worker_caches()


def test_a_second_stat_request_joins_the_open_emergency(world):
    first = submit(world, {**MEAL, "service_type": "meal", "priority": "stat"}).json()
    again = submit(world, {**MEAL, "priority": "stat"}).json()
    assert (again["request_id"], again["joined"], first["joined"]) == (first["request_id"], True, False)
    intake = [r for r in world.outbox(topics.INTAKE.name) if r["priority"] == "stat"]
    assert len(intake) == 1
    alerts = [e["data"]["reason"] for e in world.outbox(topics.LIFECYCLE.name) if e["type"] == "care.operator.alert"]
    assert alerts[0].startswith("emergency by app") and "again" in alerts[1]


def test_stat_requests_over_the_limit_are_refused_only_while_the_emergency_is_open(tmp_path, monkeypatch):
    world = build_app_world(tmp_path, monkeypatch, app_intake_rate_limit="1/minute;10/hour")
    try:
        assert submit(world, MEAL).status_code == 202  # uses the elder's allowance
        stat = submit(world, {**MEAL, "priority": "stat"})
        assert stat.status_code == 202 and not stat.json()["joined"]  # over the limit, none open: taken
        again = submit(world, {**MEAL, "priority": "stat"})
        assert again.status_code == 429 and again.json()["code"] == "rate_limited"  # one is open: refused
    finally:
        teardown_worker_caches()


# --- one-key alarms -----------------------------------------------------------------------------


def alarm_world(tmp_path, **settings):
    w = build_world(f"sqlite:///{tmp_path / 'alarms.db'}", **settings)
    with w.sessions() as s:
        w.device_token = alarms.register_device(s, w.id("btn"), w.id("e"), TWILIO_NOW)
        s.commit()
    return w


def press(w, alarm_id: str):
    return w.client.post(
        f"/alarms/{w.id('btn')}", json={"alarm_id": alarm_id}, headers={"Authorization": f"Bearer {w.device_token}"}
    )


def test_a_second_press_joins_the_open_emergency_and_alerts_the_operators_again(tmp_path):
    w = alarm_world(tmp_path)
    first, second = press(w, "p1").json(), press(w, "p2").json()
    assert second["request_id"] == first["request_id"] and second["joined"] and not first["joined"]
    assert len(w.outbox("care.intake.v1")) == 1
    alerts = [e for e in w.outbox("care.lifecycle.v1") if e["type"] == "care.operator.alert"]
    assert [a["data"]["request_id"] for a in alerts] == [first["request_id"]] * 2
    assert "alarm 2 of this emergency" in alerts[1]["data"]["reason"]


def test_a_press_after_the_merge_window_opens_a_new_emergency(tmp_path):
    w = alarm_world(tmp_path)
    first = press(w, "p1").json()
    w.ctx.clock = lambda: TWILIO_NOW + timedelta(minutes=31)
    later = press(w, "p2").json()
    assert later["request_id"] != first["request_id"] and not later["joined"]
    assert len(w.outbox("care.intake.v1")) == 2


def test_presses_over_the_device_rate_are_refused_while_the_emergency_is_open(tmp_path):
    w = alarm_world(tmp_path, alarm_rate_limit="3/minute;20/hour")
    codes = [press(w, f"p{i}").status_code for i in range(5)]
    assert codes == [202, 202, 202, 429, 429]
    refusal = press(w, "p9")
    assert refusal.json()["code"] == "rate_limited" and int(refusal.headers["retry-after"]) >= 1
    assert len(w.outbox("care.intake.v1")) == 1


def test_a_press_over_the_rate_is_still_taken_when_no_emergency_is_open(tmp_path):
    w = alarm_world(tmp_path, alarm_rate_limit="1/minute;20/hour", emergency_merge_minutes=0)
    assert [press(w, f"p{i}").status_code for i in range(3)] == [202, 202, 202]
    assert len(w.outbox("care.intake.v1")) == 3


def test_a_device_whose_elder_is_not_in_the_register_is_refused_like_an_unknown_device(tmp_path):
    w = alarm_world(tmp_path)
    # SQLite checks foreign keys only on connections that ask (careline's do): a file changed
    # without them, by hand or by a tool, can hold a device whose elder is gone.
    raw = sqlite3.connect(tmp_path / "alarms.db")
    with raw:
        raw.execute("UPDATE alarm_devices SET elder_id = 'e-gone' WHERE device_id = ?", (w.id("btn"),))
    raw.close()
    response = press(w, "p1")
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert w.outbox("care.intake.v1") == [] and w.outbox("care.lifecycle.v1") == []
