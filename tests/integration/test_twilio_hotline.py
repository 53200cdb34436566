"""The hotline through its webhooks: signatures, a whole call, emergencies, the operator queue,
and the same webhook delivered five times at once (SQLite and PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from db import tables
from handlers.channels.intake import validate_intake
from handlers.model import Elder
from tests.integration.twilio_world import BASE, build_world, own_postgres_database, sqlite_world


@pytest.fixture
def world(tmp_path):
    return sqlite_world(tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def any_db_world(request, tmp_path):
    if request.param == "sqlite":
        yield sqlite_world(tmp_path)
        return
    with own_postgres_database(request.getfixturevalue("services").database_url) as url:
        yield build_world(url)


def _call(world, sid="CA" + "1" * 32, caller=None) -> dict[str, str]:
    return {"CallSid": sid, "From": caller or world.elder_phone, "To": "+8625000000", "AccountSid": "AC" + "0" * 32}


def _xml(response) -> ElementTree.Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return ElementTree.fromstring(response.text)


def _said(root) -> str:
    return " ".join(e.text or "" for e in root.iter("Say"))


def _press(world, root, digits: str, call: dict[str, str] | None = None) -> ElementTree.Element:
    """Answer the prompt ``root`` gathers for, as Twilio does: POST the Gather's own (signed) action."""
    action = root.find("Gather").get("action")
    path, _, query = action.removeprefix(BASE).partition("?")
    return _xml(world.post(path, dict(call or _call(world), Digits=digits), dict(parse_qsl(query))))


def _to_read_back(world, time_key: str = "3") -> ElementTree.Element:
    root = _xml(world.post("/twilio/voice", _call(world)))
    root = _press(world, root, "2")  # a home service
    root = _press(world, root, "1")  # meal
    return _press(world, root, time_key)


def _loose_ends(world, kind: str) -> list:
    with world.sessions() as s:
        return list(s.execute(select(tables.loose_ends).where(tables.loose_ends.c.kind == kind)))


def test_an_unsigned_webhook_is_refused(world):
    response = world.client.post("/twilio/voice", data=_call(world))
    assert response.status_code == 403


def test_a_forged_or_replayed_signature_is_refused(world):
    assert world.post("/twilio/voice", _call(world), secret="not-the-token").status_code == 403
    from careline.web.twilio_security import sign
    from tests.integration.twilio_world import TOKEN

    genuine = sign(f"{BASE}/twilio/voice", _call(world), TOKEN)
    tampered = dict(_call(world), From="+8613500135000")  # a parameter changed in transit
    assert world.post("/twilio/voice", tampered, signature=genuine).status_code == 403


def test_the_signature_is_checked_against_the_public_url_behind_a_tls_proxy(world):
    # the app itself is reached over http://testserver; Twilio signed https://careline.example.org/...
    assert world.post("/twilio/voice", _call(world)).status_code == 200


def test_a_refused_webhook_is_logged_without_the_callers_number(world, caplog):
    world.post("/twilio/voice", _call(world), secret="wrong")
    assert "refused /twilio/voice" in caplog.text and world.elder_phone not in caplog.text


def test_a_registered_elder_hears_emergency_first_and_that_silence_calls_for_help(world):
    root = _xml(world.post("/twilio/voice", _call(world)))
    gather = root.find("Gather")
    assert gather.get("action") == f"{BASE}/twilio/voice/menu?first=1&lang=zh&try=0"
    assert gather.get("timeout") == "8" and gather.get("actionOnEmptyResult") == "true"
    said = _said(root)
    assert said.index("紧急求助请按1") < said.index("预约上门服务请按2") < said.index("投诉请按3")
    assert "不按键我们也会马上为您呼叫帮助" in said and "重听请按星号键" in said
    assert said.count("请按") <= 4 + 1  # four options and the repeat key


def test_star_repeats_the_prompt_and_asks_nothing_else(world):
    first = _xml(world.post("/twilio/voice", _call(world)))
    again = _press(world, first, "*")
    assert "预约上门服务请按2" in _said(again) and "对不起" not in _said(again)
    assert world.outbox("care.intake.v1") == []


def test_a_whole_call_is_read_back_confirmed_with_one_key_and_becomes_one_intake_record(world):
    read_back = _to_read_back(world)
    assert world.outbox("care.intake.v1") == []  # nothing submitted before the caller confirms
    assert "您预约的是送餐，12月1日13:00到17:00之间上门。确认请按1" in _said(read_back)
    root = _press(world, read_back, "1")
    (record,) = world.outbox("care.intake.v1")
    assert record["channel"] == "hotline" and record["elder_id"] == world.id("e")
    assert record["service_type"] == "meal" and record["priority"] == "routine"
    assert record["window"]["start"].startswith("2026-12-01T13:00:00+08:00")
    number = record["request_id"].removeprefix("HL")
    assert f"请求号{' '.join(number)}" in _said(root) and "12月1日13:00到17:00之间" in _said(root)
    assert root.find("Hangup") is not None
    request = validate_intake(record, lambda eid: Elder(eid, world.id("gulou")))
    assert request.request_id == record["request_id"]


def test_as_soon_as_possible_is_read_back_on_the_quarter_hour(world):
    said = _said(_to_read_back(world, "1"))
    times = [w for w in said.replace("到", " ").replace("之间", " ").split() if ":" in w]
    assert times and all(t.split(":")[1][:2] in {"00", "15", "30", "45"} for t in times), said


def test_choosing_again_at_the_read_back_submits_nothing(world):
    root = _press(world, _to_read_back(world), "2")
    assert "送餐请按1" in _said(root)
    assert world.outbox("care.intake.v1") == []


def test_a_complaint_by_hotline_is_acknowledged_and_stays_on_the_board_until_closed(world):
    root = _xml(world.post("/twilio/voice", _call(world)))
    root = _press(world, _press(world, root, "3"), "2")  # complaint: nobody came
    assert "已记录您的投诉" in _said(root)
    with world.sessions() as s:
        (complaint,) = s.execute(
            select(tables.feedback).where(tables.feedback.c.feedback_id.startswith("hotline:" + "CA" + "1" * 32))
        )
    assert complaint.kind == "complaint" and complaint.category == "no-show" and complaint.channel == "hotline"
    assert complaint.followup_due_at is not None and complaint.followup_closed_at is None  # on the board until closed


def test_silence_at_the_first_prompt_raises_a_stat_request_and_alerts_the_operator(world):
    world.post("/twilio/voice", _call(world))
    root = _xml(world.post("/twilio/voice/menu", _call(world), {"first": "1", "lang": "zh", "try": "0"}))
    (record,) = world.outbox("care.intake.v1")
    assert record["priority"] == "stat" and record["service_type"] == "emergency"
    alerts = [e for e in world.outbox("care.lifecycle.v1") if e["type"] == "care.operator.alert"]
    assert alerts and alerts[0]["data"]["request_id"] == record["request_id"]
    assert root.find("Enqueue").text == "emergency"


def test_an_unknown_caller_is_queued_for_an_operator_and_recorded(world):
    root = _xml(world.post("/twilio/voice", _call(world, caller="+8613500135000")))
    assert root.find("Enqueue").text == "operators"
    assert world.outbox("care.intake.v1") == []
    with world.sessions() as s:
        call = s.execute(select(tables.hotline_calls).where(tables.hotline_calls.c.call_sid == "CA" + "1" * 32)).one()
        queued = [r.value for r in s.execute(select(tables.outbox).where(tables.outbox.c.key == f"call-{call.seq}"))]
    assert call.outcome == "operator" and call.reason == "unknown caller"
    assert queued[0]["type"] == "care.call.operator_queued" and queued[0]["data"]["caller"] == "+8613500135000"
    (loose,) = _loose_ends(world, "unknown_caller")
    assert loose.phone == "+8613500135000" and loose.closed_at is None


def test_a_family_members_phone_counts_as_the_elders(world):
    root = _xml(world.post("/twilio/voice", _call(world, caller=world.family_phone)))
    assert root.find("Gather") is not None


def test_a_caller_who_hangs_up_in_the_menu_is_queued_for_a_call_back_once(world):
    world.post("/twilio/voice", _call(world))
    for _ in range(2):
        assert world.post("/twilio/status", dict(_call(world), CallStatus="completed")).status_code == 204
    with world.sessions() as s:
        rows = [r.value for r in s.execute(select(tables.outbox)) if r.value.get("type") == "care.call.operator_queued"]
    assert len(rows) == 1 and "hung up" in rows[0]["data"]["reason"]
    (loose,) = _loose_ends(world, "hangup")  # with the number to call back, until an operator closes it
    assert loose.phone == world.elder_phone and loose.subject == world.id("e") and loose.closed_at is None


def test_the_same_final_webhook_delivered_five_times_at_once_creates_one_request(any_db_world):
    world = any_db_world
    read_back = _to_read_back(world)
    action = read_back.find("Gather").get("action")
    path, _, query = action.removeprefix(BASE).partition("?")
    form = dict(_call(world), Digits="1")
    with ThreadPoolExecutor(max_workers=5) as pool:
        responses = list(pool.map(lambda _: world.post(path, form, dict(parse_qsl(query))), range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    assert len(world.outbox("care.intake.v1")) == 1
    assert len({_said(_xml(r)) for r in responses}) == 1  # every delivery hears the same number
