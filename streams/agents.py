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

from config import topics
from streams import outbound, steps
from streams.app import app, dispatch_dlq_topic, dispatch_inbox, intake_dlq_topic, intake_topic, lifecycle_topic
from streams.runtime import db_call, deliver, kick_relay, relay_outbox_safely, relay_when_kicked

log = logging.getLogger("careline.agents")


@app.agent(intake_topic)
async def validate_intake_records(stream: StreamT) -> None:
    """care.intake.v1 -> the outbox, for care.requests.v1 (keyed by service area), or the intake DLQ."""
    async for event in stream.events():
        raw = event.message.value
        try:
            value = steps.decode(raw)
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
async def relay_committed_events() -> None:
    """Publish the outbox whenever an agent committed something (``kick_relay``)."""
    await relay_when_kicked()


@app.timer(interval=1.0)
async def relay_leftovers() -> None:
    """Publish outbox rows a crash, or an unreachable broker, left unsent."""
    await relay_outbox_safely()


outbound_inbox = app.topic(
    topics.OFFERS.name,
    topics.LIFECYCLE.name,
    key_type=None,
    value_type=None,
    key_serializer="raw",
    value_serializer="raw",
)


@app.agent(outbound_inbox)
async def notify_people(stream: StreamT) -> None:
    """dispatch.offers.v1 -> SMS to the caregiver (the offer; the address once accepted; a
    notice when rescinded); care.lifecycle.v1 completed visits -> a satisfaction call is planned.
    A bad record is logged and skipped: both topics are internal, nothing to dead-letter."""
    async for raw in stream:
        try:
            if outbound.wanted(raw):
                await db_call(outbound.handle, raw)
        except Exception:
            log.exception("outbound notification skipped a record")


@app.timer(interval=30.0, on_leader=True)
async def place_due_rating_calls() -> None:
    """Satisfaction calls whose time has come (``callback_surveys.due_at``)."""
    try:
        await db_call(outbound.place_due_rating_calls)
    except Exception:
        log.exception("placing due rating calls failed")


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
