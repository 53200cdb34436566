"""Agents: decode, call a step, emit what it returns. Nothing is dropped:
a record that cannot be handled goes to a dead-letter topic with the reason.
While the database is away (restart, failover) an agent waits and tries the
same record again (``streams.runtime.db_call``): unavailability is never a
reason to dead-letter. A broker failure while relaying leaves the outbox rows
for the next try.

What a record produces is safe before the agent takes the next record (Faust
commits the input offset after that): the step commits its events to the
outbox, or the agent waits for the broker to acknowledge what it sends itself
(dead letters, probe answers: ``streams.runtime.deliver``). Issue 13 found the
intake agent sending the validated request and moving on; a worker killed
then lost the request.
"""

from __future__ import annotations

import logging

from faust.types import StreamT

from handlers.dispatch import repair
from streams import steps
from streams.app import app, dispatch_dlq_topic, dispatch_inbox, intake_dlq_topic, intake_topic, lifecycle_topic
from streams.runtime import db_call, deliver, kick_relay, relay_outbox_safely, relay_when_kicked

log = logging.getLogger("careline.agents")


@app.agent(intake_topic)
async def validate_intake_records(stream: StreamT) -> None:
    """care.intake.v1 -> the outbox, for care.requests.v1 (keyed by service area), or the intake DLQ."""
    async for event in stream.events():
        raw = event.message.value
        try:
            value = steps.decode(raw, strict=True)
            if value.get("type") == "careline.probe":
                await deliver(lifecycle_topic, b"probe", {**value, "type": "careline.probe.answered"})
                continue
            await db_call(steps.accept_intake_record, value)
        except steps.DeadLetter as exc:
            await deliver(
                intake_dlq_topic,
                event.message.key,
                steps.dead_letter(raw, exc, event.message.topic, event.message.offset),
            )
            continue
        except Exception as exc:
            log.exception("intake step failed")
            await deliver(
                intake_dlq_topic,
                event.message.key,
                steps.dead_letter(
                    raw, steps.DeadLetter(f"{type(exc).__name__}: {exc}"), event.message.topic, event.message.offset
                ),
            )
            continue
        kick_relay()


@app.agent(dispatch_inbox)
async def dispatch_care(stream: StreamT) -> None:
    """Requests, caregiver replies and timer firings of one service area, in order."""
    async for event in stream.events():
        raw = event.message.value
        try:
            value = steps.decode(raw)
            # database work off the event loop, awaited: one area's events stay in order
            await db_call(steps.handle_dispatch_event, value)
        except steps.DeadLetter as exc:
            await deliver(
                dispatch_dlq_topic,
                event.message.key,
                steps.dead_letter(raw, exc, event.message.topic, event.message.offset),
            )
        except Exception as exc:
            log.exception("dispatch step failed")
            await deliver(
                dispatch_dlq_topic,
                event.message.key,
                steps.dead_letter(
                    raw, steps.DeadLetter(f"{type(exc).__name__}: {exc}"), event.message.topic, event.message.offset
                ),
            )
        kick_relay()


@app.task
async def solve_repairs_in_a_process() -> None:
    """Planned areas' repairs search in a solver process: OR-Tools holds the GIL while it
    searches, so in the agent's thread it would stop this event loop (``handlers.dispatch.repair``)."""
    repair.use_solver_process()


@app.task
async def relay_committed_events() -> None:
    """Publish the outbox whenever an agent committed something (``kick_relay``)."""
    await relay_when_kicked()


@app.timer(interval=1.0)
async def relay_leftovers() -> None:
    """Publish outbox rows a crash, or an unreachable broker, left unsent."""
    await relay_outbox_safely()


@app.timer(interval=0.1, on_leader=True)
async def match_batches() -> None:
    """Batched areas: match waiting requests as one assignment problem per batch interval."""
    try:
        matched = await db_call(steps.run_batches)
    except Exception:
        log.exception("batch matching failed")
        return
    if matched:
        await relay_outbox_safely()
