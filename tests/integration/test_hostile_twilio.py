"""Hostile and malformed input on the Twilio webhooks, correctly signed so it gets past
X-Twilio-Signature and reaches the parsers: SMS bodies in any script, bogus phone
numbers, missing and extra parameters, mangled query parameters of our own callback
URLs, invalid UTF-8, a JSON body, an oversized body. Every answer is TwiML (or 204
for a status callback) or a 4xx naming the problem; never a 500, and a fresh SMS
always gets a reply. SQLite, and PostgreSQL (which refuses NUL and over-long text)."""

from __future__ import annotations

import uuid
from urllib.parse import quote_plus, unquote_plus
from xml.etree import ElementTree

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from careline.web.twilio_security import sign
from channels.context import callback_url
from tests.hostile_support import NASTY, bogus_phone, hostile_text
from tests.integration.twilio_world import BASE, TOKEN, build_world, own_postgres_database

pytestmark = pytest.mark.hostile

TWIML = {"Say", "Gather", "Enqueue", "Hangup", "Message"}
LIMIT = 64 * 1024


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def world(request, tmp_path_factory):
    if request.param == "sqlite":
        yield build_world(f"sqlite:///{tmp_path_factory.mktemp('hostile-twilio') / 'channels.db'}")
        return
    with own_postgres_database(request.getfixturevalue("services").database_url) as url:
        yield build_world(url)


def sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def answer(hostile_cases, parser: str, response) -> str:
    """Check a webhook's answer and count it: TwiML or 204, else a 4xx with a reason."""
    outcome = hostile_cases.http(parser, response.status_code)
    if outcome == "4xx":
        assert response.json()["detail"], response.text
    elif response.status_code == 200:
        assert response.headers["content-type"].startswith("application/xml")
        root = ElementTree.fromstring(response.text)  # markup in the input never breaks the XML
        assert root.tag == "Response" and {e.tag for e in root} <= TWIML, response.text
    else:
        assert response.status_code == 204
    return outcome


def mangle(form: dict[str, str], drop: list[str], extra: dict[str, str]) -> dict[str, str]:
    return {**{k: v for k, v in form.items() if k not in drop}, **extra}


extras = st.dictionaries(
    st.one_of(
        st.sampled_from(
            ["Digits", "Body", "From", "To", "ErrorCode", "CallStatus", "AccountSid", "SmsSid", "NumMedia", "kind"]
        ),
        hostile_text(20),
    ),
    hostile_text(60),
    max_size=3,
)


# --- SMS ------------------------------------------------------------------------------------------


@given(body=hostile_text(), sender=st.sampled_from(["caregiver", "elder", "family", "bogus"]), bogus=bogus_phone())
@example(body="⓵", sender="elder", bogus="")  # an elder's "rating" that isdigit() but not int(): was a 500
@example(body="ＹＥＳ", sender="caregiver", bogus="")
@example(body="<script>alert(1)</script>", sender="bogus", bogus="+8613800138000")
def test_any_sms_text_from_anyone_gets_a_twiml_reply(world, hostile_cases, body, sender, bogus):
    phone = {
        "caregiver": world.caregiver_phone,
        "elder": world.elder_phone,
        "family": world.family_phone,
        "bogus": bogus,
    }[sender]
    response = world.post("/twilio/sms", {"MessageSid": sid("SM"), "From": phone, "To": "+8625000000", "Body": body})
    assert answer(hostile_cases, "twilio sms", response) == "accepted"
    reply = ElementTree.fromstring(response.text).find("Message")
    assert reply is not None and reply.text  # a fresh message is never answered with silence


@given(
    drop=st.lists(st.sampled_from(["MessageSid", "From", "Body", "To"]), max_size=3),
    extra=extras,
    message_sid=st.one_of(st.builds(lambda: sid("SM")), hostile_text(70)),
)
def test_an_sms_webhook_with_missing_extra_or_malformed_parameters_is_twiml_or_a_named_400(
    world, hostile_cases, drop, extra, message_sid
):
    form = mangle({"MessageSid": message_sid, "From": world.caregiver_phone, "Body": "1"}, drop, extra)
    response = world.post("/twilio/sms", form)
    if answer(hostile_cases, "twilio sms", response) == "4xx":
        assert response.status_code == 400 and "parameter" in response.json()["detail"]


# --- voice -------------------------------------------------------------------------------------------

STAGES = {
    "/twilio/voice/menu": ("lang", "try", "first"),
    "/twilio/voice/time": ("lang", "service", "try"),
    "/twilio/voice/rating": ("lang", "request_id", "try"),
}


@given(
    path=st.sampled_from(["/twilio/voice", *STAGES]),
    digits=st.one_of(hostile_text(12), st.sampled_from(["1", "2", "3", "9", "0", "#", "*", "１", "٣", "12345", ""])),
    caller=bogus_phone(),
    query=st.dictionaries(
        st.sampled_from(["lang", "try", "first", "service", "request_id"]),
        st.one_of(hostile_text(30), st.sampled_from(["zh", "en", "0", "2", "meal", "-1", "99999"])),
        max_size=4,
    ),
    drop=st.lists(st.sampled_from(["CallSid", "From", "Digits"]), max_size=2),
    extra=extras,
)
@example(path="/twilio/voice/menu", digits="5", caller="", query={"try": "abc"}, drop=[], extra={})  # was int("abc")
@example(path="/twilio/voice/menu", digits="1", caller="", query={"lang": "x" * 40}, drop=[], extra={})
def test_a_call_with_any_keys_caller_or_mangled_callback_url_hears_twiml_or_gets_a_named_400(
    world, hostile_cases, path, digits, caller, query, drop, extra
):
    form = mangle({"CallSid": sid("CA"), "From": caller or world.elder_phone, "Digits": digits}, drop, extra)
    response = world.post(path, form, {k: v for k, v in query.items() if k in STAGES.get(path, ())})
    answer(hostile_cases, "twilio voice", response)


# --- status callbacks ---------------------------------------------------------------------------


@given(
    kind=st.sampled_from(["sms", "call"]),
    status=st.one_of(
        st.sampled_from(
            ["queued", "sent", "delivered", "failed", "undelivered", "completed", "busy", "no-answer", "DELIVERED"]
        ),
        hostile_text(30),
    ),
    error=st.one_of(st.just(""), st.sampled_from(["21610", "30003"]), hostile_text(15)),
    to=bogus_phone(),
    query=st.dictionaries(
        st.sampled_from(["kind", "purpose", "request_id"]),
        st.one_of(hostile_text(40), st.sampled_from(["sms", "call", "rating", "offer", "R-1"])),
        max_size=3,
    ),
    extra=extras,
)
def test_a_status_callback_with_any_status_code_or_number_is_stored_or_refused_by_name(
    world, hostile_cases, kind, status, error, to, query, extra
):
    key = "MessageSid" if kind == "sms" else "CallSid"
    form = {
        key: sid("SM" if kind == "sms" else "CA"),
        "MessageStatus" if kind == "sms" else "CallStatus": status,
        "ErrorCode": error,
        "To": to,
        **extra,
    }
    answer(hostile_cases, "twilio status", world.post("/twilio/status", form, query))


# --- bytes, content types, size ---------------------------------------------------------------


def post_raw(
    world,
    path: str,
    body: bytes,
    content_type: str = "application/x-www-form-urlencoded",
):
    """POST raw bytes, signed over the parameters the server will decode from them (starlette
    reads each byte as Latin-1, then percent-decodes as UTF-8 with replacement)."""
    params: dict[str, str] = {}
    if content_type.startswith("application/x-www-form-urlencoded"):
        for pair in body.split(b"&"):
            name, _, value = pair.partition(b"=")
            if name:
                params[unquote_plus(name.decode("latin-1"))] = unquote_plus(value.decode("latin-1"))
    signature = sign(callback_url(BASE, path), params, TOKEN)
    return world.client.post(
        path, content=body, headers={"X-Twilio-Signature": signature, "Content-Type": content_type}
    )


def form_bytes(**fields: str) -> bytes:
    return "&".join(f"{k}={quote_plus(v)}" for k, v in fields.items()).encode()


@given(junk=st.binary(max_size=200), path=st.sampled_from(["/twilio/sms", "/twilio/voice", "/twilio/status"]))
@example(junk=b"\xff\xfe\xc3(", path="/twilio/sms")
@example(junk=b"%FF%FE%C3%28", path="/twilio/sms")
def test_a_body_of_invalid_utf8_bytes_is_twiml_or_a_named_400(world, hostile_cases, junk, path):
    lead = form_bytes(MessageSid=sid("SM"), CallSid=sid("CA"), From=world.caregiver_phone)
    answer(hostile_cases, "twilio bytes", post_raw(world, path, lead + b"&Body=" + junk))


@pytest.mark.parametrize(
    "content_type,body",
    [
        ("application/json", b'{"MessageSid": "SM0123", "Body": "1"}'),
        ("text/plain", b"MessageSid=SM0123&Body=1"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="Body"\r\n\r\n1\r\n--x--\r\n',
        ),
        ("multipart/form-data", b"no boundary at all"),
        ("application/x-www-form-urlencoded", b"&&&==&=&"),
    ],
)
def test_a_webhook_in_the_wrong_content_type_gets_a_named_4xx(world, hostile_cases, content_type, body):
    response = post_raw(world, "/twilio/sms", body, content_type)
    assert answer(hostile_cases, "twilio bytes", response) == "4xx"


@pytest.mark.parametrize("path", ["/twilio/sms", "/twilio/voice"])
def test_a_multipart_webhook_with_a_file_part_is_refused_with_415_not_a_500(world, hostile_cases, path):
    response = world.client.post(
        path,
        data={"MessageSid": sid("SM"), "CallSid": sid("CA")},
        files={"Body": ("x.txt", b"1", "text/plain")},
        headers={"X-Twilio-Signature": "anything"},
    )
    assert response.status_code == 415 and "x-www-form-urlencoded" in response.json()["detail"]
    answer(hostile_cases, "twilio bytes", response)


@pytest.mark.parametrize("path", ["/twilio/sms", "/twilio/voice", "/twilio/status"])
def test_an_oversized_webhook_is_refused_with_413_before_it_is_parsed(world, hostile_cases, path):
    body = form_bytes(MessageSid=sid("SM"), CallSid=sid("CA"), Body="救命" * LIMIT)
    response = post_raw(world, path, body)
    assert response.status_code == 413 and str(LIMIT) in response.json()["detail"]
    answer(hostile_cases, "twilio bytes", response)


def test_markup_in_a_text_never_comes_back_in_the_reply(world, hostile_cases):
    for text in NASTY[:16]:
        response = world.post("/twilio/sms", {"MessageSid": sid("SM"), "From": world.caregiver_phone, "Body": text})
        answer(hostile_cases, "twilio sms", response)
        assert "<script" not in response.text and "onerror" not in response.text
