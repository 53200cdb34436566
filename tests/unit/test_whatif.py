"""What-if replay of a recorded day (issue 18): the same policy reproduces the day exactly,
another policy changes decisions and ``careline whatif`` prints the differences.

The day is recorded by running bazirha-E2 through the handlers with the seeded caregiver
model (``run_day``), then stored through the repositories and the event log into SQLite, as
the worker stores a live day; ``careline whatif`` reads it back from there."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from careline.cli import app
from config.bootstrap import load_configuration
from config.policy import DEFAULT_PATH
from config.settings import get_settings
from db.day_plans import store_plan
from db.events import log_only
from db.migrate import upgrade
from db.register import load_day
from db.session import session_factory
from db.whatif import read_recorded_day
from handlers.datasets.day import build_day
from handlers.datasets.uhhc import load_instance
from handlers.dispatch.planned import PlannedVisit
from handlers.dispatch.scheduling import MatrixTravelTimes
from handlers.simulation.caregiver_model import CaregiverModel
from handlers.simulation.offline import run_day
from handlers.simulation.whatif import (
    RecordedDay,
    changed_decisions,
    decisions,
    differences,
    logged,
    measures,
    recorded_answers,
    recorded_check_ins,
    rerun,
)

START = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def recorded(shared_data):
    """bazirha-E2 run under the configured policy (config/policy.toml) with the model's
    declines and timeouts: (instance, day, run, policy, travel)."""
    path = shared_data / "uhhc" / "instances" / "bazirha-E2.json"
    instance = load_instance(path.read_bytes(), name="bazirha-E2")
    day = build_day(instance, START, 60, "t", providers=2)
    settings = get_settings().model_copy(update={"policy_file": DEFAULT_PATH})
    policy = replace(load_configuration(settings).policy, shift_end_hard=instance.shift_end_hard)
    travel = MatrixTravelTimes(instance.distances)
    model = CaregiverModel(seed=7, accept_rate=0.7, decline_rate=0.15)  # declines and timeouts both happen
    run = run_day(day, travel, policy, model, {n.service_id for n in instance.needs})
    return instance, day, run, policy, travel


def in_memory(day, run) -> RecordedDay:
    """The recorded day as ``db.whatif`` would read it, straight from the run."""
    events = logged(run.uow.events)
    first: dict[str, datetime] = {}
    for e in run.uow.events:
        first.setdefault(e.subject, e.time)
    arrivals = sorted(((first[r.request_id], r) for r in run.uow.requests.values()), key=lambda a: a[0])
    return RecordedDay(
        day.area,
        day.start,
        day.elders,
        day.providers,
        day.caregivers,
        tuple(arrivals),
        recorded_answers(events),
        recorded_check_ins(events),
        tuple(run.uow.offers.values()),
        tuple(run.uow.visits.values()),
    )


def outcome(day: RecordedDay, offers, visits, travel, policy):
    return decisions(offers, visits), measures(day.arrivals, offers, visits, day.caregivers, travel, policy.sla_minutes)


def test_the_same_policy_reproduces_the_recorded_day_exactly(recorded):
    _, day, run, policy, travel = recorded
    day_ = in_memory(day, run)
    again = rerun(day_, policy, travel, CaregiverModel(seed=99))  # another seed: every answer must be the record's
    before = outcome(day_, day_.offers, day_.visits, travel, policy)
    after = outcome(day_, again.run.uow.offers.values(), again.run.uow.visits.values(), travel, policy)
    statuses = {status for _, _, status, _ in before[0].offers}
    assert {"accepted", "rejected", "timeout"} <= statuses  # declines and timeouts happened: not a trivial day
    assert after == before  # same offers (request, caregiver, status, time), same accepted caregivers, same measures
    assert (again.answered_from_record, again.answered_by_model) == (len(day_.offers), 0)
    assert not any(d.changed for d in differences(before[1], after[1]))


def test_another_policy_changes_decisions_and_the_differences_show_it(recorded):
    _, day, run, policy, travel = recorded
    day_ = in_memory(day, run)
    other = replace(policy, travel_weight=0.0, fairness_weight=30.0)
    again = rerun(day_, other, travel, CaregiverModel(seed=7))
    before = outcome(day_, day_.offers, day_.visits, travel, policy)
    after = outcome(day_, again.run.uow.offers.values(), again.run.uow.visits.values(), travel, policy)
    assert changed_decisions(before[0], after[0])
    assert again.answered_by_model > 0 and again.answered_from_record > 0
    travel_row = next(d for d in differences(before[1], after[1]) if d.measure == "travel (min)")
    assert travel_row.changed and travel_row.recorded == before[1].travel_minutes


def test_a_timeout_is_recorded_as_silence_and_a_rescinded_offer_not_at_all():
    t0 = START
    events = [
        {"type": "dispatch.offer.created", "time": t0, "data": {"offer_id": "r.o1", "request_id": "r", "caregiver_id": "a"}},
        {"type": "dispatch.offer.timeout", "time": t0.replace(minute=2), "data": {"offer_id": "r.o1", "request_id": "r", "caregiver_id": "a"}},
        {"type": "dispatch.offer.created", "time": t0, "data": {"offer_id": "r.o2", "request_id": "r", "caregiver_id": "b"}},
        {"type": "dispatch.offer.rescinded", "time": t0, "data": {"offer_id": "r.o2", "request_id": "r", "caregiver_id": "b"}},
        {"type": "dispatch.offer.created", "time": t0.replace(minute=3), "data": {"offer_id": "r.o3", "request_id": "r", "caregiver_id": "a"}},
        {"type": "dispatch.offer.accepted", "time": t0.replace(minute=3, second=40), "data": {"offer_id": "r.o3", "request_id": "r", "caregiver_id": "a"}},
    ]  # fmt: skip
    answers = recorded_answers(events)
    assert set(answers) == {("r", "a")}
    assert [(a.answer, a.delay_seconds) for a in answers[("r", "a")]] == [("ignore", 120.0), ("accept", 40.0)]


def store(url: str, day, instance, run) -> None:
    """Store the run as the worker stores a live day: register, requests, offers, visits, event log."""
    upgrade(url)
    factory = session_factory(url)
    fresh = {k: tuple(replace(o) for o in getattr(day, k)) for k in ("elders", "providers", "caregivers")}
    load_day(factory, replace(day, **fresh), instance)  # copies: a stored object stays bound to its database
    with factory() as session:
        for group in (run.uow.requests, run.uow.offers, run.uow.visits):
            for obj in group.values():
                session.add(replace(obj))
            session.flush()
        for i, event in enumerate(run.uow.events):
            log_only(session, event, f"rec-{i}", "careline/test")
        session.commit()


@pytest.fixture
def center(recorded, tmp_path, monkeypatch):
    instance, day, run, _, _ = recorded
    url = f"sqlite:///{tmp_path / 'center.db'}"
    store(url, day, instance, run)
    monkeypatch.setenv("CARELINE_DATABASE_URL", url)
    monkeypatch.setenv("CARELINE_PROGRAMME_TIMEZONE", "UTC")
    monkeypatch.setenv("CARELINE_POLICY_FILE", str(DEFAULT_PATH))
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_the_day_read_back_from_the_database_is_the_recorded_day(center, recorded):
    _, day, run, policy, travel = recorded
    with session_factory(center)() as session:
        midnight = START.replace(hour=0)
        stored = read_recorded_day(session, day.area, midnight, midnight + timedelta(days=1))
    assert [(at, r.request_id) for at, r in stored.arrivals] == [
        (at, r.request_id) for at, r in in_memory(day, run).arrivals
    ]
    again = rerun(stored, policy, travel, CaregiverModel(seed=7))
    assert outcome(stored, stored.offers, stored.visits, travel, policy) == outcome(
        stored, again.run.uow.offers.values(), again.run.uow.visits.values(), travel, policy
    )


def whatif(*args: str):
    return CliRunner().invoke(app, ["whatif", "--date", "2026-11-30", "--area", "t.area", *args])


def test_careline_whatif_with_the_same_policy_shows_no_difference(center, tmp_path):
    out = tmp_path / "same.json"
    result = whatif("--policy", str(DEFAULT_PATH), "--json", str(out))
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["changed_caregivers"] == [] and doc["answered_by_model"] == 0
    assert all(d["recorded"] == d["whatif"] for d in doc["differences"])
    assert "0 of 33 requests went to another caregiver" in result.output


def test_careline_whatif_prints_what_another_policy_changes(center, tmp_path):
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    other = tmp_path / "other.toml"
    other.write_text(
        text.replace("travel_weight = 1.0 ", "travel_weight = 0.0 ").replace("fairness_weight = 2.0 ", "fairness_weight = 30.0 "),
        encoding="utf-8",
    )  # fmt: skip
    out = tmp_path / "other.json"
    result = whatif("--policy", str(other), "--json", str(out))
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["changed_caregivers"], result.output
    travel = next(d for d in doc["differences"] if d["measure"] == "travel (min)")
    assert travel["delta"] != 0
    assert "travel (min)" in result.output and f"{travel['delta']:+.0f}" in result.output
    first = doc["changed_caregivers"][0]
    assert f"{first['request_id']}: {first['recorded'] or '(none)'} -> {first['whatif'] or '(none)'}" in result.output


def test_a_bad_policy_file_is_named_with_its_line_and_field(center, tmp_path):
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("travel_weight = 1.0 ", "travel_weight = -1.0 "), encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith("travel_weight"))
    result = whatif("--policy", str(bad))
    assert result.exit_code == 2
    assert f"bad.toml:{line}" in result.output and "scoring.travel_weight" in result.output


def test_planned_mode_without_a_stored_plan_says_how_to_make_one(center):
    result = whatif("--policy", str(DEFAULT_PATH), "--mode", "planned")
    assert result.exit_code == 2
    assert "careline plan --date 2026-11-30 --area t.area" in " ".join(result.output.split())


def recorded_plan(run) -> dict[str, PlannedVisit]:
    """A day plan that gives each request the caregiver and start it had in the record."""
    return {
        v.request_id: PlannedVisit(v.caregiver_id, v.planned_start, v.planned_end, v.location_index)
        for v in run.uow.visits.values()
        if v.status.value == "completed"
    }


def test_planned_mode_offers_each_request_first_to_its_planned_caregiver(recorded):
    _, day, run, policy, travel = recorded
    plan = recorded_plan(run)
    again = rerun(
        in_memory(day, run), replace(policy, repair_seconds=0.0), travel, CaregiverModel(seed=7), "planned", plan
    )
    first: dict[str, tuple[str, datetime]] = {}
    for o in sorted(again.run.uow.offers.values(), key=lambda o: o.created_at):
        first.setdefault(o.request_id, (o.caregiver_id, o.planned_start))
    assert plan and {rid: first[rid] for rid in plan} == {rid: (v.caregiver_id, v.start) for rid, v in plan.items()}


def test_careline_whatif_replays_a_stored_plan_in_planned_mode(center, recorded, tmp_path):
    _, _, run, _, _ = recorded
    plan = recorded_plan(run)
    with session_factory(center)() as session:
        store_plan(session, list(plan), plan)
        session.commit()
    out = tmp_path / "planned.json"
    # the configured policy with a 0.4 s repair budget instead of 3 s: the day's declines are
    # repaired either way, and the unit loop stays fast
    policy = tmp_path / "policy.toml"
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    assert "repair_seconds = 3.0" in text
    policy.write_text(text.replace("repair_seconds = 3.0", "repair_seconds = 0.4"), encoding="utf-8")
    result = whatif("--policy", str(policy), "--mode", "planned", "--json", str(out))
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["mode"] == "planned" and doc["whatif"]["requests"] == 33
    assert "mode planned" in " ".join(result.output.split())
