"""The EVV review page over HTTP, on the seeded SQLite center: flags kept on visits wait
for an operator's decision, per region, with elders' data masked as on the board."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from db import tables
from db.session import session_factory
from db.uow import SqlUnitOfWork
from handlers.dispatch import offers
from handlers.visits import attendance
from tests.unit.web_client import _seeded, app, center, login, post_action  # noqa: F401 - fixtures

FAR = {"code": "outside_geofence", "detail": "checked in 412 m from the elder's home (geofence 150 m)"}
PHONE = {"code": "wrong_phone", "detail": "landline check-in from +8613912345678, not a phone registered for the elder"}
SHORT = {"code": "short_visit", "detail": "visit lasted 9 min of 45 min planned"}
GULOU_VISIT, XUANWU_VISIT = "R-1001.o1.v", "R-1005.o1.v"


@pytest.fixture
def flagged(center):
    """R-1001 (Gulou, elder 王秀英, cg-li) checked in from afar and by a wrong phone, then out too
    soon; R-1005 (Xuanwu, cg-ma) accepted and checked in from afar."""
    factory = session_factory(center.database_url)
    with SqlUnitOfWork(factory) as uow:
        offers.accept_offer(
            uow.offers.for_request("R-1005")[0].offer_id,
            "cg-ma",
            uow,
            center.now - timedelta(minutes=7),
            center.policy,
            center.travel,
        )
        uow.commit()
    for rid, cid, flags, out in (("R-1001", "cg-li", [FAR, PHONE], [SHORT]), ("R-1005", "cg-ma", [FAR], None)):
        with SqlUnitOfWork(factory) as uow:
            assert attendance.check_in(
                rid, cid, uow, center.now - timedelta(minutes=5), center.travel, flags, "app_gps"
            )
            if out:
                assert attendance.check_out(rid, cid, uow, center.now, out)
            uow.commit()
    return center


def open_flags(page: str) -> list[tuple[str, str]]:
    """(visit id, flag code) of each row of the open list."""
    import re

    section = page.split('id="evv-open"')[1].split("</section>")[0]
    return re.findall(r'<tr data-visit="([^"]+)" data-flag="([^"]+)">', section)


def audit(center):
    with session_factory(center.database_url)() as s:
        return s.execute(select(tables.audit_log).order_by(tables.audit_log.c.seq)).all()


def test_an_operator_sees_the_flags_of_the_region_with_caregiver_provider_and_elder(app, flagged):
    page = login(app, "op").get("/dashboard/evv").text
    assert open_flags(page) == [
        (GULOU_VISIT, "outside_geofence"),
        (GULOU_VISIT, "wrong_phone"),
        (GULOU_VISIT, "short_visit"),
    ]
    row = page.split('data-flag="wrong_phone"')[1].split("</tr>")[0]
    assert "cg-li" in row and "provider p-gulou" in row and "王秀英" in row and "+8613912345678" in row
    assert "Outside the geofence" in page and "412 m" in page
    assert open_flags(login(app, "far").get("/dashboard/evv").text) == [(XUANWU_VISIT, "outside_geofence")]


def test_a_supervisor_sees_the_elder_and_the_calling_number_masked(app, flagged):
    page = login(app, "sup").get("/dashboard/evv").text
    assert len(open_flags(page)) == 4  # no region scope: both districts
    assert "王秀英" not in page and "王**" in page
    assert "+8613912345678" not in page and "13800000001" not in page


def test_a_reviewed_flag_leaves_the_list_and_shows_its_escaped_note_and_is_audited(app, flagged):
    op = login(app, "op")
    note = "<script>alert('x')</script> elder confirmed by phone"
    answer = op.post(
        f"/dashboard/actions/evv/{GULOU_VISIT}/outside_geofence/review",
        data={"csrf_token": op.csrf, "outcome": "accepted", "note": note},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/evv"
    page = op.get("/dashboard/evv").text
    assert (GULOU_VISIT, "outside_geofence") not in open_flags(page) and len(open_flags(page)) == 2
    reviewed = page.split('id="evv-reviewed"')[1]
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; elder confirmed by phone" in reviewed
    assert "<script>alert" not in page and "Accepted" in reviewed
    last = audit(flagged)[-1]
    assert (last.operator_id, last.action, last.target, last.outcome) == ("op", "evv.review", GULOU_VISIT, "done")
    assert last.detail == {"code": "outside_geofence", "outcome": "accepted", "payable": True}


def test_a_rejection_without_a_note_is_refused_and_the_page_says_why(app, flagged):
    op = login(app, "op")
    answer = post_action(op, f"/dashboard/actions/evv/{GULOU_VISIT}/short_visit/review", outcome="rejected")
    assert (answer.status_code, answer.json()["code"]) == (409, "note_required")
    plain = op.post(
        f"/dashboard/actions/evv/{GULOU_VISIT}/short_visit/review",
        data={"csrf_token": op.csrf, "outcome": "rejected", "note": ""},
    )
    assert "Rejected and corrected need a note" in plain.text
    assert (GULOU_VISIT, "short_visit") in open_flags(plain.text)
    assert [a.outcome for a in audit(flagged) if a.action == "evv.review"] == ["refused", "refused"]


def test_a_flag_is_decided_once(app, flagged):
    op = login(app, "op")
    path = f"/dashboard/actions/evv/{GULOU_VISIT}/wrong_phone/review"
    assert post_action(op, path, outcome="rejected", note="nobody was there").json()["ok"]
    again = post_action(login(app, "sup"), path, outcome="accepted")
    assert (again.status_code, again.json()["code"]) == (409, "already_reviewed")
    with session_factory(flagged.database_url)() as s:
        rows = s.execute(select(tables.evv_reviews.c.outcome, tables.evv_reviews.c.operator_id)).all()
    assert rows == [("rejected", "op")]


def test_reviews_need_the_csrf_token_the_region_and_a_reviewing_role(app, flagged):
    op = login(app, "op")
    path = f"/dashboard/actions/evv/{GULOU_VISIT}/outside_geofence/review"
    assert op.post(path, data={"outcome": "accepted"}, headers={"Accept": "application/json"}).status_code == 403
    assert post_action(login(app, "far"), path, outcome="accepted").status_code == 403
    adm = login(app, "adm")
    assert post_action(adm, path, outcome="accepted").status_code == 403
    assert adm.get("/dashboard/evv").status_code == 403
    assert audit(flagged)[-1].outcome == "denied"
    assert (GULOU_VISIT, "outside_geofence") in open_flags(op.get("/dashboard/evv").text)


def test_the_review_page_is_linked_from_the_dashboard_in_both_languages(app):
    op = login(app, "op")
    assert '<a href="/dashboard/evv">EVV review</a>' in op.get("/dashboard?lang=en").text
    zh = op.get("/dashboard/evv?lang=zh").text
    assert '<a href="/dashboard/evv">电子核查</a>' in zh and "待核查的电子签到异常" in zh
    assert 'href="/dashboard/evv"' not in login(app, "adm").get("/dashboard").text
