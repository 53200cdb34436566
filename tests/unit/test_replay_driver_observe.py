"""What the replay driver counts from the topics it watches: its own run's records only. A full test
run shares the dead-letter topics with other producers, whose records need not even be JSON."""

from __future__ import annotations

import json

from config import topics
from handlers.datasets.uhhc import load_instance
from tools.replay.driver import ReplayDriver, ReplayOptions


def driver(shared_data) -> ReplayDriver:
    instance = load_instance((shared_data / "uhhc" / "instances" / "bazirha-E2.json").read_bytes(), name="bazirha-E2")
    return ReplayDriver("127.0.0.1:9", None, instance, ReplayOptions())  # no broker is touched here


def dead_letter(record: object) -> bytes:
    return json.dumps({"reason": "not JSON", "field": None, "topic": "care.intake.v1", "record": record}).encode()


def test_a_dead_letter_of_this_runs_request_is_counted_final(shared_data):
    d = driver(shared_data)
    rid = f"{d.run_id}.p1.s1"
    d._observe(topics.INTAKE_DLQ.name, dead_letter(json.dumps({"request_id": rid})))
    assert d.final == {rid: "dead-letter"} and len(d.dead) == 1


def test_another_producers_dead_letter_that_is_not_json_is_passed_over(shared_data):
    d = driver(shared_data)
    d._observe(topics.INTAKE_DLQ.name, dead_letter("{'request_id': 'x'}"))
    d._observe(topics.DISPATCH_DLQ.name, dead_letter("\x00\xff"))
    d._observe(topics.INTAKE_DLQ.name, dead_letter(json.dumps({"request_id": "someone-else.p1.s1"})))
    assert d.final == {} and d.dead == []
