"""Family contacts hear of every emergency, and of assignment, arrival and completion when they opted in."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from db import tables
from handlers.channels.sms import count_segments, family_text
from streams import outbound
from tests.integration.twilio_world import sqlite_world

pytestmark = pytest.mark.integration


@pytest.fixture
def world(tmp_path):
    return sqlite_world(tmp_path)


def _event(world, etype: str, **data) -> dict:
    return {
        "id": f"{etype}-{world.suffix}-{data.get('status', '')}",
        "type": etype,
        "time": "2026-12-01T01:30:00+00:00",
        "data": {"request_id": world.id("r1"), "elder_id": world.id("e"), **data},
    }


def test_an_emergency_is_texted_to_the_family_once_even_without_opting_in(world):
    alert = _event(world, "care.operator.alert", reason="emergency received", priority="stat")
    assert outbound.notify_family(alert, world.ctx) == 1
    assert outbound.notify_family(alert, world.ctx) == 0  # a redelivered event texts nobody twice
    (kind, to, body, _) = world.notifier.sent[-1]
    assert (kind, to) == ("sms", world.family_phone) and "紧急" in body


def test_routine_progress_is_texted_only_to_families_who_opted_in(world):
    accepted = _event(world, "care.request.status_changed", status="accepted")
    assert outbound.notify_family(accepted, world.ctx) == 0
    with world.sessions() as s:
        s.execute(update(tables.elders).where(tables.elders.c.elder_id == world.id("e")).values(family_updates=True))
        s.commit()
    for status in ("accepted", "in-progress", "completed"):
        assert outbound.notify_family(_event(world, "care.request.status_changed", status=status), world.ctx) == 1
    assert outbound.notify_family(_event(world, "care.request.status_changed", status="received"), world.ctx) == 0


@pytest.mark.parametrize("event", ["emergency", "accepted", "in-progress", "completed"])
@pytest.mark.parametrize("language", ["zh", "en"])
def test_family_texts_fit_one_segment(event, language):
    assert count_segments(family_text(event, language, "关爱" if language == "zh" else "careline")).segments == 1
