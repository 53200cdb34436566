"""A live day plan (issue 18): a center set up from its register files (docs/sample-register,
Suzhou 姑苏区) puts its area in planned mode, has requests booked for Monday 2027-01-04 and a
weekday lunch subscription; ``careline plan --date 2027-01-04 --area ... --announce`` plans
the day from the database, stores a plan that keeps every window, rota and skill, tells each
planned caregiver their day in their language, and when the lunch request arrives from the
recurring service it is offered first to its planned caregiver (the worker's dispatch step)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from careline.cli import app
from channels.register import import_file, register_context
from config import topics
from config.bootstrap import load_configuration
from config.settings import Settings, get_settings
from db import tables, timers
from db.migrate import upgrade
from db.register import change_area_mode
from db.session import session_factory
from handlers.channels.subscriptions import Subscription, intake_for
from handlers.dispatch.shifts import shifts_between
from handlers.model import Caregiver, CareRequest, Priority, RequestStatus
from streams import steps
from tests.integration.twilio_world import own_postgres_database

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "sample-register"
AREA = "江苏省/苏州市/姑苏区"
DAY = "2027-01-04"  # a Monday
LUNCH = Subscription("lunch-E005", "E005", "meal", "mon-fri", "11:30", "Asia/Shanghai", 30.0, 60.0, 60.0)
BOOKED = {  # request id: elder, service, window (local), all on Monday 2027-01-04
    "b-meal": ("E001", "meal", "10:00", "11:00"),
    "b-clean": ("E004", "cleaning", "09:00", "10:30"),
    "b-bath": ("E003", "bathing", "08:30", "10:00"),
    "b-repair": ("E006", "repair", "14:00", "16:00"),
    "b-nurse": ("E007", "nurse", "09:00", "11:00"),
    "b-evening": ("E002", "meal", "19:00", "20:00"),  # no meal caregiver works then
}


def local(hhmm: str) -> datetime:
    return datetime.fromisoformat(f"{DAY}T{hhmm}:00+08:00")


def _center(url: str):
    from streams import runtime

    upgrade(url, "heads")
    context = register_context(Settings(center_region="江苏省/苏州市", landline_area_code="0512"))
    for kind, name in (("providers", "providers.csv"), ("caregivers", "caregivers.csv"), ("elders", "elders.csv")):
        report = import_file(session_factory(url), kind, (SAMPLES / name).read_bytes(), name, context)
        assert report.errors == [], report.errors
    mp = pytest.MonkeyPatch()
    mp.setenv("CARELINE_DATABASE_URL", url)
    mp.delenv("CARELINE_TWILIO_ACCOUNT_SID", raising=False)  # SMS logged, not sent: no broker or Prism here
    get_settings.cache_clear()
    runtime.install(None)
    return mp


@pytest.fixture
def center(services):
    from streams import runtime

    with own_postgres_database(services.database_url) as url:
        mp = _center(url)
        try:
            yield url
        finally:
            mp.undo()
            get_settings.cache_clear()
            runtime.install(None)


@pytest.fixture
def small_center(tmp_path):
    from streams import runtime

    url = f"sqlite:///{tmp_path / 'center.db'}"
    mp = _center(url)
    try:
        yield url
    finally:
        mp.undo()
        get_settings.cache_clear()
        runtime.install(None)


def book(url: str) -> None:
    """The day's requests as the worker stores them on arrival (booked the week before), the
    lunch subscription, C04 registered as speaking English first, and the area planned."""
    with session_factory(url)() as s:
        places = dict(s.execute(select(tables.elders.c.elder_id, tables.elders.c.location_index)).all())
        for rid, (elder, service, start, end) in BOOKED.items():
            s.add(
                CareRequest(
                    rid, elder, service, 45.0, local(start), local(end), AREA,
                    datetime(2026, 12, 28, 9, tzinfo=UTC), Priority.ROUTINE, "operator", places[elder],
                    status=RequestStatus.REQUESTED,
                )
            )  # fmt: skip
        timers.save_subscription(s, LUNCH)
        s.execute(
            tables.caregivers.update()
            .where(tables.caregivers.c.caregiver_id == "C04")
            .values(language="English 普通话")
        )
        assert change_area_mode(s, AREA, "planned", 60.0)
        s.commit()


@pytest.mark.integration
def test_plan_from_the_database_keeps_windows_and_rotas_tells_caregivers_and_the_worker_follows_it(center):
    book(center)
    run = CliRunner().invoke(app, ["plan", "--date", DAY, "--area", AREA, "--time-limit", "2", "--announce"])
    assert run.exit_code == 0, run.output
    assert "planning " in run.output and "of 2 s" in run.output  # the progress line and the budget
    assert "not planned (dispatched online when it arrives): b-evening" in run.output
    assert "every start inside its window and shift" in run.output and "broken promise" not in run.output

    with session_factory(center)() as s:
        p = tables.planned_visits.c
        plan = {r.request_id: r for r in s.execute(select(tables.planned_visits))}
        caregivers = {c.caregiver_id: c for c in s.scalars(select(Caregiver))}
        s.expunge_all()
        notices = s.execute(select(tables.notices).where(tables.notices.c.kind == "day_plan")).all()
        assert s.execute(select(p.request_id).where(p.announced_at.is_(None))).all() == []
    lunch_id = intake_for(LUNCH, local("10:30"))["request_id"]
    assert lunch_id == f"sub.lunch-E005.{DAY}"
    assert set(plan) == {"b-meal", "b-clean", "b-bath", "b-repair", "b-nurse", lunch_id}
    windows = {rid: (local(a), local(b), service) for rid, (_, service, a, b) in BOOKED.items()}
    windows[lunch_id] = (local("11:30"), local("12:30"), "meal")
    policy = load_configuration(get_settings()).policy  # config/policy.toml: a nurse may bring a meal
    for rid, v in plan.items():
        start, end, service = windows[rid]
        caregiver = caregivers[v.caregiver_id]
        assert start <= v.planned_start <= end, rid  # inside the elder's window
        shifts = shifts_between(caregiver, v.planned_start, v.planned_end)
        assert any(sh.start <= v.planned_start and v.planned_end <= sh.end for sh in shifts), (rid, caregiver.rota)
        assert policy.covers(caregiver.abilities, service), (rid, caregiver.caregiver_id)
        # stored with its window, so a repair may move the slot before its request arrives
        assert (v.service_type, v.window_start, v.window_hard) == (service, start, True), rid
        assert v.latest_start == end if rid in BOOKED else start < v.latest_start <= end, rid
    # 2027-01-04 is a Monday: C02 works tue/thu and weekends; C05 nights: neither has a day visit
    assert not {v.caregiver_id for v in plan.values()} & {"C02", "C05"}

    told = {n.recipient_id: n for n in notices}
    assert set(told) == {v.caregiver_id for v in plan.values()}
    for cid, n in told.items():
        assert n.channel == "sms" and n.to_phone == caregivers[cid].phone and n.status in ("sent", "sending")
        count = sum(1 for v in plan.values() if v.caregiver_id == cid)
        if cid == "C04":  # English first
            assert "your plan for 4 Jan" in n.body, n.body
            assert f"{count} jobs" in n.body
        else:
            assert "1月4日您有" in n.body and f"{count}单" in n.body, n.body

    # planning and announcing again: a caregiver whose day changed is told the new day, the others nothing
    again = CliRunner().invoke(app, ["plan", "--date", DAY, "--area", AREA, "--time-limit", "1", "--announce"])
    assert again.exit_code == 0, again.output
    with session_factory(center)() as s:
        n = tables.notices.c
        bodies = s.execute(select(n.recipient_id, n.body).where(n.kind == "day_plan")).all()
    assert len(bodies) == len(set(bodies))  # a caregiver never gets the same day twice

    # the lunch request arrives from the recurring service: offered first to its planned caregiver
    with session_factory(center)() as s:
        planned_for_lunch = s.execute(
            select(tables.planned_visits.c.caregiver_id, tables.planned_visits.c.planned_start).where(
                tables.planned_visits.c.request_id == lunch_id
            )
        ).one()
    record = intake_for(LUNCH, local("10:30"))
    assert steps.accept_intake_record(record) is not None
    o = tables.outbox.c
    with session_factory(center)() as s:
        (event,) = s.scalars(
            select(o.value).where(o.topic == topics.REQUESTS.name, o.event_id == f"validated:{record['intake_id']}")
        ).all()
    assert steps.handle_dispatch_event(event)
    f = tables.offers.c
    with session_factory(center)() as s:
        first = s.execute(
            select(f.caregiver_id, f.planned_start).where(f.request_id == lunch_id).order_by(f.created_at)
        ).first()
    assert first is not None
    assert first.caregiver_id == planned_for_lunch.caregiver_id
    assert abs(first.planned_start - planned_for_lunch.planned_start) <= timedelta(minutes=1)


def test_bad_input_gets_a_clear_error(small_center):
    runner = CliRunner()
    bad_date = runner.invoke(app, ["plan", "--date", "04/01/2027", "--area", AREA])
    assert bad_date.exit_code == 2 and "is not a date like 2026-12-08" in bad_date.output
    unknown = runner.invoke(app, ["plan", "--date", DAY, "--area", "nowhere", "--time-limit", "1"])
    assert unknown.exit_code == 2 and "no area 'nowhere'" in unknown.output
    nothing = runner.invoke(app, ["plan", "--date", "2027-01-10", "--area", AREA, "--time-limit", "1"])
    assert nothing.exit_code == 2 and "no visit to plan on 2027-01-10" in nothing.output
    with session_factory(get_settings().database_url)() as s:
        s.execute(tables.caregivers.update().values(active=False))
        s.commit()
    nobody = runner.invoke(app, ["plan", "--date", "2027-01-10", "--area", AREA, "--time-limit", "1"])
    assert nobody.exit_code == 2 and "no caregiver is on duty on 2027-01-10" in nobody.output
    mode = runner.invoke(app, ["register", "area", AREA, "--mode", "weekly"])
    assert mode.exit_code == 2 and "dispatch_mode: 'weekly' is not one of online, batched, planned" in mode.output
    ok = runner.invoke(app, ["register", "area", AREA, "--mode", "batched", "--batch-interval", "30"])
    assert ok.exit_code == 0, ok.output
    listed = runner.invoke(app, ["register", "areas"])
    assert f"{AREA},{AREA},batched,30.0" in listed.output


def test_the_evening_job_plans_tomorrow_for_planned_areas_and_tells_the_caregivers(small_center, monkeypatch):
    from careline.scheduler import plan_tomorrow
    from db.register import set_clock
    from handlers.clock import SimClock

    book(small_center)
    monkeypatch.setenv("CARELINE_PLAN_TIME_LIMIT_SECONDS", "1")
    get_settings.cache_clear()
    # the evening before, by the clock every component reads: Sunday 2027-01-03 18:00 in Suzhou
    set_clock(session_factory(small_center), SimClock(datetime.now(UTC), local("18:00") - timedelta(days=1), 1.0))
    assert plan_tomorrow() == 1
    with session_factory(small_center)() as s:
        planned = s.execute(select(tables.planned_visits)).all()
        told = s.execute(select(tables.notices.c.recipient_id).where(tables.notices.c.kind == "day_plan")).all()
    assert len(planned) == 6 and all(p.announced_at is not None for p in planned)
    assert {t.recipient_id for t in told} == {p.caregiver_id for p in planned}


def _fire(kind: str, target: str, due: datetime) -> dict:
    """A ``timer.fired`` record as the timer service publishes it (``careline.scheduler.fire``)."""
    data = {"kind": kind, "target_id": target, "service_area": AREA, "due": due.isoformat()}
    return {"id": f"fired-{kind}-{target}", "type": "timer.fired", "time": due.isoformat(), "data": data}


@pytest.mark.integration
def test_announced_plan_is_offered_then_a_decline_waits_for_the_round_and_elders_hear_after_the_last(center):
    """Issue 18, confirmation rounds on PostgreSQL through the worker's dispatch step: the
    announcement asks for the plan's offers, a decline is held for the round, the round offers it
    to someone else inside its window, and after the last round every elder with a visit is told."""
    from handlers.dispatch import rounds

    book(center)
    with session_factory(center)() as s:  # the booked requests as the worker stores them on arrival
        s.execute(
            tables.care_requests.update()
            .where(tables.care_requests.c.request_id.in_(list(BOOKED)))
            .values(status=RequestStatus.RECEIVED.value, received_at=datetime.now(UTC))
        )
        s.commit()
    run = CliRunner().invoke(app, ["plan", "--date", DAY, "--area", AREA, "--time-limit", "2", "--announce"])
    assert run.exit_code == 0, run.output
    o = tables.outbox.c
    with session_factory(center)() as s:
        asked = [
            v["data"] for v in s.scalars(select(o.value).where(o.topic == topics.SCHEDULER))
            if v["data"].get("kind") == "offer-plan"
        ]  # fmt: skip
        plan = {r.request_id: r for r in s.execute(select(tables.planned_visits))}
    assert len(asked) == 1 and asked[0]["service_area"] == AREA
    announced = datetime.fromisoformat(asked[0]["target_id"].rpartition("|")[2])
    assert steps.handle_dispatch_event(_fire("offer-plan", asked[0]["target_id"], announced))

    f = tables.offers.c
    with session_factory(center)() as s:
        made = {r.request_id: r for r in s.execute(select(tables.offers))}
    booked_planned = {rid for rid in BOOKED if rid in plan}
    assert set(made) == booked_planned  # every booked request of the plan is offered at once
    for rid, offer in made.items():
        assert (offer.caregiver_id, offer.planned_start) == (plan[rid].caregiver_id, plan[rid].planned_start)

    # one caregiver declines; another accepts
    declined, accepted = sorted(made)[:2]
    for rid, kind in ((declined, "caregiver.offer.declined"), (accepted, "caregiver.offer.accepted")):
        reply = {
            "id": f"reply-{rid}", "type": kind, "time": datetime.now(UTC).isoformat(),
            "data": {"offer_id": made[rid].offer_id, "caregiver_id": made[rid].caregiver_id, "service_area": AREA},
        }  # fmt: skip
        assert steps.handle_dispatch_event(reply)
    e = tables.event_log.c
    with session_factory(center)() as s:
        held = [p["data"] for p in s.scalars(select(e.payload).where(e.type == "care.dispatch.repaired"))]
        told_early = s.scalars(select(e.payload).where(e.type == "dispatch.offer.accepted")).all()
    assert [(h["request_id"], h["outcome"]) for h in held] == [(declined, "held")]
    assert told_early[0]["data"]["promise_deferred"] is True  # the elder is not told before the rounds end

    policy = load_configuration(get_settings()).policy
    assert policy.confirm_rounds >= 1
    for k in range(1, policy.confirm_rounds + 1):
        due = policy.round_closes_at(announced, k)
        assert steps.handle_dispatch_event(_fire(rounds.KIND, rounds.round_target(AREA, announced, k), due))
    with session_factory(center)() as s:
        again = s.execute(
            select(f.caregiver_id, f.planned_start, f.status).where(f.request_id == declined).order_by(f.created_at)
        ).all()
        promised = {
            p["data"]["request_id"]: p["data"]
            for p in s.scalars(select(e.payload).where(e.type == "dispatch.promise.told"))
        }
    start, end = local(BOOKED[declined][2]), local(BOOKED[declined][3])
    assert len(again) == 2 and again[1].caregiver_id != made[declined].caregiver_id  # never back to who declined
    assert start <= again[1].planned_start <= end  # inside the elder's hard window
    assert set(promised) == {accepted}  # the one accepted visit: its elder hears her window after the last round
    window = [datetime.fromisoformat(promised[accepted][k]) for k in ("promised_start", "promised_end")]
    assert window[0] <= made[accepted].planned_start <= window[1]
