"""One-key alarm buttons: ``POST /alarms/{device_id}`` raises an emergency.

Each device authenticates with its own bearer token (``Authorization: Bearer
…``; only a SHA-256 of it is stored, ``db.alarms``). The alarm becomes an
emergency intake record (channel ``button``, priority ``stat``) on the outbox
and a ``care.operator.alert``; the emergency ladder is dispatch's. A device
that retries is deduplicated by ``alarm_id`` (body) or ``Idempotency-Key``
(header); without either, presses of one device within the same minute count
as one alarm (the operator is already alerted). A press while the elder has an
open emergency (raised within ``emergency_merge_minutes``) joins it: the answer
carries that request's id and ``joined: true``, the operators get an alert on it
(``handlers.channels.emergencies``). Presses are limited per device
(``CARELINE_ALARM_RATE_LIMIT``; 429 + ``Retry-After`` + code ``rate_limited``), but
a press is never refused while the elder has no open emergency
(``careline.web.rate_limits``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from careline.web.app_api_schemas import ID_PATTERN, KEY_PATTERN, Problem
from careline.web.twilio_routes import channel_context
from channels.context import ChannelContext, emergency_choice, record_request, short_id
from db import alarms, channels, emergencies
from db.register_uow import SqlRegisterUnitOfWork
from db.uow import SqlUnitOfWork
from handlers.messagebus import handle
from handlers.register.commands import RecordHeartbeat

router = APIRouter(prefix="/alarms", tags=["alarms"])


class Alarm(BaseModel):
    alarm_id: str | None = Field(
        default=None,
        pattern=KEY_PATTERN,
        description="the device's id of this press: printable ASCII, 1-120 characters",
    )


class AlarmAccepted(BaseModel):
    request_id: str
    priority: str = "stat"
    duplicate: bool = False
    joined: bool = Field(default=False, description="true when the press joined the elder's open emergency")


def _bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


@router.post(
    "/{device_id}",
    status_code=202,
    response_model=AlarmAccepted,
    responses={
        429: {
            "model": Problem,
            "description": "over the device's rate while the elder's emergency is open; see Retry-After",
        }
    },
)
def raise_alarm(
    request: Request,
    device_id: str = Path(pattern=ID_PATTERN),
    alarm: Alarm | None = None,
    authorization: str | None = Header(default=None),
    idempotency_key: str | None = Header(default=None, pattern=KEY_PATTERN),
    ctx: ChannelContext = Depends(channel_context),
) -> AlarmAccepted | JSONResponse:
    """An emergency request for the device's elder, or the elder's open one; 401 for an unknown
    device or wrong token, 422 naming a malformed device id, ``alarm_id`` or ``Idempotency-Key``,
    429 over the device's rate while an emergency is open."""
    now = ctx.clock()
    key = (alarm.alarm_id if alarm else None) or idempotency_key or f"{now:%Y%m%dT%H%M}"
    request_id = short_id("AL", f"{device_id}:{key}")
    merge = ctx.settings.emergency_merge_minutes
    with SqlUnitOfWork(ctx.sessions) as uow:
        elder_id = alarms.authenticate(uow.session, device_id, _bearer(authorization))
        elder = channels.elder(uow.session, elder_id) if elder_id is not None else None
        if elder_id is None or elder is None:  # a device is known by its registered elder
            raise HTTPException(401, "unknown device or wrong token", headers={"WWW-Authenticate": "Bearer"})
        wait = request.app.state.rate_limits.wait("alarm", device_id)
        if wait and emergencies.has_open(uow.session, elder_id, now, merge):
            return JSONResponse(
                {
                    "code": "rate_limited",
                    "detail": f"too many presses from this device; the "
                    f"emergency is open and the operators are alerted; retry in {wait} s",
                },
                429,
                headers={"Retry-After": str(wait)},
            )
        if not uow.claim(f"alarm:{request_id}"):  # the request id is a hash of device and key: bounded length
            return AlarmAccepted(request_id=request_id, duplicate=True)
        used = record_request(
            uow.session, request_id, elder, "button", emergency_choice(ctx.ivr, elder.language, now), now, merge
        )
        alarms.touch(uow.session, device_id, now)  # a press is a sign of life too
        uow.commit()
    return AlarmAccepted(request_id=used, joined=used != request_id)


class Heartbeat(BaseModel):
    device_id: str
    last_heartbeat_at: str


@router.post("/{device_id}/heartbeat", response_model=Heartbeat)
def heartbeat(
    device_id: str = Path(pattern=ID_PATTERN),
    authorization: str | None = Header(default=None),
    ctx: ChannelContext = Depends(channel_context),
) -> Heartbeat:
    """The device says it is alive: its last heartbeat, shown on the elder's card, moves to now
    (``handlers.register.changes.record_heartbeat``); 401 for an unknown device or wrong token."""
    now = ctx.clock()
    with SqlRegisterUnitOfWork(ctx.sessions) as uow:
        if alarms.authenticate(uow.session, device_id, _bearer(authorization)) is None:
            raise HTTPException(401, "unknown device or wrong token", headers={"WWW-Authenticate": "Bearer"})
        handle(
            RecordHeartbeat(f"heartbeat:{device_id}:{now.isoformat()}", now, actor="device", device_id=device_id),
            uow,
            now,
        )
        device = uow.devices.get(device_id)
        uow.commit()
    return Heartbeat(device_id=device_id, last_heartbeat_at=device.last_heartbeat_at.isoformat())
