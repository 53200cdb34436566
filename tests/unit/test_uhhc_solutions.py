"""UHHC solution files: any valid one is read (a caregiver without visits may have no
``locations``), careline's plans are written in the same format and read back to the
same numbers, several time windows per patient are honoured, ignored cost components
are named, and the dispatch bench writes its rows as JSON."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from handlers.datasets.uhhc import (
    InstanceError,
    SolutionError,
    Stop,
    check_solution_against,
    evaluate_routes,
    ignored_cost_components,
    load_instance,
    parse_instance,
    routes_from_solution,
    solution_from_routes,
)
from handlers.dispatch.planning import plan_day
from tools.bench.dispatch import main as bench_main
from tools.bench.dispatch import published_routes


def shared_instance(shared_data, name):
    return load_instance((shared_data / "uhhc" / "instances" / f"{name}.json").read_bytes(), name)


def shared_solution(shared_data, name):
    return json.loads((shared_data / "uhhc" / "solutions" / f"{name}.json").read_text())


@pytest.mark.parametrize("empty", [{}, {"locations": None}, {"locations": []}])
def test_a_caregiver_without_visits_may_be_written_without_locations(shared_data, empty):
    # bazirha-F1.cp-sat.json leaves caregiver c5 out; a validator-valid file may list c5 with no locations
    f1 = shared_instance(shared_data, "bazirha-F1")
    published = shared_solution(shared_data, "bazirha-F1.cp-sat")
    with_idle = dict(published, routes=[*published["routes"], {"caregiver_id": "c5", **empty}])
    routes = routes_from_solution(with_idle)
    assert routes["c5"] == []
    check_solution_against(f1, routes)
    assert evaluate_routes(f1, routes) == evaluate_routes(f1, routes_from_solution(published))


def test_the_bench_and_careline_plan_read_published_solutions_with_an_idle_caregiver(shared_data, tmp_path):
    (tmp_path / "instances").mkdir()
    (tmp_path / "solutions").mkdir()
    instance_path = tmp_path / "instances" / "bazirha-F1.json"
    shutil.copy(shared_data / "uhhc" / "instances" / "bazirha-F1.json", instance_path)
    published = shared_solution(shared_data, "bazirha-F1.cp-sat")
    published["routes"].append({"caregiver_id": "c5"})
    (tmp_path / "solutions" / "bazirha-F1.cp-sat.json").write_text(json.dumps(published))
    f1 = shared_instance(shared_data, "bazirha-F1")

    routes = published_routes(instance_path, f1)["cp-sat"]
    cost = evaluate_routes(f1, routes)
    assert (cost.unserved, cost.total_tardiness, cost.late_visits) == (0, 0, 0)
    assert (
        cost.travel_time
        == evaluate_routes(f1, routes_from_solution(shared_solution(shared_data, "bazirha-F1.cp-sat"))).travel_time
    )


@pytest.mark.parametrize(
    "route,named",
    [
        ({"locations": []}, "caregiver_id"),
        ({"caregiver_id": "c1", "locations": {}}, "locations"),
        (
            {"caregiver_id": "c1", "locations": [{"patient": "p1", "service": "s1", "departure_time": 3}]},
            "arrival_time",
        ),
        (
            {
                "caregiver_id": "c1",
                "locations": [{"patient": "p1", "service": "s1", "arrival_time": 9, "departure_time": 3}],
            },
            "departure_time",
        ),
    ],
)
def test_a_malformed_solution_is_refused_naming_the_route_and_field(route, named):
    with pytest.raises(SolutionError, match=named):
        routes_from_solution({"routes": [route]})


def test_a_solution_for_another_instance_is_refused_naming_the_visit(shared_data):
    e2 = shared_instance(shared_data, "bazirha-E2")
    with pytest.raises(SolutionError, match="p99/s1"):
        check_solution_against(e2, {"c1": [Stop("p99", "s1", 10, 20)]})
    with pytest.raises(SolutionError, match="c42"):
        check_solution_against(e2, {"c42": []})


def test_a_plan_written_in_the_uhhc_format_reads_back_to_the_same_numbers(shared_data):
    e2 = shared_instance(shared_data, "bazirha-E2")
    plan = plan_day(e2, time_limit_seconds=1)
    written = json.loads(json.dumps(solution_from_routes(e2, plan)))
    published = shared_solution(shared_data, "bazirha-E2.sa")
    assert set(written) >= {"cost_components", "global_ordering", "routes"}
    assert [r["caregiver_id"] for r in written["routes"]] == [c.caregiver_id for c in e2.roster]
    first_visit = next(r["locations"][0] for r in written["routes"] if "locations" in r)
    assert set(first_visit) == set(published["routes"][0]["locations"][0])
    assert sorted(written["global_ordering"]) == sorted({n.patient_id for n in e2.needs})

    back = routes_from_solution(written)
    check_solution_against(e2, back)
    cost, again = evaluate_routes(e2, plan), evaluate_routes(e2, back)
    assert again == cost and cost.unserved == 0
    assert written["cost_components"]["travel_time"] == cost.travel_time
    assert written["cost_components"]["total_tardiness"] == cost.total_tardiness == 0


def test_an_idle_caregiver_is_written_without_locations_and_reads_back_idle(shared_data):
    e2 = shared_instance(shared_data, "bazirha-E2")
    written = solution_from_routes(e2, {})
    assert written["routes"][0] == {"caregiver_id": "c1"}
    assert routes_from_solution(written) == {c.caregiver_id: [] for c in e2.roster}
    assert evaluate_routes(e2, routes_from_solution(written)).unserved == len(e2.needs)


@pytest.mark.parametrize(
    "change,named",
    [
        (lambda d: d.update(lunch_breaks={"start": 240, "end": 300, "min_duration": 30}), "lunch_breaks"),
        (lambda d: d["caregivers"][0].update(arrival_point="d2"), "arrival_point"),
        (lambda d: d["patients"][0].update(incompatible_caregivers=["c1"]), "incompatible_caregivers"),
        (lambda d: d["patients"][0].update(preferred_caregivers=["c1"]), "preferred_caregivers"),
    ],
)
def test_a_feature_careline_does_not_plan_is_refused_naming_it(change, named):
    data = json.loads(json.dumps(two_windows([(0, 100)]).raw))
    change(data)
    with pytest.raises(InstanceError, match=named):
        parse_instance(data)


def test_soft_caregiver_preferences_are_named_as_ignored_not_refused():
    inst = two_windows([(0, 100)], cost_components={"travel_time": 1, "caregiver_preferences": 5})
    data = json.loads(json.dumps(inst.raw))
    data["patients"][0]["preferred_caregivers"] = ["c1"]
    assert ignored_cost_components(parse_instance(data)) == ["caregiver_preferences (5)"]


def test_careline_plan_out_writes_a_solution_the_bench_reads_as_a_published_one(shared_data, tmp_path):
    from careline.cli import app

    (tmp_path / "instances").mkdir()
    (tmp_path / "solutions").mkdir()
    instance_path = tmp_path / "instances" / "bazirha-E2.json"
    shutil.copy(shared_data / "uhhc" / "instances" / "bazirha-E2.json", instance_path)
    out = tmp_path / "solutions" / "bazirha-E2.careline.json"
    result = CliRunner().invoke(app, ["plan", str(instance_path), "--time-limit", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"plan written to {out}" in result.output.replace("\n", "")

    e2 = load_instance(instance_path.read_bytes(), "bazirha-E2")
    cost = evaluate_routes(e2, published_routes(instance_path, e2)["careline"])
    assert f"planned: travel {cost.travel_time:.0f} min, total tardiness {cost.total_tardiness:.0f}," in result.output
    assert cost.unserved == 0 and cost.late_visits == 0


def two_windows(windows, windows_hard=True, cost_components=None, shift_start=0):
    """One patient 20 minutes from the single terminal, one caregiver."""
    return parse_instance(
        {
            "metadata": {
                "name": "w",
                "horizon": 600,
                "cost_components": cost_components
                or {"travel_time": 1, "total_tardiness": "HARD" if windows_hard else 1},
            },
            "distances": [[0, 20], [20, 0]],
            "terminal_points": [{"id": "d", "distance_matrix_index": 0}],
            "caregivers": [
                {
                    "id": "c1",
                    "abilities": ["s1"],
                    "departing_point": "d",
                    "arrival_point": "d",
                    "working_shift": {"start": shift_start, "end": 600},
                }
            ],
            "patients": [
                {
                    "id": "p1",
                    "distance_matrix_index": 1,
                    "required_services": [{"service": "s1", "duration": 30}],
                    "time_windows": [{"start": a, "end": b} for a, b in windows],
                }
            ],
            "services": [{"id": "s1", "type": "t", "default_duration": 30}],
        },
        "w",
    )


def test_every_time_window_of_a_patient_is_read_in_order():
    inst = two_windows([(300, 360), (60, 120), (480, 540)])
    assert inst.needs[0].all_windows == ((60, 120), (300, 360), (480, 540))
    assert (inst.needs[0].window_start, inst.needs[0].window_end) == (60, 120)


def test_overlapping_time_windows_are_refused_naming_the_field():
    with pytest.raises(InstanceError, match="time_windows"):
        two_windows([(60, 120), (100, 200)])


def test_a_visit_in_a_later_window_is_on_time_and_one_in_a_gap_is_late_from_the_window_before():
    inst = two_windows([(60, 120), (300, 360)])
    need = inst.needs[0]
    assert evaluate_routes(inst, {"c1": [Stop("p1", "s1", 310, 340)]}).total_tardiness == 0
    gap = evaluate_routes(inst, {"c1": [Stop("p1", "s1", 150, 180)]})
    assert (gap.total_tardiness, gap.late_visits, gap.in_window_share) == (30, 1, 0.0)
    assert inst.tardiness(need, 400) == 40


@pytest.mark.parametrize("windows_hard", [True, False])
def test_the_planner_serves_a_patient_in_the_second_window_when_the_first_is_out_of_reach(windows_hard):
    # the caregiver starts at 40 and arrives at 60: too late for the first window (ends at 45)
    inst = two_windows([(0, 45), (200, 260)], windows_hard=windows_hard, shift_start=40)
    routes = plan_day(inst, time_limit_seconds=0.5)
    (stop,) = routes["c1"]
    assert 200 <= stop.start <= 260
    cost = evaluate_routes(inst, routes)
    assert (cost.unserved, cost.total_tardiness) == (0, 0)


def test_cost_components_other_than_travel_and_tardiness_are_named_as_ignored(shared_data):
    inst = two_windows(
        [(0, 100)],
        cost_components={"travel_time": 1, "total_tardiness": 1, "total_waiting_time": 2, "total_extra_time": 1},
    )
    assert ignored_cost_components(inst) == ["total_waiting_time (2)", "total_extra_time (1)"]
    for name in ("bazirha-E2", "bazirha-F1", "rome-p44"):
        assert ignored_cost_components(shared_instance(shared_data, name)) == []


def test_bench_dispatch_json_writes_one_row_per_method_with_the_published_solutions(tmp_path, capsys):
    (tmp_path / "instances").mkdir()
    (tmp_path / "solutions").mkdir()
    instance_path = tmp_path / "instances" / "w.json"
    inst = two_windows([(60, 120)], cost_components={"travel_time": 1, "total_tardiness": "HARD", "waiting": 1})
    instance_path.write_text(json.dumps(inst.raw))
    late = {
        "routes": [
            {
                "caregiver_id": "c1",
                "locations": [{"patient": "p1", "service": "s1", "arrival_time": 130, "departure_time": 160}],
            }
        ]
    }
    (tmp_path / "solutions" / "w.late.json").write_text(json.dumps(late))
    (tmp_path / "solutions" / "w.idle.json").write_text(json.dumps({"routes": [{"caregiver_id": "c1"}]}))
    out = tmp_path / "rows" / "bench.json"

    assert bench_main([instance_path], 0.5, 7, out) == 0
    printed = capsys.readouterr().out
    assert "waiting (1)" in printed
    rows = {r["method"]: r for r in json.loads(out.read_text())["rows"]}
    assert {"online", "batched", "planned", "published late", "published idle"} <= set(rows)
    keys = {
        "instance",
        "method",
        "travel",
        "tardiness_total",
        "tardiness_max",
        "unserved",
        "in_window_share",
        "hard_window_violations",
    }
    assert all(keys <= set(r) for r in rows.values())
    late_row = rows["published late"]
    assert (late_row["tardiness_total"], late_row["tardiness_max"], late_row["hard_window_violations"]) == (10, 10, 1)
    assert late_row["in_window_share"] == 0.0 and late_row["travel"] == 40
    assert (rows["published idle"]["unserved"], rows["published idle"]["in_window_share"]) == (1, None)
    assert (rows["planned"]["unserved"], rows["planned"]["hard_window_violations"]) == (0, 0)
