"""Evaluation agents: feedback in, provider scores out, scores back into dispatch.

- ``record_feedback``: ``care.feedback.v1`` -> feedback rows (ratings,
  complaints that reopen a request for an operator follow-up).
- ``score_providers`` (leader only, every ``score_interval_seconds``):
  each provider's composite score over the last ``score_window_hours`` of
  (simulated or real) time, published on the compacted ``provider.scores.v1``
  when it changed.
- ``apply_provider_scores``: ``provider.scores.v1`` -> the score dispatch
  reads (``provider_organisations.score``). The loop closes.
"""
from __future__ import annotations

import logging

from config import topics
from config.settings import get_settings
from streams import steps
from streams.app import app, dispatch_dlq_topic, topic
from streams.runtime import db_call, kick_relay

log = logging.getLogger("careline.evaluation")
feedback_topic = topic(topics.FEEDBACK, "raw")
scores_topic = topic(topics.SCORES)
_published: dict[str, float] = {}


@app.agent(feedback_topic)
async def record_feedback(stream):
    async for event in stream.events():
        raw = event.message.value
        try:
            await db_call(steps.record_feedback, steps.decode(raw))
        except steps.DeadLetter as exc:
            await dispatch_dlq_topic.send(key=event.message.key, value=steps.dead_letter(
                raw, exc, event.message.topic, event.message.offset))
        kick_relay()


@app.timer(interval=get_settings().score_interval_seconds, on_leader=True)
async def score_providers() -> None:
    # off the event loop: the window can hold thousands of offers, and agents and the
    # batch timer must keep their pace meanwhile
    # and waiting out a database restart rather than crashing the worker (bench faults)
    scores = await db_call(steps.provider_scores_now)
    for provider_id, score in scores.items():
        if _published.get(provider_id) != score:
            await scores_topic.send(key=provider_id.encode(), value={"provider_id": provider_id, "score": score})
            _published[provider_id] = score


@app.agent(scores_topic)
async def apply_provider_scores(stream):
    async for value in stream:
        if isinstance(value, dict) and "provider_id" in value:
            await db_call(steps.apply_provider_score, value["provider_id"], value.get("score"))

