"""EVV reviews and providers' ratings of the center on PostgreSQL (CARELINE_TEST_DATABASE_URL),
each test in a database of its own: migration 0010 as declared, the review page's query,
and two people deciding the same thing at the same moment (one wins, the other is told why)."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, make_url, select

from db import tables
from db.center_ratings import CenterRatingSqlUnitOfWork
from db.migrate import upgrade
from db.operator_uow import OperatorSqlUnitOfWork
from db.session import engine_for, session_factory
from db.uow import SqlUnitOfWork
from handlers.dispatch import offers
from handlers.evaluation.center_ratings import CenterAnswers, rate_center
from handlers.operations.operator_actions import Refused
from handlers.visits import attendance
from handlers.visits.evv_review import review_flag
from tests.integration.app_world import NOW, build_app_world, seed_visit, teardown_worker_caches
from tests.unit.dashboard_seed import seed
from tests.unit.web_client import create_app, login, post_action, settings_for

pytestmark = pytest.mark.integration
FAR = {"code": "outside_geofence", "detail": "checked in 412 m from the elder's home (geofence 150 m)"}


@pytest.fixture
def pg_url():
    """A fresh, migrated database on the test cluster, dropped afterwards."""
    base = os.environ.get("CARELINE_TEST_DATABASE_URL")
    if not base:
        pytest.fail(
            "CARELINE_TEST_DATABASE_URL is not set: start PostgreSQL (scripts/postgres.sh start) and "
            "export its URL, or deselect with -m 'not integration'",
            pytrace=False,
        )
    name = f"careline_t{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    engine_for(url).dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


def test_migration_0010_creates_the_review_and_rating_tables_as_declared(pg_url):
    with engine_for(pg_url).connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), tables.metadata) == []


def _race(first, second) -> list[str]:
    """Run ``first`` (writes, then holds its transaction open) and ``second`` (starts while
    the first's row is uncommitted); each returns "done" or a refusal code."""
    written, outcomes = threading.Event(), {}

    def run(key, job, before_commit=None):
        try:
            outcomes[key] = job(before_commit)
        except Refused as exc:
            outcomes[key] = exc.code
        except Exception as exc:  # noqa: BLE001 - anything else fails the assertion below
            outcomes[key] = repr(exc)

    def hold(_):
        written.set()
        time.sleep(0.5)

    a = threading.Thread(target=run, args=("first", first, hold))
    b = threading.Thread(target=lambda: (written.wait(10), run("second", second)))
    a.start(), b.start()
    a.join(30), b.join(30)
    return [outcomes.get("first"), outcomes.get("second")]


def test_two_operators_deciding_one_flag_at_once_leave_one_decision(pg_url):
    center = seed(pg_url, NOW)
    factory = session_factory(pg_url)
    with SqlUnitOfWork(factory) as uow:
        assert attendance.check_in("R-1001", "cg-li", uow, NOW - timedelta(minutes=5), center.travel, [FAR])
        uow.commit()

    def decide(operator: str, outcome: str, note: str):
        def job(before_commit):
            with OperatorSqlUnitOfWork(factory) as uow:
                review_flag("R-1001.o1.v", "outside_geofence", outcome, note, uow, NOW, operator)
                if before_commit:
                    before_commit(uow)
                uow.commit()
            return "done"

        return job

    assert _race(decide("op", "accepted", ""), decide("sup", "rejected", "not there")) == ["done", "already_reviewed"]
    with factory() as s:
        assert s.execute(select(tables.evv_reviews.c.operator_id, tables.evv_reviews.c.outcome)).all() == [
            ("op", "accepted")
        ]


def test_the_review_page_lists_and_decides_flags_on_postgresql(pg_url):
    center = seed(pg_url, NOW)
    with SqlUnitOfWork(session_factory(pg_url)) as uow:
        offer_id = uow.offers.for_request("R-1005")[0].offer_id  # offered 8 minutes ago, answered in time
        assert offers.accept_offer(offer_id, "cg-ma", uow, NOW - timedelta(minutes=7), center.policy, center.travel)
        uow.commit()
    for rid, cid in (("R-1001", "cg-li"), ("R-1005", "cg-ma")):
        with SqlUnitOfWork(session_factory(pg_url)) as uow:
            assert attendance.check_in(rid, cid, uow, NOW, center.travel, [FAR])
            uow.commit()
    app = create_app(settings_for(center))
    op = login(app, "op")
    page = op.get("/dashboard/evv").text
    assert 'data-visit="R-1001.o1.v" data-flag="outside_geofence"' in page and "R-1005" not in page
    assert post_action(
        op,
        "/dashboard/actions/evv/R-1001.o1.v/outside_geofence/review",
        outcome="corrected",
        note="home position on file was wrong",
    ).json()["ok"]
    page = op.get("/dashboard/evv").text
    assert 'data-visit="R-1001.o1.v" data-flag="outside_geofence">' not in page.split('id="evv-reviewed"')[0]
    assert "home position on file was wrong" in page


def test_two_ratings_of_one_visit_at_once_leave_one(pg_url, tmp_path):
    with pytest.MonkeyPatch.context() as monkeypatch:
        world = build_app_world(tmp_path, monkeypatch, url=pg_url)
        try:
            seed_visit(world, "R-done", request_status="completed", visit_status="completed")

            def rate(info: bool):
                def job(before_commit):
                    with CenterRatingSqlUnitOfWork(world.sessions) as uow:
                        rate_center("R-done", "p-1", CenterAnswers(info, True), uow, NOW)
                        if before_commit:
                            before_commit(uow)
                        uow.commit()
                    return "done"

                return job

            assert _race(rate(True), rate(False)) == ["done", "already_rated"]
            assert [r.information_correct for r in world.rows(tables.center_ratings)] == [True]
            response = world.client.post(
                "/api/v1/provider/visits/R-done/center-rating",
                json={"information_correct": False, "notice_sufficient": False},
                headers=world.auth("p-1"),
            )
            assert (response.status_code, response.json()["code"]) == (409, "already_rated")
        finally:
            engine_for(pg_url).dispose()
            teardown_worker_caches()
