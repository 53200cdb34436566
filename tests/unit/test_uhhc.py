import json

import pytest

from handlers.datasets.uhhc import InstanceError, Stop, evaluate_routes, parse_instance, routes_from_solution


def load(shared_data, name):
    return parse_instance(json.loads((shared_data / "uhhc" / "instances" / f"{name}.json").read_text()), name)


@pytest.mark.parametrize("solution,travel", [("bazirha-E2.sa", 1384), ("bazirha-F1.sa", 1796)])
def test_recomputed_travel_of_a_published_solution_equals_its_published_cost(shared_data, solution, travel):
    instance = load(shared_data, solution.split(".")[0])
    data = json.loads((shared_data / "uhhc" / "solutions" / f"{solution}.json").read_text())
    cost = evaluate_routes(instance, routes_from_solution(data))
    assert cost.travel_time == travel == data["cost_components"]["travel_time"]
    assert (cost.total_tardiness, cost.unserved) == (0, 0)


def test_tardiness_counts_the_service_end_when_the_instance_says_so(shared_data):
    e2 = load(shared_data, "bazirha-E2")
    need = e2.needs[0]
    late_start = need.window_end - need.duration + 7
    cost = evaluate_routes(e2, {"c1": [Stop(need.patient_id, need.service_id, late_start, late_start + need.duration)]})
    assert cost.total_tardiness == 7 and cost.highest_tardiness == 7


def test_a_synchronised_pair_becomes_an_anchor_and_a_follower(shared_data):
    rome = load(shared_data, "rome-p44")
    p2 = [n for n in rome.needs if n.patient_id == "p2"]
    assert p2[0].sync_partner is None and p2[1].sync_partner == p2[0].service_id
    assert (p2[1].sync_min_gap, p2[1].sync_max_gap) == (60, 90)


def test_an_instance_without_patients_is_refused_naming_the_field():
    with pytest.raises(InstanceError, match="patients"):
        parse_instance({"metadata": {}, "terminal_points": [], "caregivers": [], "distances": []})
