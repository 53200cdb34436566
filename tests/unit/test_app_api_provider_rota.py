"""The app API lets a provider keep its own caregivers' rotas and leave (issue 15): it lists
who is on shift and on leave, replaces a rota, records and takes back leave; another
provider's caregiver looks like no caregiver, a rota the rules refuse is a 422 naming it, and
each change is an event on care.register.v1 naming the provider."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from channels.app_tokens import issue_token
from db import tables
from db.session import session_factory
from handlers.model import Caregiver
from tests.unit.web_client import _seeded, app, center  # noqa: F401


def provider(app, center, provider_id: str = "p-gulou") -> TestClient:
    client = TestClient(app)
    client.headers["Authorization"] = "Bearer " + issue_token(center.database_url, "provider", provider_id)
    return client


def test_a_provider_keeps_its_caregivers_rota_and_leave(app, center):
    office = provider(app, center)
    listed = office.get("/api/v1/provider/caregivers")
    assert listed.status_code == 200
    assert {c["caregiver_id"] for c in listed.json()["caregivers"]} == {"cg-li", "cg-wu", "cg-zhou", "cg-sun"}

    answer = office.put("/api/v1/provider/caregivers/cg-li/rota", json={"rota": "每天 00:00-24:00"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["rota"] == "daily 00:00-24:00" and answer.json()["on_shift"] is True

    today = center.now.date()
    sick = office.post("/api/v1/provider/caregivers/cg-li/leave", json={"first": today.isoformat(), "kind": "sick"})
    assert sick.status_code == 201, sick.text
    assert sick.json()["on_leave"] == "sick" and sick.json()["on_shift"] is False
    assert sick.json()["absences"] == [{"first": today.isoformat(), "last": today.isoformat(), "kind": "sick"}]

    back = office.delete(f"/api/v1/provider/caregivers/cg-li/leave/{today.isoformat()}")
    assert back.status_code == 200 and back.json()["absences"] == [] and back.json()["on_leave"] is None
    with session_factory(center.database_url)() as s:
        assert s.get(Caregiver, "cg-li").rota == "daily 00:00-24:00"
        sent = (
            s.execute(
                select(tables.outbox.c.value).where(
                    tables.outbox.c.topic == "care.register.v1", tables.outbox.c.key == "cg-li"
                )
            )
            .scalars()
            .all()
        )
    assert len(sent) == 3 and "provider:p-gulou" in str(sent[0])


def test_another_providers_caregiver_and_a_bad_rota_are_refused(app, center):
    office = provider(app, center)
    other = office.put("/api/v1/provider/caregivers/cg-ma/rota", json={"rota": "mon-fri 08:00-16:00"})
    assert other.status_code == 404 and other.json()["code"] == "unknown_caregiver"
    bad = office.put("/api/v1/provider/caregivers/cg-li/rota", json={"rota": "mon-fri 25:00-26:00"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_rota"
    fixed = office.post(
        "/api/v1/provider/caregivers/cg-li/leave", json={"first": (center.now + timedelta(days=1)).date().isoformat()}
    )
    assert fixed.status_code == 422 and "fixed shift" in fixed.json()["detail"]
    with session_factory(center.database_url)() as s:
        assert not s.get(Caregiver, "cg-ma").rota and not s.get(Caregiver, "cg-li").rota
    elder = TestClient(app)
    elder.headers["Authorization"] = "Bearer " + issue_token(center.database_url, "elder", "e1")
    assert elder.get("/api/v1/provider/caregivers").status_code == 403
