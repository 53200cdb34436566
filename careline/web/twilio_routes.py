"""Twilio webhooks: the hotline (voice), caregivers' and elders' SMS, status callbacks.

Configure on the Twilio number (see docs/TWILIO.md): voice ``POST
{public_base_url}/twilio/voice``, messaging ``POST {public_base_url}/twilio/sms``;
callback URLs we give Twilio point at ``/twilio/status`` and the menu stages.
Every route checks X-Twilio-Signature first (``verified_form``: 403 otherwise;
400 naming a parameter that is missing or malformed), parses Twilio's form
parameters (CallSid, From, To, Digits, CallStatus, MessageSid, Body,
MessageStatus, ErrorCode …), calls the channel use cases and answers TwiML.
Handlers are sync and run in FastAPI's thread pool.
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from careline.web import twiml
from careline.web.twilio_security import twilio_form, verified_form
from channels import hotline, notices, sms_inbox, surveys
from channels.context import ChannelContext
from channels.status_callbacks import status_callback

router = APIRouter(prefix="/twilio", tags=["twilio"])
_lock = threading.Lock()
XML = "application/xml"
CALL, MESSAGE = twilio_form("CallSid"), twilio_form("MessageSid")


def channel_context(request: Request) -> ChannelContext:
    """The app's ``ChannelContext`` (the bootstrap's; tests may set ``app.state.channels``)."""
    state = request.app.state
    with _lock:
        if getattr(state, "channels", None) is None:
            state.channels = state.runtime.channels
    return state.channels


def _voice(ctx: ChannelContext, steps) -> Response:  # noqa: ANN001
    return Response(twiml.voice(steps, ctx.url), media_type=XML)


@router.post("/voice", summary="A call to the hotline starts")
def voice(form: dict = Depends(CALL), ctx: ChannelContext = Depends(channel_context)) -> Response:
    return _voice(ctx, hotline.incoming_call(ctx, form))


@router.post("/voice/notice", summary="A notice read to a landline (a call we placed)")
def voice_notice(
    request: Request, form: dict = Depends(verified_form), ctx: ChannelContext = Depends(channel_context)
) -> Response:
    return _voice(ctx, notices.notice_call(ctx, request.query_params.get("notice_id", "")))


@router.post("/voice/rating", summary="The satisfaction call: prompt and keypad rating")
def voice_rating(
    request: Request, form: dict = Depends(verified_form), ctx: ChannelContext = Depends(channel_context)
) -> Response:
    return _voice(ctx, surveys.rating_call(ctx, dict(request.query_params), form))


@router.post("/voice/{stage}", summary="The caller answered a menu (menu, service, time, confirm, complaint, checkin)")
def voice_stage(
    request: Request, stage: str, form: dict = Depends(CALL), ctx: ChannelContext = Depends(channel_context)
) -> Response:
    if stage not in hotline.STAGES:
        raise HTTPException(status_code=404, detail=f"no menu stage {stage!r}")
    return _voice(ctx, hotline.menu_answer(ctx, stage, dict(request.query_params), form))


@router.post("/sms", summary="An SMS to the programme's number")
def inbound_sms(form: dict = Depends(MESSAGE), ctx: ChannelContext = Depends(channel_context)) -> Response:
    return Response(twiml.message(sms_inbox.inbound_sms(ctx, form)), media_type=XML)


@router.post("/status", status_code=204, summary="Delivery status of a message or call")
def status(
    request: Request, form: dict = Depends(verified_form), ctx: ChannelContext = Depends(channel_context)
) -> Response:
    status_callback(ctx, dict(request.query_params), form)
    return Response(status_code=204)
