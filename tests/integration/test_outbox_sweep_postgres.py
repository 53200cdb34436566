"""Two workers' outbox sweeps on PostgreSQL (issue 19: a relay safe with several workers): one
key's rows leave in the order they were written. Before, the second sweep skipped the row the
first had locked (``SKIP LOCKED``) and took the same key's next one: a caregiver's check-in could
reach Kafka before her accept, and dispatch would refuse it. Other keys' rows do not wait."""

from __future__ import annotations

import pytest

from config import topics
from db.channels import enqueue
from db.session import session_factory
from streams import relay
from tests.integration.test_reviews_and_ratings_postgres import pg_url  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture
def worker_db(pg_url, worker_on):
    worker_on(pg_url)
    return pg_url


def test_a_second_workers_sweep_leaves_a_keys_later_row_while_the_first_holds_its_earlier_one(worker_db):
    factory = session_factory(worker_db)
    with factory() as session:
        enqueue(session, topics.CAREGIVER_EVENTS.name, "R-1", {"id": "accept", "type": "caregiver.offer.accepted"})
        enqueue(session, topics.CAREGIVER_EVENTS.name, "R-1", {"id": "check-in", "type": "caregiver.checked_in"})
        enqueue(session, topics.CAREGIVER_EVENTS.name, "R-2", {"id": "other", "type": "caregiver.offer.declined"})
        session.commit()

    first, taken = relay._take(1, None, set())  # worker A's sweep: the accept, locked until it is published
    try:
        assert [r.value["id"] for r in taken] == ["accept"]
        second, rows = relay._take(1000, None, set())  # worker B's sweep meanwhile
        try:
            assert [r.value["id"] for r in rows] == ["other"], "the check-in went while the accept was unpublished"
        finally:
            relay._abandon(second)
        relay._finish(first, [r.seq for r in taken])  # A published the accept and marks it sent
    except BaseException:
        relay._abandon(first)
        raise

    after, rows = relay._take(1000, None, set())  # the next sweep, A's or B's: the check-in
    try:
        assert [r.value["id"] for r in rows] == ["check-in", "other"]  # B's sweep was not committed
    finally:
        relay._abandon(after)
