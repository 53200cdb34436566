"""Hostile and malformed intake records through the stream worker's own intake step
(``streams.batches.intake_batch``, what the ``validate_intake_records`` agent runs, on a batch
of one): every record becomes a validated request on the outbox or a dead-letter record that
carries the reason and the original text and can be sent as JSON. The batch step turns any
exception into a dead letter (nothing is lost), so a dead letter whose reason is only an
exception's name and message (``streams.batches._failure``) counts as a crash here, as an
exception did when this test drove the one-record step. SQLite, and PostgreSQL, which refuses NUL."""

from __future__ import annotations

import copy
import json
import re
import uuid

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from config import topics
from config.settings import get_settings
from streams import batches, steps
from tests.hostile_support import RECORD, hostile_text, json_values, mangled_records
from tests.integration.twilio_world import build_world, own_postgres_database

pytestmark = pytest.mark.hostile


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def intake(request, tmp_path_factory):
    """A world with one elder and a meal caregiver, and the worker's caches reading its database.
    Yields a function that turns one raw record into what the worker would send on."""
    from streams import runtime

    def worker_on(url: str):
        world = build_world(url)
        mp = pytest.MonkeyPatch()
        mp.setenv("CARELINE_DATABASE_URL", url)
        get_settings.cache_clear()
        runtime.install(None)
        return world, mp

    def run(world, mp):
        record = dict(RECORD, elder_id=world.id("e"), sync=None)
        try:
            yield record
        finally:
            mp.undo()
            get_settings.cache_clear()
            runtime.install(None)

    if request.param == "sqlite":
        yield from run(*worker_on(f"sqlite:///{tmp_path_factory.mktemp('hostile-streams') / 'intake.db'}"))
        return
    with own_postgres_database(request.getfixturevalue("services").database_url) as url:
        yield from run(*worker_on(url))


#: the reason ``streams.batches`` gives a record whose step raised something other than a refusal
CRASH = re.compile(r"^[A-Z][A-Za-z]*(Error|Exception|Warning)\b")


def intake_step(raw: bytes | str | dict) -> tuple[str, dict]:
    """What ``streams.agents.validate_intake_records`` does with one record value."""
    outcome = batches.intake_batch([batches.Inbound(raw, topics.INTAKE.name, 0, 42)], lambda rows: None)
    if outcome.dead:
        [(rec, exc)] = outcome.dead
        assert not CRASH.match(exc.reason), f"the step crashed instead of refusing the record: {exc.reason}"
        letter = steps.dead_letter(rec.raw, exc, rec.topic, rec.offset)
        assert letter["reason"] and letter["topic"] == topics.INTAKE.name and letter["offset"] == 42
        json.dumps(letter)  # it can go on the dead-letter topic as it is
        return "dead-lettered", letter
    if outcome.rows:
        [row] = outcome.rows
        validated = row.value
        assert row.topic == topics.REQUESTS.name and row.key == validated["data"]["service_area"]
    else:  # this request id was accepted before: the record changes nothing
        assert outcome.duplicates == 1
        _area, validated = steps.validate_intake_record(steps.decode(raw, strict=True))
    assert validated["type"] == "care.request.validated"
    return "accepted", validated


def retarget(record: dict, base: dict) -> dict:
    """A mangled record aimed at the world's elder unless the elder id itself was mangled."""
    out = copy.deepcopy(record)
    if out.get("intake_id") == RECORD["intake_id"] and "request_id" not in out:
        out["intake_id"] = f"i-{uuid.uuid4().hex[:12]}"  # a request of its own, so that its outbox row is written
    if out.get("elder_id") == RECORD["elder_id"]:
        out["elder_id"] = base["elder_id"]
    if out.get("sync") == RECORD["sync"]:
        out["sync"] = None
    return out


@given(record=mangled_records())
@example(record=dict(RECORD, elder_id="\x00"))  # NUL reached PostgreSQL: an error no dead letter caught
@example(record=dict(RECORD, request_id="R" * 121))
@example(record=dict(RECORD, submitted_at="9999-12-31T23:59:59-14:00"))
@example(record=dict(RECORD, service_type="<script>alert(1)</script>"))
@example(record=dict(RECORD, service_type=["meal"]))  # unhashable: a TypeError in the service-type cache
@example(record=dict(RECORD, **{"'; DROP TABLE care_requests; --": float("inf")}))  # Infinity failed PostgreSQL's json
def test_a_mangled_intake_record_is_validated_or_dead_lettered_with_the_field(intake, hostile_cases, record):
    outcome, result = intake_step(json.dumps(retarget(record, intake), allow_nan=True).encode())
    hostile_cases.record("intake stream", outcome)
    if outcome == "dead-lettered":
        assert result["field"] is None or result["field"].split(".")[0] in RECORD.keys() | {
            "record",
            "request_id",
            "window_hard",
        }


RAW = [
    b"",
    b"\xff\xfe\xfd",
    b"[" * 100_000,
    b'{"a":' * 50_000,
    b"null",
    b"[]",
    b'"text"',
    b"NaN",
    b"1e999",
    b'{"intake_id": "i1"',
    json.dumps(RECORD).encode()[:-1],
    json.dumps(RECORD).encode().replace(b"hotline", b"ho\xfft"),
]


@given(
    raw=st.one_of(
        st.sampled_from(RAW),
        st.binary(max_size=300),
        json_values().map(lambda v: json.dumps(v, allow_nan=True).encode()),
        hostile_text().map(str.encode),
    )
)
def test_record_bytes_that_are_not_an_intake_record_are_dead_lettered_with_the_reason(intake, hostile_cases, raw):
    outcome, result = intake_step(raw)
    hostile_cases.record("intake stream", outcome)
    assert outcome == "dead-lettered" and result["record"] is not None


def test_the_worlds_own_record_is_validated(intake, hostile_cases):
    outcome, validated = intake_step(json.dumps(intake).encode())
    assert outcome == "accepted" and validated["data"]["elder_id"] == intake["elder_id"]
    hostile_cases.record("intake stream", outcome)
