"""The unit of work on PostgreSQL: migrations, optimistic concurrency, idempotency."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm.exc import StaleDataError

from db.migrate import upgrade
from db.register import load_day
from db.session import engine_for
from db.uow import SqlUnitOfWork
from handlers.channels.intake import validate_intake
from handlers.datasets.day import build_day
from handlers.datasets.uhhc import parse_instance
from handlers.dispatch import offers
from handlers.dispatch.scheduling import DispatchPolicy, MatrixTravelTimes
from handlers.model import RequestStatus

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def day(services, shared_data):
    upgrade(services.database_url)
    instance = parse_instance(json.loads((shared_data / "uhhc/instances/bazirha-E2.json").read_text()), "E2")
    run = f"db-{uuid.uuid4().hex[:6]}"
    d = build_day(instance, datetime(2026, 11, 30, 7, tzinfo=UTC), 60, run)
    load_day(services.sessions, d, instance)
    return d, instance


def test_migrations_create_every_table_on_postgresql(services):
    upgrade(services.database_url)
    names = set(inspect(engine_for(services.database_url)).get_table_names())
    assert {
        "care_requests",
        "offers",
        "visits",
        "caregivers",
        "elders",
        "provider_organisations",
        "feedback",
        "event_log",
        "outbox",
        "alembic_version",
    } <= names


def _receive(services, day, n=0):
    d, instance = day
    sub = d.submissions[n]
    with SqlUnitOfWork(services.sessions) as uow:
        request = validate_intake(sub.record, uow.elders.get)
        offers.receive_request(request, uow, sub.at, DispatchPolicy(), MatrixTravelTimes(instance.distances))
        uow.commit()
    return sub.record["request_id"]


def test_a_received_request_is_stored_with_its_offer_and_events(services, day):
    rid = _receive(services, day, 0)
    with SqlUnitOfWork(services.sessions) as uow:
        assert uow.requests.get(rid).status == RequestStatus.RECEIVED
        assert len(uow.offers.for_request(rid)) == 1
        logged = uow.session.execute(
            __import__("sqlalchemy").text("select count(*) from event_log where subject = :s"), {"s": rid}
        ).scalar()
        assert logged >= 3  # received, decided, offer created (+ timer)


def test_two_workers_changing_the_same_request_cannot_both_win(services, day):
    rid = _receive(services, day, 1)
    with SqlUnitOfWork(services.sessions) as a, SqlUnitOfWork(services.sessions) as b:
        ra, rb = a.requests.get(rid), b.requests.get(rid)
        ra.status_reason, rb.status_reason = "worker a", "worker b"
        a.commit()
        with pytest.raises(StaleDataError):
            b.commit()
    with SqlUnitOfWork(services.sessions) as uow:
        assert uow.requests.get(rid).status_reason == "worker a"


def test_an_event_id_is_claimed_once_even_by_two_transactions_at_once(services):
    event_id = f"evt-{uuid.uuid4()}"
    with SqlUnitOfWork(services.sessions) as a, SqlUnitOfWork(services.sessions) as b:
        assert a.claim(event_id)
        with ThreadPoolExecutor(1) as pool:
            second = pool.submit(b.claim, event_id)  # waits on a's uncommitted row
            time.sleep(0.3)
            assert not second.done()
            a.commit()
            assert second.result(timeout=10) is False
    with SqlUnitOfWork(services.sessions) as uow:
        assert not uow.claim(event_id)
