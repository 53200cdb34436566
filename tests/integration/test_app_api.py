"""The elder/family app and the caregiver app through the HTTP API, on a migrated
SQLite file, with the stream worker's own steps processing what the app wrote."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from channels.app import Submission, submit_request
from config import topics
from db import tables
from db.uow import SqlUnitOfWork
from handlers.channels.intake import validate_intake
from handlers.dispatch.planned import PlannedVisit
from handlers.model import Elder, Priority
from handlers.operations.operator_actions import Refused
from tests.integration.app_world import (
    ADDRESS,
    AREA,
    NOW,
    build_app_world,
    run_worker_on,
    run_worker_on_intake,
    seed_visit,
    teardown_worker_caches,
)

pytestmark = pytest.mark.integration

MEAL = {
    "service_type": "meal",
    "duration_minutes": 30,
    "priority": "routine",
    "notes": "ring twice",
    "window": {"start": "2026-12-01T09:00:00+08:00", "end": "2026-12-01T11:00:00+08:00"},
}


@pytest.fixture
def world(tmp_path, monkeypatch):
    yield build_app_world(tmp_path, monkeypatch)
    teardown_worker_caches()


def submit(world, body=MEAL, who="e-wang", key=None):
    headers = {**world.auth(who), **({"Idempotency-Key": key} if key else {})}
    return world.client.post("/api/v1/requests", json=body, headers=headers)


def caregiver_events(world) -> list[dict]:
    return world.outbox(topics.CAREGIVER_EVENTS.name)


def test_a_request_from_the_app_becomes_an_intake_record_the_worker_accepts(world):
    response = submit(world)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "requested"
    [record] = world.outbox(topics.INTAKE.name)
    request = validate_intake(record, lambda e: Elder(e, AREA) if e == "e-wang" else None, {"meal"})
    assert (request.request_id, request.channel, request.elder_id) == (response.json()["request_id"], "app", "e-wang")
    assert request.window_start == datetime.fromisoformat("2026-12-01T01:00:00+00:00")
    assert "ring twice" not in str(record)


def test_the_same_idempotency_key_twice_gives_one_request(world):
    first, again = submit(world, key="9b2f-lunch"), submit(world, key="9b2f-lunch")
    assert first.json()["request_id"] == again.json()["request_id"]
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    assert len(world.outbox(topics.INTAKE.name)) == 1
    changed = submit(world, {**MEAL, "duration_minutes": 45}, key="9b2f-lunch")
    assert changed.status_code == 422
    assert changed.json()["detail"][0]["field"] == "Idempotency-Key"


def test_the_elder_sees_the_caregivers_name_and_arrival_window_once_accepted(world):
    request_id = submit(world).json()["request_id"]
    before = world.client.get(f"/api/v1/requests/{request_id}", headers=world.auth("e-wang")).json()
    assert (before["status"], before["caregiver_name"], before["arrival_window"]) == ("requested", None, None)
    run_worker_on_intake(world)
    [offer] = world.client.get("/api/v1/offers", headers=world.auth("cg-li")).json()["offers"]
    accepted = world.client.post(f"/api/v1/offers/{offer['offer_id']}/accept", headers=world.auth("cg-li"))
    assert accepted.status_code == 202, accepted.text
    [event] = caregiver_events(world)
    assert run_worker_on(event)
    after = world.client.get(f"/api/v1/requests/{request_id}", headers=world.auth("e-wang")).json()
    assert (after["status"], after["caregiver_name"]) == ("accepted", "Li Mei")
    start = datetime.fromisoformat(offer["window"]["start"])  # the visit's planned start
    asked_start, asked_end = (datetime.fromisoformat(MEAL["window"][k]) for k in ("start", "end"))
    # the promise (handlers.dispatch.promise, policy [promise]): 15 min before to 45 after, inside what was asked
    assert datetime.fromisoformat(after["arrival_window"]["start"]) == max(start - timedelta(minutes=15), asked_start)
    assert datetime.fromisoformat(after["arrival_window"]["end"]) == min(start + timedelta(minutes=45), asked_end)
    assert after["arrival_source"] == "visit"


def test_before_anyone_accepts_the_app_shows_the_plan_slots_window_in_a_planned_area(world):
    request_id = submit(world).json()["request_id"]
    run_worker_on_intake(world)  # an offer is pending: no caregiver has accepted yet
    slot = datetime.fromisoformat("2026-12-01T10:30:00+08:00")
    with SqlUnitOfWork(world.sessions) as uow:
        uow.replan({request_id: PlannedVisit("cg-li", slot, slot + timedelta(minutes=30))})
        uow.commit()
    state = world.client.get(f"/api/v1/requests/{request_id}", headers=world.auth("e-wang")).json()
    assert (state["status"], state["caregiver_name"], state["arrival_source"]) == ("received", None, "plan")
    # 15 min before the slot, 45 after it but not past the asked-for 11:00
    assert datetime.fromisoformat(state["arrival_window"]["start"]) == slot - timedelta(minutes=15)
    assert datetime.fromisoformat(state["arrival_window"]["end"]) == datetime.fromisoformat(MEAL["window"]["end"])


def test_a_request_made_by_phone_shows_in_the_app_with_an_unnamed_caregiver_as_your_caregiver(world):
    seed_visit(world, "R-wu", caregiver_id="cg-wu")  # a hotline request, assigned to cg-wu (no display name)
    state = world.client.get("/api/v1/requests/R-wu", headers=world.auth("e-wang")).json()
    assert (state["status"], state["caregiver_name"]) == ("accepted", "your caregiver")


def test_an_emergency_from_the_app_alerts_the_operators_at_once(world):
    request_id = submit(world, {**MEAL, "priority": "stat"}).json()["request_id"]
    alerts = [e for e in world.outbox(topics.LIFECYCLE.name) if e["type"] == "care.operator.alert"]
    assert [(a["subject"], a["data"]["channel"]) for a in alerts] == [(request_id, "app")]


@pytest.mark.parametrize("priority", [Priority.ROUTINE, Priority.STAT])
def test_a_request_for_an_elder_not_in_the_register_is_refused_and_writes_nothing(world, priority):
    start = datetime.fromisoformat(MEAL["window"]["start"])
    sub = Submission("meal", start, start + timedelta(hours=2), 30, priority)
    with pytest.raises(Refused) as refused:
        submit_request(world.ctx, "e-nobody", sub, "key-1")
    assert refused.value.code == "unknown_elder"
    assert world.outbox(topics.INTAKE.name) == world.outbox(topics.LIFECYCLE.name) == []
    assert world.rows(tables.app_submissions) == []


def test_the_caregiver_sees_an_offer_without_the_address_until_accepting(world):
    submit(world)
    run_worker_on_intake(world)
    listing = world.client.get("/api/v1/offers", headers=world.auth("cg-li"))
    [offer] = listing.json()["offers"]
    assert (offer["service_type"], offer["service_area"], len(offer["short_code"])) == ("meal", AREA, 4)
    assert ADDRESS not in listing.text and "address" not in offer
    assert world.client.get("/api/v1/offers", headers=world.auth("cg-wu")).json()["offers"] == []
    world.client.post(f"/api/v1/offers/{offer['offer_id']}/accept", headers=world.auth("cg-li"))
    run_worker_on(caregiver_events(world)[0])
    [visit] = world.client.get("/api/v1/visits", headers=world.auth("cg-li")).json()["visits"]
    assert visit["address"] == ADDRESS


def test_accept_and_decline_write_caregiver_events_keyed_by_service_area(world):
    submit(world)
    run_worker_on_intake(world)
    [offer] = world.client.get("/api/v1/offers", headers=world.auth("cg-li")).json()["offers"]
    declined = world.client.post(f"/api/v1/offers/{offer['offer_id']}/decline", headers=world.auth("cg-li"))
    assert declined.status_code == 202
    assert (
        world.client.post(f"/api/v1/offers/{offer['offer_id']}/decline", headers=world.auth("cg-li")).json()[
            "duplicate"
        ]
        is True
    )
    late_accept = world.client.post(f"/api/v1/offers/{offer['offer_id']}/accept", headers=world.auth("cg-li"))
    assert (late_accept.status_code, late_accept.json()["code"]) == (409, "answered")
    with world.sessions() as s:
        [row] = s.execute(tables.outbox.select().where(tables.outbox.c.topic == topics.CAREGIVER_EVENTS.name))
    assert row.key == AREA
    assert row.value["type"] == "caregiver.offer.declined"
    assert row.value["data"] == {
        "request_id": offer["offer_id"].removesuffix(".o1"),
        "caregiver_id": "cg-li",
        "offer_id": offer["offer_id"],
        "service_area": AREA,
        "channel": "app",
    }
    assert run_worker_on(row.value)
    assert world.rows(tables.offers, offer_id=offer["offer_id"])[0].status.value == "rejected"


def test_a_caregiver_cannot_answer_another_caregivers_offer(world):
    submit(world)
    run_worker_on_intake(world)
    [offer] = world.client.get("/api/v1/offers", headers=world.auth("cg-li")).json()["offers"]
    response = world.client.post(f"/api/v1/offers/{offer['offer_id']}/accept", headers=world.auth("cg-wu"))
    assert (response.status_code, response.json()["code"]) == (404, "unknown_offer")
    assert caregiver_events(world) == []


def test_check_in_and_check_out_carry_the_position_and_the_task_outcomes(world):
    seed_visit(world, "R-1", planned_start=NOW + timedelta(minutes=10))
    far = {"latitude": 32.0703, "longitude": 118.7969, "accuracy_metres": 12}
    checked_in = world.client.post("/api/v1/visits/R-1/check-in", json=far, headers=world.auth("cg-li"))
    assert checked_in.status_code == 202, checked_in.text
    assert [f["code"] for f in checked_in.json()["evv_flags"]] == ["outside_geofence"]
    assert run_worker_on(caregiver_events(world)[0])
    tasks = {"delivered": "done", "eaten": "refused"}
    checked_out = world.client.post(
        "/api/v1/visits/R-1/check-out",
        headers=world.auth("cg-li"),
        json={"latitude": 32.0603, "longitude": 118.7969, "tasks": tasks},
    )
    assert checked_out.status_code == 202, checked_out.text
    check_in_event, check_out_event = caregiver_events(world)
    assert check_in_event["type"] == "caregiver.visit.checked_in"
    assert check_in_event["data"]["position"] == {"latitude": 32.0703, "longitude": 118.7969, "accuracy_metres": 12}
    assert check_out_event["type"] == "caregiver.visit.checked_out"
    assert check_out_event["data"]["tasks"] == tasks and check_out_event["data"]["method"] == "app_gps"
    assert run_worker_on(check_out_event)
    assert world.rows(tables.care_requests, request_id="R-1")[0].status.value == "completed"


def test_checking_in_to_a_visit_the_caregiver_does_not_hold_is_refused(world):
    seed_visit(world, "R-1")
    here = {"latitude": 32.0603, "longitude": 118.7969}
    for path in ("/api/v1/visits/R-1/check-in", "/api/v1/visits/R-404/check-out"):
        response = world.client.post(path, json=here, headers=world.auth("cg-wu"))
        assert (response.status_code, response.json()["code"]) == (409, "no_visit")
    assert caregiver_events(world) == []


def test_an_elder_cancels_a_booked_visit_but_not_a_cancelled_request(world):
    seed_visit(world, "R-1")
    response = world.client.post("/api/v1/requests/R-1/cancel", headers=world.auth("e-wang"))
    assert response.json() == {"request_id": "R-1", "status": "cancelled"}
    assert world.rows(tables.visits, request_id="R-1")[0].status.value == "cancelled"
    again = world.client.post("/api/v1/requests/R-1/cancel", headers=world.auth("e-wang"))
    assert (again.status_code, again.json()["code"]) == (409, "closed")
    assert "cancelled" in again.json()["detail"]


def test_cancelling_a_request_withdraws_its_pending_offer(world):
    request_id = submit(world).json()["request_id"]
    run_worker_on_intake(world)
    response = world.client.post(f"/api/v1/requests/{request_id}/cancel", headers=world.auth("e-wang"))
    assert response.status_code == 200, response.text
    assert [o.status.value for o in world.rows(tables.offers, request_id=request_id)] == ["canceled"]
    assert world.client.get("/api/v1/offers", headers=world.auth("cg-li")).json()["offers"] == []


def test_a_rating_of_a_completed_visit_is_stored_once(world):
    seed_visit(world, "R-done", request_status="completed", visit_status="completed")
    first = world.client.post(
        "/api/v1/requests/R-done/rating", json={"stars": 4, "comment": "kind"}, headers=world.auth("e-wang")
    )
    assert first.json() == {"request_id": "R-done", "stars": 4, "duplicate": False}
    second = world.client.post("/api/v1/requests/R-done/rating", json={"stars": 1}, headers=world.auth("e-wang"))
    assert second.json() == {"request_id": "R-done", "stars": 4, "duplicate": True}
    [row] = world.rows(tables.feedback, request_id="R-done")
    assert (row.kind, row.rating, row.comment) == ("rating", 4, "kind")


def test_a_visit_not_yet_done_cannot_be_rated(world):
    seed_visit(world, "R-1")
    response = world.client.post("/api/v1/requests/R-1/rating", json={"stars": 5}, headers=world.auth("e-wang"))
    assert (response.status_code, response.json()["code"]) == (409, "not_completed")


def test_another_elders_request_looks_like_no_request(world):
    seed_visit(world, "R-1")
    for call in (
        lambda: world.client.get("/api/v1/requests/R-1", headers=world.auth("e-zhao")),
        lambda: world.client.post("/api/v1/requests/R-1/cancel", headers=world.auth("e-zhao")),
    ):
        response = call()
        assert (response.status_code, response.json()["code"]) == (404, "unknown_request")


def test_without_a_valid_token_the_api_answers_401_with_a_bearer_challenge(world):
    from channels.app_tokens import revoke_tokens

    assert world.client.get("/api/v1/offers").headers["WWW-Authenticate"] == "Bearer"
    wrong = world.client.get("/api/v1/offers", headers={"Authorization": "Bearer not-a-token"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert revoke_tokens(world.url, "caregiver", "cg-li") == 1
    assert world.client.get("/api/v1/offers", headers=world.auth("cg-li")).status_code == 401


def test_the_other_apps_token_is_forbidden(world):
    assert world.client.get("/api/v1/offers", headers=world.auth("e-wang")).status_code == 403
    assert submit(world, who="cg-li").status_code == 403
    assert world.outbox(topics.INTAKE.name) == []


@pytest.mark.parametrize(
    "window, field",
    [
        ({"start": "2026-12-01T09:00:00", "end": "2026-12-01T11:00:00+08:00"}, "window.start"),
        ({"start": "2026-12-01T11:00:00+08:00", "end": "2026-12-01T09:00:00+08:00"}, "window.end"),
        ({"start": "2026-11-30T09:00:00+08:00", "end": "2026-11-30T11:00:00+08:00"}, "window.end"),
        ({"start": "2027-06-01T09:00:00+08:00", "end": "2027-06-01T11:00:00+08:00"}, "window.start"),
    ],
)
def test_an_invalid_window_is_refused_naming_the_field(world, window, field):
    response = submit(world, {**MEAL, "window": window})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]] == [field]
    assert world.outbox(topics.INTAKE.name) == []


def test_a_service_nobody_offers_is_refused_naming_service_type(world):
    response = submit(world, {**MEAL, "service_type": "hairdressing"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "service_type"
    assert "meal" in response.json()["detail"][0]["message"]


def test_the_openapi_document_describes_the_app_api_with_named_field_errors(world):
    spec = world.client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/requests"]["post"]
    assert operation["security"] == [{"appToken": []}]
    assert operation["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ValidationProblem")
    assert spec["components"]["securitySchemes"]["appToken"]["scheme"] == "bearer"
