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
from streams import batches, steps
from streams.agents import handle_batch, inbound
from streams.app import app, dispatch_dlq_topic, topic
from streams.runtime import ack_all, db_call, take_batches

log = logging.getLogger("careline.evaluation")
feedback_topic = topic(topics.FEEDBACK, "raw")
scores_topic = topic(topics.SCORES)


@app.agent(feedback_topic)
async def record_feedback(stream: StreamT) -> None:
    """care.feedback.v1 -> feedback rows, a batch per transaction; a bad record is dead-lettered."""
    async for events in take_batches(stream):
        await handle_batch(batches.feedback_batch, [inbound(e) for e in events], dispatch_dlq_topic)
        await ack_all(stream, events)


@app.agent(scores_topic)
async def apply_provider_scores(stream: StreamT) -> None:
    async for value in stream:
        if isinstance(value, dict) and "provider_id" in value:
            await db_call(steps.apply_provider_score, value["provider_id"], value.get("score"))
