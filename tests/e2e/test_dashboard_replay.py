"""An operator watches a replay fill the queues live, in Debian's Chromium, against the real
worker, broker and PostgreSQL the replay runs through."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from rich.console import Console

from careline.brokers import free_port
from careline.operators import add_operator
from handlers.datasets.uhhc import parse_instance
from tests.e2e.test_dashboard_browser import ARGS, ARTIFACTS, CHROMIUM, ROOT
from tools.replay.driver import ReplayDriver, ReplayOptions

pytestmark = pytest.mark.e2e
PASSWORD = "watching the replay live"


def test_an_operator_watches_a_replay_fill_the_queues_and_drain(pipeline, shared_data, tmp_path):
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/browser.sh", pytrace=False)
    from playwright.sync_api import sync_playwright

    instance = parse_instance(json.loads((shared_data / "uhhc/instances/bazirha-E2.json").read_text()), "bazirha-E2")
    driver = ReplayDriver(
        pipeline.bootstrap,
        pipeline.sessions,
        instance,
        ReplayOptions(speed=600, timeout_seconds=300),
        Console(stderr=True),
        worker_alive=lambda: pipeline.worker.poll() is None,
    )
    user = f"watch-{driver.run_id}"
    add_operator(pipeline.database_url, user, "operator", PASSWORD)
    port = free_port()
    env = dict(
        os.environ,
        CARELINE_DATABASE_URL=pipeline.database_url,
        CARELINE_SESSION_SECRET="e2e-" + "w" * 40,
        CARELINE_VAR_DIR=str(tmp_path),
    )
    with open(tmp_path / "uvicorn.log", "wb") as log:
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "careline.web.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                assert web.poll() is None and time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.2)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
            page.goto(f"{base}/login?lang=en")
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("#feed.live")

            result = {}
            replay = threading.Thread(target=lambda: result.update(done=driver.run()))
            replay.start()
            # requests of the run appear on the page while the replay runs
            page.wait_for_selector(f'[data-request^="{driver.run_id}."]', timeout=60_000)
            assert replay.is_alive(), "the page should show the run while it is still replaying"
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "dashboard-replay-live.png"), full_page=True)
            replay.join(300)
            assert result["done"].summary.all_final
            browser.close()
    finally:
        web.terminate()
        web.wait(timeout=10)
