"""The synchronous steps the agents run: decode, load context, call a
handler, commit. Kept apart from the agents so they read as a few lines and
so the steps can be called from tests and tools without a broker.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select

from config import topics
from db import live_kpis, tables
from db.channels import enqueue
from db.uow import SqlUnitOfWork
from config.evaluation import get_evaluation_config
from handlers import batching, dispatch, disruptions, feedback, visits
from handlers.planning import PlannedVisit, receive_planned
from handlers.model import CareRequest, RequestStatus
from handlers.intake import InvalidIntake, validate_intake
from handlers.model import OfferStatus
from handlers.scheduling import DispatchPolicy, MatrixTravelTimes, TravelTimes
from config.policy import cached_policy
from config.settings import get_settings
from db.register import read_clock
from streams.runtime import sessions


log = logging.getLogger("careline.steps")

class DeadLetter(Exception):
    """An inbound record that cannot be handled; ``reason`` goes to the DLQ."""

    def __init__(self, reason: str, field: str | None = None):
        super().__init__(reason)
        self.reason, self.field = reason, field


def decode(raw: bytes | str | dict) -> dict[str, Any]:
    """JSON object from a record value; raises ``DeadLetter`` otherwise."""
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the parser goes
        raise DeadLetter(f"not JSON: {type(exc).__name__}: {str(exc)[:200]}") from None
    if not isinstance(value, dict):
        raise DeadLetter("not a JSON object")
    return value


def dead_letter(raw: bytes | str | dict, exc: DeadLetter, topic: str, offset: int | None) -> dict:
    """The dead-letter record for ``raw``: reason, field, source topic and offset, and the original text."""
    text = raw if isinstance(raw, (str, dict)) else raw.decode("utf-8", "replace")
    return {"reason": exc.reason, "field": exc.field, "topic": topic, "offset": offset, "record": text}


@dataclass(frozen=True)
class AreaContext:
    """What dispatch needs about a service area: its policy, travel times, dispatch mode and batch interval (seconds)."""

    policy: DispatchPolicy
    travel: TravelTimes
    mode: str = "online"  # online | batched | planned
    batch_interval_seconds: float = 60.0


@lru_cache(maxsize=256)
def area_context(service_area: str) -> AreaContext:
    """The area's context from ``service_areas`` and the policy files, cached per area for the worker's life."""
    with sessions()() as session:
        row = session.execute(select(tables.service_areas).where(
            tables.service_areas.c.service_area == service_area)).first()
    settings = get_settings()
    policy = replace(cached_policy(str(settings.policy_file), bool(row and row.shift_end_hard)),
                     exploration_share=get_evaluation_config().exploration_share)
    if settings.offer_timeout_seconds is not None:
        policy = replace(policy, offer_timeout_seconds=settings.offer_timeout_seconds)
    matrix = row.travel_matrix if row and row.travel_matrix else []
    return AreaContext(policy, MatrixTravelTimes(matrix), row.dispatch_mode if row else "online",
                       row.batch_interval_seconds if row else 60.0)


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
        found: set[str] = set()
        for abilities in session.scalars(select(tables.caregivers.c.abilities).distinct()):
            found.update(abilities.split())
        _known = (time.monotonic(), frozenset(found))
    return _known[1]


def validate_intake_record(value: dict) -> tuple[str, dict]:
    """(service area, validated event) for an intake record; ``DeadLetter`` if invalid."""
    with SqlUnitOfWork(sessions()) as uow:
        request = _validated(uow, value)
    return request.service_area, _validated_event(value, request)


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
        validated = _validated_event(value, request)
        enqueue(uow.session, topics.REQUESTS.name, request.service_area, validated)
        uow.commit()
    return validated


def _validated(uow: SqlUnitOfWork, value: dict) -> CareRequest:
    known = known_service_types(uow.session, value.get("service_type"))
    try:
        return validate_intake(value, uow.elders.get, set(known))
    except InvalidIntake as exc:
        raise DeadLetter(exc.reason, exc.field) from None


def _validated_event(value: dict, request: CareRequest) -> dict:
    data = dict(value, request_id=request.request_id, service_area=request.service_area)
    return {"specversion": "1.0", "id": f"validated:{request.request_id}", "source": "careline/intake",
            "type": "care.request.validated", "subject": request.request_id,
            "time": request.submitted_at.isoformat(), "schema_version": 1, "data": data}


def event_time(value: dict, clock_now: datetime) -> datetime:
    """When the event happened (CloudEvents ``time``), never later than the
    clock: dispatch decides in event time, so broker latency changes the
    order of work but not the times a request or visit records."""
    try:
        at = datetime.fromisoformat(value["time"])
    except (KeyError, TypeError, ValueError):
        return clock_now
    if at.tzinfo is None:
        raise DeadLetter("time without a zone", "time")
    return min(at, clock_now)


def handle_dispatch_event(value: dict) -> bool:
    """Apply one dispatch input (validated request, caregiver reply or visit
    event, timer firing). Returns False for a duplicate event id."""
    etype, data = value.get("type"), value.get("data")
    if not isinstance(data, dict) or "service_area" not in data or "id" not in value:
        raise DeadLetter("missing id, data or data.service_area")
    ctx = area_context(data["service_area"])
    with SqlUnitOfWork(sessions()) as uow:
        if not uow.claim(value["id"]):
            return False
        now = event_time(value, read_clock(uow.session).now())
        p, t = ctx.policy, ctx.travel
        if etype == "care.request.validated":
            try:
                request = validate_intake(data, uow.elders.get)
            except InvalidIntake as exc:
                raise DeadLetter(exc.reason, exc.field) from None
            receive_in_mode(request, ctx, uow, now)
        elif etype == "caregiver.offer.accepted":
            dispatch.accept_offer(data["offer_id"], data["caregiver_id"], uow, now, p, t)
        elif etype == "caregiver.offer.declined":
            dispatch.close_offer(data["offer_id"], OfferStatus.REJECTED, uow, now, p, t, data["caregiver_id"])
        elif etype == "caregiver.visit.checked_in":
            visits.check_in(data["request_id"], data["caregiver_id"], uow, now, t, data.get("evv_flags"))
        elif etype == "caregiver.visit.checked_out":
            visits.check_out(data["request_id"], data["caregiver_id"], uow, now, data.get("evv_flags"))
        elif etype == "caregiver.visit.called_off":
            disruptions.call_off(data["request_id"], data["caregiver_id"], uow, now, p, t)
        elif etype == "timer.fired" and data.get("kind") == "offer-expiry":
            dispatch.close_offer(data["target_id"], OfferStatus.TIMEOUT, uow, now, p, t)
        elif etype == "timer.fired" and data.get("kind") == "ladder-step":
            request_id, step = data["target_id"].rsplit("#", 1)
            dispatch.step_deadline(request_id, int(step), uow, now, p, t)
        elif etype == "timer.fired" and data.get("kind") == "check-in-deadline":
            disruptions.missed_check_in(data["target_id"], uow, now, p, t)
        elif etype == "timer.fired" and data.get("kind") == "followup-deadline":
            feedback.followup_due(data["target_id"], uow, now)
        else:
            raise DeadLetter(f"unknown event type {etype!r}", "type")
        uow.commit()
    return True


def record_feedback(value: dict) -> bool:
    """Store a rating or complaint from ``care.feedback.v1``; ``DeadLetter`` if invalid."""
    data = value.get("data")
    if not isinstance(data, dict) or "request_id" not in data or "id" not in value:
        raise DeadLetter("missing id, data or data.request_id")
    if value.get("type") == "care.feedback.rated":
        return False  # the callback survey stored its row before publishing (careline.surveys)
    with SqlUnitOfWork(sessions()) as uow:
        now = event_time(value, read_clock(uow.session).now())
        try:
            stored = feedback.record_feedback(value["id"], data["request_id"], uow, now, data.get("stars"),
                                              data.get("complaint"), data.get("comment"))
        except feedback.InvalidFeedback as exc:
            raise DeadLetter(str(exc), str(exc).split(":", 1)[0]) from None
        uow.commit()
    return stored


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
    with sessions()() as session:
        session.execute(tables.provider_organisations.update().where(
            tables.provider_organisations.c.provider_id == provider_id).values(score=score))
        session.commit()


def receive_in_mode(request, ctx: AreaContext, uow: SqlUnitOfWork, now: datetime) -> None:  # noqa: ANN001
    """Receive a validated request the way its area dispatches: at once
    (online), at the next batch (batched; emergencies never wait for a batch),
    or to its planned caregiver first (planned)."""
    p, t = ctx.policy, ctx.travel
    if ctx.mode == "batched":
        _seen_batched.add(request.service_area)
        batching.receive_batched(request, uow, now, p, t)
    elif ctx.mode == "planned":
        ids = [request.request_id] + ([request.sync_partner_id] if request.sync_partner_id else [])
        rows = uow.session.execute(select(tables.planned_visits).where(
            tables.planned_visits.c.request_id.in_(ids))).all()
        plan = {r.request_id: PlannedVisit(r.caregiver_id, r.planned_start, r.planned_end, r.location_index,
                                           r.announced_at) for r in rows}
        receive_planned(request, plan, uow, now, p, t)
    else:
        dispatch.receive_request(request, uow, now, p, t)


_last_batch: dict[str, datetime] = {}
_BATCHED_FOR_SECONDS = 10.0
_batched: tuple[float, list[str]] = (float("-inf"), [])
_seen_batched: set[str] = set()


def batched_areas() -> list[str]:
    """Service areas in batched mode: those this worker has received a batched
    request for (at once), and those the table says, read every 10 s: the
    batch timer ticks ten times a second, and each reading scans
    ``service_areas`` (on SQLite through every travel matrix: 6 ms with 300
    areas, 0.1-0.7 s with 1,500 on a busy machine)."""
    global _batched
    if time.monotonic() - _batched[0] > _BATCHED_FOR_SECONDS:
        with sessions()() as session:
            _batched = (time.monotonic(), list(session.scalars(select(tables.service_areas.c.service_area).where(
                tables.service_areas.c.dispatch_mode == "batched"))))
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
            pool = [r for r in uow.session.scalars(select(CareRequest).where(
                tables.care_requests.c.service_area == area,
                tables.care_requests.c.status == RequestStatus.RECEIVED)) if batching.waiting_for_batch(r, uow)]
            if not pool:
                continue
            before = len(uow.session.new)
            batching.offer_batch(pool, uow, now, ctx.policy, ctx.travel)
            made += len(uow.session.new) - before
            uow.commit()
    return made
