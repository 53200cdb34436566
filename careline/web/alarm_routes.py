"""One-key alarm buttons: ``POST /alarms/{device_id}`` raises an emergency.

Each device authenticates with its own bearer token (``Authorization: Bearer
…``; only a SHA-256 of it is stored, ``db.alarms``). The alarm becomes an
emergency intake record (channel ``button``, priority ``stat``) on the outbox
and a ``care.operator.alert``; the emergency ladder is dispatch's. A device
that retries is deduplicated by ``alarm_id`` (body) or ``Idempotency-Key``
(header); without either, presses of one device within the same minute count
as one alarm (the operator is already alerted).
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Header, HTTPException, Path
from pydantic import BaseModel, Field

from channels.context import ChannelContext, emergency_choice, record_request, short_id
from careline.web.app_api_schemas import ID_PATTERN, KEY_PATTERN
from careline.web.twilio_routes import channel_context
from db import alarms, channels
from db.uow import SqlUnitOfWork

router = APIRouter(prefix="/alarms", tags=["alarms"])


class Alarm(BaseModel):
    alarm_id: str | None = Field(default=None, pattern=KEY_PATTERN,
                                 description="the device's id of this press: printable ASCII, 1-120 characters")


class AlarmAccepted(BaseModel):
    request_id: str
    priority: str = "stat"
    duplicate: bool = False


def _bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


@router.post("/{device_id}", status_code=202, response_model=AlarmAccepted)
def raise_alarm(device_id: str = Path(pattern=ID_PATTERN), alarm: Alarm | None = None,
                authorization: str | None = Header(default=None),
                idempotency_key: str | None = Header(default=None, pattern=KEY_PATTERN),
                ctx: ChannelContext = Depends(channel_context)) -> AlarmAccepted:
    """An emergency request for the device's elder; 401 for an unknown device or wrong token,
    422 naming a malformed device id, ``alarm_id`` or ``Idempotency-Key``."""
    now = ctx.clock()
    key = (alarm.alarm_id if alarm else None) or idempotency_key or f"{now:%Y%m%dT%H%M}"
    request_id = short_id("AL", f"{device_id}:{key}")
    with SqlUnitOfWork(ctx.sessions) as uow:
        elder_id = alarms.authenticate(uow.session, device_id, _bearer(authorization))
        if elder_id is None:
            raise HTTPException(401, "unknown device or wrong token", headers={"WWW-Authenticate": "Bearer"})
        if not uow.claim(f"alarm:{request_id}"):  # the request id is a hash of device and key: bounded length
            return AlarmAccepted(request_id=request_id, duplicate=True)
        elder = channels.elder(uow.session, elder_id)
        record_request(uow.session, request_id, elder, "button", emergency_choice(ctx.ivr, elder.language, now), now)
        alarms.touch(uow.session, device_id, now)
        uow.commit()
    return AlarmAccepted(request_id=request_id)
