"""Telling people: the one use case that sends notices (SMS, app, voice call).

``tell(ctx, event)`` asks the domain who must be told what about one event
(``handlers.channels.notices.notices_for``, the register read through
``db.notices.SqlNoticeRegister``), words each notice in the person's language
(``handlers.channels.notice_texts``), stores it in ``notices`` and then sends it:

- ``sms``: each part one segment where the content allows, through the
  ``Notifier`` (``channels.notify``: Twilio, or the console without credentials),
  with a status callback; each message's delivery status lands in ``message_status``;
- ``voice``: a call to a landline; Twilio fetches ``/twilio/voice/notice``, which
  reads the notice twice (``careline.web.twilio_routes``);
- ``app``: the row is the app's inbox (``GET /api/v1/notices``), ``queued`` until fetched.

At most once per notice: its row (keyed by event id, person and channel) is
committed before the send, so a worker killed in between loses that one
message and never sends it twice; a redelivered event finds the rows and sends
nothing. Logs carry masked numbers and ids only.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

from channels.context import ChannelContext
from channels.notify import NotifyError
from db import channels as db_channels
from db import notices as stored
from db.notices import NoticeRow, SqlNoticeRegister
from db.uow import SqlUnitOfWork
from handlers.channels import notices
from handlers.channels.notice_texts import as_one_text, render
from handlers.channels.phone import mask
from handlers.channels.sms import count_segments

log = logging.getLogger("channels.notices")


def wanted(event: Mapping[str, Any]) -> bool:
    """Whether ``event`` may call for a notice (no database read)."""
    return notices.wanted(event)


def _row(ctx: ChannelContext, notice: notices.Notice) -> NoticeRow:
    person = notice.person
    parts = render(notice, ctx.texts, ctx.tz, ctx.brand(person.language))
    if notice.channel != "sms":
        parts = [as_one_text(parts)]
    return NoticeRow(
        notice.notice_id[:300],
        notice.event_id,
        notice.request_id,
        notice.kind,
        person.role,
        person.person_id,
        notice.channel,
        person.phone if notice.channel != "app" else None,
        person.language,
        tuple(parts),
        sum(count_segments(p).segments for p in parts) if notice.channel == "sms" else 0,
    )


def tell(ctx: ChannelContext, event: Mapping[str, Any]) -> list[NoticeRow]:
    """Decide, store and send the notices ``event`` calls for; returns those stored
    now (none for a redelivered event). A send that fails is recorded ``failed``."""
    return tell_many(ctx, [event])


def tell_many(ctx: ChannelContext, events: Sequence[Mapping[str, Any]]) -> list[NoticeRow]:
    """``tell`` for many events in one transaction (the notices agent's batch): every notice
    they call for is decided and stored, in their order, and committed once before any is
    sent; returns those stored now. An event that cannot be decided (``ValueError``: no id or
    time) fails the whole call and stores nothing: the caller tells the events one by one then."""
    events = [e for e in events if notices.wanted(e)]
    if not events:
        return []
    now = ctx.clock()
    with SqlUnitOfWork(ctx.sessions) as uow:
        register = SqlNoticeRegister(uow.session)
        register.prefetch(events)
        rows = [_row(ctx, n) for event in events for n in notices.notices_for(event, register)]
        if not rows:
            return []
        fresh = [r for r in rows if stored.add(uow.session, r, "queued" if r.channel == "app" else "sending", now)]
        uow.commit()  # stored before the send: at most once
    unrecorded: list[Exception] = []
    for row in fresh:
        try:
            if row.channel == "sms":
                _send_sms(ctx, row)
            elif row.channel == "voice":
                _call(ctx, row)
        except Exception as exc:  # noqa: BLE001 - its outcome was not recorded (the database): send the rest
            unrecorded.append(exc)
    if unrecorded:  # the caller retries; the rows are stored, so nothing is sent twice
        raise unrecorded[0]
    return fresh


def _send_sms(ctx: ChannelContext, row: NoticeRow) -> None:
    callback = ctx.url("/twilio/status", kind="sms", purpose=row.kind[:20], request_id=row.request_id)
    sids: list[str | None] = []
    try:
        for part in row.parts:
            sids.append(ctx.notifier.send_sms(row.to_phone or "", part, callback))
    except NotifyError as exc:
        log.warning("notice %s (%s) to %s failed: %s", row.kind, row.recipient_role, mask(row.to_phone), exc)
        _finish(ctx, row, "failed" if not sids else "partly_sent", sids, str(exc)[:500])
        return
    _finish(ctx, row, "sent" if all(sids) else "opted_out", sids)


def _call(ctx: ChannelContext, row: NoticeRow) -> None:
    url = ctx.url("/twilio/voice/notice", notice_id=row.notice_id)
    callback = ctx.url("/twilio/status", kind="call", purpose="notice", request_id=row.request_id)
    try:
        sid = ctx.notifier.place_call(row.to_phone or "", url, callback)
    except NotifyError as exc:
        log.warning("notice call %s to %s failed: %s", row.kind, mask(row.to_phone), exc)
        _finish(ctx, row, "failed", [], str(exc)[:500])
        return
    _finish(ctx, row, "sent" if sid else "failed", [sid], None, kind="call")


def _finish(
    ctx: ChannelContext,
    row: NoticeRow,
    status: str,
    sids: list[str | None],
    error: str | None = None,
    kind: str = "sms",
) -> None:
    now = ctx.clock()
    with ctx.sessions() as session:
        for sid in sids:
            if sid:
                db_channels.record_status(
                    session,
                    sid,
                    kind,
                    "queued",
                    now,
                    to_phone=row.to_phone,
                    purpose=row.kind[:20],
                    request_id=row.request_id,
                )
        stored.finish(session, row.notice_id, status, now, next((s for s in sids if s), None), error)
        session.commit()


def notice_call(ctx: ChannelContext, notice_id: str) -> tuple:
    """The TwiML steps of a notice call to a landline: the notice said twice, or a
    goodbye for an id we do not know (the call was placed by us; nothing to leak)."""
    from handlers.channels import ivr

    with ctx.sessions() as session:
        row = stored.notice(session, notice_id)
    if row is None or row.channel != "voice":
        return (ivr.Say(ctx.texts.text(None, "ivr.goodbye"), "cmn-CN", "Polly.Zhiyu"), ivr.Hangup())
    return ivr.notice_call(ctx.ivr, row.language, row.body)
