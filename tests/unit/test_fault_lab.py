"""The fault lab's own choices, without starting its services: where a kill strikes in each
run of a repeated bench, and the line that sums a scenario's runs."""

import random

import pytest

from tools.faults import points as fault_points
from tools.faults.invariants import Verdict
from tools.faults.lab import Row, kill_point, tally


def test_rotating_kill_points_strike_each_point_in_turn_over_the_runs():
    rng = random.Random(1)
    assert [kill_point("rotate", run, rng) for run in range(len(fault_points.POINTS) + 1)] == [
        *fault_points.POINTS,
        fault_points.POINTS[0],
    ]
    assert {kill_point("random", run, rng) for run in range(50)} == set(fault_points.POINTS)
    assert kill_point("relay", 3, rng) == "relay"


def test_an_unknown_kill_point_is_refused_with_the_known_ones():
    with pytest.raises(KeyError, match="intake-commit"):
        kill_point("halfway", 0, random.Random())


def _row(name: str, lost: int = 0) -> Row:
    verdict = Verdict(requests_in=33, lost=lost, violations=["x"] * lost)
    return Row(name, "fault", verdict, 1.0, 60.0, [])


def test_a_repeated_scenario_is_summed_up_in_one_line():
    lines = tally([_row("worker-sigkill #1"), _row("worker-sigkill #2", lost=1), _row("baseline")])
    assert lines == ["worker-sigkill: 1 of 2 runs hold; lost 1, duplicated 0; live KPIs equal the records in 0 of 2"]
