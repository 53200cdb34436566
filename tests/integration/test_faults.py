"""The fault scenarios of ``careline bench faults``, short profile, on a lab the test starts:
its own Apache Kafka 4.4 and PostgreSQL (so restarting them disturbs no other test), Prism
behind a fault-injecting proxy, the timer service and the stream worker.

Each scenario replays bazirha-E2 with intake and caregiver answers through the durable
outbox, breaks one part mid-run and checks the invariants (``tools.faults.invariants``).
The full set runs with ``careline bench faults --profile full``.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from rich.console import Console

from tools.faults.lab import SCENARIOS, lab, render, run_scenario, scenarios_for
from config.settings import get_settings
from handlers.datasets.uhhc import parse_instance

# one scenario is about a minute (the outage two and a half) on a busy 2-core machine; the lab starts once
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
SHORT = [s.name for s in scenarios_for("short")]


@pytest.fixture(scope="module")
def running(shared_data):
    """The lab and the day; ``rows`` collects each scenario's row as the tests run it."""
    path = shared_data / "uhhc/instances/bazirha-E2.json"
    instance = parse_instance(json.loads(path.read_text()), name="bazirha-E2")
    # under the repository's var dir, not pytest's 0700 tmp: PostgreSQL runs as its own user under root
    get_settings().var_dir.mkdir(parents=True, exist_ok=True)
    var = Path(tempfile.mkdtemp(prefix="faults-test-", dir=get_settings().var_dir))
    console = Console(stderr=True, width=160)
    rows: dict = {}
    with lab(var, console) as the_lab:
        yield the_lab, instance, rows
    render(list(rows.values()), console, "bazirha-E2 at 600× (pytest, short profile)",
           "pytest tests/integration/test_faults.py")


def row_of(running, name: str):
    """The scenario's row, run once per module (tests below reuse it)."""
    the_lab, instance, rows = running
    if name not in rows:
        rows[name] = run_scenario(the_lab, SCENARIOS[name], instance, 600, 300)
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


def test_live_kpis_equal_the_records_and_a_killed_worker_recovers_its_table_losing_nothing(running):
    baseline = row_of(running, "baseline").live
    assert baseline.all_equal, baseline.summary()
    killed = row_of(running, "worker-sigkill").live
    assert killed.stored and not killed.lost, killed.summary()  # doubles are allowed: at least once


def test_intake_over_http_keeps_answering_while_kafka_is_down(running):
    row = row_of(running, "broker-outage-30s")
    assert row.app_answers >= 5  # 202s from the app API during the 30 s, each became a request
    assert row.verdict.requests_in == 33 + row.app_answers
    assert row.recovery_seconds is not None


def test_twilio_errors_were_injected_and_retried_without_a_duplicate_sms(running):
    row = row_of(running, "twilio-errors")
    assert row.injected.get("500", 0) + row.injected.get("429", 0) >= 3
    assert row.verdict.duplicated == 0
