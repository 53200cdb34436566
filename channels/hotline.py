"""The hotline's use cases behind the voice webhooks: answer a call, take the
menu answers, record the decision exactly once.

A call gets a row in ``hotline_calls`` on its first webhook; its ``seq`` is the
request number the caller hears (``HL<seq>`` is the request id). The decision
is claimed once per CallSid (``SqlUnitOfWork.claim``), so the same webhook
delivered several times, even concurrently, writes one intake record (or one
complaint, or one check-in) and every delivery answers with the same words.

- a request: read back, confirmed with one key, then the intake record on the outbox;
- a complaint: stored against the elder's latest request with its follow-up
  deadline (``handlers.evaluation.feedback``), or a loose end when there is none;
- a caregiver's job code keyed on the elder's home phone: a check-in (or check-out)
  verified by caller ID (``handlers.visits.evv``, method ``landline``);
- an unknown caller, a hang-up inside the menu: a loose end on the operator's board.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Mapping

from channels.context import ChannelContext, record_request
from config.evaluation import get_evaluation_config
from db import channels
from db.loose_ends import open_loose_end
from db.session import Row, Session
from db.uow import SqlUnitOfWork
from handlers.channels import channel_events, ivr
from handlers.channels.delivery import is_final
from handlers.channels.ivr import CaregiverCode, ComplaintChoice, OperatorHandoff, ServiceChoice, Step, Turn
from handlers.channels.sms import ReplyKind
from handlers.evaluation.feedback import record_feedback
from handlers.model import Priority
from handlers.visits import evv

log = logging.getLogger("channels.hotline")
STAGES = ("menu", "service", "time", "confirm", "complaint", "checkin")


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


def _turn(ctx: ChannelContext, stage: str, params: Mapping[str, str], digits: str | None, now: datetime) -> Turn:
    if stage == "menu":
        return ivr.on_menu(ctx.ivr, params, digits, now)
    if stage == "service":
        return ivr.on_service(ctx.ivr, params, digits)
    if stage == "time":
        return ivr.on_time(ctx.ivr, params, digits, now, ctx.tz)
    if stage == "confirm":
        return ivr.on_confirm(ctx.ivr, params, digits, ctx.tz)
    if stage == "complaint":
        return ivr.on_complaint(ctx.ivr, params, digits)
    return ivr.on_checkin(ctx.ivr, params, digits)


def menu_answer(
    ctx: ChannelContext, stage: str, params: Mapping[str, str], form: Mapping[str, str]
) -> tuple[Step, ...]:
    """A ``<Gather>`` result of a stage (``STAGES``; ``Digits`` absent on a timeout)."""
    now = ctx.clock()
    turn = _turn(ctx, stage, params, form.get("Digits"), now)
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
            steps = _request(ctx, uow.session, call, elder, outcome, number, now)
        elif isinstance(outcome, ComplaintChoice) and elder is not None:
            steps = _complaint(ctx, uow, call, outcome, now)
        elif isinstance(outcome, CaregiverCode) and elder is not None:
            steps = _caregiver_code(ctx, uow.session, call, outcome, now)
        else:
            handoff = outcome if isinstance(outcome, OperatorHandoff) else OperatorHandoff("unregistered caller", True)
            _queue_for_operator(uow.session, call, handoff, now)
            steps = turn.steps or ivr.answer(ctx.ivr, False, None).steps
        uow.commit()
    log.info("call %s decided: %s", call.call_sid, type(outcome).__name__)
    return steps


def _request(
    ctx: ChannelContext, session: Session, call: Row, elder: Row, choice: ServiceChoice, number: str, now: datetime
) -> tuple[Step, ...]:
    request_id = record_request(
        session, f"HL{number}", elder, "hotline", choice, now, ctx.settings.emergency_merge_minutes
    )
    channels.finish_call(
        session,
        call.call_sid,
        outcome="emergency" if choice.priority == Priority.STAT else "request",
        service_type=choice.service_type,
        priority=choice.priority.value,
        window_start=choice.window_start,
        window_end=choice.window_end,
        request_id=request_id,
        language=choice.language,
        completed_at=now,
    )
    return ivr.confirm(ctx.ivr, choice, number, ctx.tz)


def _complaint(
    ctx: ChannelContext, uow: SqlUnitOfWork, call: Row, choice: ComplaintChoice, now: datetime
) -> tuple[Step, ...]:
    hours = float(ctx.ivr.complaint_followup_hours)
    latest = channels.latest_request_of(uow.session, call.elder_id)
    if latest is not None:
        record_feedback(
            f"hotline:{call.call_sid}",
            latest.request_id,
            uow,
            now,
            complaint=choice.category,
            followup_hours=hours,
            channel="hotline",
        )
    else:
        open_loose_end(
            uow.session,
            f"complaint:{call.call_sid}",
            "complaint",
            f"hotline complaint ({choice.category}) from an elder with no request yet",
            now,
            subject=call.elder_id,
            phone=call.from_phone,
            due_at=now + timedelta(hours=hours),
        )
    channels.finish_call(uow.session, call.call_sid, outcome="complaint", reason=choice.category, completed_at=now)
    return ivr.complaint_recorded(ctx.ivr, choice.language)


def _caregiver_code(
    ctx: ChannelContext, session: Session, call: Row, keyed: CaregiverCode, now: datetime
) -> tuple[Step, ...]:
    """Telephony EVV: the caregiver keys the job's code on the elder's registered home
    phone; the caller ID stands for the location (``handlers.visits.evv.verify_check_in``)."""
    job = channels.elder_job_by_code(session, call.elder_id, keyed.code)
    channels.finish_call(session, call.call_sid, outcome="checkin", reason=keyed.code, completed_at=now)
    if job is None:
        return ivr.checked(ctx.ivr, keyed.language, None, False)
    elder = channels.elder(session, call.elder_id)
    policy = get_evaluation_config().evv
    check_out = job.status == "in-progress"
    if check_out:
        planned = (job.planned_end - job.planned_start).total_seconds() / 60.0
        flags = evv.check_short_visit(job.check_in_at or now, now, planned, policy)
    else:
        registered = [elder.phone] if elder is not None and elder.phone else []
        flags = evv.verify_check_in("landline", now, job.planned_start, None, None, call.from_phone, registered, policy)
    event = channel_events.caregiver_event(
        ReplyKind.CHECK_OUT if check_out else ReplyKind.CHECK_IN,
        job.request_id,
        job.caregiver_id,
        job.offer_id,
        job.service_area,
        now,
        channel="landline",
        evv_method="landline",
        evv_flags=[{"code": f.code.value, "detail": f.detail} for f in flags],
    )
    channels.publish(session, event, event_id=f"landline:{call.call_sid}", source="careline/hotline")
    log.info(
        "landline %s of visit %s (%d EVV flags)", "check-out" if check_out else "check-in", job.visit_id, len(flags)
    )
    return ivr.checked(ctx.ivr, keyed.language, keyed.code, check_out)


def _queue_for_operator(session: Session, call: Row, handoff: OperatorHandoff, now: datetime) -> None:
    channels.finish_call(session, call.call_sid, outcome="operator", reason=handoff.reason[:120], completed_at=now)
    channels.publish(
        session,
        channel_events.call_queued(
            str(call.seq), call.from_phone, call.elder_id, handoff.reason, handoff.emergency, now
        ),
    )
    if call.elder_id is None:
        open_loose_end(
            session,
            f"caller:{call.call_sid}",
            "unknown_caller",
            "a number not in the register called the hotline: register it or call back",
            now,
            subject=f"call-{call.seq}",
            phone=call.from_phone,
        )


def _replay(ctx: ChannelContext, call: Row | None, turn: Turn) -> tuple[Step, ...]:
    if call is not None and call.outcome in {"request", "emergency"}:
        choice = ServiceChoice(
            call.service_type, Priority(call.priority), call.window_start, call.window_end, 0, call.language or "zh"
        )
        return ivr.confirm(ctx.ivr, choice, str(call.seq), ctx.tz)
    if call is not None and call.outcome == "complaint":
        return ivr.complaint_recorded(ctx.ivr, ctx.ivr.lang(call.language))
    if call is not None and call.outcome == "checkin":
        return ivr.checked(ctx.ivr, ctx.ivr.lang(call.language), call.reason, False)
    return turn.steps or ivr.answer(ctx.ivr, False, None).steps


def call_ended(uow: SqlUnitOfWork, call_sid: str, call_status: str, now: datetime) -> bool:
    """A hotline call that ended before a decision (the caller hung up in the
    menu) is queued for an operator to call back, once, and put on the board as a
    loose end with the caller's number. True if it was."""
    if not is_final("call", call_status):
        return False
    call = channels.call(uow.session, call_sid)
    if call is None or not uow.claim(f"twilio:call:{call_sid}:decided"):
        return False
    _queue_for_operator(uow.session, call, OperatorHandoff(f"caller hung up before deciding ({call_status})"), now)
    channels.finish_call(uow.session, call_sid, outcome="abandoned")
    elder = channels.elder(uow.session, call.elder_id) if call.elder_id else None
    if call.elder_id is not None:
        open_loose_end(
            uow.session,
            f"hangup:{call_sid}",
            "hangup",
            f"hung up in the menu ({call_status}): call back",
            now,
            subject=call.elder_id,
            service_area=elder.service_area if elder else None,
            phone=call.from_phone,
        )
    return True
