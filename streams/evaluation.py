"""Evaluation agents: feedback in, provider scores out, scores back into dispatch.

- ``record_feedback``: ``care.feedback.v1`` -> feedback rows (ratings,
  complaints that reopen a request for an operator follow-up).
- the provider scores themselves come from the live KPI windows
  (``streams.live_kpis``), published on the compacted ``provider.scores.v1``.
- ``apply_provider_scores``: ``provider.scores.v1`` -> the score dispatch
  reads (``provider_organisations.score``). The loop closes.
"""

from __future__ import annotations

import logging

from faust.types import StreamT

from config import topics
from streams import steps
from streams.app import app, dispatch_dlq_topic, topic
from streams.runtime import db_call, deliver, kick_relay

log = logging.getLogger("careline.evaluation")
feedback_topic = topic(topics.FEEDBACK, "raw")
scores_topic = topic(topics.SCORES)


@app.agent(feedback_topic)
async def record_feedback(stream: StreamT) -> None:
    async for event in stream.events():
        raw = event.message.value
        try:
            await db_call(steps.record_feedback, steps.decode(raw))
        except steps.DeadLetter as exc:  # acknowledged before the next record, as every agent's output
            await deliver(
                dispatch_dlq_topic,
                event.message.key,
                steps.dead_letter(raw, exc, event.message.topic, event.message.offset),
            )
        except Exception as exc:
            log.exception("feedback step failed")
            await deliver(
                dispatch_dlq_topic,
                event.message.key,
                steps.dead_letter(
                    raw, steps.DeadLetter(f"{type(exc).__name__}: {exc}"), event.message.topic, event.message.offset
                ),
            )
        kick_relay()


@app.agent(scores_topic)
async def apply_provider_scores(stream: StreamT) -> None:
    async for value in stream:
        if isinstance(value, dict) and "provider_id" in value:
            await db_call(steps.apply_provider_score, value["provider_id"], value.get("score"))
