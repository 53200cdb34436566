"""The agents' steps for a batch of records (issue 19): many inputs, one transaction.

An agent takes what waits on its partitions (up to a bound, or a few milliseconds' worth:
``streams.agents``) and hands it here. Each step decodes the records, runs them through the
same handlers as one record would go, in their order (one service area's records keep theirs:
they come from one partition), and commits once: the event-id claims in one statement, the
state changes flushed together, the event log and the outbox in one insert each. It returns
the outbox rows for the relay and the records to dead-letter.

A record that cannot be decoded is dead-lettered without touching the batch. A record whose
handling fails (a poison record) aborts the batch's transaction; the batch is then run again
one record per transaction, so the failing one is dead-lettered with its reason and every
other commits. A lost race or an absent database is raised (``streams.runtime.db_call`` waits
and runs the whole batch again; the claims make a record already committed a no-op).

``reserve`` is called with the outbox rows just before the commit, so that the relay knows
them before any sweep could see them (``streams.relay``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from config import topics
from db import batches as db_batches
from db.partition_state import PartitionState
from db.uow import SqlUnitOfWork
from handlers import messagebus, messages
from handlers.channels.intake import InvalidIntake, storable_id, validate_intake, validated_record
from streams import steps
from streams.runtime import current, sessions, worth_waiting

log = logging.getLogger("careline.batches")

Reserve = Callable[[list[Any]], None]


@dataclass(frozen=True)
class Inbound:
    """A record taken from a topic: its value and where it came from."""

    raw: Any
    topic: str
    partition: int
    offset: int
    key: bytes | None = None


@dataclass
class Outcome:
    """What a batch step did: outbox ``rows`` committed (for the relay), records to
    dead-letter with their reason, how many were handled and how many were seen before."""

    rows: list[Any] = field(default_factory=list)
    dead: list[tuple[Inbound, steps.DeadLetter]] = field(default_factory=list)
    handled: int = 0
    duplicates: int = 0

    def add(self, other: Outcome) -> None:
        """Fold ``other`` (a part of the same batch) into this outcome."""
        self.rows += other.rows
        self.dead += other.dead
        self.handled += other.handled
        self.duplicates += other.duplicates


def _failure(exc: Exception) -> steps.DeadLetter:
    if isinstance(exc, steps.DeadLetter):
        return exc
    if isinstance(exc, messages.InvalidMessage):
        return steps.DeadLetter(exc.reason, exc.field)
    return steps.DeadLetter(f"{type(exc).__name__}: {exc}")


def _together_or_alone(
    items: list[tuple[Inbound, Any]], run: Callable[[list[tuple[Inbound, Any]]], Outcome], what: str
) -> Outcome:
    """``run`` the items in one transaction; if one of them fails, each in its own, so the
    failing ones are dead-lettered with their reason and the others commit."""
    if not items:
        return Outcome()
    try:
        return run(items)
    except Exception as exc:
        if worth_waiting(exc):
            raise
        if len(items) == 1:
            if not isinstance(exc, (steps.DeadLetter, messages.InvalidMessage)):
                log.exception("%s step failed on %s offset %s", what, items[0][0].topic, items[0][0].offset)
            return Outcome(dead=[(items[0][0], _failure(exc))])
        log.warning("%s batch of %d failed (%s); one record per transaction", what, len(items), type(exc).__name__)
    outcome = Outcome()
    for item in items:
        try:
            outcome.add(run([item]))
        except Exception as exc:
            if worth_waiting(exc):
                raise
            if not isinstance(exc, (steps.DeadLetter, messages.InvalidMessage)):
                log.exception("%s step failed on %s offset %s", what, item[0].topic, item[0].offset)
            outcome.dead.append((item[0], _failure(exc)))
    return outcome


# --- dispatch ---------------------------------------------------------------------------------
_state: PartitionState | None = None
_revoked: set[int] = set()


def partition_state() -> PartitionState:
    """This worker's dispatch state (``db.partition_state``), made on first use."""
    global _state
    if _state is None:
        settings = current().settings
        _state = PartitionState(
            sessions(), settings.area_state_idle_seconds, settings.area_state_max_areas, settings.score_interval_seconds
        )
    return _state


def revoke(partitions: set[int]) -> None:
    """The worker lost these partitions of the dispatch topics: their areas are dropped before
    the next batch (the batch thread owns the state; this is called from the event loop)."""
    _revoked.update(partitions)


def dispatch_batch(records: list[Inbound], reserve: Reserve) -> Outcome:
    """Requests, caregiver replies and timer firings, through the message bus over the partition
    state, in one transaction (``db.partition_state.Batch``)."""
    state = partition_state()
    if _revoked:
        gone = set(_revoked)
        _revoked.difference_update(gone)
        state.drop_partitions(gone)
    outcome, items = Outcome(), []
    for rec in records:
        try:
            command = messages.decode(steps.decode(rec.raw))
            assert isinstance(command, messages.DispatchCommand)
            items.append((rec, command))
        except messages.InvalidMessage as exc:
            outcome.dead.append((rec, steps.DeadLetter(exc.reason, exc.field)))
        except steps.DeadLetter as exc:
            outcome.dead.append((rec, exc))
    outcome.add(_together_or_alone(items, lambda part: _dispatch(state, part, reserve), "dispatch"))
    return outcome


def _dispatch(state: PartitionState, items: list[tuple[Inbound, Any]], reserve: Reserve) -> Outcome:
    outcome = Outcome()
    with state.batch() as batch:
        claimed = batch.claim_all([command.event_id for _, command in items])
        batch.uow.claimed_ids = claimed
        new = [c for _, c in items if isinstance(c, messages.ReceiveRequest) and c.event_id in claimed]
        batch.uow.elders.prefetch(c.record.get("elder_id", "") for c in new)
        batch.prefetch_requests(str(c.record.get("request_id") or "") for c in new)
        done: set[str] = set()
        for rec, command in items:
            if command.event_id not in claimed or command.event_id in done:
                outcome.duplicates += 1
                continue
            done.add(command.event_id)
            ctx = steps.area_context(command.service_area)
            batch.area(command.service_area, rec.partition)
            messagebus.handle(
                command,
                batch.uow,
                messagebus.event_time(command, batch.clock_now),
                ctx.at_clock_speed(batch.clock_speed),
            )
            if ctx.mode == "batched" and isinstance(command, messages.ReceiveRequest):
                steps.note_batched(command.service_area)
            outcome.handled += 1
        outcome.rows = batch.commit(reserve)
    return outcome


# --- intake -----------------------------------------------------------------------------------
def intake_batch(records: list[Inbound], reserve: Reserve) -> Outcome:
    """Validate intake records and, in one transaction, claim each request id
    (``intake:<request id>``) and put its validated event on the outbox for
    ``care.requests.v1`` (keyed by service area); invalid ones are dead-lettered with the field
    and the reason (``streams.steps.accept_intake_record`` for one record)."""
    outcome, items = Outcome(), []
    for rec in records:
        try:
            items.append((rec, steps.decode(rec.raw, strict=True)))
        except steps.DeadLetter as exc:
            outcome.dead.append((rec, exc))
    outcome.add(_together_or_alone(items, lambda part: _intake(part, reserve), "intake"))
    return outcome


def _intake(items: list[tuple[Inbound, dict]], reserve: Reserve) -> Outcome:
    outcome = Outcome()
    with SqlUnitOfWork(sessions()) as uow:
        # only well-formed ids: the rest are refused by validation below, and a NUL would fail the
        # whole batch's query on PostgreSQL (the hostile intake test's elder_id "\x00")
        db_batches.load_elders(uow.session, [v["elder_id"] for _, v in items if storable_id(v.get("elder_id"))])
        accepted = []
        for rec, value in items:
            known = steps.known_service_types(uow.session, value.get("service_type"))
            try:
                request = validate_intake(value, uow.elders.get, set(known))
            except InvalidIntake as exc:
                if len(items) > 1:
                    outcome.dead.append((rec, steps.DeadLetter(exc.reason, exc.field)))
                    continue
                raise steps.DeadLetter(exc.reason, exc.field) from None
            accepted.append((value, request))
        claimed = db_batches.claim_many(uow.session, [f"intake:{r.request_id}" for _, r in accepted])
        todo, seen = [], set()
        for value, request in accepted:
            if f"intake:{request.request_id}" not in claimed or request.request_id in seen:
                outcome.duplicates += 1
                continue
            seen.add(request.request_id)
            todo.append((request.service_area, validated_record(value, request)))
        outcome.rows = db_batches.enqueue_many(uow.session, topics.REQUESTS.name, todo)
        reserve(outcome.rows)
        uow.commit()
        outcome.handled = len(todo)
    return outcome


# --- feedback ---------------------------------------------------------------------------------
def feedback_batch(records: list[Inbound], reserve: Reserve) -> Outcome:
    """Ratings and complaints from ``care.feedback.v1`` in one transaction
    (``streams.steps.record_feedback`` for one record)."""
    outcome, items = Outcome(), []
    for rec in records:
        try:
            value = steps.decode(rec.raw)
            if value.get("type") == "care.feedback.rated":
                continue  # the callback survey stored its row before publishing (channels.surveys)
            items.append((rec, messages.decode_feedback(value)))
        except messages.InvalidMessage as exc:
            outcome.dead.append((rec, steps.DeadLetter(exc.reason, exc.field)))
        except steps.DeadLetter as exc:
            outcome.dead.append((rec, exc))
    outcome.add(_together_or_alone(items, lambda part: _feedback(part, reserve), "feedback"))
    return outcome


def _feedback(items: list[tuple[Inbound, Any]], reserve: Reserve) -> Outcome:
    outcome = Outcome()
    with SqlUnitOfWork(sessions()) as uow:
        now = steps.read_clock(uow.session).now()
        for _, command in items:
            messagebus.handle(command, uow, messagebus.event_time(command, now))
            outcome.handled += 1
        uow.on_written = reserve
        uow.commit()
        outcome.rows = uow.written
    return outcome
