"""``careline bench scale`` end to end with a few hundred requests: every request is decided and
the result table accounts for them. No timing is asserted (the numbers depend on the machine);
the bench starts its own embedded Tansu broker and uses the test PostgreSQL database."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_bench_scale_decides_every_request_it_sends(services, shared_data, tmp_path):
    env = dict(os.environ, CARELINE_VAR_DIR=str(tmp_path / "var"), CARELINE_SHARED_DATA=str(shared_data))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "careline.cli",
            "bench",
            "scale",
            "--database-url",
            services.database_url,
            "--requests",
            "300",
            "--in-flight",
            "50",
            "--stall",
            "120",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"register and rosters of \d+ areas loaded", done.stdout), done.stdout
    assert re.search(r"requests decided\s+│\s+300 of 300", done.stdout), done.stdout
    assert re.search(r"decisions seen in the database only\s+│\s+\d+", done.stdout), done.stdout
    offers, failed, dead = map(
        int,
        re.search(
            r"first offer / failed or held / dead letter\s+│\s+([\d,]+) / ([\d,]+) / ([\d,]+)", done.stdout
        ).groups(),
    )
    assert offers + failed + dead == 300 and offers > 0 and dead == 0
