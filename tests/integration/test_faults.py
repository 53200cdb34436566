"""The fault scenarios of ``careline bench faults``, short profile, on a lab the test starts:
its own Apache Kafka 4.4 and PostgreSQL (so restarting them disturbs no other test), Prism
behind a fault-injecting proxy, the timer service and the stream worker.

Each scenario replays bazirha-E2 with intake and caregiver answers through the durable
outbox, breaks one part mid-run and checks the invariants (``handlers.invariants``).
The full set runs with ``careline bench faults --profile full``.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from rich.console import Console

from careline.faults import lab, render, run_scenario, scenarios_for
from config.settings import get_settings
from handlers.uhhc import parse_instance

pytestmark = pytest.mark.integration
SHORT = [s.name for s in scenarios_for("short")]


@pytest.fixture(scope="module")
def rows(shared_data):
    path = shared_data / "uhhc/instances/bazirha-E2.json"
    instance = parse_instance(json.loads(path.read_text()), name="bazirha-E2")
    # under the repository's var dir, not pytest's 0700 tmp: PostgreSQL runs as its own user under root
    get_settings().var_dir.mkdir(parents=True, exist_ok=True)
    var = Path(tempfile.mkdtemp(prefix="faults-test-", dir=get_settings().var_dir))
    console = Console(stderr=True, width=160)
    with lab(var, console) as running:
        done = {s.name: run_scenario(running, s, instance, 600, 300) for s in scenarios_for("short")}
    render(list(done.values()), console, "bazirha-E2 at 600× (pytest, short profile)",
           "pytest tests/integration/test_faults.py")
    return done


@pytest.mark.parametrize("name", SHORT)
def test_every_accepted_request_ends_once_with_no_overlap_or_stuck_message(rows, name):
    verdict = rows[name].verdict
    assert verdict.holds, "\n".join(verdict.violations)
    assert verdict.requests_in >= 33 and verdict.lost == 0 and verdict.duplicated == 0
    assert verdict.completed + verdict.to_operator + verdict.dead_lettered == verdict.requests_in
    assert verdict.completed >= verdict.requests_in // 3  # the pipeline did real work, not just give up


def test_a_killed_worker_is_replaced_and_the_pipeline_moves_again(rows):
    assert rows["worker-sigkill"].recovery_seconds is not None


def test_intake_over_http_keeps_answering_while_kafka_is_down(rows):
    row = rows["broker-outage-30s"]
    assert row.app_answers >= 5  # 202s from the app API during the 30 s, each became a request
    assert row.verdict.requests_in == 33 + row.app_answers
    assert row.recovery_seconds is not None


def test_twilio_errors_were_injected_and_retried_without_a_duplicate_sms(rows):
    row = rows["twilio-errors"]
    assert row.injected.get("500", 0) + row.injected.get("429", 0) >= 3
    assert row.verdict.duplicated == 0
