"""The EVV review page in a real browser (Debian's Chromium, Playwright): an operator follows
the link from the board, corrects a flag with a note, and the flag leaves the list."""

from __future__ import annotations

from datetime import timedelta

import pytest

from db.session import session_factory
from db.uow import SqlUnitOfWork
from handlers.dispatch import offers
from handlers.visits import attendance
from tests.e2e.test_dashboard_browser import ARTIFACTS, browser, logged_in, server  # noqa: F401 - fixtures
from tests.unit.dashboard_seed import XIKANG, _request, receive

pytestmark = pytest.mark.e2e
NOTE = "<i>老人住址坐标有误</i>"


def flagged_visit(center) -> str:
    """A meal for 李桂兰 (e2), accepted and checked in 400 m from her home; returns the visit id."""
    receive(center, _request("R-EVV", "e2", XIKANG, "meal", center.now, 0, location=2))
    with SqlUnitOfWork(session_factory(center.database_url)) as uow:
        offer = uow.offers.for_request("R-EVV")[0]
        assert offers.accept_offer(offer.offer_id, offer.caregiver_id, uow, center.now, center.policy, center.travel)
        flag = {"code": "outside_geofence", "detail": "checked in 400 m from the elder's home (geofence 150 m)"}
        assert attendance.check_in(
            "R-EVV", offer.caregiver_id, uow, center.now + timedelta(minutes=1), center.travel, [flag]
        )
        uow.commit()
        return uow.visits.for_request("R-EVV").visit_id


def test_an_operator_corrects_an_evv_flag_from_the_review_page(server, browser):
    base, center = server
    visit_id = flagged_visit(center)
    row = f'#evv-open tr[data-visit="{visit_id}"][data-flag="outside_geofence"]'
    page = logged_in(browser, base, "op")
    page.click('a[href="/dashboard/evv"]')
    page.wait_for_selector(row)
    assert "签到位置超出范围" in page.inner_text(row) and "李桂兰" in page.inner_text(row)
    page.select_option(f"{row} select[name=outcome]", "corrected")
    page.fill(f"{row} input[name=note]", NOTE)
    page.click(f"{row} button")
    page.wait_for_selector(row, state="detached")
    reviewed = f'#evv-reviewed tr[data-visit="{visit_id}"]'
    assert NOTE in page.inner_text(reviewed) and page.locator(f"{reviewed} i").count() == 0  # shown as text
    assert page.url.endswith("/dashboard/evv")
    assert page.csp_refusals == []  # the review page works under the Content-Security-Policy
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "evv-review-zh.png"), full_page=True)
