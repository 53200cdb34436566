"""A request's history in the browser (issue 17): an operator on the board taps a request and
reads its dispatch decision with the excluded caregivers and why, its offers and status
changes, in Chinese or English, on the center's clock, at 1440x900 and on a 390x844 phone.

Debian's Chromium through Playwright with ``executable_path`` (the fixtures of
``test_dashboard_browser``), axe-core from the npm registry (``tools.harness.axe``).
Screenshots are kept in ``test-artifacts/dashboard-views/`` (the path is printed).
"""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.test_dashboard_browser import browser, server  # noqa: F401
from tests.e2e.test_dashboard_views import DESK, SIZES, open_board, shot

pytestmark = pytest.mark.e2e
#: what the Chinese history must not leave in English: statuses, dispatch's words, refusals
ENGLISH = re.compile(r"\b(received|accepted|failed|decided|offered|policy|lacks|ability|travel|cost|status|answer)\b")
EXCLUDED = {"zh": "不派 cg-li：不具备“助浴”服务技能", "en": "not cg-li: lacks the ability bathing"}
OFFERED = {"zh": "派单给 cg-wu", "en": "offered to cg-wu"}


def open_history(page, rid: str) -> None:
    """From the board, the way an operator does it: tap the request's id in the requests table."""
    page.click(f'[data-request="{rid}"] a.history-link')
    page.wait_for_selector(f'#history[data-request="{rid}"]')


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", ["desk", "phone"])
def test_an_operator_opens_a_request_from_the_board_and_reads_why_it_went_where_it_went(server, browser, size, lang):
    base, center = server
    page = open_board(browser, base, SIZES[size], lang)
    open_history(page, "R-1002")
    entries = page.locator("#history-entries")
    decision = entries.locator("li.entry.decision")
    assert decision.count() == 1 and decision.is_visible()
    excluded = decision.locator(".excluded li").all_inner_texts()
    assert EXCLUDED[lang] in excluded, excluded  # the caregiver left out, and why, in the operator's language
    assert decision.locator(".candidates li").first.inner_text().startswith("1. cg-wu")
    assert OFFERED[lang] in entries.inner_text()
    # the first line is when the request came in, on Shanghai's clock (the seed: 30 minutes ago)
    received = (center.now - timedelta(minutes=30)).astimezone(ZoneInfo("Asia/Shanghai"))
    assert entries.locator("li.entry time").first.inner_text() == f"{received:%H:%M}"
    if lang == "zh":
        found = sorted(set(ENGLISH.findall(entries.inner_text())))
        assert found == [], f"untranslated in the zh history: {found}"
    width = SIZES[size]["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways"
    assert decision.bounding_box()["x"] + decision.bounding_box()["width"] <= width
    shot(page, f"history-{size}-{lang}")
    page.go_back()  # and back to the board
    page.wait_for_selector("#board")
    page.context.close()


@pytest.mark.parametrize("size", ["phone", "desk"])
def test_axe_finds_no_serious_or_critical_violation_on_a_requests_history(server, browser, size):
    from tools.harness.axe import install

    base, _ = server
    axe = install()
    page = open_board(browser, base, SIZES[size], "zh", bypass_csp=True)
    open_history(page, "R-1004")  # nobody was eligible: escalated to the operator queue
    assert "转人工处理" in page.inner_text("#history-entries")
    page.add_script_tag(path=str(axe))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:4]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], "\n".join(bad)
    page.context.close()


def test_an_operator_of_another_region_cannot_open_it(server, browser):
    base, _ = server
    page = open_board(browser, base, DESK, "en", user="far")
    answer = page.goto(f"{base}/dashboard/requests/R-1002/history")
    assert answer.status == 403 and "outside your region" in page.inner_text("body")
    assert "cg-wu" not in page.content()  # nothing of the request is shown
    assert page.goto(f"{base}/dashboard/requests/R-1005/history").status == 200  # its own region's request
    page.context.close()
