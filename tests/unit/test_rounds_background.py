"""A confirmation round's re-plan searched beside the worker (issue 18: "the worker keeps deciding
other areas meanwhile"; ``handlers.dispatch.rounds._ask_solver`` / ``search_round_job`` /
``apply_round`` / ``round_overdue``): the close writes a job instead of searching in the dispatch
batch, the answer comes back as a command and is carried out as the round in the batch would
carry it out, only if the day still lets it; no answer in time keeps the requests held, and the
last round then sends them to insertion. Offline, through the message bus, with the job and the
answer sent through JSON as the broker carries them."""

import itertools
import json
from dataclasses import replace
from datetime import timedelta

import pytest

from db.uow import envelope
from handlers import events, messagebus
from handlers import messages as m
from handlers.dispatch import rounds
from handlers.dispatch.area import AreaContext
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.model import RequestStatus
from tests.unit.factories import AREA, at
from tests.unit.test_rounds import ANNOUNCED, POLICY, answer, close, pending, two_caregivers_day

BACKGROUND = dict(mode="planned", background_repairs=True)


def close_beside(uow, travel, k: int, policy: DispatchPolicy = POLICY):
    """Close round ``k`` in a worker that searches beside itself; returns the job it wrote."""
    area = AreaContext(policy, travel, **BACKGROUND)
    due = policy.round_closes_at(ANNOUNCED, k)
    messagebus.handle(m.CloseRound(f"ev-round-{k}", None, AREA, announced_at=ANNOUNCED, round=k), uow, due, area)
    jobs = [e for e in uow.events if e.type == "dispatch.round.requested" and e.payload["round"] == k]
    return jobs[-1] if jobs else None


def solved(job) -> dict:
    """The solver agent's record for ``job`` (``streams.agents.search_repairs``), through JSON."""
    found = rounds.search_round_job(json.loads(json.dumps(job.payload)))
    return json.loads(json.dumps(envelope(events.round_solved(found, job.time), events.round_solved_id(found))))


def apply(uow, travel, record: dict, minute: float, policy: DispatchPolicy = POLICY) -> None:
    command = m.decode(record)
    assert isinstance(command, m.ApplyRound)
    messagebus.handle(command, uow, at(minute), AreaContext(policy, travel, **BACKGROUND))


def declined_r2():
    """``two_caregivers_day``: a accepts r1, declines r2; b accepts r3."""
    uow, travel = two_caregivers_day()
    answer(uow, travel, m.AcceptOffer, "r1.o1", "a", -599.5)
    answer(uow, travel, m.DeclineOffer, "r2.o1", "a", -599.2)
    answer(uow, travel, m.AcceptOffer, "r3.o1", "b", -599)
    return uow, travel


def outcomes(uow, rid: str = "r2") -> list[str]:
    return [e.payload["outcome"] for e in uow.events
            if e.type == "care.dispatch.repaired" and e.payload["request_id"] == rid]  # fmt: skip


def test_the_close_offers_nothing_until_the_answer_and_then_what_the_round_in_the_batch_offers():
    inline, inline_travel = declined_r2()
    close(inline, inline_travel, 1)
    [expected] = pending(inline, "r2")

    uow, travel = declined_r2()
    job = close_beside(uow, travel, 1)
    assert job is not None and (job.topic_role, job.key) == ("rounds", AREA)
    assert pending(uow, "r2") == []  # the batch did not wait for the search
    assert outcomes(uow)[-1] == "solving"
    [overdue] = [e.payload for e in uow.events if e.payload.get("kind") == rounds.OVERDUE_KIND]
    wait = timedelta(minutes=POLICY.confirm_round_minutes / 2)  # half a round: jobs of many areas queue
    assert rounds.answer_wait(POLICY) == wait
    assert overdue["target_id"] == rounds.round_target(AREA, ANNOUNCED, 1)
    assert overdue["due"] == (POLICY.round_closes_at(ANNOUNCED, 1) + wait).isoformat()
    # the next round's close is asked at once, whatever the search finds
    closes = [e.payload["target_id"] for e in uow.events if e.payload.get("kind") == rounds.KIND]
    assert rounds.round_target(AREA, ANNOUNCED, 2) in closes

    record = solved(job)
    apply(uow, travel, record, -569.9)
    [again] = pending(uow, "r2")
    assert (again.caregiver_id, again.planned_start) == (expected.caregiver_id, expected.planned_start)
    assert uow.plan["r2"].caregiver_id == again.caregiver_id and uow.plan["r2"].start == again.planned_start
    assert outcomes(uow)[-1] == "round"

    apply(uow, travel, record, -569.8)  # delivered twice
    messagebus.handle(m.RoundOverdue("ev-late", None, AREA, announced_at=ANNOUNCED, round=1), uow, at(-569),
                      AreaContext(POLICY, travel, **BACKGROUND))  # fmt: skip
    assert pending(uow, "r2") == [again] and outcomes(uow)[-1] == "round"


def test_the_last_round_tells_the_elders_only_once_its_answer_is_carried_out():
    uow, travel = declined_r2()
    close_beside(uow, travel, 1)  # its answer never comes: r2 stays held
    messagebus.handle(m.RoundOverdue("ev-over-1", None, AREA, announced_at=ANNOUNCED, round=1), uow, at(-569),
                      AreaContext(POLICY, travel, **BACKGROUND))  # fmt: skip
    assert pending(uow, "r2") == [] and outcomes(uow)[-2:] == ["solving", "held"]
    job = close_beside(uow, travel, 2)
    assert job is not None
    assert not [e for e in uow.events if e.type == "dispatch.promise.told"]  # not yet: the last round searches
    apply(uow, travel, solved(job), -539.9)
    [again] = pending(uow, "r2")
    assert again.caregiver_id == "b"
    told = sorted(e.payload["request_id"] for e in uow.events if e.type == "dispatch.promise.told")
    assert told == ["r1", "r3"]  # r2 is told when b accepts (the rounds are over)
    answer(uow, travel, m.AcceptOffer, again.offer_id, "b", -539)
    told = [e.payload["request_id"] for e in uow.events if e.type == "dispatch.promise.told"]
    accepted = [e.payload for e in uow.events if e.type == "dispatch.offer.accepted"]
    assert sorted(told) == ["r1", "r3"] and not accepted[-1].get("promise_deferred")
    assert "promised_start" in accepted[-1]


def test_a_reply_handled_while_the_last_round_searches_is_told_with_the_others_not_before():
    """b's "yes" to r3 was stamped in time and is handled while the last round's search runs: the
    rounds are not over until the answer is carried out, so her elder is told with the others."""
    uow, travel = two_caregivers_day()
    answer(uow, travel, m.AcceptOffer, "r1.o1", "a", -599.5)
    answer(uow, travel, m.DeclineOffer, "r2.o1", "a", -599.2)
    close_beside(uow, travel, 1)
    area = AreaContext(POLICY, travel, **BACKGROUND)
    messagebus.handle(m.RoundOverdue("ev-over-1", None, AREA, announced_at=ANNOUNCED, round=1), uow, at(-569), area)
    job = close_beside(uow, travel, 2)
    assert job is not None
    answer(uow, travel, m.AcceptOffer, "r3.o1", "b", -599)  # stamped in time, handled now
    accepted = [e.payload for e in uow.events if e.type == "dispatch.offer.accepted"]
    assert accepted[-1]["request_id"] == "r3" and accepted[-1]["promise_deferred"] is True
    assert not [e for e in uow.events if e.type == "dispatch.promise.told"]
    apply(uow, travel, solved(job), -539.9)
    told = sorted(e.payload["request_id"] for e in uow.events if e.type == "dispatch.promise.told")
    assert told == ["r1", "r3"]


def test_no_answer_for_the_last_round_sends_what_it_holds_to_insertion_and_tells_the_elders():
    uow, travel = declined_r2()
    for k in (1, 2):
        job = close_beside(uow, travel, k)
        assert job is not None
        due = POLICY.round_closes_at(ANNOUNCED, k) + rounds.answer_wait(POLICY)
        messagebus.handle(m.decode(json.loads(json.dumps(envelope(
            events.area_timer_requested(rounds.OVERDUE_KIND, rounds.round_target(AREA, ANNOUNCED, k), AREA, due, due),
            f"fired-{k}",
        ))) | {"type": "timer.fired"}), uow, due, AreaContext(POLICY, travel, **BACKGROUND))  # fmt: skip
    assert outcomes(uow)[-2:] == ["held", "insertion"]
    assert [o.caregiver_id for o in pending(uow, "r2")] == ["b"]  # insertion: a declined it
    told = sorted(e.payload["request_id"] for e in uow.events if e.type == "dispatch.promise.told")
    assert told == ["r1", "r3"]
    apply(uow, travel, solved(job), -530)  # the answer after its overdue timer changes nothing
    assert len(pending(uow, "r2")) == 1 and outcomes(uow)[-1] == "insertion"


def test_an_answer_the_day_has_outrun_keeps_its_requests_held_and_says_why():
    """r3 is called off while the round searches: the answer still has b at r3, a booking that is
    no longer there; it is not carried out."""
    uow, travel = declined_r2()
    job = close_beside(uow, travel, 1)
    uow.requests.get("r3").status = RequestStatus.CANCELLED
    uow.visits.for_request("r3").status = uow.visits.for_request("r3").status.CANCELLED
    apply(uow, travel, solved(job), -569.9)
    assert pending(uow, "r2") == []
    reason = [e.payload["reason"] for e in uow.events
              if e.type == "care.dispatch.repaired" and e.payload["outcome"] == "held"][-1]  # fmt: skip
    assert reason.startswith("round 1: ") and "r3" in reason


def test_a_decline_handled_while_the_round_searches_is_not_offered_back_to_her():
    """b's pending r3 is fixed on her route in the job; her "no" (stamped in time) is handled while
    the search runs. The answer still has r3 with b: it is not carried out (the round in the batch
    never offers a request to a caregiver who declined it); r2 and r3 wait for the next round."""
    uow, travel = two_caregivers_day()
    answer(uow, travel, m.AcceptOffer, "r1.o1", "a", -599.5)
    answer(uow, travel, m.DeclineOffer, "r2.o1", "a", -599.2)
    job = close_beside(uow, travel, 1)
    record = solved(job)
    assert [s[0] for s in record["data"]["routes"]["b"]][:1] == ["r3"]
    answer(uow, travel, m.DeclineOffer, "r3.o1", "b", -599)
    apply(uow, travel, record, -569.9)
    assert pending(uow, "r3") == [] and pending(uow, "r2") == []
    reason = [e.payload["reason"] for e in uow.events if e.type == "care.dispatch.repaired"][-1]
    assert reason == "round 1: r3 may no longer go to b"


def test_an_answer_back_within_its_budget_is_judged_against_the_cut_it_was_searched_for():
    """Shifts under way at the announcement (a plan announced on the day): round 1 closes at 22:30,
    nothing may start within the hour after; r2 (at b's home, hard window 22:00-03:00) declined by
    a. The round's plan starts r2 as early as it may; its answer comes back 6 s after the close
    (judged at "now", the cut would have moved under it) and is used, as the round in the batch
    offers it."""
    from handlers.dispatch.planned import PlannedVisit, receive_planned
    from tests.unit.factories import caregiver, line_travel, request, uow_with

    def evening_shift_day():
        uow = uow_with(caregiver("a", "meal", home=0, start=-600, end=600),
                       caregiver("b", "meal", home=5, start=-600, end=600))  # fmt: skip
        uow.plan = {"r2": PlannedVisit("a", at(-450), at(-420), 5, ANNOUNCED, "meal", at(-600), at(-300), True)}
        travel = line_travel()
        r2 = request("r2", 5, start=-600, end=-300, window_hard=True)
        receive_planned(r2, uow.planned_visits(["r2"]), uow, ANNOUNCED, POLICY, travel)
        assert rounds.ask_round(r2, uow.plan["r2"], uow, ANNOUNCED, POLICY)
        answer(uow, travel, m.DeclineOffer, "r2.o1", "a", -599.2)
        return uow, travel

    inline, inline_travel = evening_shift_day()
    close(inline, inline_travel, 1)
    [expected] = pending(inline, "r2")
    uow, travel = evening_shift_day()
    apply(uow, travel, solved(close_beside(uow, travel, 1)), -569.9)
    [again] = pending(uow, "r2")  # modelled for when the answer is due back: a minute later at most
    assert again.caregiver_id == "b" and timedelta(0) <= again.planned_start - expected.planned_start <= timedelta(
        minutes=1
    )


def test_a_worker_restarted_with_more_rounds_while_the_last_one_searches_still_closes_the_next():
    uow, travel = declined_r2()
    close_beside(uow, travel, 1)
    job = close_beside(uow, travel, 2)  # the last of POLICY's 2 rounds: no close of round 3 asked
    assert job is not None
    closes = [e.payload["target_id"] for e in uow.events if e.payload.get("kind") == rounds.KIND]
    assert rounds.round_target(AREA, ANNOUNCED, 3) not in closes
    apply(uow, travel, solved(job), -539.9, replace(POLICY, confirm_rounds=3))
    closes = [e.payload["target_id"] for e in uow.events if e.payload.get("kind") == rounds.KIND]
    assert rounds.round_target(AREA, ANNOUNCED, 3) in closes  # its close tells the elders then


def test_an_answer_after_the_next_round_closed_changes_nothing():
    uow, travel = declined_r2()
    job = close_beside(uow, travel, 1)
    record = solved(job)
    close_beside(uow, travel, 2)  # round 2 has its own search of the same day
    before = len(uow.events)
    apply(uow, travel, record, -539)
    assert len(uow.events) == before and pending(uow, "r2") == []


def test_the_planning_instance_goes_through_json_unchanged():
    uow, travel = declined_r2()
    job = close_beside(uow, travel, 1)
    data = json.loads(json.dumps(job.payload["instance"]))
    assert rounds.instance_json(rounds.instance_from_json(data)) == data
    assert [who for _, rid, who in job.payload["allowed"] if rid == "r2"] == [["b"]]  # a declined it


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"round": 0}, "data.round"),
        ({"round": "1"}, "data.round"),
        ({"origin": "08:00"}, "data.origin"),
        ({"announced_at": None}, "data.announced_at"),
        ({"routes": {"a": [["r2", 60]]}}, "data.routes"),
        ({"routes": {"a": [["r2", True, 90]]}}, "data.routes"),
        ({"routes": None, "why": 3}, "data.why"),
    ],
)
def test_a_malformed_round_answer_is_refused_naming_the_field(change, field):
    uow, travel = declined_r2()
    record = solved(close_beside(uow, travel, 1))
    record["data"] = {**record["data"], **change}
    with pytest.raises(m.InvalidMessage) as refused:
        m.decode(record)
    assert refused.value.field == field


def test_explain_shows_the_search_beside_the_worker_then_the_re_plan_in_english_and_chinese():
    from zoneinfo import ZoneInfo

    from careline.history import CenterWords
    from handlers.dispatch.explain import explain

    uow, travel = declined_r2()
    job = close_beside(uow, travel, 1)
    apply(uow, travel, solved(job), -569.9)
    logged = [{"type": e.type, "time": e.time.isoformat(), "data": e.payload} for e in uow.events if e.subject == "r2"]
    english = "\n".join(explain(logged, CenterWords("en", ZoneInfo("UTC"))))
    assert "searching for a repair beside the worker (confirmation round 1's re-plan, 0.5 s of planner" in english
    assert "confirmation round: the whole day re-planned for 2 caregivers" in english
    chinese = "\n".join(explain(logged, CenterWords("zh", ZoneInfo("UTC"))))
    assert "正在后台求解重排" in chinese and "确认轮次：已为 2 名护理员重排全天计划" in chinese


def test_an_answer_does_not_double_book_a_visit_an_operator_booked_during_the_search():
    """a accepts r1 (planned 09:40) and declines r2 (09:00-10:00), which nobody else can do (b
    only bathes); b declines r4, so round 1 searches. Its answer leaves r2 out and brings r1
    forward to 09:00. During the search a phones in and the operator gives r2 back to her at
    09:00: the answer, carried out, would book her twice at 09:00 (found by a review). It is not
    used; her day stays as she accepted it."""
    from handlers.dispatch.planned import receive_planned
    from handlers.operations import operator_actions
    from tests.unit.factories import caregiver, line_travel, request, uow_with
    from tests.unit.test_rounds import slot

    plan = {"r1": slot("a", 100, 1, 60, 180), "r2": slot("a", 60, 2, 60, 120), "r4": slot("b", 200, 5, 180, 300)}
    reqs = (
        request("r1", 1, start=60, end=180, window_hard=True),
        request("r2", 2, start=60, end=120, window_hard=True),
        request("r4", 5, start=180, end=300, service="bathing", window_hard=True),
    )
    uow, travel = uow_with(caregiver("a", "meal", home=0), caregiver("b", "bathing", home=5)), line_travel()
    uow.plan = dict(plan)
    for r in reqs:
        receive_planned(r, uow.planned_visits([r.request_id]), uow, ANNOUNCED, POLICY, travel)
        assert rounds.ask_round(r, uow.plan[r.request_id], uow, ANNOUNCED, POLICY)
    answer(uow, travel, m.AcceptOffer, "r1.o1", "a", -599.5)
    answer(uow, travel, m.DeclineOffer, "r2.o1", "a", -599.2)
    answer(uow, travel, m.DeclineOffer, "r4.o1", "b", -599.1)
    record = solved(close_beside(uow, travel, 1))
    assert [s[0] for s in record["data"]["routes"]["a"]] == ["r1"]  # r2 left out: nobody may do it
    offer = operator_actions.reassign("r2", "a", uow, at(-569.95), POLICY, travel, "op1")
    answer(uow, travel, m.AcceptOffer, offer.offer_id, "a", -569.93)
    r1_before = uow.visits.for_request("r1").planned_start
    apply(uow, travel, record, -569.9)
    days = sorted((v.planned_start, v.planned_end) for rid in ("r1", "r2") if (v := uow.visits.for_request(rid)))
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(days)), days
    assert uow.visits.for_request("r1").planned_start == r1_before
    [held] = [e.payload["reason"] for e in uow.events if e.type == "care.dispatch.repaired"][-1:]
    assert held.startswith("round 1: a cannot reach"), held


def test_an_operator_assignment_accepted_during_the_search_is_not_undone_by_the_answer():
    """a declines r2, b declines r4; round 1 searches and its answer gives r2 to one caregiver.
    Meanwhile the operator gives r2 to another, who accepts: the answer is not used (that visit
    was never weighed at the round's keep cost), so her visit stays and nobody else is offered r2
    (found by a review)."""
    from handlers.operations import operator_actions
    from tests.unit.factories import caregiver, request
    from tests.unit.test_rounds import booked_day, slot

    plan = {
        "r1": slot("a", 60, 1, 60, 120),
        "r2": slot("a", 110, 2, 100, 180),
        "r3": slot("b", 60, 5, 60, 150),
        "r4": slot("b", 200, 3, 180, 300),
    }
    reqs = (
        request("r1", 1, start=60, end=120, window_hard=True),
        request("r2", 2, start=100, end=180, window_hard=True),
        request("r3", 5, start=60, end=150, window_hard=True),
        request("r4", 3, start=180, end=300, window_hard=True),
    )
    uow, travel = booked_day(plan, *reqs, also=(caregiver("c", "meal", home=4),))
    answer(uow, travel, m.AcceptOffer, "r1.o1", "a", -599.5)
    answer(uow, travel, m.DeclineOffer, "r2.o1", "a", -599.2)
    answer(uow, travel, m.AcceptOffer, "r3.o1", "b", -599)
    answer(uow, travel, m.DeclineOffer, "r4.o1", "b", -598.9)
    record = solved(close_beside(uow, travel, 1))
    given = {vid for vid, stops in record["data"]["routes"].items() if any(s[0] == "r2" for s in stops)}
    other = next(c for c in ("b", "c") if c not in given)
    offer = operator_actions.reassign("r2", other, uow, at(-569.95), POLICY, travel, "op1")
    answer(uow, travel, m.AcceptOffer, offer.offer_id, other, -569.93)
    apply(uow, travel, record, -569.9)
    visit = uow.visits.for_request("r2")
    assert (visit.caregiver_id, visit.status.value) == (other, "scheduled")
    assert pending(uow, "r2") == []
    [reason] = [e.payload["reason"] for e in uow.events if e.type == "care.dispatch.repaired"][-1:]
    assert f"r2 was accepted by {other} during the search" in reason
