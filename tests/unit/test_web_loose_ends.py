"""Nothing hidden from the operator (issue 16), on the seeded center over HTTP: a request
nobody took stays on the board and counts as waiting and as an SLA breach until an
operator records an outcome; an emergency stays on the card until its outcome is
recorded with a code and a note, and with nobody on the way it shows the number to dial
and the address; loose ends and complaint follow-ups stay until closed."""

from datetime import timedelta

from sqlalchemy import select, update

from db import register, tables
from db.loose_ends import open_loose_end
from db.session import session_factory
from tests.unit.web_client import _seeded, app, center, login, post_action  # noqa: F401 - fixtures


def _row(page: str, request_id: str) -> str:
    return next((r for r in page.split("<tr") if f'data-request="{request_id}"' in r), "")


def test_a_request_nobody_took_stays_waiting_and_breached_days_later_until_an_outcome_is_recorded(app, center):
    with session_factory(center.database_url)() as s:  # it failed three days ago: no timer takes it away
        s.execute(
            update(tables.care_requests)
            .where(tables.care_requests.c.request_id == "R-1004")
            .values(closed_at=center.now - timedelta(days=3), received_at=center.now - timedelta(days=3))
        )
        s.commit()
    op = login(app, "op")
    page = op.get("/dashboard/board").text
    row = _row(page, "R-1004")
    assert row and "failed" in row and "late" in row and "/requests/R-1004/outcome" in row
    stats = op.get("/api/stats/realtime").json()["workspace"]
    assert stats["tasks_waiting"] >= 1 and stats["longest_task_waiting_sid"] == "R-1004"
    assert stats["sla_breached"] >= 1 and stats["sla_percent"] < 100
    refused = post_action(op, "/dashboard/actions/requests/R-1004/outcome", code="served_by_phone", note=" ")
    assert refused.status_code == 409 and refused.json()["code"] == "no_note"
    wrong = post_action(op, "/dashboard/actions/requests/R-1004/outcome", code="false_alarm", note="x")
    assert wrong.json()["code"] == "unknown_code"  # an emergency's code, not a request's
    done = post_action(op, "/dashboard/actions/requests/R-1004/outcome", code="served_by_phone", note="called her")
    assert done.json()["ok"], done.text
    assert _row(op.get("/dashboard/board").text, "R-1004") == ""
    after = op.get("/api/stats/realtime").json()["workspace"]
    assert after["tasks_waiting"] == stats["tasks_waiting"] - 1
    again = post_action(op, "/dashboard/actions/requests/R-1004/outcome", code="rescheduled", note="again")
    assert again.json()["code"] == "closed"


def test_the_cumulative_sla_counts_the_failed_request(app):
    ws = login(app, "sup").get("/api/stats/cumulative", params={"minutes": 120}).json()["workspace"]
    assert ws["tasks_escalated"] == 1 and ws["sla_breached"] >= 1 and ws["sla_percent"] < 100


def test_an_acknowledged_emergency_with_nobody_on_the_way_shows_the_number_and_address_until_its_outcome(app, center):
    with session_factory(center.database_url)() as s:
        register.add_elder_address(s, "e4", "宁海路5号2单元301")
        s.commit()
    op = login(app, "op")
    assert post_action(op, "/dashboard/actions/emergencies/SOS-2001/acknowledge").json()["ok"]
    with session_factory(center.database_url)() as s:  # nobody took it: dispatch failed it to the operators
        s.execute(tables.offers.update().where(tables.offers.c.request_id == "SOS-2001").values(status="canceled"))
        s.execute(
            update(tables.care_requests)
            .where(tables.care_requests.c.request_id == "SOS-2001")
            .values(status="failed", closed_at=center.now)
        )
        s.execute(tables.visits.delete().where(tables.visits.c.request_id == "SOS-2001"))
        s.commit()
    page = op.get("/dashboard/board").text
    card = page[page.index('data-emergency="SOS-2001"') : page.index('data-emergency="SOS-2001"') + 3000]
    assert 'data-red="yes"' in card and 'data-dial="120"' in card and "tel:120" in card
    assert "宁海路5号2单元301" in card
    supervisor = login(app, "sup").get("/dashboard/board").text
    assert "宁海路5号2单元301" not in supervisor  # the address is personal data
    no_code = post_action(op, "/dashboard/actions/requests/SOS-2001/outcome", code="", note="ok")
    assert no_code.status_code in (409, 422)
    no_note = post_action(op, "/dashboard/actions/requests/SOS-2001/outcome", code="ambulance_called", note="")
    assert no_note.json()["code"] == "no_note"
    assert 'data-emergency="SOS-2001"' in op.get("/dashboard/board").text
    ok = post_action(
        op, "/dashboard/actions/requests/SOS-2001/outcome", code="ambulance_called", note="120 took her to hospital"
    )
    assert ok.json()["ok"]
    assert 'data-emergency="SOS-2001"' not in op.get("/dashboard/board").text
    with session_factory(center.database_url)() as s:
        (outcome,) = s.execute(select(tables.request_outcomes)).all()
        assert (outcome.code, outcome.operator_id) == ("ambulance_called", "op")
        kinds = [r.value["type"] for r in s.execute(select(tables.outbox)) if isinstance(r.value, dict)]
    assert "care.emergency.outcome_recorded" in kinds  # the elder and family are told (channels.notices)


def test_loose_ends_stay_on_the_board_with_a_call_back_until_an_operator_closes_them(app, center):
    with session_factory(center.database_url)() as s:
        open_loose_end(
            s,
            "hangup:CA1",
            "hangup",
            "hung up in the menu (completed): call back",
            center.now,
            subject="e1",
            service_area="gulou-xikang",
            phone="13800000001",
        )
        open_loose_end(
            s,
            "caller:CA2",
            "unknown_caller",
            "a number not in the register called",
            center.now,
            phone="+8613500135000",
        )
        s.commit()
    op = login(app, "op")
    page = op.get("/dashboard/board").text
    assert 'data-loose-end="hangup:CA1"' in page and 'href="tel:13800000001"' in page
    assert 'data-loose-end="caller:CA2"' in page  # no area: every operator may call back
    assert (
        post_action(op, "/dashboard/actions/loose-ends/hangup:CA1/close", code="called_back", note="").json()["code"]
        == "no_note"
    )
    closed = post_action(op, "/dashboard/actions/loose-ends/hangup:CA1/close", code="called_back", note="she is fine")
    assert closed.json()["ok"]
    page = op.get("/dashboard/board").text
    assert 'data-loose-end="hangup:CA1"' not in page and 'data-loose-end="caller:CA2"' in page
    far = login(app, "far").get("/dashboard/board").text
    assert 'data-loose-end="caller:CA2"' in far and 'data-loose-end="hangup:CA1"' not in far
