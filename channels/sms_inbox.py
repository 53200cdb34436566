"""Inbound SMS: caregivers' replies, elders' texts (SOS alarm, survey rating).

The sender's number says who writes: a caregiver (``caregivers.phone``), an
elder or a family member (``elders.phone`` / ``family_phones``), or nobody we
know. Each MessageSid is claimed once, so a webhook delivered several times
(even at once) writes one event and gets one reply; duplicates get none.

A caregiver's reply maps to their pending offer (or the offer/visit with the
short code given) and becomes a caregiver event on ``caregiver.events.v1``
(via the outbox), which dispatch handles like any other channel's.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Mapping

from channels.context import ChannelContext, emergency_choice, record_request, short_id
from db import channels, surveys
from db.session import Row, Session
from db.uow import SqlUnitOfWork
from handlers.channels import channel_events, sms
from handlers.channels.phone import mask
from handlers.channels.sms import ReplyKind
from handlers.model import OfferStatus

log = logging.getLogger("careline.sms")


def inbound_sms(ctx: ChannelContext, form: Mapping[str, str]) -> str | None:
    """The reply to send back (as TwiML), or None for a duplicate delivery."""
    now, sid, sender = ctx.clock(), form["MessageSid"], ctx.phone(form.get("From"))
    body = form.get("Body", "")
    with SqlUnitOfWork(ctx.sessions) as uow:
        if not uow.claim(f"twilio:sms:{sid}"):
            return None
        reply = _route(ctx, uow.session, sid, sender, body, now)
        uow.commit()
    return reply


def _route(ctx: ChannelContext, session: Session, sid: str, sender: str | None, body: str, now: datetime) -> str:
    if sender is None:
        return sms.elder_help_text(None, ctx.brand(None))
    caregiver = channels.caregiver_by_phone(session, sender)
    if caregiver is not None:
        return _caregiver_reply(ctx, session, sid, caregiver, sender, body, now)
    elder = channels.elder_by_phone(session, sender)
    if sms.parse_reply(body).kind == ReplyKind.OPT_OUT:
        channels.record_opt_out(session, sender, "keyword", now)
        return sms.reply_text(ReplyKind.OPT_OUT, None, elder.language if elder else None, ctx.brand(None))
    if sms.is_alarm_text(body, frozenset(ctx.settings.alarm_sms_keywords)):
        return _sms_alarm(ctx, session, sid, elder, sender, now)
    if elder is not None:
        return _elder_text(ctx, session, elder, sender, body, now)
    log.info("SMS %s from an unknown number %s: help sent", sid, mask(sender))
    return sms.elder_help_text(None, ctx.brand(None))


def _caregiver_reply(
    ctx: ChannelContext, session: Session, sid: str, caregiver: Row, sender: str, body: str, now: datetime
) -> str:
    reply, lang = sms.parse_reply(body), caregiver.language
    brand = ctx.brand(lang)
    if reply.kind == ReplyKind.OPT_OUT:
        channels.record_opt_out(session, sender, "keyword", now)
        return sms.reply_text(reply.kind, None, lang, brand)
    if reply.kind == ReplyKind.HELP:
        return sms.reply_text(reply.kind, None, lang, brand)
    open_offers = channels.open_offers(session, caregiver.caregiver_id)
    open_codes = [o.short_code for o in open_offers]
    if reply.code is not None:
        offer = channels.offer_by_code(session, caregiver.caregiver_id, reply.code)
    else:
        offer = open_offers[0] if len(open_offers) == 1 else None
    if offer is None:
        return sms.unknown_code_text(reply.code, open_codes, lang, brand)
    wanted = OfferStatus.PENDING if reply.kind in (ReplyKind.ACCEPT, ReplyKind.DECLINE) else OfferStatus.ACCEPTED
    if offer.status != wanted:
        return sms.refused_text(offer.short_code, lang, brand)
    event = channel_events.caregiver_event(
        reply.kind, offer.request_id, caregiver.caregiver_id, offer.offer_id, offer.service_area, now
    )
    channels.publish(session, event, event_id=f"sms:{sid}", source="careline/twilio-sms")
    log.info("SMS %s: caregiver %s %s offer %s", sid, caregiver.caregiver_id, reply.kind.value, offer.offer_id)
    return sms.reply_text(reply.kind, offer.short_code, lang, brand)


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
    return sms.alarm_ack_text(request_id, lang, ctx.brand(lang))


def _elder_text(ctx: ChannelContext, session: Session, elder: Row, sender: str, body: str, now: datetime) -> str:
    lang = elder.language
    rating = sms.parse_rating(body)
    survey = surveys.awaiting_sms_rating(session, sender) if rating is not None else None
    if rating is None or survey is None:
        return sms.elder_help_text(lang, ctx.brand(lang))
    from channels.surveys import save_rating

    save_rating(session, survey.request_id, rating, "sms", now)
    return sms.thanks_text(lang, ctx.brand(lang))
