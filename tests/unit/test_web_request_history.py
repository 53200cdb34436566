"""A request's history on the dashboard (issue 17): an operator opens one request from the
board or the elder's card and reads every decision and state change in its language and the
center's time zone; an operator of another region gets 403, an unknown request 404; nobody's
phone number is shown in full."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from careline.web.app import create_app
from db import notices
from db.session import session_factory
from tests.unit.web_client import _seeded, app, center, login, settings_for  # noqa: F401

HISTORY = "/dashboard/requests/{}/history"


def entries(page) -> str:
    return re.sub(r"<[^>]+>", " ", page.text.split('id="history-entries"', 1)[1])


def received(center):
    """When R-1002 was received: the seed puts it through dispatch 30 minutes before ``now``."""
    return center.now - timedelta(minutes=30)


def first_time(page) -> str:
    return re.search(r"<time>([^<]+)</time>", page.text).group(1)


def test_the_board_and_the_elder_card_link_to_a_requests_history(app):
    op = login(app, "op")
    board = op.get("/dashboard").text
    assert f'href="{HISTORY.format("R-1002")}"' in board  # the open requests
    assert f'href="{HISTORY.format("SOS-2001")}"' in board.split('id="emergencies"', 1)[1]  # the emergency card
    assert f'href="{HISTORY.format("R-1001")}"' in op.get("/dashboard/elders/e1").text


def test_the_history_shows_the_decision_its_excluded_caregivers_and_the_offer_in_chinese(app, center):
    page = login(app, "op").get(HISTORY.format("R-1002"), params={"lang": "zh"})
    assert page.status_code == 200
    text = entries(page)
    assert "按调度策略" in text and "1. cg-wu" in text  # only cg-wu bathes in 西康
    assert "不派 cg-li：不具备“助浴”服务技能" in text
    assert "派单给 cg-wu" in text and "状态：已受理" in text
    assert not re.search(r"\b(received|lacks|offered|decided)\b", text), text
    # on the center's clock, and the page says which
    assert first_time(page) == f"{received(center).astimezone(ZoneInfo('Asia/Shanghai')):%H:%M}"
    assert "Asia/Shanghai" in page.text


def test_the_history_in_english_on_another_centers_clock(center):
    app = create_app(settings_for(center, programme_timezone="America/New_York"))
    page = login(app, "op").get(HISTORY.format("R-1002"), params={"lang": "en"})
    text = entries(page)
    assert "not cg-li: lacks the ability bathing" in text and "offered to cg-wu" in text
    assert first_time(page) == f"{received(center).astimezone(ZoneInfo('America/New_York')):%H:%M}"
    assert "America/New_York" in page.text


def test_an_operator_of_another_region_gets_403_and_an_unknown_request_404(app):
    far = login(app, "far")  # 玄武区
    assert far.get(HISTORY.format("R-1002")).status_code == 403  # 鼓楼 西康
    assert far.get(HISTORY.format("R-1005")).status_code == 200  # 玄武 梅园: its own
    op = login(app, "op")
    assert op.get(HISTORY.format("R-1005")).status_code == 403
    assert op.get(HISTORY.format("R-nothing")).status_code == 404
    assert TestClient(app).get(HISTORY.format("R-1002"), follow_redirects=False).status_code == 303  # log in first


def test_a_notice_shows_its_delivery_status_with_the_phone_masked_even_for_a_supervisor(app, center):
    with session_factory(center.database_url)() as s:
        row = notices.NoticeRow(
            "n-1", "ev-1", "R-1001", "elder.confirmed", "elder", "e1", "sms", "+8613800000001", "zh", ("已确认",), 1
        )
        notices.add(s, row, "sending", center.now)
        notices.finish(s, "n-1", "failed", center.now, error="30003")
        s.commit()
    for user in ("op", "sup"):
        text = entries(login(app, user).get(HISTORY.format("R-1001"), params={"lang": "zh"}))
        assert "通知“已确认”发给老人" in text and "发送失败" in text
        assert "13800000001" not in text and "+86*********01" in text
