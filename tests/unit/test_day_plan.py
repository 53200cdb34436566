"""The live day plan's instance: register-like records (rotas, leave, windows, skills,
recurring services) become the planner's instance, and its routes a plan that keeps them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handlers.channels.subscriptions import Subscription, intake_for
from handlers.dispatch.day_plan import (
    KnownVisit,
    PlanRefused,
    build_day_instance,
    plan_problems,
    planned_visits,
    recurring_visits,
    routes_by_caregiver,
    unplanned,
)
from handlers.dispatch.planning import plan_day
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.dispatch.shifts import shifts_between
from handlers.model import Caregiver
from handlers.register.geo import CoordinateTravelTimes

ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 8)  # a Tuesday
# Nanjing, a few km apart: 0, 1 homes; 2..5 elders; 6 unknown
POINTS = {
    0: (32.04, 118.78),
    1: (32.06, 118.80),
    2: (32.05, 118.79),
    3: (32.03, 118.77),
    4: (32.07, 118.81),
    5: (32.045, 118.785),
}
TRAVEL = CoordinateTravelTimes(POINTS)
POLICY = DispatchPolicy(skill_hierarchy={"nurse": ("nurse", "personal_care"), "personal_care": ("personal_care",)})


def at(hh: int, mm: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hh, mm, tzinfo=ZONE)


def caregiver(cid: str, rota: str, abilities: str = "personal_care", home: int = 0) -> Caregiver:
    return Caregiver(cid, "p1", "gulou", abilities, home, None, None, rota=rota, time_zone="Asia/Shanghai")


def visit(rid: str, start: datetime, end: datetime, loc: int = 2, service: str = "personal_care", **kw) -> KnownVisit:
    return KnownVisit(rid, f"e-{rid}", service, 30.0, start, end, loc, **kw)


def build(visits, caregivers):
    return build_day_instance("gulou 2026-12-08", DAY, ZONE, visits, caregivers, TRAVEL, POLICY.covers)


def test_each_shift_on_the_day_is_a_vehicle_and_leave_removes_it():
    li = caregiver("li", "mon-fri 08:00-12:00, 14:00-18:00")
    wang = caregiver("wang", "mon-fri 08:00-16:00; leave 2026-12-08", home=1)
    zhao = caregiver("zhao", "sat 08:00-16:00", home=1)
    day = build([visit("r1", at(9), at(10))], [li, wang, zhao])
    assert sorted(cid for cid, _ in day.vehicles.values()) == ["li", "li"]
    shifts = sorted((r.shift_start, r.shift_end) for r in day.instance.roster)
    assert shifts == [(480.0, 720.0), (840.0, 1080.0)]  # minutes after local midnight


def test_windows_and_skills_reach_the_instance():
    nurse = caregiver("li", "tue 08:00-18:00", abilities="nurse")
    aide = caregiver("wang", "tue 08:00-18:00", abilities="personal_care", home=1)
    visits = [
        visit("r1", at(9), at(10, 30)),
        visit("r2", at(14), at(15), loc=3, service="nurse", window_at_service_end=True),
    ]
    day = build(visits, [nurse, aide])
    needs = {n.patient_id: n for n in day.instance.needs}
    assert (needs["r1"].window_start, needs["r1"].window_end) == (540.0, 630.0)
    assert (needs["r2"].window_start, needs["r2"].window_end) == (840.0, 870.0)  # ends by 15:00: starts by 14:30
    skills = {day.vehicles[r.caregiver_id][0]: set(r.abilities) for r in day.instance.roster}
    assert skills == {"li": {"nurse", "personal_care"}, "wang": {"personal_care"}}
    assert day.instance.windows_hard and day.instance.shift_end_hard


def test_visits_without_a_place_or_in_a_pair_or_on_another_day_are_left_out_with_a_reason():
    li = caregiver("li", "tue 08:00-18:00")
    visits = [
        visit("r1", at(9), at(10)),
        visit("nowhere", at(9), at(10), loc=6),
        visit("pair", at(9), at(10), sync_partner_id="r9"),
        visit("tomorrow", at(9) + timedelta(days=1), at(10) + timedelta(days=1)),
    ]
    day = build(visits, [li])
    assert set(day.visits) == {"r1"}
    assert set(day.left_out) == {"nowhere", "pair"}
    assert "no known place" in day.left_out["nowhere"]


def test_no_caregiver_on_duty_is_refused():
    with pytest.raises(PlanRefused, match="no caregiver is on duty on 2026-12-08"):
        build([visit("r1", at(9), at(10))], [caregiver("li", "mon 08:00-12:00; leave 2026-12-08")])


def test_recurring_visits_get_the_ids_the_timer_service_submits():
    sub = Subscription("lunch-7", "e7", "meal_delivery", "mon-fri", "11:00", "Asia/Shanghai", 20.0, 60.0, 90.0)
    weekend = Subscription("sun", "e7", "meal_delivery", "sun", "11:00", "Asia/Shanghai")
    found = recurring_visits([sub, weekend], {"e7": 4}, DAY)
    assert len(found) == 1
    fired = intake_for(sub, at(11) - timedelta(minutes=90))  # what the cron job submits that morning
    assert found[0].request_id == fired["request_id"] == "sub.lunch-7.2026-12-08"
    assert (found[0].window_start, found[0].window_end) == (at(11), at(12))
    assert found[0].location_index == 4 and found[0].source == "recurring"


def test_the_plan_keeps_every_window_rota_and_skill():
    li = caregiver("li", "tue 08:00-12:00, 14:00-18:00", abilities="nurse")
    wang = caregiver("wang", "tue 09:00-13:00", home=1)
    visits = [
        visit("r1", at(8, 30), at(9, 30)),
        visit("r2", at(9), at(10), loc=3),
        visit("r3", at(10), at(11), loc=4, service="nurse"),
        visit("r4", at(14, 30), at(15, 30), loc=5, service="nurse"),
        visit("r5", at(15), at(16), loc=2),
        visit("late", at(20), at(21), loc=2),  # nobody works then
    ]
    caregivers = {c.caregiver_id: c for c in (li, wang)}
    day = build(visits, list(caregivers.values()))
    plan = planned_visits(day, plan_day(day.instance, 1.0), at(0) - timedelta(hours=4))
    assert set(plan) == {"r1", "r2", "r3", "r4", "r5"}
    assert plan_problems(day, plan) == []
    moved = dict(plan, r5=replace(plan["r5"], start=at(17, 45), end=at(18, 15)))
    assert plan_problems(day, moved) == [
        "r5: starts 2026-12-08T17:45:00+08:00 outside its window",
        f"r5: outside every shift of {plan['r5'].caregiver_id}",
    ]
    assert unplanned(day, plan) == ["late"]
    for rid, v in plan.items():
        k = day.visits[rid]
        assert k.window_start <= v.start <= k.window_end, rid
        assert v.end == v.start + timedelta(minutes=30)
        assert any(
            s.start <= v.start and v.end <= s.end for s in shifts_between(caregivers[v.caregiver_id], v.start, v.end)
        )
        assert POLICY.covers(caregivers[v.caregiver_id].abilities, k.service_type)
        # what a live repair needs to move the slot before its request arrives
        assert (v.service_type, v.window_start, v.latest_start, v.window_hard) == (
            k.service_type,
            k.window_start,
            k.window_end,
            True,
        ), rid
    for cid, stops in routes_by_caregiver(plan).items():
        for (_, a), (_, b) in zip(stops, stops[1:], strict=False):
            assert a.end + timedelta(minutes=TRAVEL.minutes(a.location_index, b.location_index)) <= b.start + timedelta(
                seconds=60
            ), cid


def test_an_accepted_visit_stays_with_its_caregiver_and_is_not_replanned():
    li = caregiver("li", "tue 08:00-12:00")
    wang = caregiver("wang", "tue 08:00-12:00", home=1)
    visits = [
        visit("kept", at(9), at(11), fixed_caregiver="wang", fixed_start=at(9, 15)),
        visit("r2", at(9), at(9, 30), loc=3),
    ]
    day = build(visits, [li, wang])
    routes = plan_day(day.instance, 0.5)
    served = {day.vehicles[v][0]: [s.patient_id for s in stops] for v, stops in routes.items() if stops}
    assert "kept" in served["wang"]
    plan = planned_visits(day, routes, None)
    assert set(plan) == {"r2"}


def test_the_evening_job_runs_at_the_configured_hour_in_the_programme_zone():
    from apscheduler.schedulers.background import BackgroundScheduler

    from careline.scheduler import DAY_PLAN_JOB, schedule_day_plans
    from config.settings import Settings

    assert Settings().plan_announce_hour == 18
    scheduler = BackgroundScheduler(timezone=ZoneInfo("UTC"))
    schedule_day_plans(scheduler, 19, "Asia/Shanghai")
    [job] = scheduler.get_jobs()
    assert job.id == DAY_PLAN_JOB
    after = datetime(2026, 12, 7, 12, 0, tzinfo=ZONE)
    assert job.trigger.get_next_fire_time(None, after) == datetime(2026, 12, 7, 19, 0, tzinfo=ZONE)
