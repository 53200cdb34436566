"""Repair instead of greedy fallback (issue 18): a planned visit that falls through is re-planned by
the routing solver for the caregivers it affects (``handlers.dispatch.repair``), offline."""

from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from careline.history import CenterWords
from handlers import messagebus
from handlers import messages as m
from handlers.dispatch import offers, repair
from handlers.dispatch.area import AreaContext
from handlers.dispatch.explain import explain
from handlers.dispatch.planned import PlannedVisit, receive_planned
from handlers.dispatch.repair import RepairNode, RepairVehicle, solve_repair
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.model import OfferStatus, RequestStatus
from tests.unit.factories import AREA, T0, at, caregiver, line_travel, request, uow_with

UTC_ZONE = ZoneInfo("UTC")
# small days: the solver settles well inside 0.4 s of its budget, and the fast loop stays fast
POLICY = DispatchPolicy(repair_seconds=0.4, shift_end_hard=True)


def planned_day(policy: DispatchPolicy = POLICY):
    """Line 0..5, 10 min a step. ``far`` (home 0) is planned for r1 (location 4, hard window
    09:00-09:30, 30 min) at 09:00; ``c`` (home 3, the only bather) holds an accepted visit r0 at
    location 3 09:10-09:40, so it cannot reach r1 in its window; ``near`` (home 5) is planned for
    p2 (location 5, hard window 10:00-11:00) at 10:30, a request that has not arrived yet."""
    uow = uow_with(
        caregiver("far", "meal", home=0), caregiver("near", "meal", home=5), caregiver("c", "bathing meal", home=3)
    )
    travel = line_travel()
    r0 = request("r0", 3, start=70, end=75, service="bathing", window_hard=True)
    offers.receive_request(r0, uow, T0, policy, travel)
    [o0] = uow.offers.for_request("r0")
    assert o0.caregiver_id == "c" and offers.accept_offer(o0.offer_id, "c", uow, at(0.5), policy, travel)
    uow.plan = {
        "r1": PlannedVisit("far", at(60), at(90), 4, T0, "meal", at(60), at(90), True),
        "p2": PlannedVisit("near", at(150), at(180), 5, T0, "meal", at(120), at(180), True),
    }
    r1 = request("r1", 4, start=60, end=90, window_hard=True)
    receive_planned(r1, uow.planned_visits(["r1"]), uow, at(1), policy, travel)
    [o1] = uow.offers.for_request("r1")
    assert o1.caregiver_id == "far" and o1.planned_start == at(60)
    return uow, travel


def decline(uow, travel, policy: DispatchPolicy = POLICY, minute: float = 2):
    area = AreaContext(policy, travel, mode="planned")
    messagebus.handle(m.DeclineOffer("ev-decline", None, AREA, "r1.o1", "far"), uow, at(minute), area)


def test_a_declined_planned_visit_goes_where_the_repaired_plan_puts_it_inside_its_hard_window():
    uow, travel = planned_day()
    decline(uow, travel)
    pending = [o for o in uow.offers.for_request("r1") if o.status == OfferStatus.PENDING]
    assert len(pending) == 1
    again = pending[0]
    assert again.caregiver_id == "near"  # not the caregiver who declined, and c cannot be there in time
    assert at(60) <= again.planned_start <= at(90)  # the hard window
    assert uow.plan["r1"].caregiver_id == "near" and uow.plan["r1"].start == again.planned_start
    # the plan's other slot is still inside its hard window and does not clash with r1
    p2 = uow.plan["p2"]
    assert at(120) <= p2.start <= at(180)
    assert p2.caregiver_id != "near" or p2.start >= again.planned_end + timedelta(minutes=travel.minutes(4, 5))


def test_a_fixed_visit_does_not_move_in_a_repair():
    uow, travel = planned_day()
    before = uow.visits.for_request("r0")
    start, who = before.planned_start, before.caregiver_id
    decline(uow, travel)
    after = uow.visits.for_request("r0")
    assert (after.caregiver_id, after.planned_start) == (who, start)
    repaired = [e for e in uow.events if e.type == "care.dispatch.repaired"]
    assert all(move["request_id"] != "r0" for e in repaired for move in e.payload["moved"])


def test_the_repair_is_recorded_with_what_moved_and_the_solver_time():
    uow, travel = planned_day()
    decline(uow, travel)
    [event] = [e for e in uow.events if e.type == "care.dispatch.repaired"]
    data = event.payload
    assert data["outcome"] == "repaired"
    move = next(mv for mv in data["moved"] if mv["request_id"] == "r1")
    assert (move["caregiver_before"], move["caregiver_after"]) == ("far", "near")
    assert move["start_before"] == at(60).isoformat()
    assert 0 < data["solver_seconds"] <= POLICY.repair_seconds + 1
    assert data["objective_after"] is not None and data["objective_before"] is not None


def test_the_caregiver_who_declined_is_not_given_the_request_again_even_when_only_they_could_take_it():
    uow, travel = planned_day()
    uow.caregivers.get("near").active = False  # nobody but far could take r1 now
    decline(uow, travel)
    assert all(o.caregiver_id != "far" for o in uow.offers.for_request("r1") if o.status == OfferStatus.PENDING)
    [event] = [e for e in uow.events if e.type == "care.dispatch.repaired"]
    assert event.payload["outcome"] == "insertion"
    assert uow.requests["r1"].status == RequestStatus.FAILED  # to the operator, not back to far


def test_with_no_solver_time_the_insertion_fallback_offers_it():
    uow, travel = planned_day()
    no_time = replace(POLICY, repair_seconds=0)
    decline(uow, travel, no_time)
    [event] = [e for e in uow.events if e.type == "care.dispatch.repaired"]
    assert event.payload["outcome"] == "insertion"
    assert event.payload["reason"] == "the policy gives the solver no time"
    [pending] = [o for o in uow.offers.for_request("r1") if o.status == OfferStatus.PENDING]
    assert pending.caregiver_id == "near"  # offer_next's ranking found the one who fits
    assert uow.plan["r1"].caregiver_id == "far"  # the plan is not touched by insertion


def test_a_fast_replay_clock_gives_the_repair_its_share_of_the_day_not_seconds_of_it():
    """At 1200x, 3 s of solver time would be an hour of the replayed day in which the area's other
    events wait (CI: a planned bazirha-E2 replay ended a visit 33 min after its hard window); the
    budget counts in simulated time, and a share too small to solve falls back to insertion."""
    from handlers.dispatch.area import AreaContext

    uow, travel = planned_day()
    ctx = AreaContext(replace(POLICY, repair_seconds=3.0), travel, "planned")
    assert ctx.at_clock_speed(1.0) is ctx and ctx.at_clock_speed(10).policy.repair_seconds == pytest.approx(0.3)
    assert AreaContext(POLICY, travel, "online").at_clock_speed(1200).policy is POLICY
    decline(uow, travel, ctx.at_clock_speed(1200).policy)
    [event] = [e for e in uow.events if e.type == "care.dispatch.repaired"]
    assert event.payload["outcome"] == "insertion" and "too little" in event.payload["reason"]
    assert any(o.status == OfferStatus.PENDING for o in uow.offers.for_request("r1"))


def test_when_the_solver_has_no_answer_in_time_the_insertion_fallback_offers_it(monkeypatch: pytest.MonkeyPatch):
    uow, travel = planned_day()
    monkeypatch.setattr(repair, "solve_repair", lambda *a, **k: None)
    decline(uow, travel)
    [event] = [e for e in uow.events if e.type == "care.dispatch.repaired"]
    assert (event.payload["outcome"], event.payload["reason"]) == ("insertion", "the solver found no answer in time")
    assert any(o.status == OfferStatus.PENDING for o in uow.offers.for_request("r1"))


def test_a_timeout_is_repaired_as_a_decline_is():
    uow, travel = planned_day()
    area = AreaContext(POLICY, travel, mode="planned")
    expiry = uow.offers.get("r1.o1").expires_at
    messagebus.handle(m.ExpireOffer("ev-expire", None, AREA, "r1.o1"), uow, expiry, area)
    [event] = [e for e in uow.events if e.type == "care.dispatch.repaired"]
    assert event.payload["outcome"] == "repaired"


def test_an_online_area_does_not_repair():
    uow, travel = planned_day()
    messagebus.handle(m.DeclineOffer("ev-decline", None, AREA, "r1.o1", "far"), uow, at(2), AreaContext(POLICY, travel))
    assert not [e for e in uow.events if e.type == "care.dispatch.repaired"]


def minutes_on_a_line(cid: str, a: int, b: int) -> float:
    return abs(a - b) * 10.0


def test_the_solver_keeps_pinned_visits_and_hard_windows_and_leaves_out_what_cannot_fit():
    vehicles = [RepairVehicle("a", 0, 0, 0, 300), RepairVehicle("b", 5, 0, 5, 300)]
    nodes = [
        RepairNode("fixed", 2, 30, 40, 40, pinned="a"),
        RepairNode("x", 4, 30, 0, 60, caregivers=frozenset({"a", "b"})),
        RepairNode("y", 1, 30, 100, 120, caregivers=frozenset({"b"})),
        RepairNode("never", 3, 30, 0, 5, caregivers=frozenset({"a"})),  # a is at 0 until 40: cannot be at 3 by 5
    ]
    result = solve_repair(vehicles, nodes, minutes_on_a_line, 0.5)
    assert result is not None
    where = {rid: (cid, start) for cid, stops in result.routes.items() for rid, start in stops}
    assert where["fixed"] == ("a", 40)
    assert 0 <= where["x"][1] <= 60
    assert where["y"][0] == "b" and 100 <= where["y"][1] <= 120
    assert result.unserved == ("never",)


def test_no_budget_is_no_answer():
    vehicles = [RepairVehicle("a", 0, 0, 0, None)]
    assert (
        solve_repair(vehicles, [RepairNode("x", 1, 10, 0, 50, caregivers=frozenset({"a"}))], minutes_on_a_line, 0)
        is None
    )


def test_explain_shows_the_repair_in_english_and_chinese():
    uow, travel = planned_day()
    decline(uow, travel)
    logged = [{"type": e.type, "time": e.time.isoformat(), "data": e.payload} for e in uow.events if e.subject == "r1"]
    english = "\n".join(explain(logged, CenterWords("en", UTC_ZONE)))
    assert "day repaired for" in english
    assert "r1: far 09:00 -> near 09:" in english
    chinese = "\n".join(explain(logged, CenterWords("zh", UTC_ZONE)))
    assert "重排当天计划" in chinese and "r1：far 09:00 -> near 09:" in chinese


def test_explain_shows_why_a_repair_gave_way_to_insertion_in_chinese():
    uow, travel = planned_day()
    decline(uow, travel, replace(POLICY, repair_seconds=0))
    logged = [{"type": e.type, "time": e.time.isoformat(), "data": e.payload} for e in uow.events if e.subject == "r1"]
    chinese = "\n".join(explain(logged, CenterWords("zh", UTC_ZONE)))
    assert "未重排（调度策略未给求解器时间" in chinese and "按插入法派单" in chinese


def test_a_pending_planned_offer_is_moved_and_offered_again_when_that_makes_room():
    """near holds a pending planned offer for q (location 5, hard window 09:00-10:30) at 09:00; after
    far declines r1 (location 4, 09:00-09:30) only near can take it, by doing q after it."""
    uow, travel = planned_day()
    uow.plan["q"] = PlannedVisit("near", at(60), at(90), 5, T0, "meal", at(60), at(150), True)
    q = request("q", 5, start=60, end=150, window_hard=True)
    receive_planned(q, uow.planned_visits(["q"]), uow, at(1), POLICY, travel)
    [first] = uow.offers.for_request("q")
    assert (first.caregiver_id, first.planned_start) == ("near", at(60))
    decline(uow, travel)
    assert first.status == OfferStatus.RESCINDED
    [q_again] = [o for o in uow.offers.for_request("q") if o.status == OfferStatus.PENDING]
    [r1_again] = [o for o in uow.offers.for_request("r1") if o.status == OfferStatus.PENDING]
    assert r1_again.caregiver_id == "near" and at(60) <= r1_again.planned_start <= at(90)
    assert q_again.caregiver_id == "near" and at(60) <= q_again.planned_start <= at(150)
    assert q_again.planned_start >= r1_again.planned_end + timedelta(minutes=travel.minutes(4, 5))
    [event] = [e for e in uow.events if e.type == "care.dispatch.repaired"]
    assert {mv["request_id"] for mv in event.payload["moved"]} >= {"r1", "q"}


def test_a_caregiver_whose_announced_slot_the_repair_moves_is_told_her_new_day():
    """p2 (announced to near at 08:00) starts at 09:05 here: when far declines r1 and only near can
    take it at 09:00, the repair moves p2 (later, or to far). Whoever's day changed hears it."""
    from zoneinfo import ZoneInfo

    from handlers.channels.notice_texts import render
    from handlers.channels.notices import Person, notices_for
    from tests.unit.test_notices import TEXTS, FakeRegister, envelope

    uow, travel = planned_day()
    uow.plan["p2"] = PlannedVisit("near", at(65), at(95), 5, T0, "meal", at(60), at(180), True)
    decline(uow, travel)
    p2 = uow.plan["p2"]
    assert (p2.caregiver_id, p2.start) != ("near", at(65)) and at(60) <= p2.start <= at(180)
    told = [e for e in uow.events if e.type == "dispatch.plan.changed"]
    assert {e.payload["caregiver_id"] for e in told} == {"near", p2.caregiver_id}
    for e in told:
        listed = [v["request_id"] for v in e.payload["visits"]]
        assert listed == (["p2"] if e.payload["caregiver_id"] == p2.caregiver_id else [])
    mine = next(e for e in told if e.payload["caregiver_id"] == p2.caregiver_id)
    assert mine.payload["visits"][0]["start"] == p2.start.isoformat()
    register = FakeRegister(uow)
    register.caregiver = lambda cid: Person("caregiver", cid, "+8613800000009", "zh-CN", False)
    [notice] = notices_for(envelope(mine, 1), register)
    assert (notice.kind, notice.channel) == ("day_plan_changed", "sms")
    [zh] = render(notice, TEXTS, ZoneInfo("UTC"), "颐养")
    assert "计划有变" in zh and f"{p2.start:%H:%M}" in zh
    english = Person("caregiver", "x", "+8613800000009", "en", False)
    [en] = render(replace(notice, person=english), TEXTS, ZoneInfo("UTC"), "CareLine")
    assert "changed" in en and f"{p2.start:%H:%M}" in en


def test_a_slot_never_announced_moves_without_a_notice():
    uow, travel = planned_day()
    uow.plan["p2"] = PlannedVisit("near", at(65), at(95), 5, None, "meal", at(60), at(180), True)
    decline(uow, travel)
    assert (uow.plan["p2"].caregiver_id, uow.plan["p2"].start) != ("near", at(65))
    assert not [e for e in uow.events if e.type == "dispatch.plan.changed"]
