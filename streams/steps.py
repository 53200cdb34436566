"""The synchronous steps the agents run: decode, load context, call a
handler, commit. Kept apart from the agents so they read as a few lines and
so the steps can be called from tests and tools without a broker.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from datetime import datetime
from typing import Any

from config import topics
from db import app_api, areas, live_kpis
from db.channels import enqueue
from db.register import read_clock
from db.uow import SqlUnitOfWork
from handlers import messagebus, messages
from handlers.channels.intake import InvalidIntake, validate_intake, validated_record
from handlers.dispatch import batching, repair, rounds
from handlers.dispatch.area import AreaContext
from handlers.model import CareRequest
from streams.runtime import current, sessions

log = logging.getLogger("careline.steps")


class DeadLetter(Exception):
    """An inbound record that cannot be handled; ``reason`` goes to the DLQ."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.field = reason, field


def _not_a_number(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number (RFC 8259)")


def decode(raw: bytes | str | dict, strict: bool = False) -> dict[str, Any]:
    """JSON object from a record value; raises ``DeadLetter`` otherwise. ``strict`` (records
    from outside: the intake topic) also refuses ``NaN`` and ``Infinity``, which Python's
    parser takes but RFC 8259 and PostgreSQL's ``json`` do not: the hostile-input test saw an
    intake record with ``Infinity`` in an extra field reach the outbox insert and fail there."""
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw, parse_constant=_not_a_number) if strict else json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the parser goes
        raise DeadLetter(f"not JSON: {type(exc).__name__}: {str(exc)[:200]}") from None
    if not isinstance(value, dict):
        raise DeadLetter("not a JSON object")
    return value


def dead_letter(raw: bytes | str | dict, exc: DeadLetter, topic: str, offset: int | None) -> dict:
    """The dead-letter record for ``raw``: reason, field, source topic and offset, and the original text."""
    text = raw if isinstance(raw, (str, dict)) else raw.decode("utf-8", "replace")
    return {"reason": exc.reason, "field": exc.field, "topic": topic, "offset": offset, "record": text}


_BACKGROUND_REPAIRS = False


def repair_in_background() -> None:
    """This process runs the solver agent (``streams.agents.search_repairs``): from now on a
    planned area's repair is searched there, beside the dispatch agent, not in its batch
    (``AreaContext.background_repairs``)."""
    global _BACKGROUND_REPAIRS
    _BACKGROUND_REPAIRS = True


def search_repair_job(job: dict) -> dict | None:
    """``handlers.dispatch.repair.search_job`` at the clock every component reads: None for a job
    whose overdue time has passed (not searched)."""
    with sessions()() as session:
        now = read_clock(session).now()
    return repair.search_job(job, now)


def search_round_job(job: dict) -> dict | None:
    """``handlers.dispatch.rounds.search_round_job`` at the clock every component reads: None for
    a job whose overdue time has passed (not searched)."""
    with sessions()() as session:
        now = read_clock(session).now()
    return rounds.search_round_job(job, now)


def area_context(service_area: str) -> AreaContext:
    """The area's dispatch context (``db.areas.AreaContexts``, built by the bootstrap); a planned
    area's repairs search beside the worker once it runs the solver agent."""
    ctx = current().areas.get(service_area)
    if _BACKGROUND_REPAIRS and ctx.mode == "planned" and not ctx.background_repairs:
        return replace(ctx, background_repairs=True)
    return ctx


_KNOWN_FOR_SECONDS = 60.0
_known: tuple[float, frozenset[str]] = (float("-inf"), frozenset())


def known_service_types(session, wanted: object) -> frozenset[str]:  # noqa: ANN001
    """Every ability of a registered caregiver. Read once a minute at most
    (it was a scan of the whole roster for every intake record), and again at
    once for a service type the last reading did not have, so a caregiver
    registered a moment ago is never refused for being unknown."""
    global _known
    read_at, known = _known
    if time.monotonic() - read_at > _KNOWN_FOR_SECONDS or (isinstance(wanted, str) and wanted not in known):
        _known = (time.monotonic(), frozenset(app_api.offered_service_types(session)))
    return _known[1]


def validate_intake_record(value: dict) -> tuple[str, dict]:
    """(service area, validated event) for an intake record; ``DeadLetter`` if invalid."""
    with SqlUnitOfWork(sessions()) as uow:
        request = _validated(uow, value)
    return request.service_area, validated_record(value, request)


def accept_intake_record(value: dict) -> dict | None:
    """Validate an intake record and, in one transaction, claim its request id
    (``intake:<request id>``) and put the validated event on the outbox for
    ``care.requests.v1``, keyed by service area; the relay publishes it. Returns that
    event, or None when the request was accepted before (the record came again).
    ``DeadLetter`` if invalid.

    The intake agent used to send the validated event to Kafka itself and go on; Faust
    then committed the intake offset whatever became of that send, and a worker killed
    in between lost the request (issue 13, ``docs/NOTES.md``). Committed here, the
    request survives the worker as every other event does."""
    with SqlUnitOfWork(sessions()) as uow:
        request = _validated(uow, value)
        if not uow.claim(f"intake:{request.request_id}"):
            return None
        validated = validated_record(value, request)
        enqueue(uow.session, topics.REQUESTS.name, request.service_area, validated)
        uow.commit()
    return validated


def _validated(uow: SqlUnitOfWork, value: dict) -> CareRequest:
    known = known_service_types(uow.session, value.get("service_type"))
    try:
        return validate_intake(value, uow.elders.get, set(known))
    except InvalidIntake as exc:
        raise DeadLetter(exc.reason, exc.field) from None


def handle_dispatch_event(value: dict) -> bool:
    """Apply one dispatch input (validated request, caregiver reply or visit
    event, timer firing) through the message bus. Returns False for a duplicate
    event id; ``DeadLetter`` naming the bad field for an invalid record."""
    try:
        command = messages.decode(value)
    except messages.InvalidMessage as exc:
        raise DeadLetter(exc.reason, exc.field) from None
    assert isinstance(command, messages.DispatchCommand)
    ctx = area_context(command.service_area)
    with SqlUnitOfWork(sessions()) as uow:
        if not uow.claim(command.event_id):
            return False
        clock = read_clock(uow.session)
        try:
            messagebus.handle(
                command, uow, messagebus.event_time(command, clock.now()), ctx.at_clock_speed(clock.speed)
            )
        except messages.InvalidMessage as exc:
            raise DeadLetter(exc.reason, exc.field) from None
        uow.commit()
    if ctx.mode == "batched" and isinstance(command, messages.ReceiveRequest):
        _seen_batched.add(command.service_area)
    return True


def record_feedback(value: dict) -> bool:
    """Store a rating or complaint from ``care.feedback.v1``; ``DeadLetter`` if invalid."""
    if value.get("type") == "care.feedback.rated":
        return False  # the callback survey stored its row before publishing (channels.surveys)
    try:
        command = messages.decode_feedback(value)
    except messages.InvalidMessage as exc:
        raise DeadLetter(exc.reason, exc.field) from None
    with SqlUnitOfWork(sessions()) as uow:
        try:
            messagebus.handle(command, uow, messagebus.event_time(command, read_clock(uow.session).now()))
        except messages.InvalidMessage as exc:
            raise DeadLetter(exc.reason, exc.field) from None
        uow.commit()
    return True


def clock_now() -> datetime:
    """The clock every component reads (the replay clock when one is set)."""
    with sessions()() as session:
        return read_clock(session).now()


def save_live_kpis(rows: list, window_start: datetime, window_end: datetime) -> int:
    """Write the worker's live KPIs into the ``live_kpis`` read model (``db.live_kpis.save``)."""
    with sessions()() as session:
        saved = live_kpis.save(session, rows, window_start, window_end, read_clock(session).now())
        session.commit()
    return saved


def apply_provider_score(provider_id: str, score: float | None) -> None:
    """Store the provider's latest score (0..100, or None) where dispatch reads it."""
    with sessions()() as session:
        live_kpis.set_provider_score(session, provider_id, score)
        session.commit()


_last_batch: dict[str, datetime] = {}
_BATCHED_FOR_SECONDS = 10.0
_batched: tuple[float, list[str]] = (float("-inf"), [])
_seen_batched: set[str] = set()


def note_batched(service_area: str) -> None:
    """A batched area this worker received a request for: the batch timer matches it at once."""
    _seen_batched.add(service_area)


def batched_areas() -> list[str]:
    """Service areas in batched mode: those this worker has received a batched
    request for (at once), and those the table says, read every 10 s: the
    batch timer ticks ten times a second, and each reading scans
    ``service_areas`` (on SQLite through every travel matrix: 6 ms with 300
    areas, 0.1-0.7 s with 1,500 on a busy machine)."""
    global _batched
    if time.monotonic() - _batched[0] > _BATCHED_FOR_SECONDS:
        with sessions()() as session:
            _batched = (time.monotonic(), areas.batched_areas(session))
    return list(dict.fromkeys(_batched[1] + sorted(_seen_batched)))


def run_batches() -> int:
    """Match every batched area's waiting requests once per its batch interval
    (simulated or real seconds); returns how many offers were made."""
    made = 0
    for area in batched_areas():
        ctx = area_context(area)
        with SqlUnitOfWork(sessions()) as uow:
            now = read_clock(uow.session).now()
            last = _last_batch.get(area)
            if last is not None and (now - last).total_seconds() < ctx.batch_interval_seconds:
                continue
            _last_batch[area] = now
            pool = [r for r in uow.requests.received_in(area) if batching.waiting_for_batch(r, uow)]
            if not pool:
                continue
            before = len(uow.session.new)
            batching.offer_batch(pool, uow, now, ctx.policy, ctx.travel)
            made += len(uow.session.new) - before
            uow.commit()
    return made
