"""Repair, not greedy insertion, when an accepted planned visit falls through (issue 18): a call-off,
a no-show and a caregiver running late are re-planned for the caregivers they affect
(``handlers.dispatch.repair``) in a planned area, the way a declined offer is; online areas insert.

The days are ``test_repair.planned_day``'s (line 0..5, 10 min a step): ``far`` (home 0) holds r1
(location 4, hard window 09:00-09:30, 30 min) at 09:00, ``c`` is busy at location 3 09:10-09:40,
``near`` (home 5) is free. Here ``near`` also holds a pending planned offer for q (location 5, hard
window up to 10:30): ranking finds no gap for r1 beside it, so insertion gives r1 to nobody; the
repair moves q after r1."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from careline.history import CenterWords
from handlers import messagebus
from handlers import messages as m
from handlers.dispatch import offers
from handlers.dispatch.area import AreaContext, Mode
from handlers.dispatch.explain import explain
from handlers.dispatch.planned import PlannedVisit, receive_planned
from handlers.model import OfferStatus, RequestStatus, VisitStatus
from tests.unit.factories import AREA, T0, at, request
from tests.unit.test_repair import POLICY, planned_day


def accepted_day(q_at: float, q_received: float):
    """r1 accepted by far at 08:02; q planned for near at ``q_at`` minutes (window 09:00-10:30),
    received (and offered to near) at ``q_received``."""
    uow, travel = planned_day()
    assert offers.accept_offer("r1.o1", "far", uow, at(2), POLICY, travel)
    uow.plan["q"] = PlannedVisit("near", at(q_at), at(q_at + 30), 5, T0, "meal", at(60), at(150), True)
    q = request("q", 5, start=60, end=150, window_hard=True)
    receive_planned(q, uow.planned_visits(["q"]), uow, at(q_received), POLICY, travel)
    [q_offer] = uow.offers.for_request("q")
    assert (q_offer.caregiver_id, q_offer.planned_start, q_offer.status) == ("near", at(q_at), OfferStatus.PENDING)
    return uow, travel


def handle(uow, travel, command: m.Command, when: datetime, mode: Mode = "planned") -> None:
    messagebus.handle(command, uow, when, AreaContext(POLICY, travel, mode=mode))


def pending(uow, rid: str):
    return [o for o in uow.offers.for_request(rid) if o.status == OfferStatus.PENDING]


def assert_repaired_to_near_with_q_after(uow, travel) -> None:
    [r1] = pending(uow, "r1")
    assert r1.caregiver_id == "near" and at(60) <= r1.planned_start <= at(90)  # inside r1's hard window
    [q] = pending(uow, "q")  # q moved after r1, still inside its hard window
    assert q.caregiver_id == "near" and r1.planned_end + timedelta(minutes=travel.minutes(4, 5)) <= q.planned_start
    assert q.planned_start <= at(150)
    assert uow.plan["r1"].caregiver_id == "near" and uow.plan["r1"].start == r1.planned_start
    [event] = [e for e in uow.events if e.type == "care.dispatch.repaired"]
    assert event.payload["outcome"] == "repaired"
    assert {mv["request_id"] for mv in event.payload["moved"]} >= {"r1", "q"}


def test_a_call_off_in_a_planned_area_is_repaired_and_the_request_kept_inside_its_hard_window():
    uow, travel = accepted_day(q_at=60, q_received=3)
    handle(uow, travel, m.CallOff("ev-off", None, AREA, "r1", "far"), at(4))
    assert uow.visits.for_request("r1") is None  # far's visit is cancelled
    assert uow.requests["r1"].status != RequestStatus.FAILED  # insertion alone sent it to the operator
    assert_repaired_to_near_with_q_after(uow, travel)
    assert all(o.caregiver_id != "far" for o in pending(uow, "r1"))


def test_a_call_off_in_an_online_area_still_goes_to_insertion():
    """Online areas do not repair: the same call-off finds no gap for r1 beside near's q offer."""
    uow, travel = accepted_day(q_at=60, q_received=3)
    handle(uow, travel, m.CallOff("ev-off", None, AREA, "r1", "far"), at(4), mode="online")
    assert not [e for e in uow.events if e.type == "care.dispatch.repaired"]
    assert uow.requests["r1"].status == RequestStatus.FAILED  # to the operator queue
    assert [(o.caregiver_id, o.planned_start) for o in pending(uow, "q")] == [("near", at(60))]  # q untouched


def test_a_no_show_in_a_planned_area_is_repaired():
    """far has not checked in 5 min after 09:00; q (offered to near for 09:10 a minute before) is moved."""
    uow, travel = accepted_day(q_at=70, q_received=64)
    visit = uow.visits.for_request("r1")
    handle(uow, travel, m.EnforceCheckIn("ev-deadline", None, AREA, visit.visit_id), at(65))
    assert visit.status == VisitStatus.NO_SHOW
    assert_repaired_to_near_with_q_after(uow, travel)


def test_the_caregiver_who_called_off_is_not_offered_it_again_in_the_repair():
    uow, travel = planned_day()
    assert offers.accept_offer("r1.o1", "far", uow, at(2), POLICY, travel)
    uow.caregivers.get("near").active = False  # nobody but far could take r1 now
    handle(uow, travel, m.CallOff("ev-off", None, AREA, "r1", "far"), at(4))
    [event] = [e for e in uow.events if e.type == "care.dispatch.repaired"]
    assert event.payload["outcome"] == "insertion"
    assert not pending(uow, "r1") and uow.requests["r1"].status == RequestStatus.FAILED


def test_explain_shows_the_repair_after_a_call_off():
    uow, travel = accepted_day(q_at=60, q_received=3)
    handle(uow, travel, m.CallOff("ev-off", None, AREA, "r1", "far"), at(4))
    logged = [{"type": e.type, "time": e.time.isoformat(), "data": e.payload} for e in uow.events if e.subject == "r1"]
    english = "\n".join(explain(logged, CenterWords("en", ZoneInfo("UTC"))))
    assert "day repaired for" in english and "r1: far 09:00 -> near 09:" in english


def test_a_late_caregiver_is_replaced_by_repairing_the_day_when_ranking_finds_nobody():
    """At 09:00 far is still at home (40 min from r1: expected 09:40, after the window). Ranking alone
    finds nobody able (near's q offer at 09:10 blocks her); the repair moves q and gives r1 to near,
    before far would have come."""
    uow, travel = accepted_day(q_at=70, q_received=59)
    visit = uow.visits.for_request("r1")
    handle(uow, travel, m.CheckLateness("ev-late", None, AREA, visit.visit_id), at(60))
    assert visit.status == VisitStatus.CANCELLED and visit.expected_at == at(100)
    assert_repaired_to_near_with_q_after(uow, travel)
    [r1] = pending(uow, "r1")
    assert r1.planned_start < at(100)
    alerts = [e.payload["reason"] for e in uow.events if e.type == "care.operator.alert" and e.subject == "r1"]
    assert any("re-dispatched to near" in a for a in alerts)


def test_a_late_caregiver_keeps_the_visit_in_an_online_area_when_ranking_finds_nobody():
    uow, travel = accepted_day(q_at=70, q_received=59)
    visit = uow.visits.for_request("r1")
    handle(uow, travel, m.CheckLateness("ev-late", None, AREA, visit.visit_id), at(60), mode="online")
    assert visit.status == VisitStatus.SCHEDULED and visit.expected_at == at(100)
    assert not pending(uow, "r1") and not [e for e in uow.events if e.type == "care.dispatch.repaired"]


def test_without_a_repair_answer_the_late_caregiver_is_replaced_by_todays_rule():
    """No q: ranking finds near able; with no solver time the repair gives way and near is offered r1."""
    from dataclasses import replace

    uow, travel = planned_day()
    assert offers.accept_offer("r1.o1", "far", uow, at(2), POLICY, travel)
    visit = uow.visits.for_request("r1")
    no_time = AreaContext(replace(POLICY, repair_seconds=0), travel, mode="planned")
    messagebus.handle(m.CheckLateness("ev-late", None, AREA, visit.visit_id), uow, at(60), no_time)
    [event] = [e for e in uow.events if e.type == "care.dispatch.repaired"]
    assert event.payload["outcome"] == "insertion" and "late caregiver" in event.payload["reason"]
    [r1] = pending(uow, "r1")
    assert r1.caregiver_id == "near" and r1.planned_start < at(100)
    assert visit.status == VisitStatus.CANCELLED
    assert uow.plan["r1"].caregiver_id == "far"  # the plan is not touched by the ranking's rule
    logged = [{"type": e.type, "time": e.time.isoformat(), "data": e.payload} for e in uow.events if e.subject == "r1"]
    chinese = "\n".join(explain(logged, CenterWords("zh", ZoneInfo("UTC"))))
    assert "未重排（调度策略未给求解器时间；迟到护理员的接替人按排序选定" in chinese


def urgent_arrival(priority: str):
    """planned_day with near also holding a pending planned offer for q at 09:00 (location 5, hard
    window up to 10:30), when a ``priority`` request u of e4 (location 4, hard window 09:00-09:20)
    arrives at 08:02 without a plan slot: far (r1 at 09:00 there), near (q) and c (r0) leave it no
    gap, unless the repair moves r1 or q."""
    uow, travel = planned_day()
    uow.plan["q"] = PlannedVisit("near", at(60), at(90), 5, T0, "meal", at(60), at(150), True)
    receive_planned(request("q", 5, start=60, end=150, window_hard=True), uow.planned_visits(["q"]), uow, at(1.5),
                    POLICY, travel)  # fmt: skip
    record = {
        "intake_id": "u", "channel": "hotline", "elder_id": "e4", "service_type": "meal", "duration_minutes": 30,
        "window": {"start": at(60).isoformat(), "end": at(80).isoformat()}, "window_hard": True,
        "priority": priority, "submitted_at": at(2).isoformat(),
    }  # fmt: skip
    handle(uow, travel, m.ReceiveRequest("ev-u", at(2), AREA, record), at(2))
    return uow, travel


def test_an_urgent_arrival_in_a_planned_area_repairs_the_day_to_make_room():
    uow, travel = urgent_arrival("urgent")
    [u] = pending(uow, "u")
    assert at(60) <= u.planned_start <= at(80)  # inside its hard window
    [event] = [e for e in uow.events if e.type == "care.dispatch.repaired" and e.subject == "u"]
    assert event.payload["outcome"] == "repaired"
    moved = {mv["request_id"] for mv in event.payload["moved"]}
    assert moved & {"r1", "q"}  # a pending planned offer made way, still inside its own window
    for rid, (lo, hi) in {"r1": (60, 90), "q": (60, 150)}.items():
        [o] = pending(uow, rid)
        assert at(lo) <= o.planned_start <= at(hi)


def test_a_routine_arrival_without_a_plan_slot_still_goes_by_insertion():
    uow, travel = urgent_arrival("routine")
    assert not [e for e in uow.events if e.type == "care.dispatch.repaired"]
    assert not pending(uow, "u") and uow.requests["u"].status == RequestStatus.FAILED
    assert [(o.caregiver_id, o.planned_start) for o in pending(uow, "q")] == [("near", at(60))]  # q untouched
