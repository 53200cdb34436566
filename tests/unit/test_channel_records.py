"""Records the channels write, delivery-status order and the callback URLs Twilio signs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from channels.context import callback_url
from handlers.channels.channel_events import caregiver_event, intake_record, rating_given
from handlers.channels.delivery import is_final, status_rank, unanswered
from handlers.channels.intake import validate_intake
from handlers.channels.sms import ReplyKind
from handlers.model import Elder, Priority

NOW = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)


def test_a_hotline_intake_record_passes_intake_validation():
    record = intake_record("HL7", "HL7", "hotline", "e1", "meal", 30, NOW, NOW + timedelta(hours=2), Priority.STAT, NOW)
    request = validate_intake(record, lambda eid: Elder(eid, "gulou"))
    assert (request.request_id, request.channel, request.priority) == ("HL7", "hotline", Priority.STAT)


def test_naive_times_never_reach_an_intake_record():
    with pytest.raises(ValueError):
        intake_record("x", "x", "sms", "e1", "meal", 30, NOW.replace(tzinfo=None), NOW, Priority.ROUTINE, NOW)


def test_a_caregiver_reply_becomes_the_event_dispatch_reads_keyed_by_area():
    event = caregiver_event(ReplyKind.CHECK_OUT, "r1", "cg1", "r1.o1", "gulou", NOW)
    assert event.type == "caregiver.visit.checked_out" and event.key == "gulou" and event.topic_role == "caregiver"
    assert {"request_id", "caregiver_id", "offer_id", "service_area"} <= set(event.payload)


def test_a_rating_outside_one_to_five_is_refused():
    with pytest.raises(ValueError):
        rating_given("r1", 6, "sms", NOW)


def test_final_delivery_states_outrank_every_earlier_one():
    for early in ("accepted", "queued", "sending", "sent"):
        assert status_rank("sms", early) < status_rank("sms", "delivered")
    assert status_rank("sms", "undelivered") == status_rank("sms", "failed") == status_rank("sms", "delivered")
    assert is_final("call", "completed") and is_final("call", "no-answer") and not is_final("call", "ringing")
    assert unanswered("busy") and not unanswered("completed")


def test_callback_urls_have_sorted_parameters_and_no_default_port():
    assert (
        callback_url("https://care.example.org:443/", "/twilio/status", request_id="R1", kind="sms")
        == "https://care.example.org/twilio/status?kind=sms&request_id=R1"
    )
    assert callback_url("http://127.0.0.1:8000", "/twilio/voice") == "http://127.0.0.1:8000/twilio/voice"
    assert callback_url("https://example.org/careline", "/twilio/sms") == "https://example.org/careline/twilio/sms"
