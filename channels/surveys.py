"""The satisfaction callback (回访) after a completed visit.

1. ``plan_survey``: on ``care.visit.completed`` the worker records a survey due
   ``rating_call_delay_minutes`` after check-out (elders without a phone get none).
2. ``place_rating_call``: at the due time the worker calls the elder; Twilio
   fetches ``/twilio/voice/rating``, which asks for 1-5 on the keypad.
3. The call's final status callback: if no rating came (busy, no answer,
   failed, or answered without a key), one SMS asks for a reply 1-5 instead.
4. ``save_rating``: the first answer (voice or SMS) becomes a ``feedback`` row
   (kind ``rating``) and ``care.feedback.rated`` on ``care.feedback.v1`` via the outbox.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Mapping

from channels.context import ChannelContext
from channels.notify import NotifyError
from db import channels, surveys
from db.session import Session
from db.uow import SqlUnitOfWork
from handlers.channels import channel_events, ivr
from handlers.channels.delivery import is_final
from handlers.channels.ivr import Step
from handlers.channels.phone import mask

log = logging.getLogger("channels.surveys")


def save_rating(session: Session, request_id: str, rating: int, channel: str, now: datetime) -> bool:
    """Store the first rating of a request and publish it; later ones change nothing."""
    if not surveys.record_rating(session, request_id, rating, channel, now):
        return False
    people = surveys.visit_people(session, request_id)
    channels.publish(
        session,
        channel_events.rating_given(
            request_id,
            rating,
            channel,
            now,
            people.caregiver_id if people else None,
            people.provider_id if people else None,
        ),
    )
    return True


def rating_call(ctx: ChannelContext, params: Mapping[str, str], form: Mapping[str, str]) -> tuple[Step, ...]:
    """TwiML steps of the rating call: the prompt when answered, then each keypad answer."""
    request_id = params.get("request_id", "")
    with ctx.sessions() as session:
        survey = surveys.get(session, request_id)
    service_type = survey.service_type if survey else ""
    if "try" not in params:
        return ivr.rating_prompt(ctx.ivr, survey.language if survey else None, service_type, 0, request_id).steps
    turn, rating = ivr.on_rating(ctx.ivr, params, form.get("Digits"), service_type)
    if rating is not None and survey is not None:
        with SqlUnitOfWork(ctx.sessions) as uow:
            save_rating(uow.session, request_id, rating, "voice", ctx.clock())
            uow.commit()
    return turn.steps


def call_finished(uow: SqlUnitOfWork, request_id: str, call_status: str, now: datetime) -> bool:
    """On the rating call's final status: True (once) when an SMS should ask instead."""
    if not is_final("call", call_status):
        return False
    return surveys.set_status(uow.session, request_id, "sms_sent", now, only_from=("calling",))


def send_rating_sms(ctx: ChannelContext, request_id: str) -> str | None:
    """Ask for the rating by SMS (after ``call_finished`` said so); the message SID."""
    with ctx.sessions() as session:
        survey = surveys.get(session, request_id)
    if survey is None:
        return None
    body = ctx.texts.text(survey.language, "sms.elder.rating_request", brand=ctx.brand(survey.language))
    try:
        sid = ctx.notifier.send_sms(
            survey.phone, body, ctx.url("/twilio/status", kind="sms", purpose="rating", request_id=request_id)
        )
    except NotifyError as exc:
        log.warning("rating SMS for %s to %s failed: %s", request_id, mask(survey.phone), exc)
        return None
    with SqlUnitOfWork(ctx.sessions) as uow:
        if sid:
            surveys.set_status(uow.session, request_id, "sms_sent", ctx.clock(), sms_sid=sid)
            channels.record_status(
                uow.session,
                sid,
                "sms",
                "queued",
                ctx.clock(),
                to_phone=survey.phone,
                purpose="rating",
                request_id=request_id,
            )
        uow.commit()
    return sid


def plan_survey(ctx: ChannelContext, data: Mapping[str, object], completed_at: datetime) -> datetime | None:
    """Record the survey of a completed visit; returns when to call (UTC), or
    None when there is no elder phone or a survey exists already."""
    request_id = str(data["request_id"])
    with SqlUnitOfWork(ctx.sessions) as uow:
        request = uow.requests.get(request_id)
        elder = channels.elder(uow.session, request.elder_id) if request else None
        if elder is None or not elder.phone:
            return None
        due = completed_at + timedelta(minutes=ctx.settings.rating_call_delay_minutes)
        created = surveys.create(
            uow.session,
            request_id,
            elder.elder_id,
            elder.phone,
            elder.language,
            str(data.get("service_type") or request.service_type),
            due,
            ctx.clock(),
        )
        uow.commit()
    return due if created else None


def place_rating_call(ctx: ChannelContext, request_id: str) -> str | None:
    """Call the elder of a scheduled survey (once); the call SID. A call that
    cannot be placed falls back to the SMS at once."""
    now = ctx.clock()
    with SqlUnitOfWork(ctx.sessions) as uow:
        survey = surveys.get(uow.session, request_id)
        if survey is None or not surveys.set_status(uow.session, request_id, "calling", now, only_from=("scheduled",)):
            return None
        uow.commit()
    try:
        sid = ctx.notifier.place_call(
            survey.phone,
            ctx.url("/twilio/voice/rating", request_id=request_id),
            ctx.url("/twilio/status", kind="call", purpose="rating", request_id=request_id),
        )
    except NotifyError as exc:
        log.warning("rating call for %s failed (%s): asking by SMS", request_id, exc)
        with SqlUnitOfWork(ctx.sessions) as uow:
            moved = call_finished(uow, request_id, "failed", now)
            uow.commit()
        if moved:
            send_rating_sms(ctx, request_id)
        return None
    with SqlUnitOfWork(ctx.sessions) as uow:
        surveys.set_status(uow.session, request_id, "calling", now, call_sid=sid)
        channels.record_status(
            uow.session, sid, "call", "queued", now, to_phone=survey.phone, purpose="rating", request_id=request_id
        )
        uow.commit()
    return sid


def plan_rating_call(ctx: ChannelContext, value: Mapping[str, object]) -> datetime | None:
    """For a ``care.visit.completed`` record: record its survey; when the call is due (UTC), or None."""
    data = value.get("data")
    if value.get("type") != "care.visit.completed" or not isinstance(data, dict):
        return None
    completed = data.get("check_out_at") or value.get("time")
    if not isinstance(completed, str) or not completed:
        return None
    return plan_survey(ctx, data, datetime.fromisoformat(completed))


def place_due_rating_calls(ctx: ChannelContext, limit: int = 50) -> int:
    """Place the satisfaction calls whose time has come (in the components' clock);
    each survey moves ``scheduled`` -> ``calling`` once, so overlapping sweeps
    never call twice. Returns how many calls were placed."""
    from db.register import read_clock

    with ctx.sessions() as session:
        due = surveys.due(session, read_clock(session).now(), limit)
    return sum(1 for request_id in due if place_rating_call(ctx, request_id))
