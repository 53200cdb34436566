"""The day plan as the worker reads it back from the database (``db.day_plans``, ``db.uow``) is the
plan that was stored, windows included, so a live repair may move a slot whose request has not
arrived (``handlers.dispatch.repair``), as the offline day always could."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from db import tables
from db.day_plans import store_plan
from db.session import session_factory
from db.uow import SqlUnitOfWork
from handlers.dispatch.planned import PlannedVisit
from tests.unit.web_client import _seeded, center  # noqa: F401 - fixtures

T0 = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


PLAN = {
    "r-moveable": PlannedVisit("cg-li", at(60), at(90), 2, T0, "meal", at(30), at(120), True),
    "r-pair": PlannedVisit("cg-wu", at(100), at(130), 4, T0, "bathing", at(90), at(110), True, synchronised=True),
    "r-soft": PlannedVisit("cg-li", at(200), at(230), 3, None, "cleaning", at(180), at(240), False),
}


def test_a_stored_plan_reads_back_with_its_windows(center):
    factory = session_factory(center.database_url)
    with factory() as session:
        store_plan(session, list(PLAN), PLAN)
        session.commit()
    with SqlUnitOfWork(factory) as uow:
        assert uow.day_plan(["cg-li", "cg-wu"]) == PLAN
        assert uow.planned_visits(["r-pair"]) == {"r-pair": PLAN["r-pair"]}


def test_a_repair_that_moves_a_slot_saves_its_window_with_it(center):
    factory = session_factory(center.database_url)
    moved = {"r-moveable": replace(PLAN["r-moveable"], caregiver_id="cg-zhou", start=at(100), end=at(130))}
    with SqlUnitOfWork(factory) as uow:
        uow.replan(moved)
        uow.commit()
    with SqlUnitOfWork(factory) as uow:
        assert uow.day_plan(["cg-zhou"]) == moved


def test_a_row_stored_before_the_windows_were_kept_stays_put(center):
    factory = session_factory(center.database_url)
    with factory() as session:
        session.execute(
            tables.planned_visits.insert().values(
                request_id="r-old", caregiver_id="cg-li", planned_start=at(60), planned_end=at(90), location_index=2
            )
        )
        session.commit()
    with SqlUnitOfWork(factory) as uow:
        [old] = uow.day_plan(["cg-li"]).values()
    assert (old.window_start, old.latest_start, old.window_hard, old.synchronised) == (None, None, False, False)
