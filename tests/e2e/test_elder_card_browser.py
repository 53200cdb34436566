"""The elder's card and the lookup in a real browser (Debian's Chromium driven by Playwright,
uvicorn serving ``create_app`` on a seeded SQLite center, as tests/e2e/test_dashboard_browser.py).

An operator of 鼓楼区 sees a registered caller on the hotline, opens the caller's card from the
dashboard, reads the notes, family, device and the approximate place, and asks for a meal: two
clicks. An operator who only has what the caller says finds the elder by phone from the
dashboard's lookup and asks from the card: three clicks. The card reads in Chinese and in
English; a supervisor sees it masked; an operator of another district never sees it.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from db import tables
from db.session import session_factory
from tests.e2e.test_dashboard_browser import ARTIFACTS, browser, logged_in, server  # noqa: F401
from tests.unit.test_web_elder_card import NOTES, enrich

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def registered(server):
    """The seeded center with e1's register fields and e1 on the hotline 20 s ago."""
    base, center = server
    enrich(center)
    with session_factory(center.database_url)() as s:
        s.execute(
            tables.hotline_calls.insert().values(
                call_sid="CA" + "7" * 32,
                from_phone="+8613800000001",
                elder_id="e1",
                started_at=center.now - timedelta(seconds=20),
            )
        )
        s.commit()
    return base, center


def test_a_registered_caller_is_two_clicks_from_a_request(registered, browser):
    base, _ = registered
    page = logged_in(browser, base, "op")  # the server speaks Chinese by default
    caller = page.wait_for_selector('#callers a.caller.live[data-caller="e1"]')
    assert "王秀英" in caller.inner_text() and "通话中" in caller.inner_text()
    assert "有健康/入户说明" in caller.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "elder-callers.png"), full_page=True)

    caller.click()  # click 1
    page.wait_for_selector("#card")
    assert page.url.endswith("/dashboard/elders/e1")
    assert page.inner_text("#card-name") == "王秀英"
    assert page.inner_text("#card-notes") == NOTES
    assert page.inner_text("#card-access") == "钥匙在门口密码箱"
    assert "王伟" in page.inner_text("#contacts") and "+8613911112222" in page.inner_text("#contacts")
    assert "btn-1" in page.inner_text("#devices") and "最近心跳" in page.inner_text("#devices")
    assert "位置为估算" in page.inner_text("#approximate")
    assert page.locator("svg.cardmap circle.home").count() == 1
    assert "R-1001" in page.inner_text("#card-requests")
    assert page.csp_refusals == []
    page.screenshot(path=str(ARTIFACTS / "elder-card-zh.png"), full_page=True)

    page.click('#quick button[data-service="meal"]')  # click 2
    page.wait_for_selector("#message:has-text('✔')")
    page.reload()
    assert re.search(r"op-[0-9a-f]{12}\s+助餐\s+·\s+已提交", page.inner_text("#card-requests"))


def test_an_operator_finds_the_caller_by_phone_and_asks_in_three_clicks(registered, browser):
    base, _ = registered
    page = logged_in(browser, base, "op")
    page.fill("#lookup-q", "138-0000-0001")
    page.click("#lookup button")  # click 1
    page.wait_for_selector("#results")
    assert page.locator("#results a.result").count() == 1
    page.click('#results a.result[data-elder="e1"]')  # click 2
    page.wait_for_selector("#card")
    page.click('#quick button[data-service="cleaning"]')  # click 3
    page.wait_for_selector("#message:has-text('✔')")
    page.reload()
    assert "助洁" in page.inner_text("#card-requests")
    for query in ("秀英", "西康路", "e1"):
        page.goto(f"{base}/dashboard/elders?q={query}")
        assert page.locator('#results a.result[data-elder="e1"]').count() == 1, query


def test_the_card_in_english_and_masked_for_a_supervisor(registered, browser):
    base, _ = registered
    op = logged_in(browser, base, "op")
    op.goto(f"{base}/dashboard/elders/e1?lang=en")
    assert "Health and care notes" in op.inner_text("#notes")
    assert "Approximate location" in op.inner_text("#approximate")
    assert "Ask for a service for this elder" in op.inner_text("#quick")
    assert op.inner_text('#quick button[data-service="meal"]') == "Meal"
    op.screenshot(path=str(ARTIFACTS / "elder-card-en.png"), full_page=True)

    sup = logged_in(browser, base, "sup")
    sup.goto(f"{base}/dashboard/elders/e1")
    assert sup.inner_text("#card-name") == "王**"
    assert NOTES not in sup.content() and "+8613911112222" not in sup.content()
    assert sup.locator("#quick").count() == 0

    far = logged_in(browser, base, "far")  # an operator of 玄武区
    answer = far.goto(f"{base}/dashboard/elders/e1")
    assert answer is not None and answer.status == 403
    far.goto(f"{base}/dashboard/elders?q=13800000001")
    assert far.locator('#results a.result[data-elder="e1"]').count() == 0
