"""Disruptions through the real worker, broker and PostgreSQL (issue 16): each one tells the
people it affects, on a channel they have, with every send stored with its delivery status
(Prism plays Twilio's REST API), and whatever stays unresolved stays on the operator's board.

- a visit cancelled after acceptance: the caregiver is told not to go, the elder that it is cancelled;
- a no-show (the check-in deadline fires, as the timer service fires it): the caregiver is told
  the visit was taken from her, the elder what happens next;
- a caregiver who can no longer start inside the window (the late check fires): an alert on
  the board, the elder hears the new expected time and the caregiver that the plan changed;
- a request nobody can take: the elder hears the center will call; the board counts it waiting
  and as an SLA breach until an operator records how the elder was served;
- an emergency: the family is told at once; it stays on the red card until an outcome is recorded
  with a code and a note, and then the elder and family are told how it ended."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl
from xml.etree import ElementTree

import pytest
from sqlalchemy import select, update

from careline.web.board import build_board
from db import tables
from db.operator_uow import OperatorSqlUnitOfWork
from db.register import clear_clock, set_clock
from handlers.clock import SimClock
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.model import RequestStatus
from handlers.operations import operator_actions, outcomes
from handlers.operations.access import Role
from tests.integration.twilio_world import BASE, build_world

pytestmark = pytest.mark.e2e


def _wait_for(check, timeout: float = 90.0, world=None, request_id: str | None = None):
    """``check()`` once it is truthy; after ``timeout`` s an AssertionError that says, for
    ``request_id``, how far the request came (``db.runs.request_traces``) and every notice
    stored for it (kind, recipient role, status), so a failure in CI names where it stopped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.3)
    detail = ""
    if world is not None and request_id is not None:
        from db import runs

        with world.sessions() as s:
            trace = runs.request_traces(s, [request_id])[request_id]
            n = tables.notices.c
            told = s.execute(
                select(n.kind, n.recipient_role, n.status, n.error).where(n.request_id == request_id)
            ).all()
        detail = f"; {request_id}: {trace}; notices: {[tuple(row) for row in told]}"
    raise AssertionError(f"not reached within {timeout} s{detail}")


def _call(world, digits: tuple[str, ...]) -> str:
    """A hotline call answering each prompt with the next key; the request id it made."""
    call = {"CallSid": "CA" + world.suffix * 4, "From": world.elder_phone, "To": "+8625000000"}
    answer = world.post("/twilio/voice", call)
    for digit in digits:
        action = ElementTree.fromstring(answer.text).find("Gather").get("action")
        path, _, query = action.removeprefix(BASE).partition("?")
        answer = world.post(path, dict(call, Digits=digit), dict(parse_qsl(query)))
    (record,) = world.outbox("care.intake.v1")
    return record["request_id"]


def _notices(world, request_id: str, kind: str) -> list:
    with world.sessions() as s:
        n = tables.notices.c
        return s.execute(select(tables.notices).where(n.request_id == request_id, n.kind == kind)).all()


def _sent(world, request_id: str, kind: str) -> list:
    """The notices of ``kind`` once every one of them has been sent (status recorded)."""
    rows = _notices(world, request_id, kind)
    return rows if rows and all(r.status in ("sent", "queued") for r in rows) else []


def _status(world, request_id: str):
    with world.sessions() as s:
        return s.execute(
            select(tables.care_requests.c.status).where(tables.care_requests.c.request_id == request_id)
        ).scalar()


def _board(world) -> dict:
    with world.sessions() as s:
        return build_board(s, world.ctx.settings, DispatchPolicy(), Role.OPERATOR, "")


def test_a_visit_cancelled_after_acceptance_tells_the_caregiver_not_to_go_and_the_elder(pipeline):
    clear_clock(pipeline.sessions)
    world = build_world(pipeline.database_url, now=datetime.now(UTC), with_offer=False)
    request_id = _accepted(world)
    (confirmed,) = _wait_for(lambda: _sent(world, request_id, "elder.confirmed"), world=world, request_id=request_id)
    assert confirmed.to_phone == world.elder_phone and confirmed.segments == 1
    with OperatorSqlUnitOfWork(world.sessions) as uow:
        operator_actions.cancel_request(request_id, uow, datetime.now(UTC), "op")
        uow.commit()
    (told,) = _wait_for(lambda: _sent(world, request_id, "cancelled"), world=world, request_id=request_id)
    assert told.recipient_role == "caregiver" and told.to_phone == world.caregiver_phone and told.channel == "sms"
    assert told.sid and "已取消，请勿前往" in told.body and told.segments == 1
    (elder,) = _wait_for(lambda: _sent(world, request_id, "elder.cancelled"), world=world, request_id=request_id)
    assert elder.to_phone == world.elder_phone


def _accepted(world) -> str:
    request_id = _call(world, ("2", "1", "1", "1"))  # meal, as soon as possible, confirmed
    _wait_for(lambda: _sent(world, request_id, "offer"), world=world, request_id=request_id)
    world.post("/twilio/sms", {"MessageSid": "SM" + world.suffix * 4, "From": world.caregiver_phone, "Body": "好"})
    _wait_for(lambda: _status(world, request_id) == RequestStatus.ACCEPTED, world=world, request_id=request_id)
    return request_id


def _timers_taken(world) -> bool:
    """The timer service has taken every deadline handlers asked for (no unsent ``scheduler``
    outbox row): jumping the replay clock before it did makes it schedule them on the new clock,
    so the visit's check-in deadline fired at once and the visit became a no-show (CI)."""
    from config import topics

    o = tables.outbox.c
    with world.sessions() as s:
        return s.execute(select(o.seq).where(o.topic == topics.SCHEDULER, o.sent_at.is_(None)).limit(1)).first() is None


def _fire(pipeline, world, kind: str, target_id: str, due: str) -> None:
    """Publish a deadline's firing on care.timers.v1, as the timer service does when it comes."""
    import json

    from kafka import KafkaProducer

    from careline.scheduler import firing_record
    from config import topics

    fired = firing_record(kind, target_id, world.id("gulou"), due)
    producer = KafkaProducer(bootstrap_servers=pipeline.bootstrap, acks="all")
    producer.send(topics.TIMERS.name, key=world.id("gulou").encode(), value=json.dumps(fired).encode()).get(30)
    producer.close()


def test_a_caregiver_who_cannot_make_the_window_is_an_alert_and_the_elder_hears_the_new_time(pipeline):
    clear_clock(pipeline.sessions)
    world = build_world(pipeline.database_url, now=datetime.now(UTC), with_offer=False)
    request_id = _accepted(world)
    _wait_for(lambda: _timers_taken(world), world=world, request_id=request_id)  # set at acceptance, on the wall clock
    with world.sessions() as s:
        visit = s.execute(select(tables.visits).where(tables.visits.c.request_id == request_id)).one()
        window_end = s.execute(
            select(tables.care_requests.c.window_end).where(tables.care_requests.c.request_id == request_id)
        ).scalar_one()
    # the day moves on to the window's end (the replay clock every component reads): she has not
    # checked in, and from her home she needs 10 minutes
    set_clock(pipeline.sessions, SimClock(datetime.now(UTC), window_end, 1.0))
    try:
        _fire(pipeline, world, "late-check", visit.visit_id, window_end.isoformat())
        (late,) = _wait_for(lambda: _sent(world, request_id, "elder.late"), world=world, request_id=request_id)
        assert late.to_phone == world.elder_phone and "晚到" in late.body
        (changed,) = _wait_for(lambda: _sent(world, request_id, "plan_changed"), world=world, request_id=request_id)
        assert changed.to_phone == world.caregiver_phone
        assert any(a["kind"] == "late" and a["subject_id"] == request_id for a in _board(world)["alerts"])
    finally:
        clear_clock(pipeline.sessions)


def test_a_no_show_tells_the_caregiver_it_was_taken_from_her_and_the_elder_what_happens_next(pipeline):
    clear_clock(pipeline.sessions)
    world = build_world(pipeline.database_url, now=datetime.now(UTC), with_offer=False)
    request_id = _accepted(world)
    with world.sessions() as s:
        visit = s.execute(select(tables.visits).where(tables.visits.c.request_id == request_id)).one()
    due = (visit.planned_start + timedelta(minutes=5)).isoformat()
    _fire(pipeline, world, "check-in-deadline", visit.visit_id, due)  # nobody checked in
    (taken,) = _wait_for(lambda: _sent(world, request_id, "no_show_taken"), world=world, request_id=request_id)
    assert taken.recipient_role == "caregiver" and taken.to_phone == world.caregiver_phone
    (elder,) = _wait_for(lambda: _sent(world, request_id, "elder.no_show"), world=world, request_id=request_id)
    assert elder.to_phone == world.elder_phone and elder.segments == 1
    board = _board(world)
    # offered again, or (her the only caregiver here) failed to the operators: on the board either way
    assert any(r["request_id"] == request_id for r in board["requests"])


def test_a_request_nobody_can_take_tells_the_elder_and_stays_on_the_board_until_an_outcome(pipeline):
    clear_clock(pipeline.sessions)
    world = build_world(pipeline.database_url, now=datetime.now(UTC), with_offer=False)
    with world.sessions() as s:  # the area's only caregiver is off sick
        s.execute(
            update(tables.caregivers).where(tables.caregivers.c.caregiver_id == world.id("cg")).values(active=False)
        )
        s.commit()
    request_id = _call(world, ("2", "1", "1", "1"))  # meal: nobody can take it
    _wait_for(lambda: _status(world, request_id) == RequestStatus.FAILED, world=world, request_id=request_id)
    (told,) = _wait_for(lambda: _sent(world, request_id, "elder.unserved"), world=world, request_id=request_id)
    assert told.to_phone == world.elder_phone and told.sid and "会尽快给您打电话" in told.body
    board = _board(world)
    row = next(r for r in board["requests"] if r["request_id"] == request_id)
    assert row["unserved"] and row["sla_breached"]
    assert board["workspace"]["tasks_waiting"] >= 1 and board["workspace"]["sla_breached"] >= 1
    assert any(a["kind"] == "escalated" and a["subject_id"] == request_id for a in board["alerts"])
    with OperatorSqlUnitOfWork(world.sessions) as uow:
        outcomes.record_outcome(
            request_id, "arranged_another_way", "her daughter helps today", uow, datetime.now(UTC), "op"
        )
        uow.commit()
    assert all(r["request_id"] != request_id for r in _board(world)["requests"])


def test_an_emergency_stays_on_the_card_until_its_outcome_and_then_the_family_hears_how_it_ended(pipeline):
    clear_clock(pipeline.sessions)
    world = build_world(pipeline.database_url, now=datetime.now(UTC), with_offer=False)
    with world.sessions() as s:  # she answers emergencies too (intake refuses a service nobody gives)
        cg = tables.caregivers.c
        s.execute(update(tables.caregivers).where(cg.caregiver_id == world.id("cg")).values(abilities="meal emergency"))
        s.commit()
    request_id = _call(world, ("",))  # silence at the first prompt calls for help
    (family,) = _wait_for(lambda: _sent(world, request_id, "family.emergency"), world=world, request_id=request_id)
    assert family.to_phone == world.family_phone
    card = next(e for e in _board(world)["emergencies"] if e["request_id"] == request_id)
    assert card["red"]
    with OperatorSqlUnitOfWork(world.sessions) as uow:
        with pytest.raises(operator_actions.Refused):
            outcomes.record_outcome(request_id, "ambulance_called", " ", uow, datetime.now(UTC), "op")
    assert any(e["request_id"] == request_id for e in _board(world)["emergencies"])
    with OperatorSqlUnitOfWork(world.sessions) as uow:
        outcomes.record_outcome(
            request_id, "ambulance_called", "120 took her to hospital", uow, datetime.now(UTC), "op"
        )
        uow.commit()
    assert all(e["request_id"] != request_id for e in _board(world)["emergencies"])
    (handled,) = _wait_for(
        lambda: _sent(world, request_id, "family.emergency_handled"), world=world, request_id=request_id
    )
    assert handled.to_phone == world.family_phone
    assert _wait_for(lambda: _sent(world, request_id, "elder.emergency_handled"), world=world, request_id=request_id)
