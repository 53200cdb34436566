"""Invariants of dispatch over random rosters and request streams (hypothesis)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.datasets.day import Day, Submission
from handlers.dispatch.scheduling import DispatchPolicy, MatrixTravelTimes
from handlers.model import Caregiver, Elder, OfferStatus
from handlers.simulation.caregiver_model import CaregiverModel
from handlers.simulation.offline import run_day
from tests.unit.factories import AREA, T0

SERVICES = ["meal", "bathing", "cleaning"]


@st.composite
def days(draw):
    n_locations = draw(st.integers(3, 8))
    coords = draw(st.lists(st.integers(0, 30), min_size=n_locations, max_size=n_locations))
    matrix = [[abs(a - b) for b in coords] for a in coords]
    caregivers = []
    for i in range(draw(st.integers(1, 4))):
        abilities = draw(st.sets(st.sampled_from(SERVICES), min_size=1))
        start = draw(st.integers(0, 120))
        caregivers.append(
            Caregiver(
                f"c{i}",
                "p1",
                AREA,
                " ".join(sorted(abilities)),
                0,
                T0 + timedelta(minutes=start),
                T0 + timedelta(minutes=start + draw(st.integers(60, 600))),
            )
        )
    elders = tuple(Elder(f"e{j}", AREA, j) for j in range(1, n_locations))
    subs = []
    for k in range(draw(st.integers(1, 12))):
        window_start = draw(st.integers(0, 480))
        record = {
            "intake_id": f"r{k}",
            "request_id": f"r{k}",
            "channel": "app",
            "elder_id": draw(st.sampled_from(elders)).elder_id,
            "service_type": draw(st.sampled_from(SERVICES)),
            "duration_minutes": draw(st.integers(5, 60)),
            "window": {
                "start": (T0 + timedelta(minutes=window_start)).isoformat(),
                "end": (T0 + timedelta(minutes=window_start + draw(st.integers(10, 180)))).isoformat(),
            },
            "window_hard": draw(st.booleans()),
            "priority": draw(st.sampled_from(["routine", "routine", "urgent", "asap", "stat"])),
            "submitted_at": (T0 + timedelta(minutes=max(0, window_start - 60))).isoformat(),
        }
        subs.append(Submission(T0 + timedelta(minutes=max(0, window_start - 60)), record))
    subs.sort(key=lambda s: s.at)
    day = Day(AREA, T0, elders, (), tuple(caregivers), tuple(subs))
    model = CaregiverModel(
        seed=draw(st.integers(0, 1000)),
        accept_rate=draw(st.floats(0, 1)),
        decline_rate=0.0,
        late_arrival_rate=draw(st.sampled_from([0.0, 0.3])),
    )
    return day, MatrixTravelTimes(matrix), model


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days())
def test_random_days_end_with_every_request_final_and_no_caregiver_double_booked(case):
    day, travel, model = case
    run = run_day(day, travel, DispatchPolicy(), model, set(SERVICES))
    uow = run.uow
    assert len(uow.requests) == len(day.submissions)
    for r in uow.requests.values():
        assert r.status.is_final, (r.request_id, r.status)
        if r.status.value == "failed":
            assert any(e.type == "care.request.escalated" and e.subject == r.request_id for e in uow.events)
    accepted = defaultdict(int)
    for o in uow.offers.values():
        accepted[o.request_id] += o.status == OfferStatus.ACCEPTED
    assert all(n <= 1 for n in accepted.values())
    by_caregiver = defaultdict(list)
    for v in uow.visits.values():
        if v.check_in_at is not None:
            by_caregiver[v.caregiver_id].append(v)
    for visits in by_caregiver.values():
        visits.sort(key=lambda v: v.check_in_at)
        for a, b in zip(visits, visits[1:], strict=False):
            gap = (b.check_in_at - a.check_out_at).total_seconds() / 60
            assert gap >= travel.minutes(a.location_index, b.location_index) - 1e-9


@st.composite
def batches(draw):
    from handlers.model import Priority
    from tests.unit.factories import at, caregiver, request

    carers = [
        caregiver(
            f"c{i}",
            " ".join(sorted(draw(st.sets(st.sampled_from(SERVICES), min_size=1)))),
            home=draw(st.integers(0, 5)),
        )
        for i in range(draw(st.integers(1, 4)))
    ]
    reqs = [
        request(
            f"r{k}",
            draw(st.integers(0, 5)),
            start=draw(st.integers(0, 120)),
            end=600,
            service=draw(st.sampled_from(SERVICES)),
            priority=draw(st.sampled_from([Priority.ROUTINE, Priority.STAT])),
        )
        for k in range(draw(st.integers(1, 6)))
    ]
    for k, r in enumerate(reqs):
        r.received_at = at(-k)  # later requests have waited longer
    return carers, reqs


@settings(max_examples=150, deadline=None)
@given(batches())
def test_an_emergency_is_never_left_waiting_while_a_routine_request_takes_a_caregiver_who_could_serve_it(case):
    from handlers.dispatch.batching import assign_batch
    from handlers.model import Priority
    from tests.unit.factories import at, line_travel

    carers, reqs = case
    policy = DispatchPolicy(daily_capacity=None)
    matched = dict(assign_batch(reqs, carers, {}, line_travel(), at(0), policy, {}))
    taken = {c.caregiver_id: rid for rid, c in matched.items()}
    by_id = {r.request_id: r for r in reqs}
    for r in reqs:
        if r.priority != Priority.STAT or r.request_id in matched:
            continue
        for c in carers:
            if policy.covers(c.abilities, r.service_type) and c.caregiver_id in taken:
                assert by_id[taken[c.caregiver_id]].priority == Priority.STAT, (r.request_id, c.caregiver_id)
