"""A planned day's repair searched beside the worker (issue 18: "the worker keeps deciding other
areas meanwhile", ``handlers.dispatch.repair.ask_solver`` / ``search_job`` / ``apply_answer``):
the fall writes a job, the solver's answer comes back as a command and is used only if the day
still lets it; no answer in time sends the request to insertion. Offline, through the message
bus, with the job and the answer sent through JSON as the broker carries them."""

import json

import pytest

from handlers import messagebus
from handlers import messages as m
from handlers.dispatch import repair
from handlers.dispatch.area import AreaContext
from handlers.model import OfferStatus, VisitStatus
from tests.unit.factories import AREA, at
from tests.unit.test_repair import POLICY, planned_day


def fall_in_background(minute: float = 2):
    """``planned_day``: far declines r1 in a worker that searches beside itself."""
    uow, travel = planned_day()
    area = AreaContext(POLICY, travel, mode="planned", background_repairs=True)
    messagebus.handle(m.DeclineOffer("ev-decline", None, AREA, "r1.o1", "far"), uow, at(minute), area)
    [job] = [e for e in uow.events if e.type == "dispatch.repair.requested"]
    return uow, travel, area, job


def solved(job) -> dict:
    """The solver agent's record for ``job`` (``streams.agents.search_repairs``), through JSON."""
    from db.uow import envelope
    from handlers import events

    answer = repair.search_job(json.loads(json.dumps(job.payload)))
    return json.loads(json.dumps(envelope(events.repair_solved(answer, job.time), events.repair_solved_id(answer))))


def pending(uow, rid: str = "r1"):
    return [o for o in uow.offers.for_request(rid) if o.status == OfferStatus.PENDING]


def outcomes(uow) -> list[tuple[str, str | None]]:
    return [(e.payload["outcome"], e.payload["reason"]) for e in uow.events if e.type == "care.dispatch.repaired"]


def test_a_fall_offers_nothing_until_the_answer_comes_and_then_the_repaired_slot():
    uow, travel, area, job = fall_in_background()
    assert pending(uow) == []  # the batch did not wait for the search
    assert (job.topic_role, job.key) == ("repairs", AREA)
    assert [o for o, _ in outcomes(uow)] == ["solving"]
    [overdue] = [e.payload for e in uow.events if e.payload.get("kind") == repair.OVERDUE_KIND]
    wait = (POLICY.repair_seconds + repair.ANSWER_GRACE_SECONDS) / 60
    assert overdue["target_id"] == "r1#1" and overdue["due"] == at(2 + wait).isoformat()

    command = m.decode(solved(job))
    assert isinstance(command, m.ApplyRepair)
    messagebus.handle(command, uow, at(2.1), area)
    [again] = pending(uow)
    assert again.caregiver_id == "near" and at(60) <= again.planned_start <= at(90)  # as a repair in the batch
    assert uow.plan["r1"].caregiver_id == "near" and uow.plan["r1"].start == again.planned_start
    assert [o for o, _ in outcomes(uow)] == ["solving", "repaired"]

    messagebus.handle(m.RepairOverdue("ev-overdue", None, AREA, attempt_id="r1#1"), uow, at(3), area)
    messagebus.handle(command, uow, at(3), area)  # the answer delivered twice
    assert pending(uow) == [again] and len(outcomes(uow)) == 2


def test_an_answer_the_day_has_outrun_goes_to_insertion_and_says_why():
    """The answer arrives at 08:58: near, at home 10 min from r1, can no longer start it at the
    answer's 09:00 start; the request is offered by insertion (nobody else can make its hard
    window: it goes to the operators) and the audit trail says why."""
    uow, travel, area, job = fall_in_background()
    messagebus.handle(m.decode(solved(job)), uow, at(58), area)
    outcome, reason = outcomes(uow)[-1]
    assert outcome == "insertion" and reason.startswith("the day changed during the search")
    assert all(o.caregiver_id != "far" for o in pending(uow))


def test_no_answer_in_time_sends_the_request_to_insertion_once_and_a_late_answer_changes_nothing():
    uow, travel, area, job = fall_in_background()
    timer = {"id": "t-overdue", "type": "timer.fired",
             "data": {"kind": repair.OVERDUE_KIND, "target_id": "r1#1", "service_area": AREA}}  # fmt: skip
    messagebus.handle(m.decode(timer), uow, at(3), area)
    assert outcomes(uow)[-1] == ("insertion", "the solver did not answer in time")
    [inserted] = pending(uow)
    messagebus.handle(m.decode(solved(job)), uow, at(3.5), area)
    assert pending(uow) == [inserted] and len(outcomes(uow)) == 2


def test_an_answer_to_an_older_fall_is_not_used():
    """The answer to r1's first fall comes after r1 was offered and declined again: its attempt id
    (``r1#1``) is not the request's current one (``r1#2``)."""
    uow, travel, area, job = fall_in_background()
    messagebus.handle(m.RepairOverdue("ev-overdue", None, AREA, attempt_id="r1#1"), uow, at(3), area)
    [inserted] = pending(uow)
    messagebus.handle(m.DeclineOffer("ev-2", None, AREA, inserted.offer_id, inserted.caregiver_id), uow, at(4), area)
    before = len(uow.events)
    answer = solved(job)
    answer["id"] = "another-delivery"
    assert not repair.apply_answer(m.decode(answer).answer, uow, at(4.5), POLICY, travel)
    assert [e.type for e in uow.events[before:]] == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("routes", {"near": [["r1", "09:00"]]}),
        ("routes", [["r1", 60]]),
        ("origin", "yesterday"),
        ("origin", "2026-11-30T08:00:00"),
        ("modelled_at", "soon"),
        ("cast", "near"),
        ("seconds", "fast"),
        ("attempt_id", ""),
    ],
)
def test_a_malformed_answer_is_refused_naming_the_field(field, value):
    uow, travel, area, job = fall_in_background()
    record = solved(job)
    record["data"][field] = value
    with pytest.raises(m.InvalidMessage) as err:
        m.decode(record)
    assert err.value.field == f"data.{field}"


def test_explain_shows_the_search_beside_the_worker_then_the_repair_in_english_and_chinese():
    from zoneinfo import ZoneInfo

    from careline.history import CenterWords
    from handlers.dispatch.explain import explain

    uow, travel, area, job = fall_in_background()
    messagebus.handle(m.decode(solved(job)), uow, at(2.1), area)
    logged = [{"type": e.type, "time": e.time.isoformat(), "data": e.payload} for e in uow.events if e.subject == "r1"]
    english = "\n".join(explain(logged, CenterWords("en", ZoneInfo("UTC"))))
    assert "searching for a repair beside the worker (0.4 s of solver time, repair r1#1)" in english
    assert "r1: far 09:00 -> near " in english
    chinese = "\n".join(explain(logged, CenterWords("zh", ZoneInfo("UTC"))))
    assert "正在后台求解重排" in chinese


def test_the_stale_check_keeps_what_the_search_had_to_keep_and_forgives_what_is_gone():
    """A pending offer made during the search (a required node) missing from the answer makes it
    stale; an empty route of a caregiver gone, or a movable slot that arrived since, does not."""
    from datetime import UTC, datetime

    from handlers.dispatch.repair import RepairNode, RepairVehicle, _Problem, _stale

    def minutes(cid, a, b):
        return abs(a - b) * 10.0

    day = _Problem(datetime(2026, 11, 30, 8, tzinfo=UTC))
    day.vehicles = [RepairVehicle("a", 0, 0, 0, None)]
    falling = RepairNode("r", 1, 30, 60, 90, caregivers=frozenset({"a"}))
    day.nodes = [RepairNode("q", 1, 30, 60, 60, caregivers=frozenset({"a"}), required=True), falling]
    assert "not in the answer (q)" in (_stale(day, {"a": [("r", 60)]}, "r", minutes) or "")
    day.nodes = [falling]
    routes = {"a": [("gone-slot", 20), ("r", 60)], "gone": []}
    assert _stale(day, routes, "r", minutes) is None and routes["a"] == [("r", 60)]


def test_a_job_whose_overdue_time_has_passed_is_not_searched():
    _, _, _, job = fall_in_background()
    data = json.loads(json.dumps(job.payload))
    assert repair.search_job(data, at(60)) is None  # the timer has placed the request by then
    assert repair.search_job(data, at(2.1))["routes"] is not None


def late_in_background():
    """``test_repair_disruptions.accepted_day``: at 09:00 far is still at home, 40 min from r1
    (expected 09:40, after its hard window); the worker searches the replacement beside itself."""
    from tests.unit.test_repair_disruptions import accepted_day

    uow, travel = accepted_day(q_at=70, q_received=59)
    visit = uow.visits.for_request("r1")
    area = AreaContext(POLICY, travel, mode="planned", background_repairs=True)
    messagebus.handle(m.CheckLateness("ev-late", None, AREA, visit.visit_id), uow, at(60), area)
    return uow, travel, area, visit


def test_a_late_caregivers_replacement_searched_beside_the_worker_hands_the_visit_over_when_it_comes():
    uow, travel, area, visit = late_in_background()
    assert visit.status == VisitStatus.SCHEDULED and pending(uow) == []  # hers until the answer
    assert not [e for e in uow.events if e.type == "care.operator.alert"]
    [job] = [e for e in uow.events if e.type == "dispatch.repair.requested"]
    assert job.payload["late_visit_id"] == visit.visit_id and job.payload["attempt_id"].startswith("r1#1L")
    again = m.CheckLateness("ev-late-again", None, AREA, visit.visit_id)  # the same prediction: asked once
    messagebus.handle(again, uow, at(60.5), area)
    assert len([e for e in uow.events if e.type == "dispatch.repair.requested"]) == 1

    messagebus.handle(m.decode(solved(job)), uow, at(61), area)
    assert visit.status == VisitStatus.CANCELLED and visit.expected_at == at(101)  # as predicted then
    [r1] = pending(uow)
    assert r1.caregiver_id == "near" and at(60) <= r1.planned_start < at(100)
    alerts = [e.payload["reason"] for e in uow.events if e.type == "care.operator.alert" and e.subject == "r1"]
    assert any("re-dispatched to near" in a for a in alerts)


def test_without_an_answer_in_time_the_late_check_runs_again_and_tells_the_operator():
    uow, travel, area, visit = late_in_background()
    [job] = [e for e in uow.events if e.type == "dispatch.repair.requested"]
    attempt = job.payload["attempt_id"]
    messagebus.handle(m.RepairOverdue("ev-overdue", None, AREA, attempt_id=attempt), uow, at(61), area)
    assert outcomes(uow)[-1][0] == "insertion" and "did not answer" in outcomes(uow)[-1][1]
    late = [e for e in uow.events if e.type == "care.visit.late"]
    assert late, "the elder and the operator hear she is late"
    before = len(uow.events)
    messagebus.handle(m.decode(solved(job)), uow, at(62), area)  # the answer after the timer: nothing
    assert len(uow.events) == before
