"""The elder's card and the lookup through the web app: an operator finds an elder by phone,
name, address or id within its region, sees the card (masked for a supervisor), sees who is
calling, and asks for a service by a phone number (it used to answer "outside your region")."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from db import tables
from db.session import session_factory
from handlers.model import AlarmDevice, Elder
from tests.unit.web_client import _seeded, app, center, login, post_action  # noqa: F401

NOTES = "高血压，行动不便"


def enrich(center):
    """Give e1 (王秀英, 鼓楼 西康) the register's fields: a landline, family, notes, a device."""
    with session_factory(center.database_url)() as s:
        e1 = s.get(Elder, "e1")
        e1.landline = "+862583301234"
        e1.address = "南京市鼓楼区宁海路街道西康路3号"
        e1.notes, e1.access_notes = NOTES, "钥匙在门口密码箱"
        e1.family_contacts = [{"name": "王伟", "relation": "son", "phone": "+8613911112222", "sms_opt_in": True}]
        e1.latitude, e1.longitude, e1.location_provenance, e1.location_precision = (
            32.06,
            118.77,
            "approximate",
            "district",
        )
        s.add(
            AlarmDevice("btn-1", "e1", center.now, kind="pendant", last_heartbeat_at=center.now - timedelta(minutes=3))
        )
        s.commit()


def test_an_operator_finds_an_elder_by_phone_name_address_or_id_within_its_region(app, center):
    enrich(center)
    op = login(app, "op")
    for query in ("138 0000 0001", "+86 138-0000-0001", "0001", "秀英", "西康路", "e1", "025-8330 1234"):
        page = op.get("/dashboard/elders", params={"q": query})
        assert 'data-elder="e1"' in page.text, query
    far = login(app, "far")  # an operator of 玄武区
    assert 'data-elder="e1"' not in far.get("/dashboard/elders", params={"q": "13800000001"}).text
    assert far.get("/dashboard/elders/e1").status_code == 403


def test_the_card_shows_notes_contacts_devices_and_an_approximate_place(app, center):
    enrich(center)
    page = login(app, "op").get("/dashboard/elders/e1")
    assert page.status_code == 200
    for shown in (
        "王秀英",
        "13800000001",
        NOTES,
        "钥匙在门口密码箱",
        "王伟",
        "+8613911112222",
        "btn-1",
        "Approximate location",
        "R-1001",
    ):
        assert shown in page.text, shown
    assert 'data-service="meal"' in page.text


def test_a_supervisor_sees_the_card_masked(app, center):
    enrich(center)
    page = login(app, "sup").get("/dashboard/elders/e1")
    assert page.status_code == 200
    assert "王**" in page.text and "王秀英" not in page.text
    assert NOTES not in page.text and "+8613911112222" not in page.text and "+86*********22" in page.text
    assert 'id="quick"' not in page.text  # a supervisor does not take calls


def test_an_operator_asks_for_a_service_by_the_callers_phone(app, center):
    op = login(app, "op")
    now = center.now
    form = dict(
        service_type="meal",
        duration_minutes="45",
        window_start=(now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        window_end=(now + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        tz_offset_minutes="0",
    )
    answer = post_action(op, "/dashboard/actions/requests", elder_id="138 0000 0001", **form)
    assert answer.status_code == 200 and answer.json()["ok"], answer.text
    unknown = post_action(op, "/dashboard/actions/requests", elder_id="139 9999 9999", **form)
    assert unknown.status_code == 409 and unknown.json()["code"] == "unknown_elder"
    assert "outside your region" not in unknown.text


def test_a_registered_caller_on_the_hotline_appears_with_a_link_to_the_card(app, center):
    with session_factory(center.database_url)() as s:
        s.execute(
            tables.hotline_calls.insert().values(
                call_sid="CA" + "1" * 32,
                from_phone="+8613800000001",
                elder_id="e1",
                started_at=center.now - timedelta(seconds=20),
            )
        )
        s.execute(update(tables.elders).where(tables.elders.c.elder_id == "e1").values(notes=NOTES))
        s.commit()
    panel = login(app, "op").get("/dashboard/callers")
    assert 'href="/dashboard/elders/e1"' in panel.text and "王秀英" in panel.text and "on the line" in panel.text
    assert "e1" not in login(app, "far").get("/dashboard/callers").text


def test_a_call_from_a_registered_landline_puts_the_card_on_the_operators_dashboard(center):
    """The hotline webhook as Twilio sends it (signed, real parameter names) from e1's landline
    (not its mobile): the caller's card is linked from the operator's callers panel while the
    call is on the line."""
    from fastapi.testclient import TestClient

    from careline.web.app import create_app
    from careline.web.twilio_security import sign
    from tests.unit.web_client import settings_for

    enrich(center)
    base, token = "https://careline.example", "t" * 32
    app = create_app(settings_for(center, twilio_auth_token=token, public_base_url=base))
    form = {
        "CallSid": "CA" + "2" * 32,
        "AccountSid": "AC" + "0" * 32,
        "From": "+862583301234",
        "To": "+862512349000",
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    answer = TestClient(app).post(
        "/twilio/voice", data=form, headers={"X-Twilio-Signature": sign(base + "/twilio/voice", form, token)}
    )
    assert answer.status_code == 200, answer.text
    panel = login(app, "op").get("/dashboard/callers")
    assert 'href="/dashboard/elders/e1"' in panel.text and "on the line" in panel.text
