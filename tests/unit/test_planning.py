"""Day planning with OR-Tools: every need served, on time, by an able caregiver, in sync."""

import json
from datetime import UTC, datetime

import pytest

from handlers.datasets.day import build_day
from handlers.datasets.uhhc import Instance, RosterEntry, ServiceNeed, Stop, evaluate_routes, parse_instance
from handlers.dispatch.planning import plan_day, planned_visits, sync_violations
from handlers.dispatch.scheduling import DispatchPolicy, MatrixTravelTimes
from handlers.model import RequestStatus, SyncType
from handlers.simulation.caregiver_model import CaregiverModel
from handlers.simulation.offline import run_day

# one worker plans bazirha-E2 for the whole module (6 s of solver time) instead of each worker
# that gets one of its tests (scripts/test-fast runs pytest-xdist with --dist loadgroup)
pytestmark = pytest.mark.xdist_group("bazirha-e2-plan")

START = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
PUBLISHED_SA_TRAVEL_E2 = 1384  # solutions/bazirha-E2.sa.json


# session scope: xdist may run this module's tests apart on one worker, and a module fixture
# would then plan the day again for each run of them
@pytest.fixture(scope="session")
def e2(shared_data):
    path = shared_data / "uhhc" / "instances" / "bazirha-E2.json"
    return parse_instance(json.loads(path.read_text()), "bazirha-E2")


@pytest.fixture(scope="session")
def e2_plan(e2):
    return plan_day(e2, time_limit_seconds=6)


def test_every_need_of_bazirha_e2_is_planned_once(e2, e2_plan):
    planned = [(s.patient_id, s.service_id) for stops in e2_plan.values() for s in stops]
    assert sorted(planned) == sorted((n.patient_id, n.service_id) for n in e2.needs)


def test_no_visit_of_the_plan_ends_after_its_hard_window(e2, e2_plan):
    cost = evaluate_routes(e2, e2_plan)
    assert (cost.total_tardiness, cost.unserved) == (0, 0)
    for stops in e2_plan.values():
        for s in stops:
            need = e2.need(s.patient_id, s.service_id)
            assert need.window_start <= s.start and s.end <= need.window_end


def test_a_caregiver_has_time_to_travel_between_visits_and_is_home_by_the_end_of_the_shift(e2, e2_plan):
    for caregiver in e2.roster:
        here, free = caregiver.home_index, caregiver.shift_start
        for s in sorted(e2_plan[caregiver.caregiver_id], key=lambda s: s.start):
            need = e2.need(s.patient_id, s.service_id)
            assert s.start >= free + e2.distances[here][need.location_index]
            assert s.end == s.start + need.duration
            here, free = need.location_index, s.end
        assert free + e2.distances[here][caregiver.home_index] <= caregiver.shift_end


def test_only_caregivers_with_the_ability_are_planned_for_a_service(e2, e2_plan):
    abilities = {c.caregiver_id: c.abilities for c in e2.roster}
    assert all(s.service_id in abilities[cid] for cid, stops in e2_plan.items() for s in stops)


def test_simultaneous_services_of_bazirha_e2_start_together_with_two_caregivers(e2, e2_plan):
    assert any(n.sync_type == SyncType.SIMULTANEOUS and n.sync_partner for n in e2.needs)
    assert sync_violations(e2, e2_plan) == []


def test_the_plan_travels_within_ten_percent_of_the_published_solution(e2, e2_plan):
    assert evaluate_routes(e2, e2_plan).travel_time <= 1.10 * PUBLISHED_SA_TRAVEL_E2


def need(patient, service, location, start, end, duration=20.0, **sync):
    return ServiceNeed(patient, service, duration, location, start, end, **sync)


def small(needs, roster, windows_hard=True, at_service_end=False):
    """Locations 0..4 on a line 10 minutes apart; 0 is every caregiver's home base."""
    distances = tuple(tuple(abs(i - j) * 10.0 for j in range(5)) for i in range(5))
    return Instance("small", distances, tuple(needs), tuple(roster), at_service_end, windows_hard, True, 600.0, {})


def carer(cid, abilities=("s1", "s2"), start=0.0, end=600.0):
    return RosterEntry(cid, abilities, 0, start, end)


def test_a_simultaneous_pair_is_planned_at_one_start_with_two_caregivers():
    inst = small(
        [
            need("p", "s1", 2, 60, 120, sync_type=SyncType.SIMULTANEOUS),
            need("p", "s2", 2, 60, 120, sync_type=SyncType.SIMULTANEOUS, sync_partner="s1"),
            need("q", "s1", 1, 0, 300),
        ],
        [carer("c1"), carer("c2")],
    )
    routes = plan_day(inst, time_limit_seconds=0.3)
    where = {(s.patient_id, s.service_id): (cid, s.start) for cid, stops in routes.items() for s in stops}
    (c_a, t_a), (c_b, t_b) = where[("p", "s1")], where[("p", "s2")]
    assert t_a == t_b and c_a != c_b
    assert evaluate_routes(inst, routes).unserved == 0


def test_a_sequential_follower_starts_within_its_gap_after_the_anchor():
    inst = small(
        [
            need("p", "s1", 3, 0, 300, sync_type=SyncType.SEQUENTIAL),
            need(
                "p", "s2", 3, 0, 300, sync_type=SyncType.SEQUENTIAL, sync_partner="s1", sync_min_gap=45, sync_max_gap=50
            ),
        ],
        [carer("c1")],
    )
    routes = plan_day(inst, time_limit_seconds=0.3)
    starts = {s.service_id: s.start for s in routes["c1"]}
    assert 45 <= starts["s2"] - starts["s1"] <= 50
    assert sync_violations(inst, routes) == []


def test_sync_violations_name_every_broken_pair():
    inst = small(
        [
            need("p", "s1", 2, 0, 300, sync_type=SyncType.SIMULTANEOUS),
            need("p", "s2", 2, 0, 300, sync_type=SyncType.SIMULTANEOUS, sync_partner="s1"),
            need("q", "s1", 3, 0, 300, sync_type=SyncType.SEQUENTIAL),
            need(
                "q", "s2", 3, 0, 300, sync_type=SyncType.SEQUENTIAL, sync_partner="s1", sync_min_gap=30, sync_max_gap=40
            ),
        ],
        [carer("c1")],
    )
    routes = {
        "c1": [Stop("p", "s1", 20, 40), Stop("p", "s2", 45, 65), Stop("q", "s1", 100, 120), Stop("q", "s2", 200, 220)]
    }
    found = sync_violations(inst, routes)
    assert found == [
        "p s1/s2: simultaneous services start +25.0 min apart",
        "p s1/s2: simultaneous services both done by c1",
        "q s1/s2: follower starts 100.0 min after the anchor, not 30..40",
    ]


def test_a_pair_with_one_visit_missing_is_left_to_the_unserved_count():
    inst = small(
        [
            need("p", "s1", 2, 0, 300, sync_type=SyncType.SIMULTANEOUS),
            need("p", "s2", 2, 0, 300, sync_type=SyncType.SIMULTANEOUS, sync_partner="s1"),
        ],
        [carer("c1")],
    )
    assert sync_violations(inst, {"c1": [Stop("p", "s1", 20, 40)]}) == []


def test_a_soft_window_nobody_can_meet_is_served_late_rather_than_dropped():
    inst = small([need("p", "s1", 4, 0, 10)], [carer("c1")], windows_hard=False)
    routes = plan_day(inst, time_limit_seconds=0.3)
    assert routes["c1"][0].start == 40
    cost = evaluate_routes(inst, routes)
    assert (cost.unserved, cost.total_tardiness) == (0, 30)


def test_a_need_no_caregiver_can_perform_or_reach_in_time_is_left_unserved_not_late():
    inst = small([need("p", "s3", 1, 0, 300), need("q", "s1", 4, 0, 10), need("r", "s1", 1, 0, 300)], [carer("c1")])
    routes = plan_day(inst, time_limit_seconds=0.3)
    assert [(s.patient_id, s.start) for s in routes["c1"]] == [("r", 10)]


def test_no_visit_is_planned_outside_a_caregivers_shift():
    inst = small(
        [need("p", "s1", 1, 0, 600), need("q", "s1", 1, 0, 600)], [carer("early", end=60), carer("late", start=300)]
    )
    routes = plan_day(inst, time_limit_seconds=0.3)
    assert all(s.start >= 310 for s in routes["late"])
    assert all(s.end + 10 <= 60 for s in routes["early"])
    assert evaluate_routes(inst, routes).unserved == 0


def test_a_planned_day_brings_every_request_to_a_final_state_mostly_as_planned(e2, e2_plan):
    day = build_day(e2, START, 60, "t")
    plan = planned_visits(e2, e2_plan, "t", START)
    run = run_day(
        day,
        MatrixTravelTimes(e2.distances),
        # a repair's solver budget (3 s configured) would only make the unit loop slow: 0.4 s
        # repairs a day of this size
        DispatchPolicy(shift_end_hard=e2.shift_end_hard, repair_seconds=0.4),
        CaregiverModel(),
        {n.service_id for n in e2.needs},
        mode="planned",
        plan=plan,
    )
    requests = run.uow.requests.values()
    assert len(requests) == len(e2.needs) and all(r.status.is_final for r in requests)
    first_offers = [run.uow.offers.for_request(r.request_id)[:1] for r in requests]
    as_planned = [
        o
        for [o] in filter(None, first_offers)
        if (o.caregiver_id, o.planned_start) == (plan[o.request_id].caregiver_id, plan[o.request_id].start)
    ]
    assert len(as_planned) >= 2 / 3 * len(e2.needs)  # the rest: slots taken by fallbacks after a decline
    assert sum(r.status == RequestStatus.COMPLETED for r in requests) >= 0.85 * len(e2.needs)
    assert all(v.lateness_minutes == 0 for v in run.uow.visits.values())


def test_planned_dispatch_without_a_plan_is_refused(e2):
    with pytest.raises(ValueError, match="plan"):
        run_day(
            build_day(e2, START, 60, "t"),
            MatrixTravelTimes(e2.distances),
            DispatchPolicy(),
            CaregiverModel(),
            {n.service_id for n in e2.needs},
            mode="planned",
        )
