"""A whole UHHC day through the handlers in simulated time, without broker or database."""

import json
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from handlers.datasets.day import build_day
from handlers.datasets.uhhc import parse_instance
from handlers.dispatch.scheduling import DispatchPolicy, MatrixTravelTimes
from handlers.simulation.caregiver_model import CaregiverModel
from handlers.simulation.offline import run_day

START = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


def replay(shared_data, name, **model):
    instance = parse_instance(json.loads((shared_data / "uhhc" / "instances" / f"{name}.json").read_text()), name)
    day = build_day(instance, START, 60, "t")
    run = run_day(
        day,
        MatrixTravelTimes(instance.distances),
        DispatchPolicy(shift_end_hard=instance.shift_end_hard),
        CaregiverModel(**model),
        {n.service_id for n in instance.needs},
    )
    return instance, day, run


@pytest.mark.parametrize("name", ["rome-p44", "bazirha-E2", "bazirha-F1"])
def test_every_request_of_the_day_reaches_a_final_state(shared_data, name):
    instance, day, run = replay(shared_data, name)
    assert len(run.uow.requests) == len(day.submissions) == len(instance.needs)
    assert all(r.status.is_final for r in run.uow.requests.values())
    assert sum(r.status.value == "completed" for r in run.uow.requests.values()) >= 0.8 * len(instance.needs)


@pytest.mark.parametrize("name", ["rome-p44", "bazirha-F1"])
def test_no_caregiver_ever_holds_two_overlapping_visits(shared_data, name):
    instance, _, run = replay(shared_data, name)
    by_caregiver = defaultdict(list)
    for v in run.uow.visits.values():
        by_caregiver[v.caregiver_id].append((v.check_in_at, v.check_out_at, v.location_index))
    travel = MatrixTravelTimes(instance.distances)
    for visits in by_caregiver.values():
        visits.sort()
        for (_s1, e1, l1), (s2, _, l2) in zip(visits, visits[1:], strict=False):
            assert (s2 - e1).total_seconds() / 60 >= travel.minutes(l1, l2)


def test_hard_windows_are_never_missed_on_bazirha(shared_data):
    instance, _, run = replay(shared_data, "bazirha-E2")
    assert all(v.lateness_minutes == 0 for v in run.uow.visits.values())


def test_caregivers_who_never_answer_leave_every_request_failed_to_the_operator(shared_data):
    _, _, run = replay(shared_data, "bazirha-E2", accept_rate=0.0, decline_rate=0.0)
    assert {r.status.value for r in run.uow.requests.values()} == {"failed"}
    assert all(o.status.value == "timeout" for o in run.uow.offers.values())


def test_a_complaint_in_an_offline_day_brings_its_follow_up_call_to_the_operator(shared_data):
    """The offline runner takes the worker's path through the message bus, so a
    complaint's follow-up deadline alerts the operator there too (it did not
    before the bus: the offline runner had no ``followup-deadline`` branch)."""
    _, _, run = replay(shared_data, "rome-p44", complaint_rate=0.5)
    complaints = {f.request_id for f in run.uow.feedback.values() if f.kind == "complaint"}
    alerted = {
        e.subject for e in run.uow.events if e.type == "care.operator.alert" and "follow-up" in e.payload["reason"]
    }
    assert complaints and alerted == complaints
