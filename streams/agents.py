"""Agents: decode, call a step, emit what it returns. Nothing is dropped:
a record that cannot be handled goes to a dead-letter topic with the reason.
"""
from __future__ import annotations

import asyncio
import logging


from config import topics
from streams import outbound, steps
from streams.app import (app, dispatch_dlq_topic, dispatch_inbox, intake_dlq_topic, intake_topic,
                         lifecycle_topic, requests_topic)
from streams.runtime import relay_outbox

log = logging.getLogger("careline.agents")


@app.agent(intake_topic)
async def validate_intake_records(stream):
    """care.intake.v1 -> care.requests.v1 (keyed by service area) or the intake DLQ."""
    async for event in stream.events():
        raw = event.message.value
        try:
            value = steps.decode(raw)
            if value.get("type") == "careline.probe":
                await lifecycle_topic.send(key=b"probe", value={**value, "type": "careline.probe.answered"})
                continue
            area, validated = await asyncio.to_thread(steps.validate_intake_record, value)
        except steps.DeadLetter as exc:
            await intake_dlq_topic.send(key=event.message.key, value=steps.dead_letter(
                raw, exc, event.message.topic, event.message.offset))
            continue
        await requests_topic.send(key=area.encode(), value=validated)


@app.agent(dispatch_inbox)
async def dispatch_care(stream):
    """Requests, caregiver replies and timer firings of one service area, in order."""
    async for event in stream.events():
        raw = event.message.value
        try:
            value = steps.decode(raw)
            # database work off the event loop, awaited: one area's events stay in order
            await asyncio.to_thread(steps.handle_dispatch_event_retrying, value)
        except steps.DeadLetter as exc:
            await dispatch_dlq_topic.send(key=event.message.key, value=steps.dead_letter(
                raw, exc, event.message.topic, event.message.offset))
        except Exception as exc:  # noqa: BLE001 - faust would ack and lose it: keep it with the cause
            log.exception("dispatch step failed")
            await dispatch_dlq_topic.send(key=event.message.key, value=steps.dead_letter(
                raw, steps.DeadLetter(f"{type(exc).__name__}: {exc}"), event.message.topic,
                event.message.offset))
        await relay_outbox()


@app.agent(lifecycle_topic)
async def evaluate_visits(stream):
    """Fold completed visits into provider and caregiver aggregates."""
    async for value in stream:
        if isinstance(value, dict):
            await asyncio.to_thread(steps.fold_evaluation, value)


@app.timer(interval=1.0)
async def relay_leftovers() -> None:
    """Publish outbox rows a crash left unsent."""
    await relay_outbox()


outbound_inbox = app.topic(topics.OFFERS.name, topics.LIFECYCLE.name, key_type=None, value_type=None,
                           key_serializer="raw", value_serializer="raw")


@app.agent(outbound_inbox)
async def notify_people(stream):
    """dispatch.offers.v1 -> SMS to the caregiver (the offer; the address once accepted; a
    notice when rescinded); care.lifecycle.v1 completed visits -> a satisfaction call is planned.
    A bad record is logged and skipped: both topics are internal, nothing to dead-letter."""
    loop = asyncio.get_running_loop()
    async for raw in stream:
        try:
            await loop.run_in_executor(None, outbound.handle, raw)
        except Exception:  # noqa: BLE001 - never stop the agent for one record
            log.exception("outbound notification skipped a record")


@app.timer(interval=30.0, on_leader=True)
async def place_due_rating_calls() -> None:
    """Satisfaction calls whose time has come (``callback_surveys.due_at``)."""
    try:
        await asyncio.get_running_loop().run_in_executor(None, outbound.place_due_rating_calls)
    except Exception:  # noqa: BLE001
        log.exception("placing due rating calls failed")


@app.timer(interval=0.1, on_leader=True)
async def match_batches() -> None:
    """Batched areas: match waiting requests as one assignment problem per batch interval."""
    if await asyncio.get_running_loop().run_in_executor(None, steps.run_batches):
        await relay_outbox()
