"""Family contacts hear of every emergency, and of assignment, arrival and completion when
they opted in; one notice per event, even when it is delivered twice (``channels.notices``)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from channels.notices import tell
from db import tables
from tests.integration.twilio_world import sqlite_world

pytestmark = pytest.mark.integration


@pytest.fixture
def world(tmp_path):
    return sqlite_world(tmp_path)


def _event(world, etype: str, **data) -> dict:
    return {
        "id": f"{etype}-{world.suffix}",
        "type": etype,
        "time": "2026-12-01T01:30:00+00:00",
        "data": {"request_id": world.id("r1"), "elder_id": world.id("e"), **data},
    }


def _family(rows) -> list:
    return [r for r in rows if r.recipient_role == "family"]


def test_an_emergency_is_texted_to_the_family_once_even_without_opting_in(world):
    alert = _event(world, "care.operator.alert", reason="emergency received", priority="stat")
    assert len(_family(tell(world.ctx, alert))) == 1
    assert tell(world.ctx, alert) == []  # a redelivered event texts nobody twice
    (kind, to, body, _) = world.notifier.sent[-1]
    assert (kind, to) == ("sms", world.family_phone) and "紧急" in body


def test_the_delivery_status_twilio_reports_for_a_notice_is_stored(world):
    """Twilio calls back at the URL the notice gave it; every status it reports is accepted and
    the last one stands (the fault lab found them refused: purpose ``family.…`` was malformed)."""
    from urllib.parse import parse_qsl, urlsplit

    from db import notices

    alert = _event(world, "care.operator.alert", reason="emergency received", priority="stat")
    (row,) = _family(tell(world.ctx, alert))
    callback = urlsplit(world.notifier.sent[-1][3])
    query = dict(parse_qsl(callback.query))
    assert query["purpose"].startswith("family.")
    with world.sessions() as s:
        (stored,) = [n for n in notices.for_requests(s, [world.id("r1")]) if n.notice_id == row.notice_id]
    assert stored.delivery == "queued"
    for status in ("sent", "delivered"):
        form = {"MessageSid": stored.sid, "MessageStatus": status, "To": world.family_phone}
        assert world.post(callback.path, form, query).status_code == 204
    with world.sessions() as s:
        (stored,) = [n for n in notices.for_requests(s, [world.id("r1")]) if n.notice_id == row.notice_id]
    assert stored.delivery == "delivered"


def test_routine_progress_is_texted_only_to_families_who_opted_in(world):
    arrived = _event(world, "care.visit.checked_in", visit_id=f"{world.id('r1')}.v1")
    assert _family(tell(world.ctx, arrived)) == []
    with world.sessions() as s:
        s.execute(update(tables.elders).where(tables.elders.c.elder_id == world.id("e")).values(family_updates=True))
        s.commit()
    for etype in ("care.visit.checked_in", "care.visit.completed"):
        event = dict(_event(world, etype), id=f"{etype}-{world.suffix}-opted-in")
        (row,) = _family(tell(world.ctx, event))
        assert row.to_phone == world.family_phone and row.segments == 1
    texts = [body for kind, to, body, _ in world.notifier.sent if to == world.family_phone]
    assert any("已到达" in t for t in texts) and any("已完成" in t for t in texts)
