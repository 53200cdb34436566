"""The hotline's use cases behind the voice webhooks: answer a call, take the
menu answers, record the decision exactly once.

A call gets a row in ``hotline_calls`` on its first webhook; its ``seq`` is the
request number the caller hears (``HL<seq>`` is the request id). The decision
is claimed once per CallSid (``SqlUnitOfWork.claim``), so the same webhook
delivered several times, even concurrently, writes one intake record and every
delivery answers with the same confirmation.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Mapping

from channels.context import ChannelContext, record_request
from db import channels
from db.session import Row, Session
from db.uow import SqlUnitOfWork
from handlers.channels import channel_events, ivr
from handlers.channels.delivery import is_final
from handlers.channels.ivr import OperatorHandoff, ServiceChoice, Step, Turn
from handlers.model import Priority

log = logging.getLogger("channels.hotline")


def incoming_call(ctx: ChannelContext, form: Mapping[str, str]) -> tuple[Step, ...]:
    """The first webhook of a call: greet a registered elder (or family member) in
    their language, or queue an unknown caller for an operator."""
    now, call_sid, caller = ctx.clock(), form["CallSid"], ctx.phone(form.get("From"))
    with SqlUnitOfWork(ctx.sessions) as uow:
        who = channels.elder_by_phone(uow.session, caller) if caller else None
        language = who.language if who else None
        call = channels.start_call(uow.session, call_sid, caller, who.elder_id if who else None, language, now)
        uow.commit()
    turn = ivr.answer(ctx.ivr, who is not None, language)
    return decide(ctx, call, turn) if turn.outcome else turn.steps


def menu_answer(
    ctx: ChannelContext, stage: str, params: Mapping[str, str], form: Mapping[str, str]
) -> tuple[Step, ...]:
    """A ``<Gather>`` result for the ``menu`` or ``time`` stage (``Digits`` absent on a timeout)."""
    now = ctx.clock()
    if stage == "menu":
        turn = ivr.on_menu(ctx.ivr, params, form.get("Digits"), now)
    else:
        turn = ivr.on_time(ctx.ivr, params, form.get("Digits"), now, ctx.tz)
    if turn.outcome is None:
        return turn.steps
    with SqlUnitOfWork(ctx.sessions) as uow:
        caller = ctx.phone(form.get("From"))
        call = channels.call(uow.session, form["CallSid"])
        if call is None:  # the first webhook never reached us: start the record now
            who = channels.elder_by_phone(uow.session, caller) if caller else None
            call = channels.start_call(
                uow.session,
                form["CallSid"],
                caller,
                who.elder_id if who else None,
                ctx.ivr.lang(params.get("lang")),
                now,
            )
            uow.commit()
    return decide(ctx, call, turn)


def decide(ctx: ChannelContext, call: Row, turn: Turn) -> tuple[Step, ...]:
    """Record the call's outcome once; answer every delivery with the recorded one."""
    now, outcome = ctx.clock(), turn.outcome
    number = str(call.seq)
    with SqlUnitOfWork(ctx.sessions) as uow:
        if not uow.claim(f"twilio:call:{call.call_sid}:decided"):
            recorded = channels.call(uow.session, call.call_sid)
            return _replay(ctx, recorded, turn)
        elder = channels.elder(uow.session, call.elder_id) if call.elder_id is not None else None
        if isinstance(outcome, ServiceChoice) and elder is not None:
            request_id = f"HL{number}"
            request_id = record_request(
                uow.session, request_id, elder, "hotline", outcome, now, ctx.settings.emergency_merge_minutes
            )
            channels.finish_call(
                uow.session,
                call.call_sid,
                outcome="emergency" if outcome.priority == Priority.STAT else "request",
                service_type=outcome.service_type,
                priority=outcome.priority.value,
                window_start=outcome.window_start,
                window_end=outcome.window_end,
                request_id=request_id,
                language=outcome.language,
                completed_at=now,
            )
            steps = ivr.confirm(ctx.ivr, outcome, number, ctx.tz)
        else:
            handoff = outcome if isinstance(outcome, OperatorHandoff) else OperatorHandoff("unregistered caller", True)
            _queue_for_operator(uow.session, call, handoff, now)
            steps = turn.steps or ivr.answer(ctx.ivr, False, None).steps
        uow.commit()
    log.info("call %s decided: %s", call.call_sid, type(outcome).__name__)
    return steps


def _queue_for_operator(session: Session, call: Row, handoff: OperatorHandoff, now: datetime) -> None:
    channels.finish_call(session, call.call_sid, outcome="operator", reason=handoff.reason[:120], completed_at=now)
    channels.publish(
        session,
        channel_events.call_queued(
            str(call.seq), call.from_phone, call.elder_id, handoff.reason, handoff.emergency, now
        ),
    )


def _replay(ctx: ChannelContext, call: Row | None, turn: Turn) -> tuple[Step, ...]:
    if call is not None and call.outcome in {"request", "emergency"}:
        choice = ServiceChoice(
            call.service_type, Priority(call.priority), call.window_start, call.window_end, 0, call.language or "zh"
        )
        return ivr.confirm(ctx.ivr, choice, str(call.seq), ctx.tz)
    return turn.steps or ivr.answer(ctx.ivr, False, None).steps


def call_ended(uow: SqlUnitOfWork, call_sid: str, call_status: str, now: datetime) -> bool:
    """A hotline call that ended before a decision (the caller hung up in the
    menu) is queued for an operator to call back, once. True if it was."""
    if not is_final("call", call_status):
        return False
    call = channels.call(uow.session, call_sid)
    if call is None or not uow.claim(f"twilio:call:{call_sid}:decided"):
        return False
    _queue_for_operator(uow.session, call, OperatorHandoff(f"caller hung up before deciding ({call_status})"), now)
    channels.finish_call(uow.session, call_sid, outcome="abandoned")
    return True
