"""Hostile and malformed input on the app API and the one-key alarm endpoint, sent with
valid tokens so it reaches the parsers: mangled JSON bodies (fields missing, extra,
of any type), SQL and markup in free text, bad path ids and keys, invalid UTF-8,
deep nesting, wrong content types, oversized bodies. Every answer is the success it
asked for or a 4xx naming the field; never a 500. The app API on SQLite; the alarm
endpoint on SQLite and PostgreSQL (which refuses NUL and over-long text)."""

from __future__ import annotations

import copy
import json
import uuid
from urllib.parse import quote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import select

from db import alarms, tables
from tests.hostile_support import NASTY, SQL, hostile_text, json_values
from tests.integration.app_world import build_app_world, seed_visit, teardown_worker_caches
from tests.integration.twilio_world import NOW, build_world, own_postgres_database

pytestmark = pytest.mark.hostile

LIMIT = 64 * 1024
#: every hostile case must reach the parsers, not a rate limit (tested in test_app_api_limits.py)
UNLIMITED = {
    "app_rate_limit": "100000/minute",
    "app_intake_rate_limit": "100000/minute",
    "alarm_rate_limit": "100000/minute",
}
MEAL = {
    "service_type": "meal",
    "duration_minutes": 30,
    "priority": "routine",
    "notes": "ring twice",
    "window": {"start": "2026-12-01T09:00:00+08:00", "end": "2026-12-01T11:00:00+08:00"},
}
REQUEST_FIELDS = {"service_type", "duration_minutes", "priority", "notes", "window", "window.start", "window.end"}
#: header values as HTTP carries them: Latin-1 bytes without line breaks
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=130
).map(lambda t: t.encode("latin-1"))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    world = build_app_world(tmp_path_factory.mktemp("hostile-app"), mp, **UNLIMITED)
    seed_visit(world, "R-1")
    seed_visit(world, "R-done", visit_status="completed", request_status="completed")
    yield world
    teardown_worker_caches()
    mp.undo()


def refused_naming_a_field(response, fields: set[str]) -> None:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail and all(e["field"] and e["message"] for e in detail), detail
    assert {e["field"].split(".")[0] for e in detail} <= {f.split(".")[0] for f in fields}, detail


def post_json(client, path: str, body: object, headers: dict):
    """POST ``body`` as JSON, NaN and infinities included (as a careless client writes them)."""
    return client.post(
        path, content=json.dumps(body, allow_nan=True), headers={**headers, "Content-Type": "application/json"}
    )


def count(hostile_cases, parser: str, response) -> str:
    outcome = hostile_cases.http(parser, response.status_code)
    if outcome == "4xx":
        assert response.json()["detail"], response.text
    return outcome


@st.composite
def mangled_requests(draw) -> object:
    body = copy.deepcopy(MEAL)
    for _ in range(draw(st.integers(1, 3))):
        target = body if draw(st.booleans()) else body.get("window")
        if not isinstance(target, dict):
            continue
        key = draw(st.one_of(st.sampled_from(sorted(target) or ["notes"]), hostile_text(12)))
        action = draw(st.sampled_from(["drop", "replace", "text"]))
        if action == "drop":
            target.pop(key, None)
        elif action == "replace":
            target[key] = draw(json_values())
        else:
            target[key] = draw(hostile_text())
    return body if draw(st.integers(0, 9)) else draw(json_values())  # now and then not even an object


@given(body=mangled_requests())
@example(body=dict(MEAL, notes=SQL[0] + NASTY[6]))
@example(body=dict(MEAL, notes="\x00"))
@example(body=dict(MEAL, surprise=True))
@example(body=dict(MEAL, window={"start": "0001-01-01T00:00:00+14:00", "end": "2026-12-01T11:00:00+08:00"}))
def test_a_mangled_request_is_accepted_or_refused_naming_the_field(world, hostile_cases, body):
    response = post_json(world.client, "/api/v1/requests", body, world.auth("e-wang"))
    if count(hostile_cases, "app api requests", response) == "4xx":
        refused_naming_a_field(response, REQUEST_FIELDS | {"body"} | set(body if isinstance(body, dict) else ()))
    else:
        assert response.status_code == 202
        with world.sessions() as s:
            stored = s.execute(
                select(tables.app_submissions.c.notes).where(
                    tables.app_submissions.c.request_id == response.json()["request_id"]
                )
            ).scalar_one()
        if isinstance(body.get("notes"), str):  # SQL and markup are kept as the text they are
            assert stored in (body["notes"].strip(), body["notes"].strip() or None)


@given(key=header_text)
@example(key=b"'; DROP TABLE app_submissions; --")
@example(key=b"x" * 121)
def test_any_idempotency_key_is_used_or_refused_by_name(world, hostile_cases, key):
    response = world.client.post(
        "/api/v1/requests", json=MEAL, headers={**world.auth("e-zhao"), "Idempotency-Key": key}
    )
    if count(hostile_cases, "app api requests", response) == "4xx":
        refused_naming_a_field(response, {"Idempotency-Key"})


@given(
    request_id=hostile_text(130),
    verb=st.sampled_from(["get", "cancel", "rating", "accept", "decline", "check-in", "check-out"]),
)
@example(request_id="R-1' OR '1'='1", verb="get")
@example(request_id="\x00", verb="cancel")
@example(request_id="..%2F..%2Fadmin", verb="get")
def test_any_path_id_is_found_or_refused_never_a_500(world, hostile_cases, request_id, verb):
    rid = quote(request_id, safe="")
    who, method, path, body = {
        "get": ("e-wang", "get", f"/api/v1/requests/{rid}", None),
        "cancel": ("e-wang", "post", f"/api/v1/requests/{rid}/cancel", None),
        "rating": ("e-wang", "post", f"/api/v1/requests/{rid}/rating", {"stars": 5}),
        "accept": ("cg-li", "post", f"/api/v1/offers/{rid}/accept", None),
        "decline": ("cg-li", "post", f"/api/v1/offers/{rid}/decline", None),
        "check-in": ("cg-li", "post", f"/api/v1/visits/{rid}/check-in", {"latitude": 32.06, "longitude": 118.79}),
        "check-out": ("cg-li", "post", f"/api/v1/visits/{rid}/check-out", {"latitude": 32.06, "longitude": 118.79}),
    }[verb]
    response = world.client.request(method, path, json=body, headers=world.auth(who))
    count(hostile_cases, "app api paths", response)


@given(
    body=st.one_of(
        json_values(),
        st.fixed_dictionaries(
            {
                "latitude": st.one_of(st.floats(-90, 90), json_values()),
                "longitude": st.one_of(st.floats(-180, 180), json_values()),
            },
            optional={
                "accuracy_metres": json_values(),
                "tasks": st.one_of(
                    json_values(),
                    st.dictionaries(
                        hostile_text(20), st.one_of(st.sampled_from(["done", "refused"]), hostile_text(10)), max_size=3
                    ),
                ),
                "extra": json_values(),
            },
        ),
    ),
    action=st.sampled_from(["check-in", "check-out"]),
)
@example(body={"latitude": float("nan"), "longitude": 118.79}, action="check-in")
@example(body={"latitude": 32.06, "longitude": 118.79, "tasks": {"<script>": "done"}}, action="check-out")
def test_a_mangled_position_or_task_list_is_refused_by_field_or_reported(world, hostile_cases, body, action):
    response = post_json(world.client, f"/api/v1/visits/R-1/{action}", body, world.auth("cg-li"))
    if count(hostile_cases, "app api visits", response) == "4xx" and response.status_code == 422:
        refused_naming_a_field(
            response,
            {"latitude", "longitude", "accuracy_metres", "tasks", "body", "extra"}
            | set(body if isinstance(body, dict) else ()),
        )


@given(
    body=st.one_of(json_values(), st.fixed_dictionaries({"stars": json_values()}, optional={"comment": hostile_text()}))
)
@example(body={"stars": 5, "comment": "<img src=x onerror=alert(1)>"})
@example(body={"stars": True})
def test_a_mangled_rating_is_stored_or_refused_naming_the_field(world, hostile_cases, body):
    response = post_json(world.client, "/api/v1/requests/R-done/rating", body, world.auth("e-wang"))
    if count(hostile_cases, "app api ratings", response) == "4xx" and response.status_code == 422:
        refused_naming_a_field(response, {"stars", "comment", "body"} | set(body if isinstance(body, dict) else ()))


@given(authorization=st.one_of(header_text, header_text.map(lambda t: b"Bearer " + t)))
@example(authorization=b"Bearer ' OR 1=1 --")
@example(authorization=b"Bearer " + b"A" * 5000)
def test_any_authorization_header_is_a_401_not_a_500(world, hostile_cases, authorization):
    response = world.client.get("/api/v1/offers", headers={"Authorization": authorization})
    assert response.status_code == 401, response.text
    count(hostile_cases, "app api tokens", response)


RAW_BODIES = [
    b"\xff\xfe\xfd",
    b'{"service_type": "me\xe9l"}',
    b"[" * 50_000,
    b'{"a":' * 10_000,
    b"",
    b"null",
    b'{"service_type": "meal"',
    b"NaN",
    json.dumps(MEAL).encode() + b"\x00",
    b"\xef\xbb\xbf" + json.dumps(MEAL).encode(),
]


@given(
    raw=st.one_of(st.sampled_from(RAW_BODIES), st.binary(max_size=300)),
    content_type=st.sampled_from(
        [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json; charset=latin-1",
        ]
    ),
)
def test_bytes_that_are_not_a_request_are_a_422_naming_the_body(world, hostile_cases, raw, content_type):
    response = world.client.post(
        "/api/v1/requests", content=raw, headers={**world.auth("e-wang"), "Content-Type": content_type}
    )
    if count(hostile_cases, "app api bytes", response) == "4xx":
        refused_naming_a_field(response, REQUEST_FIELDS | {"body"})
    else:  # only the whole valid request (after a byte order mark, say) gets through
        assert json.loads(raw.decode("utf-8-sig")) == MEAL


@pytest.mark.parametrize("path", ["/api/v1/requests", "/api/v1/visits/R-1/check-in", "/alarms/any-device"])
def test_an_oversized_body_is_refused_with_413_naming_the_limit(world, hostile_cases, path):
    body = json.dumps(dict(MEAL, notes="救" * LIMIT)).encode()
    response = world.client.post(
        path, content=body, headers={**world.auth("e-wang"), "Content-Type": "application/json"}
    )
    assert response.status_code == 413 and str(LIMIT) in response.json()["detail"]
    count(hostile_cases, "app api bytes", response)
    chunked = world.client.post(
        path,
        content=iter([body[:40_000], body[40_000:]]),
        headers={**world.auth("e-wang"), "Content-Type": "application/json"},
    )
    assert chunked.status_code == 413  # no Content-Length: counted as it arrives
    count(hostile_cases, "app api bytes", chunked)


# --- one-key alarms ----------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def alarm_world(request, tmp_path_factory):
    def seeded(w):
        with w.sessions() as s:
            w.device_token = alarms.register_device(s, w.id("btn"), w.id("e"), NOW)
            s.commit()
        return w

    if request.param == "sqlite":
        yield seeded(build_world(f"sqlite:///{tmp_path_factory.mktemp('hostile-alarm') / 'alarms.db'}", **UNLIMITED))
        return
    with own_postgres_database(request.getfixturevalue("services").database_url) as url:
        yield seeded(build_world(url, **UNLIMITED))


@given(
    body=st.one_of(
        st.none(),
        json_values(),
        st.fixed_dictionaries({"alarm_id": json_values()}),
        st.fixed_dictionaries({"alarm_id": hostile_text(130)}, optional={"extra": json_values()}),
    ),
    key=st.one_of(st.none(), header_text),
    device=st.one_of(*[st.just("own")] * 3, hostile_text(130)),
)
@example(body={"alarm_id": "\x00"}, key=None, device="own")  # NUL reached PostgreSQL: a 500
@example(body=float("inf"), key=None, device="own")  # the 422 echoed the input, which JSON cannot hold: a 500
@example(body={"alarm_id": "a" * 120}, key=None, device="own")
@example(body=None, key=b"k" * 120, device="own")
@example(body=None, key=None, device="\x00")
def test_a_button_press_with_any_body_key_or_device_id_raises_the_alarm_or_is_refused(
    alarm_world, hostile_cases, body, key, device
):
    w = alarm_world
    device_id = w.id("btn") if device == "own" else device
    headers = {"Authorization": f"Bearer {w.device_token}", **({"Idempotency-Key": key} if key is not None else {})}
    if body is not None:
        headers["Content-Type"] = "application/json"
    response = w.client.post(
        f"/alarms/{quote(device_id, safe='')}",
        headers=headers,
        content=None if body is None else json.dumps(body, allow_nan=True),
    )
    if count(hostile_cases, "alarm button", response) == "accepted":
        assert response.status_code == 202 and response.json()["request_id"].startswith("AL")


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"[" * 50_000, b'{"alarm_id": ', b"\x00"])
def test_an_alarm_body_that_is_not_json_is_refused_with_a_reason(alarm_world, hostile_cases, raw):
    w = alarm_world
    response = w.client.post(
        f"/alarms/{w.id('btn')}",
        content=raw,
        headers={
            "Authorization": f"Bearer {w.device_token}",
            "Content-Type": "application/json",
            "Idempotency-Key": uuid.uuid4().hex,
        },
    )
    assert 400 <= response.status_code < 500, response.text
    count(hostile_cases, "alarm button", response)
