"""The operator dashboard in a real browser: Debian's Chromium driven by Playwright,
against uvicorn serving ``create_app`` on a free port and a seeded SQLite center.

Needs /usr/bin/chromium (scripts/browser.sh installs it). Saves screenshots to
test-artifacts/.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from careline.web import auth
from tests.e2e.web_server import careline_web
from tests.unit.dashboard_seed import PASSWORD, XIKANG, _request, receive, seed

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dashboard")
    center = seed(f"sqlite:///{folder / 'center.db'}")
    env = dict(
        os.environ,
        CARELINE_DATABASE_URL=center.database_url,
        CARELINE_SESSION_SECRET="e2e-" + "k" * 40,
        CARELINE_DEFAULT_LANGUAGE="zh",
        CARELINE_VAR_DIR=str(folder),
    )
    with careline_web(env, folder) as base:
        yield base, center


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/browser.sh", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def logged_in(browser, base: str, user: str):
    """A page logged in as ``user``; ``page.csp_refusals`` collects what the browser refused under
    the Content-Security-Policy (Chromium says so on the console)."""
    page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    page.csp_refusals = []
    page.on("console", lambda m: page.csp_refusals.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#board")
    page.wait_for_selector("#feed.live")
    return page


def test_an_operator_watches_the_queues_and_steps_in(server, browser):
    base, center = server
    page = logged_in(browser, base, "op")
    assert page.inner_text("#queues").count("gulou-xikang") >= 3
    assert "SOS-2001" in page.inner_text("#emergencies")

    receive(center, _request("R-LIVE", "e3", XIKANG, "cleaning", center.now, 0, location=3))
    started = time.monotonic()
    page.wait_for_selector('[data-request="R-LIVE"]', timeout=2000)
    assert time.monotonic() - started < 2.0

    page.click('[data-reassign="R-1001"]')
    page.select_option("#reassign-caregiver", "cg-wu")
    page.click("#reassign button[type=submit]")
    page.wait_for_function(
        """() => { const row = document.querySelector('[data-request="R-1001"] .holder');
                                      return row && row.textContent.includes('cg-wu'); }""",
        timeout=3000,
    )

    page.click('[data-emergency="SOS-2001"] button')
    page.wait_for_selector(
        '[data-emergency="SOS-2001"] .ack', timeout=3000
    )  # stays red while nobody is on the way (issue 16)
    assert "op" in page.inner_text('[data-emergency="SOS-2001"]')

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-operator-zh.png"), full_page=True)
    answer = page.goto(f"{base}/dashboard?lang=en")
    page.wait_for_selector("#feed.live")
    assert "Emergencies" in page.inner_text("#emergencies")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert page.csp_refusals == []  # live feed, fetch actions and styles all ran under the policy
    page.screenshot(path=str(ARTIFACTS / "dashboard-operator-en.png"), full_page=True)


def test_an_operator_is_kept_out_of_admin_pages(server, browser):
    base, _ = server
    page = logged_in(browser, base, "op")
    assert page.goto(f"{base}/admin/operators").status == 403
    admin = logged_in(browser, base, "adm")
    assert admin.goto(f"{base}/admin/operators").status == 200
    assert "李桂兰" not in admin.goto(f"{base}/dashboard").text()


def test_a_forged_or_expired_session_cookie_leads_to_the_login_page(server, browser):
    base, _ = server
    context = browser.new_context()
    host = base.split("//")[1].split(":")[0]
    forged = auth.sign({"sub": "adm", "ep": 0, "sid": "x", "typ": "web", "exp": time.time() + 3600}, b"guess")
    expired = auth.sign(
        {"sub": "op", "ep": 0, "sid": "x", "typ": "web", "exp": time.time() - 1}, ("e2e-" + "k" * 40).encode()
    )
    for cookie in (forged, expired):
        context.clear_cookies()
        context.add_cookies([{"name": auth.COOKIE, "value": cookie, "domain": host, "path": "/"}])
        page = context.new_page()
        page.goto(f"{base}/dashboard")
        assert page.url.endswith("/login") and page.is_visible("input[name=password]")
        page.close()
