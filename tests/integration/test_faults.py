"""The fault scenarios of ``careline bench faults``, short profile, on a lab the test starts:
its own Apache Kafka 4.4 and PostgreSQL (so restarting them disturbs no other test), Prism
behind a fault-injecting proxy, the timer service and the stream worker.

Each scenario replays bazirha-E2 with intake and caregiver answers through the durable
outbox, breaks one part mid-run and checks the invariants (``tools.faults.invariants``).
A kill strikes at a point chosen at random on every run (``tools.faults.points``: during
intake, right after an intake commit, during a batch of offers, during the relay, or at a
share of the run), printed with its seed so that a failure can be run again
(``careline bench faults --scenario worker-sigkill --kill-at <point> --seed <seed>``).
The full set runs with ``careline bench faults --profile full``.
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

import pytest
from rich.console import Console

from config.settings import get_settings
from handlers.datasets.uhhc import parse_instance
from tools.faults.lab import SCENARIOS, kill_point, lab, render, run_scenario, scenarios_for

# one scenario is about a minute (the outage two and a half) on a busy 2-core machine; the lab starts once
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
SHORT = [s.name for s in scenarios_for("short")]


@pytest.fixture(scope="module")
def running(shared_data, pytestconfig):
    """The lab and the day; ``rows`` collects each scenario's row as the tests run it."""
    path = shared_data / "uhhc/instances/bazirha-E2.json"
    instance = parse_instance(json.loads(path.read_text()), name="bazirha-E2")
    # under the repository's var dir, not pytest's 0700 tmp: PostgreSQL runs as its own user under root
    get_settings().var_dir.mkdir(parents=True, exist_ok=True)
    var = Path(tempfile.mkdtemp(prefix="faults-test-", dir=get_settings().var_dir))
    console = Console(stderr=True, width=160)
    rows: dict = {}
    say = pytestconfig.pluginmanager.get_plugin("terminalreporter").write_line  # shown even when output is captured
    with lab(var, console) as the_lab:
        yield the_lab, instance, rows, say
    render(
        list(rows.values()),
        console,
        "bazirha-E2 at 600× (pytest, short profile)",
        "pytest tests/integration/test_faults.py",
    )


def row_of(running, name: str):
    """The scenario's row, run once per module (tests below reuse it), each on its own day; a
    kill strikes at a random point, printed with its seed."""
    the_lab, instance, rows, say = running
    if name not in rows:
        seed = random.randrange(1 << 30)
        rng = random.Random(seed)
        point = kill_point("random", 0, rng)
        rows[name] = run_scenario(the_lab, SCENARIOS[name], instance, 600, 300, day=len(rows), kill_at=point, rng=rng)
        if "killed" in rows[name].fault:
            say(
                f"faults: {name}: kill point {point} (seed {seed}): "
                + "; ".join(n for n in rows[name].notes if n.startswith(("killed at", "worker and timer")))
            )
    return rows[name]


@pytest.mark.parametrize("name", SHORT)
def test_every_accepted_request_ends_once_with_no_overlap_or_stuck_message(running, name):
    verdict = row_of(running, name).verdict
    assert verdict.holds, "\n".join(verdict.violations)
    assert verdict.requests_in >= 33 and verdict.lost == 0 and verdict.duplicated == 0
    assert verdict.completed + verdict.to_operator + verdict.dead_lettered == verdict.requests_in
    assert verdict.completed >= verdict.requests_in // 3  # the pipeline did real work, not just give up


def test_a_killed_worker_is_replaced_and_the_pipeline_moves_again(running):
    assert row_of(running, "worker-sigkill").recovery_seconds is not None
    assert row_of(running, "worker-and-timers-sigkill").recovery_seconds is not None


def test_every_caller_who_heard_a_request_number_before_the_web_died_gets_that_request(running):
    row = row_of(running, "web-sigkill")
    assert row.app_answers >= 5, row.notes  # hotline calls that heard their number, each a request of the run
    assert row.verdict.requests_in == 33 + row.app_answers and row.verdict.lost == 0


def test_live_kpis_equal_the_records_also_after_the_worker_was_killed(running):
    baseline = row_of(running, "baseline").live
    assert baseline.all_equal, baseline.summary()
    row = row_of(running, "worker-sigkill")
    assert row.live.all_equal, f"{row.notes}: {row.live.summary()}"  # nothing lost, nothing counted twice


def test_intake_over_http_keeps_answering_while_kafka_is_down(running):
    row = row_of(running, "broker-outage-30s")
    assert row.app_answers >= 5  # 202s from the app API during the 30 s, each became a request
    assert row.verdict.requests_in == 33 + row.app_answers
    assert row.recovery_seconds is not None


def test_twilio_errors_were_injected_and_retried_without_a_duplicate_sms(running):
    row = row_of(running, "twilio-errors")
    assert row.injected.get("500", 0) + row.injected.get("429", 0) >= 3
    assert row.verdict.duplicated == 0
