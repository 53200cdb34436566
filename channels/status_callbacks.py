"""Twilio status callbacks for messages and calls we sent, and for hotline calls.

Statuses are stored monotonically (``db.channels.record_status``): a callback
that arrives late never rewinds a final state. Error 21610 (the recipient
replied STOP) records an opt-out. A hotline call that ends before a decision
is queued for an operator; a rating call that ends without a rating falls back
to one SMS.
"""

from __future__ import annotations

import logging
from typing import Mapping

from channels import hotline, surveys
from channels.context import ChannelContext
from db import channels
from db.uow import SqlUnitOfWork
from handlers.channels.delivery import UNSUBSCRIBED_ERROR
from handlers.channels.phone import mask

log = logging.getLogger("careline.status")


def status_callback(ctx: ChannelContext, params: Mapping[str, str], form: Mapping[str, str]) -> bool:
    """Apply one callback; ``params`` are our query parameters (``kind``,
    ``purpose``, ``request_id``). True if the status was newer than the stored one."""
    now = ctx.clock()
    if form.get("MessageSid") and form.get("MessageStatus"):
        kind, sid, status = "sms", form["MessageSid"], form["MessageStatus"].lower()
    elif form.get("CallSid") and form.get("CallStatus"):
        kind, sid, status = "call", form["CallSid"], form["CallStatus"].lower()
    else:
        return False
    purpose, request_id = params.get("purpose"), params.get("request_id")
    error = form.get("ErrorCode") or None
    to = ctx.phone(form.get("To")) if (kind == "sms" or purpose) else None
    fallback = False
    with SqlUnitOfWork(ctx.sessions) as uow:
        if kind == "call" and purpose == "rating" and request_id:
            fallback = surveys.call_finished(uow, request_id, status, now)
        elif kind == "call":
            hotline.call_ended(uow, sid, status, now)
        newer = channels.record_status(
            uow.session, sid, kind, status, now, error_code=error, to_phone=to, purpose=purpose, request_id=request_id
        )
        if kind == "sms" and error == UNSUBSCRIBED_ERROR and to:
            channels.record_opt_out(uow.session, to, "error_21610", now)
            log.info("%s: %s opted out (21610)", sid, mask(to))
        uow.commit()
    if fallback:
        surveys.send_rating_sms(ctx, request_id or "")
    return newer
