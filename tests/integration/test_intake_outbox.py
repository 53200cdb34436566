"""The intake step commits the validated request to the outbox, with the claim of its request
id, before the intake agent takes the next record (issue 13: a worker killed after the agent
had sent it on lost a request). SQLite, and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from config import topics
from config.settings import get_settings
from db import tables
from streams import steps
from tests.hostile_support import RECORD
from tests.integration.twilio_world import build_world, own_postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def world(request, tmp_path):
    """A world with one elder and a meal caregiver, the worker's caches reading its database."""
    from streams import runtime

    def on(url: str):
        world = build_world(url)
        mp = pytest.MonkeyPatch()
        mp.setenv("CARELINE_DATABASE_URL", url)
        get_settings.cache_clear()
        runtime.install(None)
        try:
            yield world
        finally:
            mp.undo()
            get_settings.cache_clear()
            runtime.install(None)

    if request.param == "sqlite":
        yield from on(f"sqlite:///{tmp_path / 'intake.db'}")
        return
    with own_postgres_database(request.getfixturevalue("services").database_url) as url:
        yield from on(url)


def _rows(world, request_id: str) -> list:
    o = tables.outbox.c
    with world.sessions() as session:
        return session.execute(
            select(o.topic, o.key, o.value, o.sent_at).where(
                o.topic == topics.REQUESTS.name, o.event_id == f"validated:{request_id}"
            )
        ).all()


def test_an_accepted_intake_is_on_the_outbox_for_dispatch_before_the_agent_goes_on(world):
    record = dict(RECORD, intake_id=world.id("in"), elder_id=world.id("e"), sync=None)
    validated = steps.accept_intake_record(record)
    (row,) = _rows(world, record["intake_id"])
    assert row.value == validated and row.sent_at is None  # the relay publishes it
    assert row.key == validated["data"]["service_area"] and validated["type"] == "care.request.validated"
    assert steps.handle_dispatch_event(row.value)  # what dispatch reads is what was committed


def test_the_same_intake_delivered_again_puts_nothing_more_on_the_outbox(world):
    record = dict(RECORD, intake_id=world.id("in"), elder_id=world.id("e"), sync=None)
    assert steps.accept_intake_record(record) is not None
    assert steps.accept_intake_record(dict(record)) is None
    assert len(_rows(world, record["intake_id"])) == 1


def test_an_invalid_intake_is_dead_lettered_and_leaves_no_claim_and_no_outbox_row(world):
    record = dict(RECORD, intake_id=world.id("in"), elder_id="nobody", sync=None)
    with pytest.raises(steps.DeadLetter, match="no registered elder"):
        steps.accept_intake_record(record)
    p = tables.processed_events.c
    with world.sessions() as session:
        claimed = session.scalar(
            select(func.count())
            .select_from(tables.processed_events)
            .where(p.event_id == f"intake:{record['intake_id']}")
        )
    assert claimed == 0 and _rows(world, record["intake_id"]) == []
