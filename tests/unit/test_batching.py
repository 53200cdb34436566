"""Batched matching: requests that wait together are matched together."""

import json
from datetime import UTC, datetime

import pytest

from handlers.datasets.day import build_day
from handlers.datasets.uhhc import parse_instance
from handlers.dispatch import offers
from handlers.dispatch.batching import assign_batch, offer_batch
from handlers.dispatch.scheduling import DispatchPolicy, MatrixTravelTimes
from handlers.model import OfferStatus, Priority, RequestStatus
from handlers.simulation.caregiver_model import CaregiverModel
from handlers.simulation.memory import InMemoryUnitOfWork
from handlers.simulation.offline import run_day
from tests.unit.factories import at, caregiver, elder, line_travel, request

TRAVEL = line_travel()
POLICY = DispatchPolicy()


def uow_with(*caregivers):
    uow = InMemoryUnitOfWork()
    for c in caregivers:
        uow.caregivers.add(c)
    for loc in range(6):
        uow.elders.add(elder(f"e{loc}", loc))
    return uow


def at_sixty(rid, location, service="meal", **kw):
    """A visit that must start at minute 60 exactly (hard window)."""
    return request(rid, location, start=60, end=60, service=service, window_hard=True, **kw)


def batch(requests, caregivers, already_offered=None):
    return dict(assign_batch(requests, caregivers, {}, TRAVEL, at(0), POLICY, already_offered or {}))


def test_a_batch_gives_the_scarce_caregiver_to_the_request_that_needs_them():
    versatile, meals_only = caregiver("A", "meal bathing", home=1), caregiver("B", "meal", home=0)
    meal, bath = at_sixty("meal", 1), at_sixty("bath", 2, service="bathing")
    pairs = batch([meal, bath], [versatile, meals_only])
    assert {rid: c.caregiver_id for rid, c in pairs.items()} == {"meal": "B", "bath": "A"}
    assert pairs["bath"].start == pairs["meal"].start == at(60)


def test_greedy_online_dispatch_gives_the_scarce_caregiver_away_and_the_bath_fails():
    uow = uow_with(caregiver("A", "meal bathing", home=1), caregiver("B", "meal", home=0))
    offers.receive_request(at_sixty("meal", 1), uow, at(0), POLICY, TRAVEL)
    offers.receive_request(at_sixty("bath", 2, service="bathing"), uow, at(0), POLICY, TRAVEL)
    assert uow.offers.for_request("meal")[0].caregiver_id == "A"
    assert uow.requests.get("bath").status == RequestStatus.FAILED


def test_an_emergency_gets_the_only_caregiver_before_a_routine_request():
    routine, stat = at_sixty("routine", 1), at_sixty("stat", 3, priority=Priority.STAT)
    pairs = batch([routine, stat], [caregiver("A", home=1)])
    assert list(pairs) == ["stat"]


def test_an_emergency_does_not_take_a_caregiver_another_request_cannot_do_without():
    versatile, meals_only = caregiver("A", "meal bathing", home=1), caregiver("B", "meal", home=0)
    stat_meal = at_sixty("stat", 1, priority=Priority.STAT)
    routine_bath = at_sixty("bath", 2, service="bathing")
    pairs = batch([stat_meal, routine_bath], [versatile, meals_only])
    assert {rid: c.caregiver_id for rid, c in pairs.items()} == {"stat": "B", "bath": "A"}


def test_higher_priority_pairs_come_first():
    pairs = assign_batch(
        [request("r", 1), request("s", 4, priority=Priority.ASAP)],
        [caregiver("A", home=1), caregiver("B", home=4)],
        {},
        TRAVEL,
        at(0),
        POLICY,
        {},
    )
    assert [rid for rid, _ in pairs] == ["s", "r"]


def test_a_caregiver_gets_at_most_one_request_per_batch_even_when_the_day_has_room():
    pairs = batch([request("r1", 1, start=60, end=300), request("r2", 2, start=60, end=300)], [caregiver("A")])
    assert len(pairs) == 1


def test_a_caregiver_who_was_already_offered_the_request_is_not_asked_again():
    pairs = batch([request("r", 1)], [caregiver("A", home=1), caregiver("B", home=0)], {"r": {"A"}})
    assert pairs["r"].caregiver_id == "B"


def test_a_batch_offers_the_matched_fails_the_impossible_and_keeps_the_outbid_waiting():
    uow = uow_with(caregiver("A", "meal", home=1))
    waiting = [at_sixty("near", 1), at_sixty("far", 3), request("repair", 2, service="repair")]
    for r in waiting:
        assert offers.register_request(r, uow, at(0), POLICY)
    left = offer_batch(waiting, uow, at(0), POLICY, TRAVEL)
    assert [(o.request_id, o.caregiver_id, o.status) for o in uow.offers.values()] == [
        ("near", "A", OfferStatus.PENDING)
    ]
    assert uow.requests.get("repair").status == RequestStatus.FAILED
    assert left == ["far"]
    decided = [e for e in uow.events if e.type == "dispatch.decided" and e.subject == "near"][-1]
    assert decided.payload["candidates"][0]["caregiver_id"] == "A"


START = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize("name", ["rome-p44", "bazirha-E2", "bazirha-F1"])
def test_a_batched_day_brings_every_request_to_a_final_state(shared_data, name):
    instance = parse_instance(json.loads((shared_data / "uhhc" / "instances" / f"{name}.json").read_text()), name)
    day = build_day(instance, START, 60, "t")
    run = run_day(
        day,
        MatrixTravelTimes(instance.distances),
        DispatchPolicy(shift_end_hard=instance.shift_end_hard),
        CaregiverModel(),
        {n.service_id for n in instance.needs},
        mode="batched",
    )
    assert len(run.uow.requests) == len(instance.needs)
    assert all(r.status.is_final for r in run.uow.requests.values())
    assert sum(r.status == RequestStatus.COMPLETED for r in run.uow.requests.values()) >= 0.9 * len(instance.needs)
    if instance.windows_hard:
        assert all(v.lateness_minutes == 0 for v in run.uow.visits.values())


def test_in_a_batched_area_an_emergency_is_offered_at_once_and_a_routine_request_waits():
    from handlers.dispatch.batching import receive_batched
    from handlers.model import Priority
    from tests.unit.factories import uow_with

    uow = uow_with(caregiver("a", home=1), caregiver("b", home=2))
    receive_batched(request("routine", 1), uow, at(0), POLICY, TRAVEL)
    receive_batched(request("sos", 2, start=0, end=30, priority=Priority.STAT), uow, at(0), POLICY, TRAVEL)
    assert uow.offers.for_request("routine") == []
    assert len(uow.offers.for_request("sos")) == 2  # parallel offers to both caregivers
