"""The scale bench's short profile, in CI (issue 19): ``careline bench scale --lifecycle`` with two
workers on its own Apache Kafka and PostgreSQL, a third worker joining and leaving under load
(the partitions rebalance to three workers and back), and one worker killed with SIGKILL at 30 %.
Every request must become final, and the invariants must hold: none lost, none decided twice, no
caregiver double-booked, the outbox drained, no outbox record published twice in normal
operation. The bench exits 1 on a broken invariant, which fails this test. No timing is asserted
(the numbers depend on the machine); they are printed for the log."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

REQUESTS = 1500


def test_two_workers_a_rebalance_and_a_killed_worker_keep_every_invariant(shared_data, tmp_path):
    out = tmp_path / "lifecycle.json"
    env = dict(os.environ, CARELINE_VAR_DIR=str(tmp_path / "var"), CARELINE_SHARED_DATA=str(shared_data))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "careline.cli",
            "bench",
            "scale",
            "--lifecycle",
            "--requests",
            str(REQUESTS),
            "--workers",
            "2",
            "--rebalance",
            "--kill-worker-at",
            "30%",
            "--json",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    print(done.stdout[-4000:])
    assert out.exists(), done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert result["invariants"] == "hold", result["invariants"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert result["decided"] == result["requests"] == REQUESTS
    assert (
        result["kills"] == 1
        and any("joined" in n for n in result["notes"])
        and any("left" in n for n in result["notes"])
    )
    assert result["watchdog_restarts"] == 0, result["notes"]
    assert result["answers"].get("accept", 0) > 0 and result["answers"].get("check_out", 0) > 0
    assert result["outcomes"].get("completed", 0) > 0
    assert result["domain_ceiling_per_second"] > 0 and result["ratio_to_ceiling"] > 0
