"""Caregiver and elder SMS, delivery status callbacks and one-key alarms through the webhooks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from sqlalchemy import select, update

from db import alarms, channels, tables
from tests.integration.twilio_world import NOW, build_world, own_postgres_database, sqlite_world


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


def _sms(world, body: str, sid: str = "SM" + "a" * 32, sender: str | None = None) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "From": sender or world.caregiver_phone,
        "To": "+8625000000",
        "Body": body,
        "NumSegments": "1",
        "AccountSid": "AC" + "0" * 32,
    }


def _reply(response) -> str | None:
    assert response.status_code == 200, response.text
    message = ElementTree.fromstring(response.text).find("Message")
    return None if message is None else message.text


def _caregiver_events(world) -> list[dict]:
    return world.outbox("caregiver.events.v1")


def test_a_caregiver_accepts_the_pending_offer_with_a_one(world):
    reply = _reply(world.post("/twilio/sms", _sms(world, "1")))
    (event,) = _caregiver_events(world)
    assert event["type"] == "caregiver.offer.accepted"
    assert event["data"] == {
        "request_id": world.id("r1"),
        "caregiver_id": world.id("cg"),
        "offer_id": f"{world.id('r1')}.o1",
        "service_area": world.id("gulou"),
        "channel": "sms",
    }
    assert event["id"] == "sms:SM" + "a" * 32
    assert "4821" in reply and "确认后发送地址" in reply
    with world.sessions() as s:
        (row,) = s.execute(select(tables.outbox).where(tables.outbox.c.topic == "caregiver.events.v1")).all()
    assert row.key == world.id("gulou")  # keyed by service area, as dispatch partitions


def test_a_decline_with_the_code_names_that_offer(world):
    _reply(world.post("/twilio/sms", _sms(world, "拒 4821")))
    assert _caregiver_events(world)[0]["type"] == "caregiver.offer.declined"


def test_check_in_and_check_out_need_an_accepted_offer_with_that_code(world):
    refused = _reply(world.post("/twilio/sms", _sms(world, "到 4821", sid="SM" + "b" * 32)))
    assert "已失效" in refused and _caregiver_events(world) == []
    with world.sessions() as s:  # accepted: dispatch booked the visit
        (offer,) = s.execute(select(tables.offers)).all()
        s.execute(update(tables.offers).values(status="accepted"))
        s.execute(
            tables.visits.insert().values(
                visit_id=f"{offer.request_id}.v1",
                request_id=offer.request_id,
                caregiver_id=offer.caregiver_id,
                provider_id="p",
                elder_id=world.id("e"),
                service_type="meal",
                planned_start=offer.planned_start,
                planned_end=offer.planned_end,
                status="scheduled",
                lateness_minutes=0,
                travel_minutes=10,
            )
        )
        s.commit()
    _reply(world.post("/twilio/sms", _sms(world, "到 4821", sid="SM" + "c" * 32)))
    with world.sessions() as s:  # dispatch handled the check-in
        s.execute(update(tables.visits).values(status="in-progress", check_in_at=offer.planned_start))
        s.commit()
    _reply(world.post("/twilio/sms", _sms(world, "DONE 4821", sid="SM" + "d" * 32)))
    assert [e["type"] for e in _caregiver_events(world)] == [
        "caregiver.visit.checked_in",
        "caregiver.visit.checked_out",
    ]


def test_an_unknown_code_gets_the_list_of_open_codes(world):
    reply = _reply(world.post("/twilio/sms", _sms(world, "1 9999")))
    assert "未找到单9999" in reply and "4821" in reply and _caregiver_events(world) == []


def test_anything_else_gets_the_help_text(world):
    assert "回1接单" in _reply(world.post("/twilio/sms", _sms(world, "明天可以吗")))


def test_stop_opts_the_number_out_and_the_notifier_then_skips_it(world):
    assert "退订" in _reply(world.post("/twilio/sms", _sms(world, "退订")))
    with world.sessions() as s:
        assert channels.is_opted_out(s, world.caregiver_phone)


def test_the_same_sms_delivered_five_times_at_once_gives_one_event_and_one_reply(any_db_world):
    world = any_db_world
    form = _sms(world, "Y", sid="SM" + "e" * 32)
    with ThreadPoolExecutor(max_workers=5) as pool:
        replies = list(pool.map(lambda _: _reply(world.post("/twilio/sms", form)), range(5)))
    assert len(_caregiver_events(world)) == 1
    assert len([r for r in replies if r]) == 1


def test_an_elder_texting_sos_raises_an_emergency_request(world):
    reply = _reply(world.post("/twilio/sms", _sms(world, "sos", sender=world.elder_phone)))
    (record,) = world.outbox("care.intake.v1")
    assert record["priority"] == "stat" and record["channel"] == "sms" and record["elder_id"] == world.id("e")
    assert record["request_id"] in reply
    assert any(e["type"] == "care.operator.alert" for e in world.outbox("care.lifecycle.v1"))


def test_status_callbacks_out_of_order_never_rewind_a_final_state(world):
    sid = "SM" + "f" * 32
    for status in ("queued", "delivered", "sent", "sending"):
        response = world.post(
            "/twilio/status", {"MessageSid": sid, "MessageStatus": status, "To": world.elder_phone}, {"kind": "sms"}
        )
        assert response.status_code == 204
    with world.sessions() as s:
        assert channels.message_status(s, sid).status == "delivered"


def test_error_21610_marks_the_number_opted_out(world):
    world.post(
        "/twilio/status",
        {"MessageSid": "SM" + "9" * 32, "MessageStatus": "failed", "ErrorCode": "21610", "To": world.caregiver_phone},
    )
    with world.sessions() as s:
        assert channels.is_opted_out(s, world.caregiver_phone)
        assert channels.message_status(s, "SM" + "9" * 32).error_code == "21610"


@pytest.fixture
def device(world):
    with world.sessions() as s:
        token = alarms.register_device(s, world.id("btn"), world.id("e"), NOW)
        s.commit()
    return token


def test_a_button_press_creates_one_stat_request_and_alerts_the_operator(world, device):
    response = world.client.post(
        f"/alarms/{world.id('btn')}", json={"alarm_id": "press-1"}, headers={"Authorization": f"Bearer {device}"}
    )
    assert response.status_code == 202 and response.json()["priority"] == "stat"
    (record,) = world.outbox("care.intake.v1")
    assert record["channel"] == "button" and record["priority"] == "stat" and record["service_type"] == "emergency"
    assert record["request_id"] == response.json()["request_id"]
    assert [
        e["data"]["request_id"] for e in world.outbox("care.lifecycle.v1") if e["type"] == "care.operator.alert"
    ] == [record["request_id"]]
    again = world.client.post(
        f"/alarms/{world.id('btn')}", json={"alarm_id": "press-1"}, headers={"Authorization": f"Bearer {device}"}
    )
    assert again.json()["duplicate"] is True and len(world.outbox("care.intake.v1")) == 1


def test_a_button_with_a_wrong_token_is_refused(world, device):
    for auth in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {device}"}):
        assert world.client.post(f"/alarms/{world.id('btn')}", headers=auth).status_code == 401
    assert world.client.post("/alarms/no-such-device", headers={"Authorization": f"Bearer {device}"}).status_code == 401
    assert world.outbox("care.intake.v1") == []


def test_presses_within_one_minute_without_an_id_count_as_one_alarm(world, device):
    for _ in range(3):
        world.client.post(f"/alarms/{world.id('btn')}", headers={"Authorization": f"Bearer {device}"})
    alerts = [e for e in world.outbox("care.lifecycle.v1") if e["type"] == "care.operator.alert"]
    assert len(world.outbox("care.intake.v1")) == 1 and len(alerts) == 1


def test_a_later_press_while_the_emergency_is_open_joins_it_and_alerts_again(world, device):
    first = world.client.post(f"/alarms/{world.id('btn')}", headers={"Authorization": f"Bearer {device}"}).json()
    world.ctx.clock = lambda: NOW + timedelta(minutes=2)
    later = world.client.post(f"/alarms/{world.id('btn')}", headers={"Authorization": f"Bearer {device}"}).json()
    assert (later["request_id"], later["joined"]) == (first["request_id"], True)
    alerts = [e for e in world.outbox("care.lifecycle.v1") if e["type"] == "care.operator.alert"]
    assert len(world.outbox("care.intake.v1")) == 1 and len(alerts) == 2


def test_an_sos_text_while_the_buttons_emergency_is_open_joins_it(world, device):
    pressed = world.client.post(f"/alarms/{world.id('btn')}", headers={"Authorization": f"Bearer {device}"}).json()
    reply = _reply(world.post("/twilio/sms", _sms(world, "sos", sender=world.elder_phone)))
    assert pressed["request_id"] in reply and len(world.outbox("care.intake.v1")) == 1


@pytest.mark.parametrize("body", ["好", "ＯＫ", "“1”", " 接 ", "yes"])
def test_a_caregiver_with_one_pending_offer_accepts_it_in_her_own_words(world, body):
    _reply(world.post("/twilio/sms", _sms(world, body)))
    (event,) = _caregiver_events(world)
    assert event["type"] == "caregiver.offer.accepted" and event["data"]["offer_id"] == f"{world.id('r1')}.o1"


def test_an_sms_complaint_opens_a_follow_up_with_a_deadline_that_stays_until_closed(any_db_world):
    world = any_db_world
    reply = _reply(world.post("/twilio/sms", _sms(world, "投诉 护理员态度不好", sender=world.elder_phone)))
    assert reply and "投诉" in reply
    with world.sessions() as s:
        (complaint,) = s.execute(select(tables.feedback).where(tables.feedback.c.request_id == world.id("r1"))).all()
    assert (complaint.kind, complaint.channel, complaint.comment) == ("complaint", "sms", "护理员态度不好")
    assert complaint.followup_due_at is not None and complaint.followup_closed_at is None
    with world.sessions() as s:
        from db.loose_ends import open_followups

        assert [f.feedback_id for f in open_followups(s, None)] == [complaint.feedback_id]


def test_a_check_in_texted_from_a_phone_that_is_no_caregivers_changes_nothing_and_is_a_loose_end(any_db_world):
    world = any_db_world
    reply = _reply(world.post("/twilio/sms", _sms(world, "到 4821", sender=world.elder_phone)))
    assert reply and _caregiver_events(world) == []
    with world.sessions() as s:
        (loose,) = s.execute(select(tables.loose_ends).where(tables.loose_ends.c.kind == "unknown_sms")).all()
    assert loose.phone == world.elder_phone and loose.subject == "4821" and loose.closed_at is None
