"""A UHHC day replayed end to end through the real broker, worker and PostgreSQL.

The travel and tardiness the summary reports are checked against a
recomputation written here from the stored visits and the instance file,
without careline's evaluation code.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from rich.console import Console
from sqlalchemy import select

from db import tables
from handlers.datasets.uhhc import parse_instance
from tools.replay.driver import ReplayDriver, ReplayOptions

pytestmark = pytest.mark.e2e


def recompute(instance_json: dict, visits: list, run: str, day_start) -> tuple[float, float, float]:
    """Travel minutes (home -> visits in start order -> home) and total / max tardiness."""
    dist = instance_json["distances"]
    patients = {p["id"]: p for p in instance_json["patients"]}
    terminals = {t["id"]: t["distance_matrix_index"] for t in instance_json["terminal_points"]}
    homes = {c["id"]: terminals[c["departing_point"]] for c in instance_json["caregivers"]}
    at_end = instance_json["metadata"].get("time_window_met") == "at_service_end"
    travel = total = worst = 0.0
    routes = defaultdict(list)
    for v in visits:
        routes[v.caregiver_id.removeprefix(run + ".")].append(v)
    for caregiver, stops in routes.items():
        here = homes[caregiver]
        for v in sorted(stops, key=lambda v: v.check_in_at):
            patient_id, service = v.request_id.removeprefix(run + ".").rsplit(".", 1)
            p = patients[patient_id]
            travel += dist[here][p["distance_matrix_index"]]
            here = p["distance_matrix_index"]
            start = (v.check_in_at - day_start).total_seconds() / 60
            duration = next(s["duration"] for s in p["required_services"] if s["service"] == service)
            late = max(0.0, start + (duration if at_end else 0) - p["time_windows"][0]["end"])
            total, worst = total + late, max(worst, late)
        travel += dist[here][homes[caregiver]]
    return travel, total, worst


def late_visits(pipeline, instance_json: dict, visits: list, run: str, day_start) -> list[str]:
    """Each visit that ended after its window: request, caregiver, window and check-in (minutes
    from the day's start), and how far the request came (``db.runs.request_traces``), so a
    broken window says which offer and which decision put it there."""
    from db import runs

    patients = {p["id"]: p for p in instance_json["patients"]}
    at_end = instance_json["metadata"].get("time_window_met") == "at_service_end"
    minute = lambda t: (t - day_start).total_seconds() / 60  # noqa: E731
    late = []
    for v in visits:
        patient_id, service = v.request_id.removeprefix(run + ".").rsplit(".", 1)
        p = patients[patient_id]
        duration = next(s["duration"] for s in p["required_services"] if s["service"] == service)
        window = p["time_windows"][0]
        if minute(v.check_in_at) + (duration if at_end else 0) > window["end"]:
            late.append(v)
    with pipeline.sessions() as session:
        traces = runs.request_traces(session, [v.request_id for v in late])
        offers = session.execute(
            select(tables.offers).where(tables.offers.c.request_id.in_([v.request_id for v in late]))
        ).all()
    return [
        f"{v.request_id} by {v.caregiver_id}: window {patients[v.request_id.removeprefix(run + '.').rsplit('.', 1)[0]]['time_windows'][0]}, "
        f"planned {minute(v.planned_start):.0f}, checked in {minute(v.check_in_at):.0f}; offers "
        + ", ".join(
            f"{o.offer_id} {o.caregiver_id} {o.status} at {minute(o.planned_start):.0f} made {minute(o.created_at):.0f}"
            for o in offers
            if o.request_id == v.request_id
        )
        + f"; {traces[v.request_id]}"
        for v in late
    ]


def assert_repairs_keep_hard_windows(pipeline, run: str) -> None:
    """Issue 18: a declined or timed-out planned offer goes through the worker's repair (an audit
    event per attempt), and every offer made (the repaired ones included) starts inside its hard
    window. At 1200x the repair's budget is its share of the replayed day (3 s of the day is
    2.5 ms of wall: ``AreaContext.at_clock_speed``), too little to solve, so these attempts end in
    insertion; the solver's repairs are tested offline (tests/unit/test_repair.py) and measured
    by ``careline bench dispatch``."""
    r, o, e = tables.care_requests.c, tables.offers.c, tables.event_log.c
    with pipeline.sessions() as session:
        attempts = [
            row.payload.get("data", row.payload)
            for row in session.execute(
                select(e.payload).where(e.type == "care.dispatch.repaired", e.subject.like(f"{run}.%"))
            )
        ]
        offered = session.execute(
            select(o.offer_id, o.planned_start, r.window_start, r.window_end, r.window_hard)
            .join(tables.care_requests, r.request_id == o.request_id)
            .where(o.request_id.like(f"{run}.%"))
        ).all()
    # about 15 % of offers are declined or time out: 33 planned visits without one fall is < 1 %
    assert attempts, "no planned visit fell through in this day: nothing was repaired"
    repaired = [a for a in attempts if a["outcome"] == "repaired"]
    print(f"\nplanned bazirha-E2: {len(attempts)} visits fell through, {len(repaired)} repaired by the solver")
    for a in repaired:
        assert a["moved"] and a["solver_seconds"] <= 5, a
    late = [x.offer_id for x in offered if x.window_hard and not x.window_start <= x.planned_start <= x.window_end]
    assert not late, f"offers outside their hard window: {late}"


@pytest.mark.parametrize("mode", ["online", "batched", "planned"])
def test_a_bazirha_day_reaches_final_states_without_overlaps_and_its_costs_add_up(pipeline, shared_data, mode):
    path = shared_data / "uhhc/instances/bazirha-E2.json"
    raw = json.loads(path.read_text())
    instance = parse_instance(raw, "bazirha-E2")
    driver = ReplayDriver(
        pipeline.bootstrap,
        pipeline.sessions,
        instance,
        ReplayOptions(speed=1200, timeout_seconds=300, mode=mode, plan_seconds=5),
        Console(stderr=True),
        worker_alive=lambda: pipeline.worker.poll() is None,
    )
    result = driver.run()
    run, summary = result.run, result.summary

    assert len(result.final) == len(instance.needs) == summary.requests
    assert summary.all_final, summary.by_status
    # batches tick on the wall clock (0.1 s): behind a busy worker some requests wait long enough
    # for their hard windows to close, so fewer are served than when offered on arrival
    # (about 15 % of offers are declined or time out, and hard windows leave no room to be late:
    # a few requests end failed to the operator queue in every mode)
    assert summary.by_status.get("completed", 0) >= (0.5 if mode == "batched" else 0.7) * summary.requests

    from handlers.model import Visit

    with pipeline.sessions() as session:
        visits = [
            v
            for v in session.scalars(select(Visit).where(tables.visits.c.request_id.like(f"{run}.%")))
            if v.check_in_at is not None
        ]
    assert len(visits) == summary.by_status["completed"]
    dist = raw["distances"]
    by_caregiver = defaultdict(list)
    for v in visits:
        by_caregiver[v.caregiver_id].append(v)
    for stops in by_caregiver.values():
        stops.sort(key=lambda v: v.check_in_at)
        for a, b in zip(stops, stops[1:], strict=False):
            gap = (b.check_in_at - a.check_out_at).total_seconds() / 60
            assert gap >= dist[a.location_index][b.location_index], f"{a.visit_id} overlaps {b.visit_id}"

    travel, total, worst = recompute(raw, visits, run, result.day.start)
    assert summary.cost.travel_time == pytest.approx(travel)
    assert summary.cost.total_tardiness == pytest.approx(total)
    assert summary.cost.highest_tardiness == pytest.approx(worst)
    assert total == 0, "bazirha windows are hard: no visit may end after its window: " + "\n".join(
        late_visits(pipeline, raw, visits, run, result.day.start)
    )

    published = json.loads((shared_data / "uhhc/solutions/bazirha-E2.sa.json").read_text())
    ratio = travel / published["cost_components"]["travel_time"]
    if mode == "planned":
        with pipeline.sessions() as session:
            planned = dict(
                session.execute(
                    select(tables.planned_visits.c.request_id, tables.planned_visits.c.caregiver_id).where(
                        tables.planned_visits.c.request_id.like(f"{run}.%")
                    )
                ).all()
            )
            firsts = {}
            for rid, cid, _created in session.execute(
                select(tables.offers.c.request_id, tables.offers.c.caregiver_id, tables.offers.c.created_at)
                .where(tables.offers.c.request_id.like(f"{run}.%"))
                .order_by(tables.offers.c.created_at)
            ).all():
                firsts.setdefault(rid, cid)
        followed = sum(firsts.get(rid) == cid for rid, cid in planned.items()) / len(planned)
        # a planned slot is given up when a fallback has taken it since (measured 79–94 %); a
        # repair moves the fallen request's row (and the slots it moved) to the new caregiver
        assert followed >= 0.7, f"only {followed:.0%} of first offers followed the plan"
        assert_repairs_keep_hard_windows(pipeline, run)
    print(
        f"\n{mode} bazirha-E2: careline travel {travel:.0f} min for {len(visits)} visits vs published SA "
        f"{published['cost_components']['travel_time']} min for all 33: ratio {ratio:.3f}; "
        f"unserved {summary.cost.unserved}"
    )


def test_the_statistics_api_answers_with_the_numbers_a_replay_produced(pipeline, shared_data, tmp_path):
    from fastapi.testclient import TestClient

    from careline.operators import add_operator
    from careline.web.app import create_app
    from config.settings import Settings

    instance = parse_instance(json.loads((shared_data / "uhhc/instances/bazirha-E2.json").read_text()), "bazirha-E2")
    result = ReplayDriver(
        pipeline.bootstrap,
        pipeline.sessions,
        instance,
        ReplayOptions(speed=1200, timeout_seconds=300),
        Console(stderr=True),
        worker_alive=lambda: pipeline.worker.poll() is None,
    ).run()
    user = f"sup-{result.run}"
    add_operator(pipeline.database_url, user, "supervisor", "a long enough password")
    client = TestClient(create_app(Settings(database_url=pipeline.database_url, var_dir=tmp_path)))
    token = client.post("/api/auth/token", data={"username": user, "password": "a long enough password"}).json()
    stats = client.get(
        "/api/stats/cumulative",
        params={"minutes": 3 * 24 * 60, "service_area": result.day.area},
        headers={"Authorization": f"Bearer {token['access_token']}"},
    ).json()
    queues = stats["queues"]
    assert sum(q["tasks_completed"] for q in queues) == result.summary.by_status.get("completed", 0)
    assert sum(q["tasks_entered"] for q in queues) == result.summary.requests
    offers = result.summary.offers_by_status
    assert sum(q["reservations_accepted"] for q in queues) == offers.get("accepted", 0)
    assert sum(q["reservations_timed_out"] for q in queues) == offers.get("timeout", 0)
