"""A newcomer's one command to a live board: ``careline demo --live`` on a free port, logged
into over HTTP while the day replays, then Ctrl-C (SIGINT), after which nothing it started
(Tansu, the worker, the timer service, the web service) is left running or listening."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from careline.brokers import free_port
from tests.processes import descendants, running

pytestmark = pytest.mark.integration


def _lines(stream, into: list[str]) -> None:
    for line in stream:
        into.append(line)


def _wait_for(lines: list[str], pattern: str, proc: subprocess.Popen, timeout_s: float) -> re.Match:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in list(lines):
            if m := re.search(pattern, line):
                return m
        assert proc.poll() is None, f"careline demo --live exited ({proc.returncode}):\n{''.join(lines)}"
        time.sleep(0.2)
    raise AssertionError(f"no {pattern!r} within {timeout_s:.0f} s:\n{''.join(lines)}")


def _log_in(base: str, user: str, password: str) -> requests.Session:
    http = requests.Session()
    form = http.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
    answer = http.post(
        f"{base}/login",
        data={"username": user, "password": password, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard", answer.text[:300]
    return http


def _feed_events(http: requests.Session, base: str, want: int, timeout_s: float) -> list[dict]:
    """Request events from the board's live feed (Server-Sent Events) until ``want`` arrived."""
    got: list[dict] = []
    with http.get(f"{base}/dashboard/events", stream=True, timeout=timeout_s) as feed:
        deadline = time.monotonic() + timeout_s
        for line in feed.iter_lines(decode_unicode=True):
            if line and line.startswith("data: "):
                event = json.loads(line[6:])
                if event.get("type", "").startswith(("care.request", "dispatch.offer")):
                    got.append(event)
            if len(got) >= want or time.monotonic() > deadline:
                break
    return got


def test_demo_live_serves_a_filling_board_and_ctrl_c_stops_everything_it_started(shared_data, tmp_path):
    port = free_port()
    env = dict(os.environ, CARELINE_VAR_DIR=str(tmp_path / "var"), CARELINE_SHARED_DATA=str(shared_data))
    demo = subprocess.Popen(
        [sys.executable, "-m", "careline.cli", "demo", "--live", "--port", str(port), "--speed", "300"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=_lines, args=(demo.stdout, lines), daemon=True).start()
    started: set[int] = set()
    try:
        url = _wait_for(lines, r"dashboard: (http://127\.0\.0\.1:\d+)/dashboard", demo, 240)[1]
        user, password = _wait_for(lines, r"login: (\S+) (\S+)", demo, 5).groups()
        broker_port = int(_wait_for(lines, r"broker 127\.0\.0\.1:(\d+)", demo, 5)[1])
        assert url == f"http://127.0.0.1:{port}"
        started = descendants(demo.pid)
        assert len(started) >= 4, "Tansu, the worker, the timer service and the web service"

        http = _log_in(url, user, password)
        assert len(_feed_events(http, url, want=5, timeout_s=120)) >= 5  # the day plays onto the feed
        board = http.get(f"{url}/dashboard/board", timeout=30).text
        assert re.search(r'data-request="rome-p44-[0-9a-f]{6}\.', board), "the replay's requests are on the board"

        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=90)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert "stopped the web service, worker, timer service and broker" in "".join(lines)
    assert not [p for p in started if running(p)], "a process careline demo --live started is still running"
    for left in (port, broker_port):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", left), timeout=1).close()
