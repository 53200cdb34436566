"""``careline bench scale --lifecycle`` fails on a broken invariant (``tools.bench.scale_run.verdict``):
a request the driver sent that the database never saw is lost, a request with two accepted offers
is decided twice, and an outbox record the driver read twice outside a crash is published twice.
The integration test (``tests/integration/test_bench_lifecycle.py``) runs the bench itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db.migrate import upgrade
from db.session import session_factory
from handlers.datasets.uhhc import load_instance
from handlers.model import CareRequest, Offer, OfferStatus, RequestStatus
from tools.bench.lifecycle import Driver, Run
from tools.bench.scale_run import verdict
from tools.bench.workload import build_workload, load_workload

NOW = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)


def test_the_verdict_names_a_lost_request_a_double_decision_and_a_twice_published_record(tmp_path, shared_data):
    url = f"sqlite:///{tmp_path / 'verdict.db'}"
    upgrade(url)
    factory = session_factory(url)
    instance = load_instance((shared_data / "uhhc" / "instances" / "bazirha-F1.json").read_bytes(), name="F1")
    workload = build_workload(instance, 1, "bx", NOW)
    load_workload(factory, workload)
    day = workload.days[0]
    run = Run()
    lost, twice = "bx-a0.lost", "bx-a0.twice"
    run.sent_at.update({lost: 0.0, twice: 0.0})
    with factory() as session:
        r = CareRequest(twice, day.elders[0].elder_id, "meal", 30.0, NOW, NOW + timedelta(hours=1), day.area, NOW)
        r.status = RequestStatus.ACCEPTED
        session.add(r)
        session.flush()
        for k, c in enumerate(day.caregivers[:2]):
            offer = Offer(f"o{k}", twice, c.caregiver_id, NOW, NOW + timedelta(minutes=30), NOW, NOW, 5.0, 0.0, f"{k}")
            offer.status = OfferStatus.ACCEPTED
            session.add(offer)
        session.commit()
    driver = Driver("unused:9092", 1, None, run)  # type: ignore[arg-type]
    driver._count_once("event-1", 1000)
    driver._count_once("event-1", 1200)

    broken = verdict(factory, "bx", run, 0)

    assert any(lost in line and "no request" in line for line in broken), broken
    assert any(twice in line and "2 accepted offers" in line for line in broken), broken
    assert any("published twice" in line for line in broken), broken


def test_a_record_repeated_after_a_kill_is_counted_apart_by_when_it_was_first_produced():
    run = Run()
    driver = Driver("unused:9092", 1, None, run)  # type: ignore[arg-type]
    driver._count_once("before", 1000)
    run.killed, run.killed_at_ms = True, 1500.0
    driver._count_once("in flight", 1400)  # produced before the kill, read after it
    driver._count_once("before", 1600)  # the killed worker published it, the sweep publishes it again
    driver._count_once("in flight", 1700)
    driver._count_once("after", 1800)
    assert (run.published_twice, run.republished_after_kill) == (0, 2)
    driver._count_once("after", 1900)
    assert run.published_twice == 1
