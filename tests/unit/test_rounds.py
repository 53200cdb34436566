"""Confirmation rounds ahead of a planned day (issue 18, ``handlers.dispatch.rounds``): the plan is
offered the evening before, a visit that falls waits for the round's re-plan instead of a repair,
an accepted visit may move on its caregiver's day, and elders hear their windows after the last
round. Offline, through the message bus."""

from collections import Counter
from dataclasses import replace
from datetime import datetime

import pytest

from handlers import messagebus
from handlers import messages as m
from handlers.dispatch import offers, rounds
from handlers.dispatch.area import AreaContext
from handlers.dispatch.planned import PlannedVisit, receive_planned
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.model import OfferStatus, RequestStatus, SyncType, VisitStatus
from tests.unit.factories import AREA, at, caregiver, line_travel, request, uow_with

POLICY = DispatchPolicy(
    repair_seconds=0.4,
    shift_end_hard=True,
    confirm_rounds=2,
    confirm_round_minutes=30,
    confirm_round_seconds=0.5,
    confirm_keep_minutes=20,
)
ANNOUNCED = at(-600)  # 22:00 the evening before the 08:00 start of the factories' day


def booked_day(plan: dict[str, PlannedVisit], *reqs, policy: DispatchPolicy = POLICY, also=()):
    """Caregivers ``a`` (home 0) and ``b`` (home 5), meal, 08:00-18:00, and ``also``; ``reqs``
    booked and offered at the announcement, as the bus receives them in a planned area."""
    uow = uow_with(caregiver("a", "meal", home=0), caregiver("b", "meal", home=5), *also)
    uow.plan = dict(plan)
    travel = line_travel()
    for r in reqs:
        ids = [r.request_id] + ([r.sync_partner_id] if r.sync_partner_id else [])  # as the bus reads them
        receive_planned(r, uow.planned_visits(ids), uow, ANNOUNCED, policy, travel)
        assert rounds.ask_round(r, uow.plan[r.request_id], uow, ANNOUNCED, policy)
    return uow, travel


def slot(cid: str, start: float, location: int, first: float, last: float) -> PlannedVisit:
    return PlannedVisit(cid, at(start), at(start + 30), location, ANNOUNCED, "meal", at(first), at(last), True)


def answer(uow, travel, kind, offer_id: str, cid: str, minute: float, policy: DispatchPolicy = POLICY) -> None:
    area = AreaContext(policy, travel, mode="planned")
    messagebus.handle(kind(f"ev-{offer_id}-{minute}", None, AREA, offer_id, cid), uow, at(minute), area)


def close(uow, travel, k: int, policy: DispatchPolicy = POLICY) -> None:
    area = AreaContext(policy, travel, mode="planned")
    due = policy.round_closes_at(ANNOUNCED, k)
    messagebus.handle(m.CloseRound(f"ev-round-{k}", None, AREA, announced_at=ANNOUNCED, round=k), uow, due, area)


def pending(uow, rid: str):
    return [o for o in uow.offers.for_request(rid) if o.status == OfferStatus.PENDING]


def two_caregivers_day():
    """r1 (location 1, 09:00-10:00) planned to a at 09:00; r2 (location 2, 09:40-11:00) to a at
    09:50; r3 (location 5, b's home, 09:00-10:30) to b at 09:00."""
    plan = {"r1": slot("a", 60, 1, 60, 120), "r2": slot("a", 110, 2, 100, 180), "r3": slot("b", 60, 5, 60, 150)}
    reqs = (
        request("r1", 1, start=60, end=120, window_hard=True),
        request("r2", 2, start=100, end=180, window_hard=True),
        request("r3", 5, start=60, end=150, window_hard=True),
    )
    return booked_day(plan, *reqs)


def test_the_plan_is_offered_at_the_announcement_and_a_decline_waits_for_the_round():
    uow, travel = two_caregivers_day()
    assert [o.caregiver_id for rid in ("r1", "r2", "r3") for o in pending(uow, rid)] == ["a", "a", "b"]
    answer(uow, travel, m.AcceptOffer, "r1.o1", "a", -599.5)
    answer(uow, travel, m.DeclineOffer, "r2.o1", "a", -599.2)
    answer(uow, travel, m.AcceptOffer, "r3.o1", "b", -599)
    assert pending(uow, "r2") == []  # no repair, no insertion: the round places it
    held = [e.payload for e in uow.events if e.type == "care.dispatch.repaired"]
    assert [(h["request_id"], h["outcome"]) for h in held] == [("r2", "held")]
    timers = {e.payload["target_id"]: e.payload["due"] for e in uow.events if e.payload.get("kind") == rounds.KIND}
    assert timers == {rounds.round_target(AREA, ANNOUNCED, 1): at(-570).isoformat()}
    # the caregivers are told their visits; the elders are not told a window yet
    accepted = [e.payload for e in uow.events if e.type == "dispatch.offer.accepted"]
    assert all(a["promise_deferred"] and "promised_start" not in a for a in accepted)

    close(uow, travel, 1)
    [again] = pending(uow, "r2")
    assert again.caregiver_id == "b"  # never back to a, who declined
    assert at(100) <= again.planned_start <= at(180)  # inside the hard window
    assert uow.plan["r2"].caregiver_id == "b" and uow.plan["r2"].start == again.planned_start
    r3 = uow.visits.for_request("r3")
    assert r3.planned_end <= again.planned_start or again.planned_end <= r3.planned_start
    answer(uow, travel, m.AcceptOffer, again.offer_id, "b", -569)

    close(uow, travel, 2)  # the last round: every elder is told the window of her visit
    told = {e.payload["request_id"]: e.payload for e in uow.events if e.type == "dispatch.promise.told"}
    assert sorted(told) == ["r1", "r2", "r3"]
    for rid, data in told.items():
        start = uow.visits.for_request(rid).planned_start.isoformat()
        assert data["promised_start"] <= start <= data["promised_end"]
    close(uow, travel, 2)  # the same timer again changes nothing
    assert len([e for e in uow.events if e.type == "dispatch.promise.told"]) == 3


def moved_day():
    """b declines r2 (location 2, 09:00-09:20); only a can take it, so round 1 moves a's accepted
    r1 (location 1, 09:00-11:00) later on her day."""
    plan = {"r1": slot("a", 60, 1, 60, 180), "r2": slot("b", 60, 2, 60, 80)}
    uow, travel = booked_day(
        plan,
        request("r1", 1, start=60, end=180, window_hard=True),
        request("r2", 2, start=60, end=80, window_hard=True),
    )
    answer(uow, travel, m.AcceptOffer, "r1.o1", "a", -599.5)
    answer(uow, travel, m.DeclineOffer, "r2.o1", "b", -599.2)
    close(uow, travel, 1)
    return uow, travel


def test_a_visit_a_round_moves_on_its_caregivers_day_is_told_to_her_and_checked_in_at_its_new_start():
    uow, travel = moved_day()
    [again] = pending(uow, "r2")
    assert again.caregiver_id == "a" and at(60) <= again.planned_start <= at(80)
    r1 = uow.visits.for_request("r1")
    assert r1.status == VisitStatus.SCHEDULED and r1.caregiver_id == "a"
    assert r1.planned_start >= again.planned_end + (at(10) - at(0))  # after r2 and the leg back
    [moved] = [e.payload for e in uow.events if e.type == "care.visit.moved"]
    assert moved["request_id"] == "r1" and moved["planned_start"] == r1.planned_start.isoformat()
    deadlines = [e.payload for e in uow.events if e.payload.get("kind") == "check-in-deadline"]
    assert deadlines[-1]["target_id"] == r1.visit_id and deadlines[-1]["due"] > r1.planned_start.isoformat()


def test_an_early_check_in_deadline_of_a_moved_visit_is_not_a_no_show():
    uow, travel = moved_day()
    r1 = uow.visits.for_request("r1")
    area = AreaContext(POLICY, travel, mode="planned")
    messagebus.handle(m.EnforceCheckIn("ev-old-deadline", None, AREA, visit_id=r1.visit_id), uow, at(65), area)
    assert uow.visits.for_request("r1").status == VisitStatus.SCHEDULED


def test_the_ladder_waits_for_the_rounds():
    uow, travel = two_caregivers_day()
    answer(uow, travel, m.DeclineOffer, "r2.o1", "a", -599.2)
    routine_best = POLICY.steps_for("routine")[0].deadline_seconds
    assert not offers.step_deadline("r2", 0, uow, at(-570), POLICY, travel)  # due 30 min after booking
    [later] = [e.payload for e in uow.events if e.payload.get("kind") == "ladder-step"][-1:]
    expected = POLICY.round_closes_at(ANNOUNCED, POLICY.confirm_rounds) + (at(routine_best / 60) - at(0))
    assert later["due"] == expected.isoformat()


def test_what_the_last_round_cannot_place_goes_to_insertion():
    """Only a works and she declines r2: no round can place it; after the last one it is offered on."""
    uow, travel = two_caregivers_day()
    uow.caregivers.get("b").active = False
    answer(uow, travel, m.DeclineOffer, "r2.o1", "a", -599.2)
    close(uow, travel, 1)
    assert pending(uow, "r2") == []
    close(uow, travel, 2)
    outcomes = [e.payload["outcome"] for e in uow.events if e.type == "care.dispatch.repaired"]
    assert outcomes[-1] == "insertion"


def test_a_slot_too_close_to_the_last_round_repairs_at_once():
    late = replace(POLICY, confirm_lead_minutes=24 * 60)  # no slot starts a day after the last round
    plan = {"r1": slot("a", 60, 1, 60, 120)}
    assert late.round_due(ANNOUNCED, plan["r1"].start, ANNOUNCED) is None
    assert POLICY.round_due(ANNOUNCED, plan["r1"].start, ANNOUNCED) == 1
    assert POLICY.round_due(ANNOUNCED, plan["r1"].start, at(-571)) == 1
    assert POLICY.round_due(ANNOUNCED, plan["r1"].start, at(-569)) == 2
    assert POLICY.round_due(ANNOUNCED, plan["r1"].start, at(-540)) is None  # all rounds closed
    assert POLICY.round_due(None, plan["r1"].start, ANNOUNCED) is None  # never announced


@pytest.mark.parametrize("target", ["2026-11-29T22:00:00#x", "2026-11-29T22:00:00#1", "#1", "nonsense"])
def test_a_malformed_round_timer_is_refused_naming_the_field(target):
    record = {
        "id": "t",
        "type": "timer.fired",
        "data": {"kind": rounds.KIND, "target_id": target, "service_area": AREA},
    }
    with pytest.raises(m.InvalidMessage) as err:
        m.decode(record)
    assert err.value.field == "data.target_id"


def test_a_round_timer_decodes_to_its_round():
    target = rounds.round_target(AREA, ANNOUNCED, 2)
    record = {
        "id": "t",
        "type": "timer.fired",
        "data": {"kind": rounds.KIND, "target_id": target, "service_area": AREA},
    }
    cmd = m.decode(record)
    assert isinstance(cmd, m.CloseRound) and (cmd.announced_at, cmd.round) == (ANNOUNCED, 2)


def test_the_caregiver_hears_her_visit_moved_and_the_elder_hears_her_window_only_after_the_last_round():
    from tests.unit.test_notices import FakeRegister, told, who

    uow, travel = moved_day()
    [again] = pending(uow, "r2")
    answer(uow, travel, m.AcceptOffer, again.offer_id, "a", -569.5)
    before_last = who(told(uow, FakeRegister(uow)))
    assert ("caregiver", "visit_moved", "sms") in before_last  # a's r1 moved for r2
    assert not [w for w in before_last if w[0] in ("elder", "family")]  # nothing promised yet
    seen = len(uow.events)
    close(uow, travel, 2)
    elders = [n for n in told(uow, FakeRegister(uow), since=seen) if n.person.role == "elder"]
    assert sorted((n.request_id, n.kind) for n in elders) == [("r1", "elder.confirmed"), ("r2", "elder.confirmed")]
    for n in elders:  # each window holds the visit's start as the rounds left it
        assert n.values["start"] <= uow.visits.for_request(n.request_id).planned_start <= n.values["end"]


def test_each_request_held_in_a_round_gets_its_own_offer():
    """a declines both r1 and r2; c (home 1) is free: the round offers each its own slot."""
    plan = {"r1": slot("a", 60, 1, 60, 120), "r2": slot("a", 110, 2, 100, 180)}
    reqs = (
        request("r1", 1, start=60, end=120, window_hard=True),
        request("r2", 2, start=100, end=180, window_hard=True),
    )
    uow, travel = booked_day(plan, *reqs, also=[caregiver("c", "meal", home=1)])
    answer(uow, travel, m.DeclineOffer, "r1.o1", "a", -599.5)
    answer(uow, travel, m.DeclineOffer, "r2.o1", "a", -599.2)
    close(uow, travel, 1)
    for rid, (first, last) in {"r1": (60, 120), "r2": (100, 180)}.items():
        [again] = pending(uow, rid)
        assert again.request_id == rid and again.caregiver_id != "a"
        assert at(first) <= again.planned_start <= at(last)
    assert {e.payload["request_id"] for e in uow.events if e.type == "dispatch.offer.created"} == {"r1", "r2"}


def test_explain_shows_the_hold_and_the_rounds_re_plan_in_english_and_chinese():
    from zoneinfo import ZoneInfo

    from careline.history import CenterWords
    from handlers.dispatch.explain import explain

    uow, travel = two_caregivers_day()
    answer(uow, travel, m.DeclineOffer, "r2.o1", "a", -599.2)
    close(uow, travel, 1)
    logged = [{"type": e.type, "time": e.time.isoformat(), "data": e.payload} for e in uow.events if e.subject == "r2"]
    english = "\n".join(explain(logged, CenterWords("en", ZoneInfo("UTC"))))
    assert "held for the plan's confirmation round (held for confirmation round 1" in english
    assert "confirmation round: the whole day re-planned for 2 caregivers" in english
    assert "r2: a 09:50 -> b " in english
    chinese = "\n".join(explain(logged, CenterWords("zh", ZoneInfo("UTC"))))
    assert "等待计划确认轮次" in chinese and "确认轮次：已为 2 名护理员重排全天计划" in chinese


def test_a_reply_handled_after_the_last_round_tells_the_elder_at_once():
    """The reply was stamped before the last close but reached dispatch after it (replies and
    timers come on different topics): the elder is told at the accept, not left untold."""
    uow, travel = two_caregivers_day()
    close(uow, travel, 1)
    close(uow, travel, 2)
    answer(uow, travel, m.AcceptOffer, "r1.o1", "a", -599.5)
    [accepted] = [e.payload for e in uow.events if e.type == "dispatch.offer.accepted"]
    assert "promise_deferred" not in accepted and accepted["promised_start"] <= at(60).isoformat()


def test_a_slot_outside_the_rounds_is_told_at_acceptance_and_not_again():
    soon = replace(POLICY, confirm_lead_minutes=700)  # r1 at 09:00 starts too soon after the last round
    plan = {"r1": slot("a", 60, 1, 60, 120), "r2": slot("a", 110, 2, 100, 180)}
    reqs = (request("r1", 1, start=60, end=120, window_hard=True), request("r2", 2, start=100, end=180))
    uow = uow_with(caregiver("a", "meal", home=0), caregiver("b", "meal", home=5))
    uow.plan = dict(plan)
    travel = line_travel()
    for r in reqs:
        receive_planned(r, uow.planned_visits([r.request_id]), uow, ANNOUNCED, soon, travel)
    answer(uow, travel, m.AcceptOffer, "r1.o1", "a", -599.5, soon)
    [accepted] = [e.payload for e in uow.events if e.type == "dispatch.offer.accepted"]
    assert "promised_start" in accepted  # told at once: no round will move it
    close(uow, travel, 1, soon)
    close(uow, travel, 2, soon)
    assert [e for e in uow.events if e.type == "dispatch.promise.told"] == []


def test_a_held_follower_whose_anchor_has_not_arrived_does_not_stop_the_round():
    """ra (not received yet) is planned to b at 09:00; its follower rf (same elder, 0-60 min after)
    to a at 09:40; a declines rf: the round re-plans without the unknown anchor's gap and goes on."""
    plan = {"ra": slot("b", 60, 3, 60, 120), "rf": slot("a", 100, 3, 60, 180)}
    rf = request(
        "rf", 3, start=60, end=180, window_hard=True, sync_type=SyncType.SEQUENTIAL, sync_partner_id="ra",
        sync_is_follower=True, sync_min_gap=0, sync_max_gap=60,
    )  # fmt: skip
    uow, travel = booked_day(plan, rf)
    answer(uow, travel, m.DeclineOffer, "rf.o1", "a", -599.2)
    close(uow, travel, 1)  # the solver's synchronisation does not trip over the unknown anchor
    [again] = pending(uow, "rf")
    assert again.caregiver_id == "b" and at(60) <= again.planned_start <= at(180)
    close(uow, travel, 2)
    rf_now = uow.requests["rf"]  # offered, to the operators, or waiting for its anchor to arrive
    assert rf_now.status.is_final or pending(uow, "rf") or rf_now.status == RequestStatus.ON_HOLD


def test_a_soft_window_request_never_pushes_an_accepted_visit_out_of_its_hard_window():
    """a holds r1 (hard 08:00-08:15); b declines r2 (soft, 08:00-08:10) and only a could take it:
    the round does not start r1 late to make room (a mixed day plans every window hard, and a plan
    that would break a hard window is not carried out)."""
    plan = {"r1": slot("a", 10, 1, 0, 15), "r2": slot("b", 30, 2, 0, 10)}  # b (home 5) reaches neither
    uow, travel = booked_day(
        plan, request("r1", 1, start=0, end=15, window_hard=True), request("r2", 2, start=0, end=10)
    )
    answer(uow, travel, m.AcceptOffer, "r1.o1", "a", -599.5)
    answer(uow, travel, m.DeclineOffer, "r2.o1", "b", -599.2)
    close(uow, travel, 1)
    r1 = uow.visits.for_request("r1")
    assert r1.status == VisitStatus.SCHEDULED and at(0) <= r1.planned_start <= at(15)
    assert [e for e in uow.events if e.type == "care.visit.moved"] == []


def test_a_request_whose_caregiver_fell_sick_after_declining_is_still_placed_or_sent_on():
    uow, travel = two_caregivers_day()
    answer(uow, travel, m.DeclineOffer, "r3.o1", "b", -599.2)
    uow.caregivers.get("b").active = False
    close(uow, travel, 1)
    close(uow, travel, 2)
    r3 = uow.requests["r3"]
    assert r3.status.is_final or pending(uow, "r3") or uow.visits.for_request("r3") is not None


def test_an_area_switched_to_online_still_tells_its_elders_after_the_last_round():
    uow, travel = two_caregivers_day()
    answer(uow, travel, m.AcceptOffer, "r1.o1", "a", -599.5)
    online = AreaContext(POLICY, travel, mode="online")
    for k in (1, 2):
        due = POLICY.round_closes_at(ANNOUNCED, k)
        messagebus.handle(m.CloseRound(f"ev-{k}", None, AREA, announced_at=ANNOUNCED, round=k), uow, due, online)
    assert [e.payload["request_id"] for e in uow.events if e.type == "dispatch.promise.told"] == ["r1"]


def test_the_simulated_caregiver_goes_at_the_moved_start_not_the_old_one():
    """The bench's caregivers (``CaregiverFleet``): after a round moves her visit, the check-in for
    the old start lapses and the one for the new start stands; a cancelled visit is not visited."""
    from handlers.simulation.caregiver_model import CaregiverFleet, CaregiverModel

    fleet = CaregiverFleet(CaregiverModel(seed=1, late_arrival_rate=0.0), line_travel(), {"a": 0, "b": 5})
    visit = {"request_id": "r1", "caregiver_id": "a", "visit_id": "r1.o1.v", "location_index": 1}
    [old] = fleet.on_event(
        "dispatch.offer.accepted",
        {**visit, "planned_start": at(60).isoformat(), "planned_end": at(90).isoformat()},
        at(-600),
    )
    [new] = fleet.on_event(
        "care.visit.moved",
        {**visit, "planned_start": at(120).isoformat(), "planned_end": at(150).isoformat()},
        at(-570),
    )
    assert (old.kind, old.due, new.kind, new.due) == ("check_in", at(60), "check_in", at(120))
    assert fleet.act(old) == (None, [])  # she does not go at the old start
    done, later = fleet.act(new)
    assert done == new and [a.kind for a in later] == ["check_out"]
    assert new.offer_id == ""  # an SMS check-in finds her job by request and caregiver, as before
    fleet.on_event("care.visit.cancelled", visit, at(-540))
    assert fleet.act(new) == (None, [])


def test_an_accept_in_an_online_area_tells_the_elder_at_once_even_with_a_plan_stored():
    """Rounds belong to planned areas (``AreaContext.offer_policy``): an online area's accept does
    not wait, and does not read the plan."""
    uow, travel = two_caregivers_day()
    answer_online = AreaContext(POLICY, travel, mode="online")
    messagebus.handle(m.AcceptOffer("ev-online", None, AREA, "r1.o1", "a"), uow, at(-599.5), answer_online)
    [accepted] = [e.payload for e in uow.events if e.type == "dispatch.offer.accepted"]
    assert "promise_deferred" not in accepted and "promised_start" in accepted


def test_a_round_on_the_day_plans_each_caregiver_from_the_visit_she_is_in_not_from_home():
    """Announced at 08:00 with one round (closes 08:30). a (home 0) is in r0 at location 1 until
    09:30 and has accepted r1 (location 3, 09:40-10:35) at 10:30; b declines r2 (location 3, must
    start 10:30-10:40), which only a can take: r1 moves earlier. From home she could start r1 at
    09:40; from r0 not before 09:50 (20 min away). CI of 2e6f011: a round planned a caregiver
    from home while she was in a visit, and her next visit ended after its hard window."""
    announced = at(0)
    policy = replace(POLICY, confirm_rounds=1)
    plan = {
        "r0": PlannedVisit("a", at(10), at(90), 1, announced, "meal", at(10), at(40), True),
        "r1": PlannedVisit("a", at(150), at(180), 3, announced, "meal", at(100), at(155), True),
        "r2": PlannedVisit("b", at(150), at(180), 3, announced, "meal", at(150), at(160), True),
    }
    uow = uow_with(caregiver("a", "meal", home=0), caregiver("b", "meal", home=5))
    uow.plan = dict(plan)
    travel = line_travel()
    for r in (
        request("r0", 1, start=10, end=40, duration=80, window_hard=True),
        request("r1", 3, start=100, end=155, window_hard=True),
        request("r2", 3, start=150, end=160, window_hard=True),
    ):
        receive_planned(r, uow.planned_visits([r.request_id]), uow, announced, policy, travel)
    assert not rounds.takes_part(plan["r0"], policy) and rounds.takes_part(plan["r2"], policy)
    answer(uow, travel, m.AcceptOffer, "r0.o1", "a", 1, policy)
    answer(uow, travel, m.AcceptOffer, "r1.o1", "a", 1.5, policy)
    answer(uow, travel, m.DeclineOffer, "r2.o1", "b", 2, policy)
    area = AreaContext(policy, travel, mode="planned")
    messagebus.handle(m.CloseRound("ev-round", None, AREA, announced_at=announced, round=1), uow, at(30), area)
    [again] = pending(uow, "r2")
    assert again.caregiver_id == "a"
    r1 = uow.visits.for_request("r1")
    assert at(110) <= r1.planned_start <= at(155), r1.planned_start  # reachable from r0, inside its window
    assert uow.visits.for_request("r0").planned_start == at(10)  # under way: never moved


def test_a_round_with_too_little_planner_time_keeps_its_requests_held_and_says_why():
    """A replay at 1200x leaves a round 10 s / 1200 of planner time: not spent (the solver process
    alone takes longer and the replayed day would run on meanwhile); the last round inserts."""
    brief = replace(POLICY, confirm_round_seconds=0.01)
    uow, travel = two_caregivers_day()
    answer(uow, travel, m.DeclineOffer, "r2.o1", "a", -599.2, brief)
    close(uow, travel, 1, brief)
    assert pending(uow, "r2") == []
    [last] = [e.payload for e in uow.events if e.type == "care.dispatch.repaired"][-1:]
    assert last["outcome"] == "held" and "too little" in last["reason"]
    close(uow, travel, 2, brief)
    [offer] = pending(uow, "r2")
    assert offer.caregiver_id == "b"  # by insertion, never back to a


def test_a_visit_cancelled_during_the_rounds_is_not_the_window_a_later_change_is_judged_by():
    """a accepts r1 at 09:00 and calls it off while the rounds are open; round 1 gives it to c at
    09:30, and the last round tells the elder 09:15-10:00. On the day c calls off and d can come at
    09:50, inside what the elder heard: she is told the same window again, not "rescheduled"
    against the 09:00-09:45 window of a's visit, which she never heard."""
    from tests.unit.test_notices import FakeRegister, told

    plan = {"r1": slot("a", 60, 1, 60, 120), "r3": slot("b", 60, 5, 60, 150)}
    reqs = (
        request("r1", 1, start=60, end=120, window_hard=True),
        request("r3", 5, start=60, end=150, window_hard=True),
    )
    also = [caregiver("c", "meal", home=1, start=90), caregiver("d", "meal", home=3, start=90)]
    uow, travel = booked_day(plan, *reqs, also=also)
    area = AreaContext(POLICY, travel, mode="planned")
    answer(uow, travel, m.AcceptOffer, "r1.o1", "a", -599.5)
    answer(uow, travel, m.AcceptOffer, "r3.o1", "b", -599.4)
    messagebus.handle(m.CallOff("ev-off-a", None, AREA, request_id="r1", caregiver_id="a"), uow, at(-599), area)
    close(uow, travel, 1)
    [again] = pending(uow, "r1")
    assert (again.caregiver_id, again.planned_start) == ("c", at(90))
    answer(uow, travel, m.AcceptOffer, again.offer_id, "c", -569)
    close(uow, travel, 2)
    [heard] = [e.payload for e in uow.events if e.type == "dispatch.promise.told" and e.subject == "r1"]
    assert (heard["promised_start"], heard["promised_end"]) == (at(75).isoformat(), at(120).isoformat())

    seen = len(uow.events)
    messagebus.handle(m.CallOff("ev-off-c", None, AREA, request_id="r1", caregiver_id="c"), uow, at(0), area)
    [last] = pending(uow, "r1")
    assert (last.caregiver_id, last.planned_start) == ("d", at(110))  # 09:50: inside 09:15-10:00
    answer(uow, travel, m.AcceptOffer, last.offer_id, "d", 1)
    elder = [(n.kind, n.values.get("start"), n.values.get("end")) for n in told(uow, FakeRegister(uow), since=seen)
             if n.person.role == "elder"]  # fmt: skip
    assert elder == [("elder.called_off", None, None), ("elder.confirmed", at(75), at(120))]
    assert (uow.requests.get("r1").promised_start, uow.requests.get("r1").promised_end) == (at(75), at(120))


def r1_called_off_by_a(b_answers_r3=m.AcceptOffer):
    """``two_caregivers_day``: a accepts r1 and r2, b answers r3 (``b_answers_r3``), then a calls
    r1 off at 22:01 the evening before."""
    uow, travel = two_caregivers_day()
    area = AreaContext(POLICY, travel, mode="planned")
    answer(uow, travel, m.AcceptOffer, "r1.o1", "a", -599.5)
    answer(uow, travel, m.AcceptOffer, "r2.o1", "a", -599.4)
    answer(uow, travel, b_answers_r3, "r3.o1", "b", -599.3)
    messagebus.handle(m.CallOff("ev-off-a", None, AREA, request_id="r1", caregiver_id="a"), uow, at(-599), area)
    return uow, travel


def test_a_caregiver_who_calls_a_visit_off_during_the_rounds_is_not_offered_it_again():
    """a accepts r1 and r2 the evening before, then calls r1 off (she cannot come after all):
    round 1 re-plans r1 without her, as it would had she declined; a round's own move of a
    visit away from her, by contrast, leaves her free to take it back later."""
    uow, travel = r1_called_off_by_a()
    [called_off] = [o for o in uow.offers.for_request("r1") if o.caregiver_id == "a"]
    assert (called_off.status, called_off.cancel_reason) == (OfferStatus.CANCELED, "called_off")
    assert rounds.refused_by(uow.offers.for_request("r1")) == {"a"}
    close(uow, travel, 1)
    assert [o.caregiver_id for o in pending(uow, "r1")] == ["b"]  # not back to a, who called it off
    moved = replace(called_off, caregiver_id="b", cancel_reason="reassigned")
    assert rounds.refused_by([moved]) == set()


def test_a_caregiver_given_back_the_visit_she_called_off_keeps_it_through_the_round():
    """a calls r1 off, then can come after all: the operator gives it back to her and she
    accepts. Round 1 leaves her visit where it is (her call-off no longer counts against her)
    instead of cancelling it and offering r1 to b."""
    from handlers.operations import operator_actions

    uow, travel = r1_called_off_by_a(b_answers_r3=m.DeclineOffer)
    again = operator_actions.reassign("r1", "a", uow, at(-590), POLICY, travel, "op1")
    answer(uow, travel, m.AcceptOffer, again.offer_id, "a", -589)
    close(uow, travel, 1)
    visit = uow.visits.for_request("r1")
    assert (visit.caregiver_id, visit.status) == ("a", VisitStatus.SCHEDULED)
    assert pending(uow, "r1") == []


def test_an_offer_left_unanswered_is_asked_again_at_the_same_slot_and_a_second_silence_moves_it():
    """a lets r1's offer lapse: an evening text left unread is no "no", so round 1 offers her r1
    again at 09:00 rather than moving it to b's route; when that lapses too, round 2 gives it to b."""
    uow, travel = two_caregivers_day()
    area = AreaContext(POLICY, travel, mode="planned")

    def lapse(offer_id: str, minute: float) -> None:
        messagebus.handle(m.ExpireOffer(f"ev-lapse-{offer_id}", None, AREA, offer_id=offer_id), uow, at(minute), area)

    answer(uow, travel, m.AcceptOffer, "r2.o1", "a", -599.5)
    answer(uow, travel, m.AcceptOffer, "r3.o1", "b", -599.4)
    lapse("r1.o1", -598)
    assert pending(uow, "r1") == []  # held for the round
    close(uow, travel, 1)
    [again] = pending(uow, "r1")
    assert (again.caregiver_id, again.planned_start) == ("a", at(60))
    lapse(again.offer_id, -568)
    close(uow, travel, 2)
    [third] = pending(uow, "r1")
    assert third.caregiver_id == "b" and at(60) <= third.planned_start <= at(120)


def test_moving_an_accepted_visit_costs_less_while_more_rounds_remain_and_never_nothing():
    five = DispatchPolicy(confirm_rounds=5, confirm_keep_minutes=20)
    assert [five.keep_minutes_in(k) for k in range(1, 6)] == [4, 8, 12, 16, 20]
    three = DispatchPolicy(confirm_rounds=3, confirm_keep_minutes=20)
    assert [three.keep_minutes_in(k) for k in range(1, 4)] == [7, 14, 20]
    # a move that saves nothing (two caregivers swapping whole routes) still costs a minute
    assert DispatchPolicy(confirm_rounds=3, confirm_keep_minutes=0).keep_minutes_in(1) == 1


def test_the_last_round_tells_an_elder_told_another_window_before_the_plan_that_it_changed():
    """r1's elder had been told 11:00-11:45 before the plan was announced (an earlier accept,
    called off since); the rounds place r1 at 09:00: she hears "rescheduled", not a fresh
    confirmation. r3's elder, told nothing before, hears "confirmed"."""
    from tests.unit.test_notices import FakeRegister, told

    uow, travel = two_caregivers_day()
    uow.requests.get("r1").promised_start, uow.requests.get("r1").promised_end = at(180), at(225)
    for offer_id, cid, minute in (("r1.o1", "a", -599.5), ("r2.o1", "a", -599.4), ("r3.o1", "b", -599.3)):
        answer(uow, travel, m.AcceptOffer, offer_id, cid, minute)
    close(uow, travel, 1)
    seen = len(uow.events)
    close(uow, travel, 2)
    elders = {n.request_id: (n.kind, n.values["start"]) for n in told(uow, FakeRegister(uow), since=seen)
              if n.person.role == "elder"}  # fmt: skip
    assert elders["r1"] == ("elder.rescheduled", at(60)) and elders["r3"] == ("elder.confirmed", at(60))
    assert uow.requests.get("r1").promised_start == at(60)


def fire_round_timers(uow, travel, policy: DispatchPolicy = POLICY) -> list[str]:
    """Fire every ``confirm-round`` timer asked for, earliest due first, as the timer service would,
    until none is left; returns their targets in the order fired."""
    area = AreaContext(policy, travel, mode="planned")
    fired: list[str] = []
    while True:
        asked = {e.payload["target_id"]: e.payload["due"] for e in uow.events if e.payload.get("kind") == rounds.KIND}
        waiting = sorted((due, target) for target, due in asked.items() if target not in fired)
        if not waiting:
            return fired
        due, target = waiting[0]
        data = {"kind": rounds.KIND, "target_id": target, "service_area": AREA, "due": due}
        command = m.decode({"id": f"fired-{target}", "type": "timer.fired", "time": due, "data": data})
        messagebus.handle(command, uow, datetime.fromisoformat(due), area)
        fired.append(target)


def test_an_urgent_request_whose_repair_re_stamps_slots_during_the_rounds_still_tells_every_elder_once():
    """An urgent request u (e3, location 3, 09:00-09:20 hard) arrives while the rounds are open: the
    repair gives a 09:00 for u and moves r1 and r2 later, offering them again; their slots are
    stamped with the repair's time, a plan of their own whose rounds nobody had asked for. The
    accepts ask for them (``defer_promise``), so after the last of them every elder hears her
    window once, and none before."""
    uow, travel = two_caregivers_day()
    record = {
        "intake_id": "u", "channel": "hotline", "elder_id": "e3", "service_type": "meal", "duration_minutes": 30,
        "window": {"start": at(60).isoformat(), "end": at(80).isoformat()}, "window_hard": True,
        "priority": "urgent", "submitted_at": at(-599.8).isoformat(),
    }  # fmt: skip
    area = AreaContext(POLICY, travel, mode="planned")
    messagebus.handle(m.ReceiveRequest("ev-u", at(-599.8), AREA, record), uow, at(-599.8), area)
    stamped = {rid for rid, pv in uow.plan.items() if pv.announced_at != ANNOUNCED}
    assert {"u", "r1"} <= stamped  # the repair re-stamped what it moved or placed
    for rid, cid in (("u", "a"), ("r1", "a"), ("r2", "a"), ("r3", "b")):
        [offer] = pending(uow, rid)
        assert offer.caregiver_id == cid
        answer(uow, travel, m.AcceptOffer, offer.offer_id, cid, -599.5)
    assert not [e for e in uow.events if e.type == "dispatch.promise.told"]  # the rounds are open
    fired = fire_round_timers(uow, travel)
    assert any(t.startswith(f"{AREA}|{min(uow.plan[rid].announced_at for rid in stamped).isoformat()}#") for t in fired)
    told = Counter(e.payload["request_id"] for e in uow.events if e.type == "dispatch.promise.told")
    assert told == {"u": 1, "r1": 1, "r2": 1, "r3": 1}
    for rid in told:
        data = [e.payload for e in uow.events if e.type == "dispatch.promise.told" and e.payload["request_id"] == rid]
        start = uow.visits.for_request(rid).planned_start.isoformat()
        assert data[0]["promised_start"] <= start <= data[0]["promised_end"]
