"""Re-plans after caregivers answer (issue 18's confirmation rounds, ``careline bench confirm``):
``plan_day`` keeps a caregiver off a visit she refused, keeps an accepted visit with its caregiver
unless a move pays for itself, and the rounds end with no visit planned for a caregiver who said no."""

from handlers.datasets.uhhc import evaluate_routes
from handlers.dispatch.planning import plan_day
from tests.unit.test_planning import carer, need, small
from tools.bench.confirm import confirm_rounds


def where(routes):
    return {(s.patient_id, s.service_id): cid for cid, stops in routes.items() for s in stops}


def two_visits():
    """c1 lives by both visits (location 0 is every home base; p at 1, q at 2), c2 is as able."""
    return small([need("p", "s1", 1, 0, 300), need("q", "s1", 2, 0, 300)], [carer("c1"), carer("c2")])


def test_a_caregiver_who_refused_a_visit_is_not_planned_for_it_again():
    inst = two_visits()
    routes = plan_day(inst, 0.3, allowed={("p", "s1"): frozenset({"c2"})})
    assert where(routes)[("p", "s1")] == "c2"
    assert evaluate_routes(inst, routes).unserved == 0


def test_nobody_allowed_leaves_the_visit_out_rather_than_giving_it_to_someone_who_refused():
    inst = two_visits()
    routes = plan_day(inst, 0.3, allowed={("p", "s1"): frozenset()})
    assert ("p", "s1") not in where(routes) and evaluate_routes(inst, routes).unserved == 1


def test_an_accepted_visit_stays_with_its_caregiver_unless_moving_it_pays():
    inst = two_visits()  # one caregiver doing both travels 0-1-2-0 = 40 min; split, 20 + 40 = 60
    split = {("p", "s1"): "c2", ("q", "s1"): "c1"}
    assert len(set(where(plan_day(inst, 0.3)).values())) == 1  # free, one caregiver does both
    kept = where(plan_day(inst, 0.3, keep=split, keep_minutes=60, hint={"c1": [], "c2": []}))
    assert kept == split  # merging would save 20 min of travel and cost 60
    merged = where(plan_day(inst, 0.3, keep=split, keep_minutes=5))
    assert len(set(merged.values())) == 1  # saves 20, costs 5


def test_rounds_end_with_every_refusal_honoured_and_count_what_is_left(shared_data):
    from handlers.datasets.uhhc import load_instance

    path = shared_data / "uhhc" / "instances" / "bazirha-E2.json"
    inst = load_instance(path.read_bytes(), name="bazirha-E2")
    run = confirm_rounds(inst, rounds=3, keep_minutes=20, time_limit=1.0, seed=7)
    first, last = run.rows[0], run.rows[-1]
    assert [r.round for r in run.rows] == list(range(len(run.rows))) and len(run.rows) >= 2
    assert run.rows[1].offers == len(inst.needs) - first.unserved  # the whole first plan is offered
    assert run.rows[1].fell > 0  # seed 7 declines some of bazirha-E2's first offers
    planned = where(run.plan)
    assert all(cid not in run.refused[need] for need, cid in planned.items())
    assert sum(len(r) for r in run.refused.values()) == sum(r.fell for r in run.rows)
    assert last.unconfirmed == sum(1 for need, cid in planned.items() if run.accepted.get(need) != cid)
    assert evaluate_routes(inst, run.plan).travel_time == last.travel


def test_the_bench_command_prints_its_rounds_and_refuses_a_bad_keep_cost(shared_data, tmp_path):
    import json

    from typer.testing import CliRunner

    from careline.cli import app

    runner = CliRunner()
    e2 = str(shared_data / "uhhc" / "instances" / "bazirha-E2.json")
    bad = runner.invoke(app, ["bench", "confirm", e2, "--keep-minutes", "ten"], env={"COLUMNS": "200"})
    assert bad.exit_code == 2 and "--keep-minutes" in bad.output and "whole minutes" in bad.output
    out = tmp_path / "rows.json"
    args = ["bench", "confirm", e2, "--rounds", "1", "--keep-minutes", "20", "--time-limit", "1", "--json", str(out)]
    done = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert "bazirha-E2, keep 20 min" in done.output
    rows = json.loads(out.read_text())["rows"]
    assert [r["round"] for r in rows] == [0, 1] and rows[1]["offers"] > 0
