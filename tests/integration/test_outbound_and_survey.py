"""The notices agent's step (``channels.notices.tell``: offer SMS, address on acceptance,
withdrawal, every send recorded with its status) and the satisfaction callback: planned
on completion, called when due, rated by keypad or SMS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
from sqlalchemy import select, update

from channels import surveys as survey_calls
from channels.notices import tell, tell_many
from channels.notify import build_notifier
from db import channels, surveys, tables
from handlers.channels.sms import count_segments
from tests.integration.twilio_world import sqlite_world


@pytest.fixture
def world(tmp_path):
    return sqlite_world(tmp_path)


def _offer_event(world, etype: str, event_id: str = "ev-1") -> dict:
    return {
        "specversion": "1.0",
        "id": f"{event_id}-{world.suffix}",
        "type": etype,
        "subject": world.id("r1"),
        "time": "2026-12-01T01:30:00+00:00",
        "data": {
            "request_id": world.id("r1"),
            "offer_id": f"{world.id('r1')}.o1",
            "caregiver_id": world.id("cg"),
            "service_area": world.id("gulou"),
        },
    }


def _to(world, phone: str) -> list[str]:
    return [body for kind, to, body, _ in world.notifier.sent if kind == "sms" and to == phone]


def test_a_new_offer_is_texted_to_the_caregiver_in_one_segment_without_the_address(world):
    (row,) = tell(world.ctx, _offer_event(world, "dispatch.offer.created"))
    (kind, to, body, callback) = world.notifier.sent[0]
    assert (kind, to) == ("sms", world.caregiver_phone) and row.kind == "offer"
    assert "送餐" in body and "青岛路社区" in body and "4821" in body and "青岛路12号" not in body
    assert count_segments(body).segments == 1
    assert callback.startswith("https://careline.example.org/twilio/status?kind=sms&purpose=offer")
    with world.sessions() as s:
        (stored,) = s.execute(select(tables.notices)).all()
        assert stored.status == "sent" and stored.sid.startswith("SM") and stored.segments == 1
        assert channels.message_status(s, stored.sid).purpose == "offer"


def test_the_same_offer_event_twice_sends_one_sms(world):
    event = _offer_event(world, "dispatch.offer.created")
    tell(world.ctx, event)
    assert tell(world.ctx, event) == []
    assert len(world.notifier.sent) == 1


def test_an_accepted_offer_sends_the_full_address_and_tells_the_elder_the_window(world):
    tell(world.ctx, _offer_event(world, "dispatch.offer.accepted"))
    caregiver = " ".join(_to(world, world.caregiver_phone))
    assert "青岛路12号3单元401" in caregiver and "到4821" in caregiver and "完4821" in caregiver
    (elder,) = _to(world, world.elder_phone)
    assert "已安排" in elder and count_segments(elder).segments == 1


def test_a_rescinded_offer_sends_a_short_notice(world):
    tell(world.ctx, _offer_event(world, "dispatch.offer.rescinded"))
    (body,) = _to(world, world.caregiver_phone)
    assert "已取消" in body and count_segments(body).segments == 1


def test_records_the_agent_cannot_use_send_nothing(world):
    assert tell(world.ctx, {"type": "dispatch.offer.created", "id": "x", "data": "oops"}) == []
    assert tell(world.ctx, {"type": "dispatch.decided", "id": "y", "data": {}}) == []
    with world.sessions() as s:
        s.execute(update(tables.caregivers).values(phone=None))
        s.commit()
    assert tell(world.ctx, _offer_event(world, "dispatch.offer.created")) == []
    assert world.notifier.sent == []


def test_a_batch_of_events_sends_what_each_event_alone_would_and_a_bad_one_stores_nothing(world):
    """The notices agent tells a batch of records in one transaction (``tell_many``): the same
    messages as one event at a time, once each, and nothing twice when the batch comes again. An
    event without a time fails the whole batch before anything is stored or sent (the agent then
    tells its records one by one)."""
    events = [
        _offer_event(world, "dispatch.offer.created", "ev-1"),
        {"type": "dispatch.decided", "id": "ev-2", "data": {}},  # tells nobody
        _offer_event(world, "dispatch.offer.accepted", "ev-3"),
        _offer_event(world, "dispatch.offer.rescinded", "ev-4"),
    ]
    rows = tell_many(world.ctx, events)
    assert [r.kind for r in rows if r.recipient_role == "caregiver"] == ["offer", "confirmed", "withdrawn"]
    caregiver = _to(world, world.caregiver_phone)
    assert "4821" in caregiver[0] and "青岛路12号3单元401" in " ".join(caregiver[1:-1]) and "已取消" in caregiver[-1]
    (elder,) = _to(world, world.elder_phone)
    assert "已安排" in elder
    sent = len(world.notifier.sent)
    assert tell_many(world.ctx, events) == [] and len(world.notifier.sent) == sent

    bad = dict(_offer_event(world, "dispatch.offer.created", "ev-5"), time="not a time")
    with pytest.raises(ValueError):
        tell_many(world.ctx, [_offer_event(world, "dispatch.offer.rescinded", "ev-6"), bad])
    assert len(world.notifier.sent) == sent
    with world.sessions() as s:
        assert not s.execute(select(tables.notices).where(tables.notices.c.event_id.like("ev-6%"))).all()
    assert [r.kind for r in tell(world.ctx, _offer_event(world, "dispatch.offer.rescinded", "ev-6"))] == ["withdrawn"]


def test_a_batch_whose_first_outcome_cannot_be_recorded_still_sends_the_rest_once(world, monkeypatch):
    """Notices are stored before they are sent (at most once). When recording one send's outcome
    fails (the database went away), the batch's other notices are still sent, and the call raises
    so the agent tells the records again: nothing is sent twice."""
    import channels.notices as channel_notices

    real, failed = channel_notices._finish, []

    def finish_once_broken(ctx, row, *args, **kwargs):
        if not failed:
            failed.append(row.notice_id)
            raise OSError("database went away")
        return real(ctx, row, *args, **kwargs)

    monkeypatch.setattr(channel_notices, "_finish", finish_once_broken)
    events = [
        _offer_event(world, "dispatch.offer.created", "ev-7"),
        _offer_event(world, "dispatch.offer.accepted", "ev-8"),
    ]
    with pytest.raises(OSError):
        tell_many(world.ctx, events)
    sent = len(world.notifier.sent)
    assert failed and sent >= 3  # the offer, the caregiver's confirmation and the elder's: all sent
    assert tell_many(world.ctx, events) == [] and len(world.notifier.sent) == sent


def test_a_caregiver_and_an_elder_with_the_app_are_told_in_the_app_and_a_revoked_token_counts_for_nothing(world):
    """The register reads each person's app tokens with the person (``db.notices``): a live token
    puts the notice in the app, a revoked one does not."""
    now = datetime.now(UTC)
    with world.sessions() as s:
        s.execute(
            tables.app_tokens.insert(),
            [
                {
                    "token_hash": "a" * 64,
                    "subject_kind": "caregiver",
                    "subject_id": world.id("cg"),
                    "created_at": now,
                    "revoked_at": None,
                },
                {
                    "token_hash": "b" * 64,
                    "subject_kind": "elder",
                    "subject_id": world.id("e"),
                    "created_at": now,
                    "revoked_at": now,
                },
            ],
        )
        s.commit()
    rows = tell(world.ctx, _offer_event(world, "dispatch.offer.accepted"))
    channels_of = {(r.recipient_role, r.channel) for r in rows}
    assert ("caregiver", "app") in channels_of
    assert ("elder", "app") not in channels_of and ("elder", "sms") in channels_of


def test_a_send_that_fails_is_recorded_failed_with_its_error(world):
    from channels.notify import NotifyError

    def refuse(to, body, callback=None):
        raise NotifyError("21211 invalid 'To' number")

    world.notifier.send_sms = refuse
    tell(world.ctx, _offer_event(world, "dispatch.offer.created"))
    with world.sessions() as s:
        (stored,) = s.execute(select(tables.notices)).all()
    assert stored.status == "failed" and "21211" in stored.error


def test_without_credentials_the_console_notifier_is_used_and_opt_outs_are_honoured(world):
    notifier = build_notifier(world.ctx.settings)
    with world.sessions() as s:
        channels.record_opt_out(s, world.caregiver_phone, "keyword")
        s.commit()
    assert notifier.send_sms(world.caregiver_phone, "hi") is None
    assert notifier.send_sms(world.elder_phone, "hi").startswith("SM")


def _complete(world, minutes_ago: float) -> dict:
    done = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    with world.sessions() as s:
        s.execute(
            tables.visits.insert().values(
                visit_id=world.id("v1"),
                request_id=world.id("r1"),
                caregiver_id=world.id("cg"),
                provider_id=world.id("p"),
                elder_id=world.id("e"),
                service_type="meal",
                location_index=1,
                planned_start=done - timedelta(hours=1),
                planned_end=done,
                status="completed",
                check_in_at=done - timedelta(hours=1),
                check_out_at=done,
                lateness_minutes=0,
                travel_minutes=5,
            )
        )
        s.commit()
    return {
        "id": "c1",
        "type": "care.visit.completed",
        "time": done.isoformat(),
        "data": {"request_id": world.id("r1"), "service_type": "meal", "check_out_at": done.isoformat()},
    }


def test_a_completed_visit_plans_one_call_after_the_configured_delay(world):
    event = _complete(world, minutes_ago=10)
    due = survey_calls.plan_rating_call(world.ctx, event)
    assert due == datetime.fromisoformat(event["data"]["check_out_at"]) + timedelta(minutes=30)
    assert survey_calls.plan_rating_call(world.ctx, event) is None  # planned once
    assert survey_calls.place_due_rating_calls(world.ctx) == 0  # not due yet


def _placed_call(world) -> str:
    survey_calls.plan_rating_call(world.ctx, _complete(world, minutes_ago=45))
    assert survey_calls.place_due_rating_calls(world.ctx) == 1
    assert survey_calls.place_due_rating_calls(world.ctx) == 0
    (kind, to, url, _) = world.notifier.sent[0]
    assert (kind, to) == ("call", world.elder_phone)
    return url


def test_the_elder_rates_the_visit_on_the_keypad(world):
    url = _placed_call(world)
    query = dict(p.split("=") for p in url.split("?")[1].split("&"))
    prompt = ElementTree.fromstring(world.post("/twilio/voice/rating", {"CallSid": "CA" + "7" * 32}, query).text)
    assert "送餐服务打分" in prompt.find("Gather/Say").text
    answer = {"CallSid": "CA" + "7" * 32, "Digits": "4"}
    world.post("/twilio/voice/rating", answer, {"lang": "zh", "request_id": world.id("r1"), "try": "0"})
    world.post(
        "/twilio/voice/rating", dict(answer, Digits="1"), {"lang": "zh", "request_id": world.id("r1"), "try": "0"}
    )
    with world.sessions() as s:
        rows = s.execute(select(tables.feedback).where(tables.feedback.c.request_id == world.id("r1"))).all()
    assert [(r.kind, r.rating) for r in rows] == [("rating", 4)]
    (event,) = world.outbox("care.feedback.v1")
    assert event["type"] == "care.feedback.rated" and event["data"]["rating"] == 4
    assert event["data"]["caregiver_id"] == world.id("cg")


@pytest.mark.parametrize("final_status", ["no-answer", "busy", "completed"])
def test_a_call_that_ends_without_a_rating_asks_once_by_sms(world, final_status):
    _placed_call(world)
    form = {"CallSid": "CA" + "8" * 32, "CallStatus": final_status, "To": world.elder_phone}
    query = {"kind": "call", "purpose": "rating", "request_id": world.id("r1")}
    for _ in range(2):
        world.post("/twilio/status", form, query)
    texts = [m for m in world.notifier.sent if m[0] == "sms"]
    assert len(texts) == 1 and "回复1到5" in texts[0][2]
    reply = world.post("/twilio/sms", {"MessageSid": "SM" + "5" * 32, "From": world.elder_phone, "Body": "５"})
    assert "谢谢" in ElementTree.fromstring(reply.text).find("Message").text
    with world.sessions() as s:
        assert surveys.get(s, world.id("r1")).rating == 5
