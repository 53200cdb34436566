"""Live KPIs from the worker's Faust windowed table, end to end: a replay
through the real broker, worker and database, one provider made to perform
badly. The live numbers must equal what the monthly report computes from the
stored rows, and the scores the table yields must reach dispatch."""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

import pytest
from rich.console import Console
from sqlalchemy import select

from careline.replay import ReplayDriver, ReplayOptions
from careline.reports import read_month
from config.evaluation import get_evaluation_config
from db import live_kpis, tables
from db.register import read_clock, set_clock
from handlers.clock import SimClock
from handlers.kpis import caregiver_kpis, provider_kpis
from handlers.simulation import CaregiverModel
from handlers.uhhc import parse_instance

pytestmark = pytest.mark.e2e


def _comparable(kpis: dict) -> dict:
    return {k: v for k, v in kpis.items() if k in (
        "offers", "acceptance_rate", "visits", "on_time_rate", "completion_rate", "no_shows",
        "evv_compliance_rate", "ratings", "mean_stars", "satisfaction", "complaints", "complaints_per_100_visits")}


def test_live_kpis_equal_the_stored_records_and_the_poor_providers_score_reaches_dispatch(pipeline, shared_data):
    instance = parse_instance(json.loads((shared_data / "uhhc/instances/bazirha-E2.json").read_text()), "bazirha-E2")
    model = CaregiverModel(poor_providers=("prov2",), rating_rate=1.0, complaint_rate=0.2)
    result = ReplayDriver(pipeline.bootstrap, pipeline.sessions, instance,
                          ReplayOptions(speed=1200, timeout_seconds=300, model=model, twin_roster=True),
                          Console(stderr=True), worker_alive=lambda: pipeline.worker.poll() is None).run()
    run = result.run
    assert result.summary.all_final, result.summary.by_status
    # the replay clock runs on at 1200x and the live window is the last 24 h of it: let the last
    # ratings in (1.5 s is 30 simulated minutes), then slow the clock to real time so the window
    # still holds the day while the test compares
    time.sleep(5)
    with pipeline.sessions() as session:
        sim_now = read_clock(session).now()
    set_clock(pipeline.sessions, SimClock(datetime.now(timezone.utc), sim_now, 1.0))
    policy = get_evaluation_config().kpis
    good, poor = f"{run}.prov1", f"{run}.prov2"

    def stored():
        month = read_month(pipeline.database_url, result.day.start - timedelta(days=1),
                           result.day.start + timedelta(days=2), get_evaluation_config().evv)
        mine = lambda items: [x for x in items if (x.provider_id or "").startswith(run + ".")]  # noqa: E731
        args = (mine(month.offers), mine(month.visits), mine(month.ratings), mine(month.complaints), policy)
        counted = lambda by: {s: k for s, k in by.items() if k.offers or k.visits or k.ratings or k.complaints}  # noqa: E731
        return counted(provider_kpis(*args)), counted(caregiver_kpis(*args))  # only rescinded offers: nothing to count

    deadline, last = time.monotonic() + 90, None
    while time.monotonic() < deadline:  # feedback arrives after the last visit; the table lags the database
        by_provider, by_caregiver = stored()
        with pipeline.sessions() as session:
            live_p = {r["subject_id"]: r for r in live_kpis.read(session, "provider", by_provider)}
            live_c = {r["subject_id"]: r for r in live_kpis.read(session, "caregiver", by_caregiver)}
        last = (by_provider, live_p, by_caregiver, live_c)
        if (set(live_p) == set(by_provider) and set(live_c) == set(by_caregiver)
                and all(_comparable(live_p[s]) == pytest.approx(_comparable(asdict(k))) for s, k in by_provider.items())
                and all(_comparable(live_c[s]) == pytest.approx(_comparable(asdict(k))) for s, k in by_caregiver.items())):
            break
        time.sleep(2)
    by_provider, live_p, by_caregiver, live_c = last
    assert set(live_p) == {good, poor}
    for subject, kpis in by_provider.items():
        assert _comparable(live_p[subject]) == pytest.approx(_comparable(asdict(kpis))), subject
    assert len(live_c) == len(by_caregiver) >= 5  # 5 caregivers in bazirha-E2, twinned: some get no work
    for subject, kpis in by_caregiver.items():
        assert _comparable(live_c[subject]) == pytest.approx(_comparable(asdict(kpis))), subject
    assert live_p[good]["ratings"] > 0 and live_p[good]["visits"] > 0
    assert live_p[poor]["on_time_rate"] < live_p[good]["on_time_rate"]
    assert live_p[poor]["score"] < live_p[good]["score"]

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # provider.scores.v1 -> provider_organisations.score, which dispatch reads
        with pipeline.sessions() as session:
            dispatch_reads = dict(session.execute(select(
                tables.provider_organisations.c.provider_id, tables.provider_organisations.c.score).where(
                tables.provider_organisations.c.provider_id.in_([good, poor]))).all())
        if dispatch_reads == {good: live_p[good]["score"], poor: live_p[poor]["score"]}:
            break
        time.sleep(1)
    assert dispatch_reads == {good: live_p[good]["score"], poor: live_p[poor]["score"]}
