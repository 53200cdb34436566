"""``careline bench throughput`` end to end at a tiny load: it runs and accounts for every request.

No timing is asserted: the numbers depend on the machine. The bench starts its own embedded
Tansu broker (so its worker does not join the session worker's consumer group) and uses the
test PostgreSQL database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_bench_throughput_with_two_workers_gives_every_request_a_first_offer_or_final_state(
    services, shared_data, tmp_path
):
    out = tmp_path / "bench.json"
    env = dict(os.environ, CARELINE_VAR_DIR=str(tmp_path / "var"), CARELINE_SHARED_DATA=str(shared_data))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "careline.cli",
            "bench",
            "throughput",
            "--database-url",
            services.database_url,
            "--loads",
            "2,3",
            "--seconds",
            "3",
            "--messages",
            "200",
            "--drain",
            "90",
            "--json",
            str(out),
            "--workers",
            "2",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "careline pipeline: intake → first decision" in done.stdout
    result = json.loads(out.read_text())
    assert result["workers"] == 2  # two workers shared the partitions, and still every request was decided
    assert result["raw"]["messages"] == 200 and result["raw"]["loop_per_second"] > 0
    # (c) the Faust loop took the same records through careline's settings and batches
    assert result["faust"]["messages"] >= 200 and result["faust"]["cpu_ms_per_record"] > 0, done.stdout
    assert result["loads"], done.stdout
    for row in result["loads"]:
        assert row["sent"] > 0
        assert row["undecided"] == 0, row
        assert row["offers"] + row["final"] + row["dead"] == row["sent"]
        assert row["offers"] > 0
