"""``careline web`` (uvicorn, the app factory) in a subprocess, for the browser tests."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from careline.brokers import free_port

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def careline_web(env: dict[str, str], folder: Path, timeout_s: float = 30.0) -> Iterator[str]:
    """Serve ``careline.web.app:create_app`` on a free loopback port with the environment ``env``;
    yield its base URL (``http://127.0.0.1:PORT``) once ``/healthz`` answers, stop it afterwards.
    Its output goes to ``folder/uvicorn.log``; ``pytest.fail`` naming that log when it exits or
    does not answer within ``timeout_s`` seconds."""
    port = free_port()
    log_path = folder / "uvicorn.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "careline.web.app:create_app"]
            + ["--host", "127.0.0.1", "--port", str(port), "--timeout-graceful-shutdown", "2"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    urllib.request.urlopen(f"{base}/healthz", timeout=1)
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"uvicorn did not start; see {log_path}", pytrace=False)
                    time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=10)
