"""A hotline call and a caregiver's SMS reply through the real worker, broker and PostgreSQL:
call -> intake record on the outbox -> care.intake.v1 -> dispatch -> dispatch.offers.v1 ->
offer SMS -> caregiver replies 1 -> accepted -> address SMS -> SMS check-in and check-out ->
completed -> satisfaction call planned -> keypad rating lands in feedback."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import parse_qsl
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from db import tables
from db.register import clear_clock
from handlers.model import RequestStatus
from tests.integration.twilio_world import BASE, build_world

pytestmark = pytest.mark.e2e


def _wait_for(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(f"not reached within {timeout} s")


def _sms_sent(world, request_id: str, purpose: str = "offer") -> list:
    with world.sessions() as s:
        return s.execute(
            select(tables.message_status).where(
                tables.message_status.c.request_id == request_id, tables.message_status.c.purpose == purpose
            )
        ).all()


def _status(world, request_id: str):
    with world.sessions() as s:
        return s.execute(
            select(tables.care_requests.c.status).where(tables.care_requests.c.request_id == request_id)
        ).scalar()


def test_a_hotline_request_is_offered_by_sms_and_accepted_by_sms(pipeline):
    clear_clock(pipeline.sessions)
    world = build_world(pipeline.database_url, now=datetime.now(UTC), with_offer=False)
    call = {"CallSid": "CA" + world.suffix * 4, "From": world.elder_phone, "To": "+8625000000"}
    answer = world.post("/twilio/voice", call)
    for digit in ("2", "1", "1", "1"):  # a home service, meal, as soon as possible, confirmed
        action = ElementTree.fromstring(answer.text).find("Gather").get("action")
        path, _, query = action.removeprefix(BASE).partition("?")
        answer = world.post(path, dict(call, Digits=digit), dict(parse_qsl(query)))
    (record,) = world.outbox("care.intake.v1")
    request_id = record["request_id"]

    _wait_for(lambda: _sms_sent(world, request_id))  # the worker texted the offer
    reply = world.post(
        "/twilio/sms", {"MessageSid": "SM" + world.suffix * 4, "From": world.caregiver_phone, "Body": "1"}
    )
    assert "确认后发送地址" in reply.text

    _wait_for(lambda: _status(world, request_id) == RequestStatus.ACCEPTED)
    _wait_for(lambda: _sms_sent(world, request_id, "confirmed"))  # and sent the address

    # the caregiver arrives and leaves, texting the offer's short code
    with world.sessions() as s:
        code = s.execute(
            select(tables.offers.c.short_code).where(
                tables.offers.c.request_id == request_id, tables.offers.c.status == "accepted"
            )
        ).scalar_one()
    world.post(
        "/twilio/sms",
        {"MessageSid": "SM" + world.suffix * 3 + "a" * 8, "From": world.caregiver_phone, "Body": f"到 {code}"},
    )
    _wait_for(lambda: _status(world, request_id) == RequestStatus.IN_PROGRESS)
    world.post(
        "/twilio/sms",
        {"MessageSid": "SM" + world.suffix * 3 + "b" * 8, "From": world.caregiver_phone, "Body": f"完 {code}"},
    )
    _wait_for(lambda: _status(world, request_id) == RequestStatus.COMPLETED)

    # the worker plans the satisfaction call; when it connects the elder presses 5
    with world.sessions() as s:
        _wait_for(
            lambda: s.execute(
                select(tables.callback_surveys).where(tables.callback_surveys.c.request_id == request_id)
            ).first()
        )
    rating_call = {"CallSid": "CA" + world.suffix * 3 + "c" * 8, "Digits": "5"}
    world.post("/twilio/voice/rating", rating_call, {"lang": "zh", "request_id": request_id, "try": "0"})
    with world.sessions() as s:
        rows = s.execute(select(tables.feedback).where(tables.feedback.c.request_id == request_id)).all()
    assert [(r.kind, r.rating) for r in rows] == [("rating", 5)]
