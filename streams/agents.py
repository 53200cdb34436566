"""Agents: take what waits on their partitions, hand it to a batch step, emit what it returns.
Nothing is dropped: a record that cannot be handled goes to a dead-letter topic with the reason.
While the database is away (restart, failover) an agent waits and runs the same batch again
(``streams.runtime.db_call``): unavailability is never a reason to dead-letter.

Batches, not events (issue 19): an agent takes up to ``batch_max_records`` records, or what
came within ``batch_wait_ms``, and its step handles them in one transaction
(``streams.batches``). What a batch produces is safe before its records are acknowledged
(Faust commits an input offset only once it is acknowledged): the step commits its events to
the outbox, and the agent waits for the broker to acknowledge what it sends itself (dead
letters, probe answers: ``streams.runtime.deliver``); only then does it ``ack`` the records
(``noack_take``: nothing is acknowledged behind its back, even if the agent is cancelled
mid-batch). Issue 13 found the intake agent sending the validated request and moving on; a
worker killed then lost the request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any, Callable

from faust.types import TP, EventT, StreamT

from config import topics
from config.settings import get_settings
from db.uow import envelope
from handlers import events as ev
from handlers.dispatch import repair
from streams import batches, steps
from streams.app import (
    app,
    dispatch_dlq_topic,
    dispatch_inbox,
    intake_dlq_topic,
    intake_topic,
    lifecycle_topic,
    repairs_topic,
    rounds_topic,
    timers_topic,
)
from streams.relay import relay
from streams.runtime import ack_all, db_call, deliver, deliver_many, no_spinner, take_batches
from streams.stats import stats

log = logging.getLogger("careline.agents")
settings = get_settings()
DISPATCH_TOPICS = frozenset({topics.REQUESTS.name, topics.CAREGIVER_EVENTS.name, topics.TIMERS.name})


def inbound(event: EventT) -> batches.Inbound:
    """The Faust event as the batch steps take it: value, topic, partition, offset and key."""
    m = event.message
    return batches.Inbound(m.value, m.topic, m.partition, m.offset, m.key)


async def handle_batch(step: Callable[..., batches.Outcome], records: list[batches.Inbound], dlq: Any) -> None:
    """Run a batch step (its outbox rows go to the relay) and dead-letter what it refused,
    acknowledged by the broker before this returns. A step that gives up (the database away
    for ``DATABASE_WAIT_SECONDS``, or a bug) dead-letters the whole batch with the reason."""
    if not records:
        return
    started = time.perf_counter()
    try:
        outcome = await relay.run_step(step, records)
        stats.note(getattr(step, "__name__", "step"), len(records), time.perf_counter() - started)
    except Exception as exc:
        log.exception("%s failed on a batch of %d", getattr(step, "__name__", "step"), len(records))
        outcome = batches.Outcome(dead=[(r, steps.DeadLetter(f"{type(exc).__name__}: {exc}")) for r in records])
    if outcome.dead:
        await deliver_many(dlq, [(r.key, steps.dead_letter(r.raw, exc, r.topic, r.offset)) for r, exc in outcome.dead])


def _is_probe(raw: Any) -> dict | None:
    if isinstance(raw, (bytes, str)) and "careline.probe" in (
        raw if isinstance(raw, str) else raw.decode(errors="replace")
    ):
        try:
            value = steps.decode(raw, strict=True)
        except steps.DeadLetter:
            return None  # the intake step dead-letters it with the reason
        return value if value.get("type") == "careline.probe" else None
    return None


@app.agent(intake_topic)
async def validate_intake_records(stream: StreamT) -> None:
    """care.intake.v1 -> the outbox, for care.requests.v1 (keyed by service area), or the intake DLQ."""
    async for events in take_batches(stream):
        records = []
        for event in events:
            probe = _is_probe(event.message.value)
            if probe is not None:
                await deliver(lifecycle_topic, b"probe", {**probe, "type": "careline.probe.answered"})
            else:
                records.append(inbound(event))
        await handle_batch(batches.intake_batch, records, intake_dlq_topic)
        await ack_all(stream, events)


@app.agent(dispatch_inbox)
async def dispatch_care(stream: StreamT) -> None:
    """Requests, caregiver replies and timer firings of the worker's service areas; one area's
    records stay in order (they come from one partition, and a batch runs them in order)."""
    async for events in take_batches(stream):
        await handle_batch(batches.dispatch_batch, [inbound(e) for e in events], dispatch_dlq_topic)
        await ack_all(stream, events)


@app.on_partitions_revoked.connect
async def forget_revoked_areas(sender: object, /, *args: set[TP], **kwargs: object) -> None:
    """Another worker may get these partitions: their areas' state is dropped (it reloads from
    the database if they come back). Called as ``(sender, revoked, signal=…)`` (mode's signals)."""
    (revoked,) = args
    batches.revoke({tp.partition for tp in revoked if tp.topic in DISPATCH_TOPICS})


@app.task
async def no_debug_records() -> None:
    """Faust's terminal spinner keeps the root logger at DEBUG (``streams.runtime.no_spinner``)."""
    no_spinner(logging.getLogger())


@app.task
async def solve_repairs_in_a_process() -> None:
    """Planned areas' repairs search in a solver process: OR-Tools holds the GIL while it
    searches, so in the agent's thread it would stop this event loop (``handlers.dispatch.repair``);
    and beside the dispatch agent (``search_repairs``), so its other areas go on meanwhile."""
    repair.use_solver_process()
    steps.repair_in_background()


@app.agent(repairs_topic)
async def search_repairs(stream: StreamT) -> None:
    """Planned days' repairs (``dispatch.repairs.v1``: ``dispatch.repair.requested``, written by
    ``repair.ask_solver``), searched one at a time in the repairs' solver process while the
    dispatch agent goes on (``serve_searches``)."""
    await serve_searches(stream)


@app.agent(rounds_topic)
async def search_rounds(stream: StreamT) -> None:
    """Confirmation rounds' re-plans (``dispatch.rounds.v1``: ``dispatch.round.requested``, written
    by ``rounds._ask_solver``), searched one at a time in the rounds' own solver process: the
    evening's rounds of every planned area come at once, ten seconds each, and a day-of repair
    must not wait behind them (``serve_searches``)."""
    await serve_searches(stream)


async def serve_searches(stream: StreamT) -> None:
    """Search each job of ``stream`` in its lane's solver process (a thread waits for it, the event
    loop does not) and send the answer to the area's partition of ``care.timers.v1``
    (``dispatch.repair.solved`` / ``dispatch.round.solved``), where the dispatch agent uses it
    (``repair.apply_answer``, ``rounds.apply_round``). Either kind is served on either topic (a
    round's job written before ``dispatch.rounds.v1`` existed is on the repairs topic). A job that
    cannot be read or searched is dead-lettered with the reason; its overdue timer then acts
    (insertion, or the round's requests stay held)."""
    loop = asyncio.get_running_loop()
    async for events in take_batches(stream):
        for event in events:
            m = event.message
            raw = m.value if m.value is not None else b""
            try:
                value = steps.decode(raw, strict=True)
                job, at = value["data"], datetime.fromisoformat(value["time"])
                is_round = value.get("type") == "dispatch.round.requested"
                search = steps.search_round_job if is_round else steps.search_repair_job
                answer = await loop.run_in_executor(None, search, job)
            except Exception as exc:  # noqa: BLE001  # dead-lettered; the overdue timer acts
                log.warning("solver job at %s offset %s refused: %s", m.topic, m.offset, type(exc).__name__)
                reason = steps.DeadLetter(f"not a repair or round job: {type(exc).__name__}: {exc}")
                await deliver(dispatch_dlq_topic, m.key, steps.dead_letter(raw, reason, m.topic, m.offset))
                continue
            if answer is None:  # overdue before its turn: the timer has acted
                log.info("solver job at %s offset %s not searched: overdue", m.topic, m.offset)
                continue
            if is_round:
                solved, solved_id = ev.round_solved(answer, at), ev.round_solved_id(answer)
            else:
                solved, solved_id = ev.repair_solved(answer, at), ev.repair_solved_id(answer)
            await deliver(timers_topic, solved.key.encode(), envelope(solved, solved_id))
        await ack_all(stream, events)


@app.task
async def relay_own_rows() -> None:
    """Publish the outbox rows this worker's agents committed, in commit order (``streams.relay``)."""
    await relay.run_own()


@app.timer(interval=max(settings.worker_stats_seconds, 1.0))
async def log_throughput() -> None:
    """Every ``worker_stats_seconds`` (0: never), one log line: batches, records and seconds per step."""
    if settings.worker_stats_seconds > 0:
        stats.log(relay.published)


@app.task
async def sweep_outbox() -> None:
    """Publish outbox rows nobody is publishing: the web's and channels', a dead worker's."""
    await relay.run_sweeps()


@app.timer(interval=0.1, on_leader=True)
async def match_batches() -> None:
    """Batched areas: match waiting requests as one assignment problem per batch interval."""
    try:
        matched = await db_call(steps.run_batches)
    except Exception:
        log.exception("batch matching failed")
        return
    if matched:
        relay.kick()
