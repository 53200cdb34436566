"""The worker's batch steps (``streams.batches``, issue 19) decide as the one-record steps do.

Two copies of one UHHC day (two service areas, same elders, caregivers and requests under other
ids) go through the worker on one SQLite database: the first area one record per transaction
(``streams.steps``: the plain unit of work, what the worker did before), the second in batches
over the partition state (``db.partition_state``). Every request must reach the same status with
the same caregiver at the same time in both. Then a poison record in a batch is dead-lettered
alone, a redelivered batch changes nothing, and a write by someone else (an operator) makes the
worker reload the area instead of overwriting it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from config.settings import get_settings
from db import tables
from db.migrate import upgrade
from db.session import session_factory
from handlers.datasets.uhhc import load_instance
from handlers.model import CareRequest, RequestStatus
from streams import batches, runtime, steps
from streams.batches import Inbound
from tools.bench.workload import build_workload, load_workload

ACCEPTED = "caregiver.offer.accepted"


@pytest.fixture
def worker(tmp_path, shared_data, monkeypatch):
    """A migrated SQLite database with two copies of bazirha-F1's day, and the worker's runtime on it."""
    url = f"sqlite:///{tmp_path / 'batches.db'}"
    upgrade(url)
    monkeypatch.setenv("CARELINE_DATABASE_URL", url)
    monkeypatch.setenv("CARELINE_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    runtime.install(None)
    batches._state = None
    instance = load_instance((shared_data / "uhhc" / "instances" / "bazirha-F1.json").read_bytes(), name="F1")
    workload = build_workload(instance, 2 * 65, "t", datetime.now(UTC).replace(microsecond=0) + timedelta(days=1))
    factory = session_factory(url)
    load_workload(factory, workload)
    yield workload, factory
    batches._state = None
    runtime.install(None)
    get_settings.cache_clear()


def _inbound(values: list[dict], topic: str = "care.requests.v1") -> list[Inbound]:
    return [Inbound(v, topic, 0, i, b"k") for i, v in enumerate(values)]


def _no_reserve(rows: list) -> None:
    pass


def _acceptance(offer) -> dict:
    return {
        "specversion": "1.0",
        "id": f"accept-{offer.offer_id}",
        "source": "test",
        "type": ACCEPTED,
        "subject": offer.request_id,
        "time": datetime.now(UTC).isoformat(),
        "schema_version": 1,
        "data": {
            "request_id": offer.request_id,
            "caregiver_id": offer.caregiver_id,
            "offer_id": offer.offer_id,
            "service_area": offer.service_area,
        },
    }


def _pending_offers(factory, area: str) -> list:
    o, r = tables.offers.c, tables.care_requests.c
    with factory() as session:
        return list(
            session.execute(
                select(o.offer_id, o.request_id, o.caregiver_id, r.service_area)
                .join(tables.care_requests, r.request_id == o.request_id)
                .where(r.service_area == area, o.status == "pending")
                .order_by(o.request_id)
            ).all()
        )


def _outcome(factory, area: str) -> dict[str, tuple]:
    """request (without the area's prefix) -> (status, caregiver, visit start) of the area."""
    r, v = tables.care_requests.c, tables.visits.c
    strip = lambda s: s.split(".", 1)[1] if s else s  # noqa: E731
    with factory() as session:
        rows = session.execute(
            select(r.request_id, r.status, v.caregiver_id, v.planned_start)
            .outerjoin(tables.visits, v.request_id == r.request_id)
            .where(r.service_area == area)
        ).all()
    return {strip(rid): (status, strip(cg), start) for rid, status, cg, start in rows}


def test_a_day_in_batches_decides_as_one_record_at_a_time(worker):
    workload, factory = worker
    one, many = workload.days[0], workload.days[1]
    # the first area: one record per transaction, as the worker did before batches
    for sub in one.submissions:
        validated = steps.accept_intake_record(dict(sub.record))
        assert validated is not None
        assert steps.handle_dispatch_event(validated)
    # the second: the whole day's intake in one batch, dispatch in batches of 20
    intake = batches.intake_batch(_inbound([dict(s.record) for s in many.submissions], "care.intake.v1"), _no_reserve)
    assert intake.handled == len(many.submissions) and not intake.dead
    validated_rows = [row.value for row in intake.rows]
    for i in range(0, len(validated_rows), 20):
        out = batches.dispatch_batch(_inbound(validated_rows[i : i + 20]), _no_reserve)
        assert not out.dead and out.handled == len(validated_rows[i : i + 20])

    # every pending offer is accepted: visits are booked, and later offers see those bookings
    for _ in range(3):
        for offer in _pending_offers(factory, one.area):
            steps.handle_dispatch_event(_acceptance(offer))
        out = batches.dispatch_batch(
            _inbound([_acceptance(o) for o in _pending_offers(factory, many.area)], "caregiver.events.v1"),
            _no_reserve,
        )
        assert not out.dead

    single, batched = _outcome(factory, one.area), _outcome(factory, many.area)
    assert len(single) == len(one.submissions) == len(batched)
    assert sum(1 for s in single.values() if s[1] is not None) > 10  # visits were booked
    assert batched == single


def test_a_poison_record_is_dead_lettered_alone_and_a_redelivered_batch_changes_nothing(worker, monkeypatch):
    workload, factory = worker
    day = workload.days[0]
    intake = batches.intake_batch(
        _inbound([dict(s.record) for s in day.submissions[:10]], "care.intake.v1"), _no_reserve
    )
    values = [row.value for row in intake.rows]
    poison = dict(values[3], id="poison-event")
    handle = batches.messagebus.handle

    def a_bug_on_poison(command, *args):  # a record that breaks its handler (a bug, a bad row)
        if command.event_id == "poison-event":
            raise RuntimeError("poison")
        return handle(command, *args)

    monkeypatch.setattr(batches.messagebus, "handle", a_bug_on_poison)
    records = _inbound([*values[:5], poison, "{not json", *values[5:]])
    out = batches.dispatch_batch(records, _no_reserve)
    assert out.handled == 10
    assert sorted(rec.offset for rec, _ in out.dead) == [5, 6]
    reasons = {rec.offset: str(reason) for rec, reason in out.dead}
    assert reasons[5].startswith("RuntimeError: poison") and reasons[6].startswith("not JSON")
    offers_before = len(_pending_offers(factory, day.area))
    assert offers_before > 0

    again = batches.dispatch_batch(_inbound(values), _no_reserve)  # the same records after a crash
    assert again.handled == 0 and again.duplicates == 10 and not again.rows
    assert len(_pending_offers(factory, day.area)) == offers_before


def test_an_operator_write_to_a_held_area_is_seen_not_overwritten(worker):
    workload, factory = worker
    day = workload.days[0]
    intake = batches.intake_batch(
        _inbound([dict(s.record) for s in day.submissions[:6]], "care.intake.v1"), _no_reserve
    )
    values = [row.value for row in intake.rows]
    batches.dispatch_batch(_inbound(values[:3]), _no_reserve)  # the worker now holds the area
    loads = batches.partition_state().loads

    # an operator cancels a request through the plain ORM session (the counter rises by itself)
    cancelled = values[0]["data"]["request_id"]
    with factory() as session:
        request = session.get(CareRequest, cancelled)
        request.status = RequestStatus.CANCELLED
        session.commit()

    with pytest.raises(Exception) as refused:  # the batch sees the moved counter and refuses to commit
        batches.dispatch_batch(_inbound(values[3:]), _no_reserve)
    assert runtime.worth_waiting(refused.value)  # the agent runs it again (streams.runtime.db_call)
    out = batches.dispatch_batch(_inbound(values[3:]), _no_reserve)
    assert out.handled == 3 and not out.dead
    assert batches.partition_state().loads > loads  # the area was read again, not trusted stale
    held = batches.partition_state().areas[day.area]
    assert cancelled not in held.requests  # closed by the operator: not live in memory any more
    with factory() as session:
        status = session.scalar(
            select(tables.care_requests.c.status).where(tables.care_requests.c.request_id == cancelled)
        )
    assert status == "cancelled"


def test_live_kpis_saved_again_replace_the_row(tmp_path):
    """Two workers can save one subject's live KPIs at once while partitions move; the save is an
    upsert, so the second replaces the first (it was a delete and an insert, and crashed a worker)."""
    from handlers.evaluation.kpis import Kpis

    url = f"sqlite:///{tmp_path / 'kpis.db'}"
    upgrade(url)
    factory = session_factory(url)
    now = datetime(2026, 12, 6, tzinfo=UTC)
    kpis = Kpis("c1", 4, 0.5, 30.0, 2, 1.0, 1.0, 0, 1.0, 1, 5.0, 1.0, 0, 0.0)
    from db import live_kpis

    for score in (0.4, 0.7):
        with factory() as session:
            live_kpis.save(session, [("caregiver", kpis, score)], now - timedelta(days=1), now, now)
            session.commit()
    with factory() as session:
        rows = live_kpis.read(session, "caregiver")
    assert [(r["subject_id"], r["score"]) for r in rows] == [("c1", 0.7)]
