"""The operator dashboard over HTTP, on a seeded SQLite center (no broker needed)."""

from sqlalchemy import select

from db import tables
from db.session import session_factory
from handlers.model import OfferStatus, RequestStatus
from tests.unit.web_client import _seeded, app, center, login, post_action  # noqa: F401 - fixtures


def audit_rows(center):
    with session_factory(center.database_url)() as s:
        return s.execute(select(tables.audit_log).order_by(tables.audit_log.c.seq)).all()


def test_the_board_shows_queues_emergencies_and_caregivers_of_the_operators_region(app):
    page = login(app, "op").get("/dashboard").text
    assert "SOS-2001" in page and 'data-emergency="SOS-2001"' in page
    assert "R-1002" in page and "cg-wu" in page
    assert "R-1005" not in page and "cg-ma" not in page  # Xuanwu is outside the Gulou operator's scope


def test_an_operator_sees_the_callers_name_and_a_supervisor_does_not(app):
    assert "李桂兰" in login(app, "op").get("/dashboard").text
    supervisor_page = login(app, "sup").get("/dashboard").text
    assert "李桂兰" not in supervisor_page and "李**" in supervisor_page and "13800000002" not in supervisor_page


def test_acknowledging_an_emergency_shows_who_took_it_and_is_audited(app, center):
    op = login(app, "op")
    answer = post_action(op, "/dashboard/actions/emergencies/SOS-2001/acknowledge")
    assert answer.json()["ok"]
    assert "Acknowledged by op" in op.get("/dashboard/board").text
    last = audit_rows(center)[-1]
    assert (last.operator_id, last.action, last.target, last.outcome) == (
        "op",
        "emergency.acknowledge",
        "SOS-2001",
        "done",
    )


def test_reassigning_sends_an_offer_to_the_chosen_caregiver(app, center):
    op = login(app, "op")
    assert post_action(op, "/dashboard/actions/requests/R-1003/reassign", caregiver_id="cg-wu").json()["ok"] is False
    answer = post_action(op, "/dashboard/actions/requests/R-1002/reassign", caregiver_id="cg-wu")
    assert answer.status_code == 409 and answer.json()["code"] == "same_caregiver"
    assert post_action(op, "/dashboard/actions/requests/R-1003/reassign", caregiver_id="cg-zhou").json()["ok"] is False
    assert post_action(op, "/dashboard/actions/requests/R-1001/reassign", caregiver_id="cg-wu").json()["ok"]
    row = [r for r in op.get("/dashboard/board").text.split("<tr") if 'data-request="R-1001"' in r][0]
    assert "cg-wu" in row and "(offer)" in row
    assert [a.outcome for a in audit_rows(center) if a.action == "request.reassign"] == [
        "refused",
        "refused",
        "refused",
        "done",
    ]


def test_cancelling_closes_the_request_and_its_offer(app, center):
    op = login(app, "op")
    assert post_action(op, "/dashboard/actions/requests/R-1003/cancel").json()["ok"]
    with session_factory(center.database_url)() as s:
        status = s.execute(
            select(tables.care_requests.c.status).where(tables.care_requests.c.request_id == "R-1003")
        ).scalar_one()
        offers = s.execute(select(tables.offers.c.status).where(tables.offers.c.request_id == "R-1003")).scalars()
        assert status == RequestStatus.CANCELLED and list(offers) == [OfferStatus.CANCELED]
    assert 'data-request="R-1003"' not in op.get("/dashboard/board").text


def test_an_action_without_the_csrf_token_is_refused(app):
    op = login(app, "op")
    answer = op.post("/dashboard/actions/requests/R-1003/cancel", headers={"Accept": "application/json"})
    assert answer.status_code == 403


def test_an_operator_cannot_act_outside_the_region(app):
    far = login(app, "far")
    assert post_action(far, "/dashboard/actions/requests/R-1003/cancel").status_code == 403
    assert post_action(far, "/dashboard/actions/caregivers/cg-li/unavailable").status_code == 403


def test_an_admin_may_not_dispatch_and_the_refusal_is_audited(app, center):
    adm = login(app, "adm")
    assert post_action(adm, "/dashboard/actions/requests/R-1003/cancel").status_code == 403
    assert audit_rows(center)[-1].outcome == "denied"


def test_marking_a_caregiver_unavailable_moves_the_pending_offer_on(app, center):
    op = login(app, "op")
    assert post_action(op, "/dashboard/actions/caregivers/cg-wu/unavailable").json()["ok"]
    with session_factory(center.database_url)() as s:
        rows = s.execute(
            select(tables.offers.c.caregiver_id, tables.offers.c.status)
            .where(tables.offers.c.request_id == "R-1002")
            .order_by(tables.offers.c.created_at)
        ).all()
    assert rows[0] == ("cg-wu", OfferStatus.RESCINDED)


def test_a_request_for_a_caller_goes_to_intake_through_the_outbox(app, center):
    op = login(app, "op")
    answer = post_action(
        op,
        "/dashboard/actions/requests",
        elder_id="e2",
        service_type="meal",
        duration_minutes="45",
        window_start="2030-05-01T14:00",
        window_end="2030-05-01T16:00",
        priority="urgent",
        tz_offset_minutes="-480",
    )
    assert answer.json()["ok"], answer.json()
    with session_factory(center.database_url)() as s:
        row = s.execute(select(tables.outbox).where(tables.outbox.c.topic == "care.intake.v1")).one()
    assert row.value["window"]["start"] == "2030-05-01T14:00:00+08:00" and row.value["channel"] == "operator"
    bad = post_action(
        op,
        "/dashboard/actions/requests",
        elder_id="e2",
        service_type="karaoke",
        duration_minutes="45",
        window_start="2030-05-01T14:00",
        window_end="2030-05-01T16:00",
    )
    assert bad.status_code == 409 and "karaoke" in bad.json()["message"]


def test_the_interface_speaks_chinese_or_english(app):
    op = login(app, "op")
    assert "紧急呼叫" in op.get("/dashboard?lang=zh").text
    assert "紧急呼叫" in op.get("/dashboard").text  # the choice is remembered
    assert "Emergencies" in op.get("/dashboard?lang=en").text
