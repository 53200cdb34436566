"""A center set up from its own register files alone (docs/sample-register, no UHHC file)
dispatches by its rotas and its coordinates: a meal on a Monday morning is offered to the
caregiver whose rota covers it, with travel from coordinates (never 0 minutes); a meal on
Monday evening, when no meal caregiver works, is offered to nobody and waits for an operator
naming why (failed: the operator queue). The worker's synchronous steps (intake, dispatch) run on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from channels.register import import_file, register_context
from config import topics
from config.settings import Settings, get_settings
from db import tables
from db.migrate import upgrade
from db.session import session_factory
from handlers.model import CareRequest, RequestStatus
from streams import steps
from tests.integration.twilio_world import own_postgres_database

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "sample-register"
FILES = (
    ("providers", "providers.csv"),
    ("caregivers", "caregivers.csv"),
    ("elders", "elders.csv"),
    ("devices", "devices.xlsx"),
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def center(request, tmp_path):
    from streams import runtime

    def on(url: str):
        upgrade(url, "heads")
        context = register_context(Settings(center_region="江苏省/苏州市", landline_area_code="0512"))
        for kind, name in FILES:
            report = import_file(session_factory(url), kind, (SAMPLES / name).read_bytes(), name, context)
            assert report.errors == [], report.errors
        mp = pytest.MonkeyPatch()
        mp.setenv("CARELINE_DATABASE_URL", url)
        get_settings.cache_clear()
        runtime.install(None)
        try:
            yield url
        finally:
            mp.undo()
            get_settings.cache_clear()
            runtime.install(None)

    if request.param == "sqlite":
        yield from on(f"sqlite:///{tmp_path / 'center.db'}")
        return
    with own_postgres_database(request.getfixturevalue("services").database_url) as url:
        yield from on(url)


def ask(url: str, intake_id: str, start: str, end: str) -> CareRequest:
    """An operator's meal request for E001 (张桂英, 平江路) submitted on Monday 2027-01-04 at
    07:00 in Suzhou, through intake and dispatch as the worker runs them."""
    record = {
        "intake_id": intake_id,
        "channel": "operator",
        "elder_id": "E001",
        "service_type": "meal",
        "duration_minutes": 45,
        "submitted_at": "2027-01-04T07:00:00+08:00",
        "priority": "routine",
        "window": {"start": start, "end": end},
    }
    validated = steps.accept_intake_record(record)
    assert validated is not None
    o = tables.outbox.c
    with session_factory(url)() as s:
        (event,) = s.scalars(
            select(o.value).where(o.topic == topics.REQUESTS.name, o.event_id == f"validated:{intake_id}")
        ).all()
    assert steps.handle_dispatch_event(event)
    with session_factory(url)() as s:
        request = s.get(CareRequest, intake_id)
        assert request is not None
        s.expunge(request)
        return request


def offers(url: str, request_id: str) -> list:
    f = tables.offers.c
    with session_factory(url)() as s:
        return s.execute(select(f.caregiver_id, f.travel_minutes).where(f.request_id == request_id)).all()


def test_a_morning_meal_goes_to_the_caregiver_on_shift_with_travel_from_coordinates(center):
    ask(center, "op-morning", "2027-01-04T10:00:00+08:00", "2027-01-04T11:00:00+08:00")
    ((caregiver, travel),) = offers(center, "op-morning")
    # C01 works mon-fri 08:00-16:00 by e-bike from 平江街道; C02 (meal too) works tue/thu and weekends
    assert caregiver == "C01" and 0 < travel < 30


def test_an_evening_meal_when_no_meal_caregiver_works_waits_for_an_operator(center):
    request = ask(center, "op-evening", "2027-01-04T19:00:00+08:00", "2027-01-04T20:00:00+08:00")
    assert offers(center, "op-evening") == []
    assert request.status not in (RequestStatus.ACCEPTED, RequestStatus.COMPLETED)
    # without the rotas C01 and C02 (both cook) would be offered it; failed goes to the operator queue
    assert request.status == RequestStatus.FAILED and request.status_reason == "no eligible caregiver"
