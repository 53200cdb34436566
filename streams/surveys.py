"""The satisfaction calls (回访): ``plan_callback_surveys`` reads completed visits on
``care.lifecycle.v1`` and records each one's survey, due ``rating_call_delay_minutes``
after check-out (``channels.surveys``); the row is the durable schedule, and
``place_due_rating_calls`` (a leader's timer) places the calls that are due, so a
restart loses none."""

from __future__ import annotations

import logging

from faust.types import StreamT

from channels import surveys
from config import topics
from streams import steps
from streams.app import app
from streams.runtime import current, db_call

log = logging.getLogger("careline.surveys")

survey_inbox = app.topic(
    topics.LIFECYCLE.name, key_type=None, value_type=None, key_serializer="raw", value_serializer="raw"
)


def plan(raw: bytes | str | dict) -> None:
    surveys.plan_rating_call(current().channels, steps.decode(raw))


def _completed(raw: bytes | str | dict) -> bool:
    try:
        return steps.decode(raw).get("type") == "care.visit.completed"
    except steps.DeadLetter:
        return False


@app.agent(survey_inbox)
async def plan_callback_surveys(stream: StreamT) -> None:
    async for raw in stream:
        try:
            if _completed(raw):
                await db_call(plan, raw)
        except Exception:
            log.exception("a callback survey could not be planned; the record is skipped")


@app.timer(interval=30.0, on_leader=True)
async def place_due_rating_calls() -> None:
    """Satisfaction calls whose time has come (``callback_surveys.due_at``)."""
    try:
        await db_call(surveys.place_due_rating_calls, current().channels)
    except Exception:
        log.exception("placing due rating calls failed")
