"""A center set up from its own files and pages, with no benchmark file, in a real browser.

The README's steps run as a user runs them (``careline migrate``, ``careline register import``
of the made-up sample register in docs/sample-register/: GBK and UTF-8-with-BOM CSV, Chinese
and English headers, an .xlsx), then uvicorn serves ``create_app`` and Debian's Chromium
(Playwright, executable path) drives the pages: an admin of 姑苏区 adds an elder and puts a
caregiver on leave; an operator finds an elder by the landline a caller gives, reads the card
(苏州话, the home among the caregivers on the map, an approximate place marked) and asks
for a meal. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from careline.operators import create_operator
from db.session import session_factory
from handlers.model import Caregiver, Elder
from tests.e2e.test_dashboard_browser import ARTIFACTS, browser  # noqa: F401
from tests.e2e.web_server import careline_web
from tests.unit.dashboard_seed import PASSWORD

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "docs" / "sample-register"
GUSU = "江苏省/苏州市/姑苏区"


def careline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "careline.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def center(tmp_path_factory):
    folder = tmp_path_factory.mktemp("center")
    url = f"sqlite:///{folder / 'center.db'}"
    env = dict(
        os.environ,
        CARELINE_DATABASE_URL=url,
        CARELINE_CENTER_REGION="江苏省/苏州市",
        CARELINE_LANDLINE_AREA_CODE="0512",
        CARELINE_SESSION_SECRET="e2e-" + "r" * 40,
        CARELINE_DEFAULT_LANGUAGE="zh",
        CARELINE_VAR_DIR=str(folder),
    )
    assert careline(env, "migrate").returncode == 0
    for kind, name in (
        ("providers", "providers.csv"),
        ("caregivers", "caregivers.csv"),
        ("elders", "elders.csv"),
        ("devices", "devices.xlsx"),
    ):
        done = careline(env, "register", "import", kind, str(SAMPLES / name))
        assert done.returncode == 0 and "0 rows rejected" in done.stdout, done.stdout + done.stderr
    with session_factory(url)() as s:
        create_operator(s, "gusu-op", "operator", PASSWORD, name="接线员", region_scope=GUSU, created_by="e2e")
        create_operator(s, "gusu-adm", "admin", PASSWORD, name="管理员", region_scope=GUSU, created_by="e2e")
        s.commit()
    with careline_web(env, folder) as base:
        yield base, url


def login(browser, base: str, user: str):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#board")
    return page


def test_an_admin_keeps_the_register_on_its_pages(center, browser):
    base, url = center
    page = login(browser, base, "gusu-adm")
    page.click("#nav-register")
    page.wait_for_selector("#records")
    assert page.locator("#records tr[data-id]").count() == 10
    form = page.locator("#record-form")
    for column, value in (
        ("elder_id", "E100"),
        ("name", "顾阿婆"),
        ("phone", "139 1234 5678"),
        ("address", "苏州市姑苏区平江街道大儒巷5号"),
        ("language", "苏州话"),
    ):
        form.locator(f"input[name={column}]").fill(value)
    form.locator("button").click()
    page.wait_for_selector("#register-saved")
    assert page.locator('#records tr[data-id="E100"]').count() == 1
    with session_factory(url)() as s:
        added = s.get(Elder, "E100")
        assert added.phone == "+8613912345678" and added.location_provenance == "approximate"
        assert (added.region_path or "").startswith(GUSU)

    page.goto(f"{base}/admin/register/caregivers")
    caregiver = page.locator("tr.rota-row").first
    ident = caregiver.get_attribute("data-rota")
    caregiver.locator("select[name=kind]").select_option("sick")
    caregiver.locator("input[name=first]").fill("2027-01-04")
    caregiver.locator("button", has_text="登记请假").click()
    page.wait_for_selector("#register-saved")
    assert "2027-01-04" in page.inner_text(f'tr.rota-row[data-rota="{ident}"]')
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "register-caregivers.png"), full_page=True)
    with session_factory(url)() as s:
        assert "2027-01-04" in (s.get(Caregiver, ident).rota or "")


def test_an_operator_finds_a_caller_by_landline_and_asks_from_the_card(center, browser):
    base, _ = center
    page = login(browser, base, "gusu-op")
    page.fill("#lookup-q", "6512 3401")  # what a caller reads out of 0512-6512 3401
    page.click("#lookup button")
    page.wait_for_selector("#results")
    page.click('#results a.result[data-elder="E001"]')
    page.wait_for_selector("#card")
    assert page.inner_text("#card-name") == "张桂英"
    assert "苏州话" in page.inner_text("#card") and "+8651265123401" in page.inner_text("#card")
    assert page.locator("svg.cardmap rect.cg").count() >= 1  # caregivers' home bases around the home
    assert page.locator("#approximate").count() == 0
    page.screenshot(path=str(ARTIFACTS / "register-elder-card.png"), full_page=True)
    page.click('#quick button[data-service="meal"]')
    page.wait_for_selector("#message:has-text('✔')")

    page.goto(f"{base}/dashboard/elders?q=E003")  # no coordinates in the file: placed approximately
    page.click('#results a.result[data-elder="E003"]')
    page.wait_for_selector("#card")
    assert "位置为估算" in page.inner_text("#approximate")
