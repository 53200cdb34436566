"""Live KPIs from the worker's Faust windowed table, end to end: a replay
through the real broker, worker and database, one provider made to perform
badly. The live numbers must equal what the monthly report computes from the
stored rows, also after every event the fold reads was delivered a second
time (as the outbox relay re-sends rows whose acknowledgement was lost), and
the scores the table yields must reach dispatch."""

from __future__ import annotations

import json
import time

import pytest
from kafka import KafkaProducer
from rich.console import Console
from sqlalchemy import select

from config import topics
from db import tables
from handlers.datasets.uhhc import parse_instance
from handlers.simulation.caregiver_model import CaregiverModel
from tools.faults.live_check import compare, hold_clock
from tools.replay.driver import ReplayDriver, ReplayOptions

pytestmark = pytest.mark.e2e


def test_live_kpis_equal_the_stored_records_and_the_poor_providers_score_reaches_dispatch(pipeline, shared_data):
    instance = parse_instance(json.loads((shared_data / "uhhc/instances/bazirha-E2.json").read_text()), "bazirha-E2")
    model = CaregiverModel(poor_providers=("prov2",), rating_rate=1.0, complaint_rate=0.2)
    result = ReplayDriver(
        pipeline.bootstrap,
        pipeline.sessions,
        instance,
        ReplayOptions(speed=1200, timeout_seconds=300, model=model, twin_roster=True),
        Console(stderr=True),
        worker_alive=lambda: pipeline.worker.poll() is None,
    ).run()
    run = result.run
    assert result.summary.all_final, result.summary.by_status
    time.sleep(5)  # the last ratings: 1.5 s is 30 simulated minutes at 1200x
    hold_clock(pipeline.sessions)
    assert resend_folded_events(pipeline, run) > 50

    found = compare(
        pipeline.database_url, pipeline.sessions, run, result.day.start, wait_s=90, bootstrap=pipeline.bootstrap
    )
    good, poor = f"provider:{run}.prov1", f"provider:{run}.prov2"
    assert {good, poor} <= set(found.stored)
    assert len([k for k in found.stored if k.startswith("caregiver:")]) >= 5  # 5 caregivers in bazirha-E2, twinned
    for key, want in found.stored.items():
        got = {k: found.live.get(key, {}).get(k) for k in want}
        got.pop("median_seconds_to_accept"), want.pop("median_seconds_to_accept")
        assert got == pytest.approx(want), f"{key}: {found.summary()}; {found.gap(key)}"
    live = found.live
    assert live[good]["ratings"] > 0 and live[good]["visits"] > 0
    assert live[poor]["acceptance_rate"] < live[good]["acceptance_rate"]  # 45 % vs 85 % in the model
    assert live[poor]["score"] < live[good]["score"]

    scores = {f"{run}.prov1": live[good]["score"], f"{run}.prov2": live[poor]["score"]}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # provider.scores.v1 -> provider_organisations.score, which dispatch reads
        with pipeline.sessions() as session:
            dispatch_reads = dict(
                session.execute(
                    select(tables.provider_organisations.c.provider_id, tables.provider_organisations.c.score).where(
                        tables.provider_organisations.c.provider_id.in_(scores)
                    )
                ).all()
            )
        if dispatch_reads == scores:
            break
        time.sleep(1)
    assert dispatch_reads == scores


def resend_folded_events(pipeline, run: str) -> int:
    """Publish again, with their ids, the run's relayed lifecycle, offer and feedback events; how many."""
    o = tables.outbox.c
    folded = (topics.LIFECYCLE.name, topics.OFFERS.name, topics.FEEDBACK.name)
    with pipeline.sessions() as session:
        rows = [
            r
            for r in session.execute(select(o.topic, o.key, o.value).where(o.topic.in_(folded), o.sent_at.is_not(None)))
            if str(r.value["data"].get("request_id", "")).startswith(run)
        ]
    producer = KafkaProducer(bootstrap_servers=pipeline.bootstrap, acks="all")
    for r in rows:
        producer.send(r.topic, key=r.key.encode(), value=json.dumps(r.value).encode())
    producer.flush()
    producer.close()
    return len(rows)
