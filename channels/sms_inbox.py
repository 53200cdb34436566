"""Inbound SMS: caregivers' replies, elders' texts (SOS alarm, complaint, survey rating).

The sender's number says who writes: a caregiver (``caregivers.phone``), an
elder or a family member (``elders.phone`` / ``family_phones``), or nobody we
know. Each MessageSid is claimed once, so a webhook delivered several times
(even at once) writes one event and gets one reply; duplicates get none.

A caregiver's reply (read forgivingly, ``handlers.channels.replies``) maps to
the job with the short code given, or to her only open one of the right kind
(a pending offer for yes/no, a booked visit for arrived, a visit in progress
for done), and becomes a caregiver event on ``caregiver.events.v1`` (via the
outbox), which dispatch handles like any other channel's. A check-in or
check-out is verified against her registered phone and the time
(``handlers.visits.evv``, method ``sms_code``). A check-in texted from a phone
that is no caregiver's changes nothing: it is a loose end on the operator's
board, and the sender is told how to check in (the elder's landline). An
elder's ``投诉 …``/``COMPLAINT …`` is a complaint about her latest request, with
its follow-up deadline.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Mapping

from channels.context import ChannelContext, emergency_choice, record_request, short_id
from config.evaluation import get_evaluation_config
from db import channels, surveys
from db.loose_ends import open_loose_end
from db.session import Row, Session
from db.uow import SqlUnitOfWork
from handlers.channels import channel_events, sms
from handlers.channels.phone import mask
from handlers.channels.sms import Reply, ReplyKind
from handlers.evaluation.feedback import record_feedback
from handlers.model import OfferStatus, VisitStatus
from handlers.visits import evv

log = logging.getLogger("careline.sms")
_JOB_STATE = {ReplyKind.CHECK_IN: VisitStatus.SCHEDULED, ReplyKind.CHECK_OUT: VisitStatus.IN_PROGRESS}


def inbound_sms(ctx: ChannelContext, form: Mapping[str, str]) -> str | None:
    """The reply to send back (as TwiML), or None for a duplicate delivery."""
    now, sid, sender = ctx.clock(), form["MessageSid"], ctx.phone(form.get("From"))
    body = form.get("Body", "")
    with SqlUnitOfWork(ctx.sessions) as uow:
        if not uow.claim(f"twilio:sms:{sid}"):
            return None
        reply = _route(ctx, uow, sid, sender, body, now)
        uow.commit()
    return reply


def _text(ctx: ChannelContext, language: str | None, key: str, **values: object) -> str:
    return ctx.texts.text(language, key, brand=ctx.brand(language), **values)


def _route(ctx: ChannelContext, uow: SqlUnitOfWork, sid: str, sender: str | None, body: str, now: datetime) -> str:
    session = uow.session
    if sender is None:
        return _text(ctx, None, "sms.elder.help")
    caregiver = channels.caregiver_by_phone(session, sender)
    if caregiver is not None:
        return _caregiver_reply(ctx, session, sid, caregiver, sender, body, now)
    elder = channels.elder_by_phone(session, sender)
    reply = sms.parse_reply(body)
    lang = elder.language if elder else None
    if reply.kind == ReplyKind.OPT_OUT:
        channels.record_opt_out(session, sender, "keyword", now)
        return sms.reply_text(ctx.texts, ReplyKind.OPT_OUT, None, lang, ctx.brand(lang))
    if sms.is_alarm_text(body, frozenset(ctx.settings.alarm_sms_keywords)):
        return _sms_alarm(ctx, session, sid, elder, sender, now)
    if reply.kind in _JOB_STATE:
        return _foreign_check_in(ctx, session, sid, elder, sender, reply, now)
    if reply.kind == ReplyKind.COMPLAINT:
        return _complaint(ctx, uow, sid, elder, sender, reply, now)
    if elder is not None:
        return _elder_text(ctx, session, elder, sender, body, now)
    log.info("SMS %s from an unknown number %s: help sent", sid, mask(sender))
    return _text(ctx, None, "sms.elder.help")


def _caregiver_reply(
    ctx: ChannelContext, session: Session, sid: str, caregiver: Row, sender: str, body: str, now: datetime
) -> str:
    reply, lang = sms.parse_reply(body), caregiver.language
    brand = ctx.brand(lang)
    if reply.kind == ReplyKind.OPT_OUT:
        channels.record_opt_out(session, sender, "keyword", now)
        return sms.reply_text(ctx.texts, reply.kind, None, lang, brand)
    if reply.kind in (ReplyKind.HELP, ReplyKind.COMPLAINT):
        return sms.reply_text(ctx.texts, ReplyKind.HELP, None, lang, brand)
    if reply.kind in _JOB_STATE:
        return _job_report(ctx, session, sid, caregiver, sender, reply, now)
    open_offers = channels.open_offers(session, caregiver.caregiver_id)
    if reply.code is not None:
        offer = channels.offer_by_code(session, caregiver.caregiver_id, reply.code)
    else:
        offer = open_offers[0] if len(open_offers) == 1 else None
    if offer is None:
        return sms.unknown_code_text(ctx.texts, reply.code, [o.short_code for o in open_offers], lang, brand)
    if offer.status != OfferStatus.PENDING:
        return _text(ctx, lang, "sms.refused", code=offer.short_code)
    event = channel_events.caregiver_event(
        reply.kind, offer.request_id, caregiver.caregiver_id, offer.offer_id, offer.service_area, now
    )
    channels.publish(session, event, event_id=f"sms:{sid}", source="careline/twilio-sms")
    log.info("SMS %s: caregiver %s %s offer %s", sid, caregiver.caregiver_id, reply.kind.value, offer.offer_id)
    return sms.reply_text(ctx.texts, reply.kind, offer.short_code, lang, brand)


def _job_report(
    ctx: ChannelContext, session: Session, sid: str, caregiver: Row, sender: str, reply: Reply, now: datetime
) -> str:
    """A check-in or check-out by SMS: the job by its code or her only one in the right
    state, verified against her registered phone and the time (``evv``, ``sms_code``)."""
    lang, brand = caregiver.language, ctx.brand(caregiver.language)
    jobs = channels.open_jobs(session, caregiver.caregiver_id, (_JOB_STATE[reply.kind],))
    if reply.code is not None:
        job = next((j for j in jobs if j.short_code == reply.code), None)
        if job is None and channels.offer_by_code(session, caregiver.caregiver_id, reply.code) is not None:
            return _text(ctx, lang, "sms.refused", code=reply.code)
    else:
        job = jobs[0] if len(jobs) == 1 else None
    if job is None:
        return sms.unknown_code_text(ctx.texts, reply.code, [j.short_code for j in jobs], lang, brand)
    policy = get_evaluation_config().evv
    if reply.kind == ReplyKind.CHECK_IN:
        registered = [caregiver.phone] if caregiver.phone else []
        flags = evv.verify_check_in("sms_code", now, job.planned_start, None, None, sender, registered, policy)
    else:
        planned = (job.planned_end - job.planned_start).total_seconds() / 60.0
        flags = evv.check_short_visit(job.check_in_at or now, max(now, job.check_in_at or now), planned, policy)
    event = channel_events.caregiver_event(
        reply.kind,
        job.request_id,
        caregiver.caregiver_id,
        job.offer_id,
        job.service_area,
        now,
        evv_method="sms_code",
        evv_flags=[{"code": f.code.value, "detail": f.detail} for f in flags],
    )
    channels.publish(session, event, event_id=f"sms:{sid}", source="careline/twilio-sms")
    log.info("SMS %s: caregiver %s %s visit %s", sid, caregiver.caregiver_id, reply.kind.value, job.visit_id)
    return sms.reply_text(ctx.texts, reply.kind, job.short_code, lang, brand)


def _foreign_check_in(
    ctx: ChannelContext, session: Session, sid: str, elder: Row | None, sender: str, reply: Reply, now: datetime
) -> str:
    """A check-in or check-out texted from a phone that is no caregiver's: nothing is
    checked in (the phone is the proof of who); the operator sees it on the board."""
    what = "check-in" if reply.kind == ReplyKind.CHECK_IN else "check-out"
    owner = f" (elder {elder.elder_id}'s phone)" if elder is not None else ""
    open_loose_end(
        session,
        f"sms:{sid}",
        "unknown_sms",
        f"{what} texted{f' for job {reply.code}' if reply.code else ''} from a phone that is no caregiver's{owner}: "
        "not accepted; check who it was",
        now,
        subject=reply.code,
        service_area=elder.service_area if elder is not None else None,
        phone=sender,
    )
    log.warning("SMS %s: %s from %s, not a caregiver's phone: refused", sid, what, mask(sender))
    lang = elder.language if elder is not None else None
    return _text(ctx, lang, "sms.reply.not_registered")


def _complaint(
    ctx: ChannelContext, uow: SqlUnitOfWork, sid: str, elder: Row | None, sender: str, reply: Reply, now: datetime
) -> str:
    """``投诉 …`` from an elder or family: a complaint about the elder's latest request
    (category ``other``, the words as its comment), with its follow-up deadline."""
    hours = float(ctx.ivr.complaint_followup_hours)
    due = now + timedelta(hours=hours)
    latest = channels.latest_request_of(uow.session, elder.elder_id) if elder is not None else None
    if latest is not None:
        record_feedback(
            f"sms:{sid}",
            latest.request_id,
            uow,
            now,
            complaint="other",
            comment=reply.text,
            followup_hours=hours,
            channel="sms",
        )
    else:
        open_loose_end(
            uow.session,
            f"complaint:{sid}",
            "complaint",
            f"complaint by SMS{'' if elder is None else ' from an elder with no request yet'}: {reply.text or ''}",
            now,
            subject=elder.elder_id if elder is not None else None,
            service_area=elder.service_area if elder is not None else None,
            phone=sender,
            due_at=due,
        )
    lang = elder.language if elder is not None else None
    return _text(ctx, lang, "sms.elder.complaint", deadline=f"{due.astimezone(ctx.tz):%m/%d %H:%M}")


def _sms_alarm(ctx: ChannelContext, session: Session, sid: str, elder: Row | None, sender: str, now: datetime) -> str:
    """An SOS text: an emergency request for a known elder, an operator alert either way."""
    request_id = short_id("SM", sid)
    lang = elder.language if elder else None
    if elder is not None:
        request_id = record_request(
            session,
            request_id,
            elder,
            "sms",
            emergency_choice(ctx.ivr, lang, now),
            now,
            ctx.settings.emergency_merge_minutes,
        )
    else:
        channels.publish(
            session,
            channel_events.call_queued(request_id, sender, None, "SOS text from an unregistered number", True, now),
        )
    log.warning("SMS alarm %s from %s", request_id, mask(sender))
    return _text(ctx, lang, "sms.elder.alarm_ack", number=request_id)


def _elder_text(ctx: ChannelContext, session: Session, elder: Row, sender: str, body: str, now: datetime) -> str:
    lang = elder.language
    rating = sms.parse_rating(body)
    survey = surveys.awaiting_sms_rating(session, sender) if rating is not None else None
    if rating is None or survey is None:
        return _text(ctx, lang, "sms.elder.help")
    from channels.surveys import save_rating

    save_rating(session, survey.request_id, rating, "sms", now)
    return _text(ctx, lang, "sms.elder.thanks")
