"""Intake through the real broker and database: validation, dead letters, idempotency."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from sqlalchemy import select

from config import topics
from db import tables
from db.register import clear_clock, load_day
from db.uow import SqlUnitOfWork
from handlers.datasets.day import build_day
from handlers.datasets.uhhc import parse_instance
from handlers.model import RequestStatus

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def day(pipeline, shared_data):
    clear_clock(pipeline.sessions)
    instance = parse_instance(json.loads((shared_data / "uhhc/instances/bazirha-E2.json").read_text()), "E2")
    start = datetime.now(UTC) + timedelta(minutes=5)
    d = build_day(instance, start, 60, f"it-{uuid.uuid4().hex[:6]}")
    load_day(pipeline.sessions, d, instance)
    return d


@pytest.fixture
def producer(pipeline):
    p = KafkaProducer(bootstrap_servers=pipeline.bootstrap, acks="all")
    yield p
    p.close()


def send(producer, key: str, value) -> None:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    producer.send(topics.INTAKE.name, key=key.encode(), value=raw).get(timeout=30)


def dead_letters(pipeline, topic, until, timeout=60.0):
    consumer = KafkaConsumer(
        bootstrap_servers=pipeline.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    found, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                found += [json.loads(r.value) for r in batch]
            hit = [f for f in found if until(f)]
            if hit:
                return hit
    finally:
        consumer.close()
    raise AssertionError(f"no dead letter matched on {topic} within {timeout} s")


def wait_for(pipeline, request_id, predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with SqlUnitOfWork(pipeline.sessions) as uow:
            request = uow.requests.get(request_id)
            offers = uow.offers.for_request(request_id)
            if request is not None and predicate(request, offers):
                return request, offers
        assert pipeline.worker.poll() is None, f"worker died, see {pipeline.worker_log}"
        time.sleep(0.2)
    raise AssertionError(f"{request_id} did not get there within {timeout} s; worker log {pipeline.worker_log}")


def record_of(day, n=0, **changes):
    rec = dict(day.submissions[n].record, **changes)
    rec["submitted_at"] = datetime.now(UTC).isoformat()
    return rec


def test_a_valid_record_becomes_a_received_request_offered_to_a_caregiver(pipeline, day, producer):
    rec = record_of(day, 0)
    send(producer, rec["intake_id"], rec)
    request, offers = wait_for(pipeline, rec["request_id"], lambda r, o: len(o) == 1)
    assert request.status == RequestStatus.RECEIVED and request.service_area == day.area
    assert offers[0].caregiver_id.startswith(day.area.removesuffix(".area"))


def test_the_same_record_delivered_three_times_makes_one_request_and_one_offer(pipeline, day, producer):
    rec = record_of(day, 2)
    for _ in range(3):
        send(producer, rec["intake_id"], rec)
    wait_for(pipeline, rec["request_id"], lambda r, o: len(o) == 1)
    time.sleep(2)
    with pipeline.sessions() as session:
        n = session.execute(
            select(tables.offers.c.offer_id).where(tables.offers.c.request_id == rec["request_id"])
        ).all()
    assert len(n) == 1


def test_an_invalid_record_goes_to_the_dead_letter_topic_naming_the_field(pipeline, day, producer):
    rec = record_of(day, 1, intake_id=f"bad-{uuid.uuid4().hex[:6]}", duration_minutes=-5)
    send(producer, rec["intake_id"], rec)
    [letter] = dead_letters(pipeline, topics.INTAKE_DLQ.name, lambda f: rec["intake_id"] in json.dumps(f))
    assert letter["field"] == "duration_minutes" and "greater than 0" in letter["reason"]
    with SqlUnitOfWork(pipeline.sessions) as uow:
        assert uow.requests.get(rec["intake_id"]) is None


def test_a_record_that_is_not_json_is_dead_lettered_not_dropped(pipeline, producer):
    marker = f"garbage-{uuid.uuid4().hex[:6]}"
    send(producer, marker, f"{{not json {marker}".encode())
    [letter] = dead_letters(pipeline, topics.INTAKE_DLQ.name, lambda f: marker in str(f.get("record")))
    assert letter["reason"].startswith("not JSON")


def test_an_unknown_elder_is_dead_lettered_with_the_reason(pipeline, day, producer):
    rec = record_of(day, 3, intake_id=f"nobody-{uuid.uuid4().hex[:6]}", elder_id="no-such-elder")
    rec.pop("request_id")
    send(producer, rec["intake_id"], rec)
    [letter] = dead_letters(pipeline, topics.INTAKE_DLQ.name, lambda f: rec["intake_id"] in json.dumps(f))
    assert letter["field"] == "elder_id" and "no registered elder" in letter["reason"]
