"""The black-box probe of issue 12 (tools/security_probe.py) passes against `careline web`
started in production mode: every check from outside, over HTTP, on a fresh SQLite file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def test_the_security_probe_passes_against_careline_web_in_production_mode(tmp_path):
    run = subprocess.run(
        [sys.executable, str(REPO / "tools" / "security_probe.py"), "--keep", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 failed" in run.stdout.splitlines()[-1]
