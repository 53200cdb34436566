"""A provider organisation rates the center for a visit its caregiver did, through the app
API, and the monthly report's center score is made from those ratings."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from careline.reports import build_provider_report, month_bounds, read_month
from channels.app_tokens import issue_token
from config import topics
from config.evaluation import get_evaluation_config
from db import tables
from tests.integration.app_world import AREA, NOW, build_app_world, seed_visit, teardown_worker_caches

pytestmark = pytest.mark.integration

ANSWERS = {
    "information_correct": True,
    "notice_sufficient": False,
    "stars": 4,
    "comment": "address right; the offer came 20 minutes before the visit",
}


@pytest.fixture
def world(tmp_path, monkeypatch):
    world = build_app_world(tmp_path, monkeypatch)
    seed_visit(world, "R-done", request_status="completed", visit_status="completed")
    yield world
    teardown_worker_caches()


def rate(world, request_id="R-done", body=None, who="p-1"):
    return world.client.post(
        f"/api/v1/provider/visits/{request_id}/center-rating",
        json=ANSWERS if body is None else body,
        headers=world.auth(who),
    )


def add_provider(world, provider_id: str, caregiver_id: str) -> None:
    """A second provider in the same area with one caregiver, and a token for its office."""
    with world.sessions() as s:
        s.execute(
            tables.provider_organisations.insert().values(
                provider_id=provider_id, name="Other Care", service_area=AREA, service_types="meal", opening_hours="[]"
            )
        )
        s.execute(
            tables.caregivers.insert().values(
                caregiver_id=caregiver_id,
                provider_id=provider_id,
                service_area=AREA,
                abilities="meal",
                home_base_index=0,
                shift_start=NOW - timedelta(hours=1),
                shift_end=NOW + timedelta(hours=9),
                active=True,
            )
        )
        s.commit()
    world.tokens[provider_id] = issue_token(world.url, "provider", provider_id, NOW)


def test_a_provider_rates_the_center_once_for_a_visit_its_caregiver_did(world):
    first = rate(world)
    assert first.status_code == 201, first.text
    assert {
        k: first.json()[k]
        for k in ("request_id", "visit_id", "provider_id", "information_correct", "notice_sufficient", "stars")
    } == {
        "request_id": "R-done",
        "visit_id": "R-done.o1.v",
        "provider_id": "p-1",
        "information_correct": True,
        "notice_sufficient": False,
        "stars": 4,
    }
    again = rate(world, body={"information_correct": False, "notice_sufficient": False})
    assert (again.status_code, again.json()["code"]) == (409, "already_rated")
    [row] = world.rows(tables.center_ratings)
    assert (row.visit_id, row.provider_id, row.information_correct, row.notice_sufficient, row.stars, row.comment) == (
        "R-done.o1.v",
        "p-1",
        True,
        False,
        4,
        ANSWERS["comment"],
    )
    [event] = [e for e in world.outbox(topics.LIFECYCLE.name) if e["type"] == "care.feedback.center_rating"]
    assert event["data"]["notice_sufficient"] is False and "comment" not in event["data"]


def test_the_provider_lists_its_completed_visits_and_sees_which_it_rated(world):
    seed_visit(world, "R-open")  # scheduled, not done yet: not listed
    before = world.client.get("/api/v1/provider/visits", headers=world.auth("p-1")).json()["visits"]
    assert [(v["request_id"], v["center_rated"]) for v in before] == [("R-done", False)]
    rate(world, body={"information_correct": True, "notice_sufficient": True})
    after = world.client.get("/api/v1/provider/visits", headers=world.auth("p-1")).json()["visits"]
    assert [(v["request_id"], v["center_rated"]) for v in after] == [("R-done", True)]


def test_another_providers_visit_looks_like_no_visit(world):
    add_provider(world, "p-2", "cg-chen")
    seed_visit(
        world, "R-chen", caregiver_id="cg-chen", request_status="completed", visit_status="completed", provider_id="p-2"
    )
    for request_id, who in (("R-done", "p-2"), ("R-chen", "p-1"), ("R-missing", "p-1")):
        response = rate(world, request_id, who=who)
        assert (response.status_code, response.json()["code"]) == (404, "unknown_visit"), request_id
    assert rate(world, "R-chen", who="p-2").status_code == 201
    assert [
        v["request_id"] for v in world.client.get("/api/v1/provider/visits", headers=world.auth("p-2")).json()["visits"]
    ] == ["R-chen"]


def test_a_visit_not_yet_checked_out_cannot_be_rated(world):
    seed_visit(world, "R-on", visit_status="in-progress", request_status="in-progress")
    response = rate(world, "R-on")
    assert (response.status_code, response.json()["code"]) == (409, "not_completed")
    assert world.rows(tables.center_ratings) == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({"notice_sufficient": True}, "information_correct"),
        ({"information_correct": "yes", "notice_sufficient": True}, "information_correct"),
        ({"information_correct": True, "notice_sufficient": 1}, "notice_sufficient"),
        ({"information_correct": True, "notice_sufficient": True, "stars": 6}, "stars"),
        ({"information_correct": True, "notice_sufficient": True, "comment": "x" * 1001}, "comment"),
        ({"information_correct": True, "notice_sufficient": True, "rating": 5}, "rating"),
    ],
)
def test_invalid_answers_are_refused_naming_the_field(world, body, field):
    response = rate(world, body=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]] == [field]
    assert world.rows(tables.center_ratings) == []


def test_only_a_providers_token_may_rate_the_center(world):
    assert rate(world, who="cg-li").status_code == 403
    assert rate(world, who="e-wang").status_code == 403
    assert world.client.post("/api/v1/provider/visits/R-done/center-rating", json=ANSWERS).status_code == 401
    with pytest.raises(LookupError):
        issue_token(world.url, "provider", "p-unknown", NOW)


def test_the_monthly_report_scores_the_center_from_the_providers_ratings(world, tmp_path):
    seed_visit(
        world, "R-done-2", request_status="completed", visit_status="completed", planned_start=NOW + timedelta(hours=3)
    )
    assert rate(world).status_code == 201
    assert (
        rate(world, "R-done-2", {"information_correct": True, "notice_sufficient": True, "stars": 5}).status_code == 201
    )
    data = read_month(world.url, *month_bounds("2026-12", UTC), get_evaluation_config().evv)
    assert sorted((c.provider_id, c.information_right, c.notice_enough, c.stars) for c in data.center) == [
        ("p-1", True, False, 4),
        ("p-1", True, True, 5),
    ]
    html = build_provider_report(world.url, "2026-12", tmp_path / "report", languages=["en"], zone="UTC")["en"]
    html = html.html.read_text()
    assert "information right 100%" in html and "notice enough 50%; score 75.0 / 100" in html
    assert "4.5 stars on average" in html
    assert read_month(world.url, *month_bounds("2026-11", UTC), get_evaluation_config().evv).center == []
