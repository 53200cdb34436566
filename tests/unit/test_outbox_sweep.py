"""What a relay's sweep may take (``db.outbox.unsent_locked``, issue 19): another worker's own
rows only once they are ``SWEEP_AFTER_SECONDS`` old (their owner publishes them in order within
milliseconds), but the rows only the outside writes (a caller's intake record, a caregiver's
SMS answer, a rating) at once: nobody else would publish them, and at a replay's speed two
seconds are many minutes of the day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from config import topics
from db import outbox
from db.channels import enqueue
from db.migrate import upgrade
from db.session import session_factory
from streams.relay import SWEEP_AFTER_SECONDS


def test_a_sweep_takes_the_outsides_rows_at_once_and_a_workers_only_when_they_are_old(tmp_path):
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    upgrade(url)
    factory = session_factory(url)
    with factory() as session:
        for topic in (
            topics.INTAKE.name,
            topics.CAREGIVER_EVENTS.name,
            topics.FEEDBACK.name,
            topics.OFFERS.name,
            topics.LIFECYCLE.name,
            topics.REQUESTS.name,
            topics.SCHEDULER,
        ):
            enqueue(session, topic, "k", {"id": f"fresh-{topic}"})
        session.commit()

    def taken(now: datetime, skip: set[int] = frozenset()) -> list[str]:
        with factory() as session:
            before = now - timedelta(seconds=SWEEP_AFTER_SECONDS)
            return [r.topic for r in outbox.unsent_locked(session, 100, before, set(skip))]

    now = datetime.now(UTC)
    assert sorted(taken(now)) == sorted([topics.INTAKE.name, topics.CAREGIVER_EVENTS.name, topics.FEEDBACK.name])
    later = now + timedelta(seconds=SWEEP_AFTER_SECONDS + 1)  # a worker died with its rows unsent
    assert sorted(taken(later)) == sorted(
        [
            topics.INTAKE.name,
            topics.CAREGIVER_EVENTS.name,
            topics.FEEDBACK.name,
            topics.OFFERS.name,
            topics.LIFECYCLE.name,
            topics.REQUESTS.name,
        ]
    )  # never the timer service's
    with factory() as session:
        seqs = [r.seq for r in outbox.unsent_locked(session, 100, None, set())]
    assert taken(now, set(seqs)) == []  # rows this worker has in flight are left to it


def test_a_keys_row_waits_while_an_earlier_row_of_the_key_is_in_flight_or_too_young(tmp_path):
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    upgrade(url)
    factory = session_factory(url)
    with factory() as session:
        enqueue(session, topics.OFFERS.name, "R-1", {"id": "offer"})  # a worker's own row, young
        enqueue(session, topics.CAREGIVER_EVENTS.name, "R-1", {"id": "accept"})
        enqueue(session, topics.CAREGIVER_EVENTS.name, "R-1", {"id": "check-in"})
        enqueue(session, topics.CAREGIVER_EVENTS.name, "R-2", {"id": "other"})
        session.commit()
        seqs = {r.value["id"]: r.seq for r in outbox.unsent_locked(session, 100, None, set())}

    def taken(skip: set[int], before: datetime | None = None) -> list[str]:
        with factory() as session:
            return [r.value["id"] for r in outbox.unsent_locked(session, 100, before, skip)]

    assert taken(set()) == ["offer", "accept", "check-in", "other"]
    young = datetime.now(UTC) - timedelta(seconds=SWEEP_AFTER_SECONDS)
    assert taken(set(), young) == ["accept", "check-in", "other"]  # another topic's row does not hold R-1 back
    assert taken({seqs["accept"]}) == ["offer", "other"]  # the accept is in flight: its check-in waits
    assert taken({seqs["accept"]}, young) == ["other"]


def test_a_long_backlog_behind_a_held_row_does_not_stall_other_keys(tmp_path, monkeypatch, worker_on):
    """A sweep pass whose rows are all held back behind one key's earlier row must not end the
    sweep: the rows after them (another key's intake record) still go (a review's reproduction,
    with passes of 5 rows instead of 1,000)."""
    import asyncio

    from streams import relay as relay_module

    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    upgrade(url)
    worker_on(url)
    factory = session_factory(url)
    with factory() as session:
        enqueue(session, topics.CAREGIVER_EVENTS.name, "R-1", {"id": "accept"})
        for i in range(12):
            enqueue(session, topics.CAREGIVER_EVENTS.name, "R-1", {"id": f"later-{i}"})
        enqueue(session, topics.INTAKE.name, "I-9", {"id": "new-intake"})
        session.commit()
        accept = outbox.unsent_locked(session, 1, None, set())[0].seq

    sent: list[str] = []

    async def send(rows) -> None:
        sent.extend(r.value["id"] for r in rows)

    monkeypatch.setattr(relay_module, "_send", send)
    monkeypatch.setattr(relay_module, "LIMIT", 5)
    relay = relay_module.Relay()
    in_flight = [SimpleNamespace(seq=accept)]
    relay.reserve(in_flight)  # the accept is in flight here
    assert asyncio.run(relay.sweep(0.0)) == 1
    assert sent == ["new-intake"]
    relay.release(in_flight)
    asyncio.run(relay.sweep(0.0))  # the accept has gone: the key's backlog follows, in order
    assert sent == ["new-intake", "accept", *[f"later-{i}" for i in range(12)]]
