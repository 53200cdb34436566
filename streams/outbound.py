"""The outbound agent's steps: tell caregivers about their offers, plan satisfaction calls.

``dispatch.offers.v1``: ``dispatch.offer.created`` -> the one-segment offer SMS
(area, never the address); ``dispatch.offer.accepted`` -> the full address and
how to check in and out; ``rescinded``/``canceled`` -> a short notice;
``accept_refused`` -> "no longer yours". Texts come from ``handlers.channels.sms``.
Each event is sent at most once per event id: the ``notify:<id>`` claim is
committed *before* the send, so a worker killed between the two loses that one
SMS (the offer then times out and the escalation ladder moves the request on)
and never sends it twice (``careline bench faults``, worker-sigkill, found a
repeated offer SMS when the claim was committed after the send). Twilio's
transient failures are retried by the notifier (``channels.notify``).

``care.lifecycle.v1``: ``care.visit.completed`` -> a survey row due
``rating_call_delay_minutes`` after check-out (``channels.surveys``). The row
is the durable schedule: ``place_due_rating_calls`` (a worker timer) places
the calls that are due, so a restart loses none.
"""

from __future__ import annotations

import logging
from datetime import datetime

from channels import surveys
from channels.context import ChannelContext
from channels.notify import NotifyError
from db import channels
from db import surveys as db_surveys
from db.uow import SqlUnitOfWork
from handlers.channels import sms
from handlers.channels.phone import mask
from streams.runtime import current

log = logging.getLogger("careline.outbound")
OFFER_TYPES = frozenset(
    {
        "dispatch.offer.created",
        "dispatch.offer.accepted",
        "dispatch.offer.rescinded",
        "dispatch.offer.canceled",
        "dispatch.offer.accept_refused",
    }
)


def context() -> ChannelContext:
    """The worker's channel context (``config.bootstrap``)."""
    return current().channels


def notify_offer_event(value: dict, ctx: ChannelContext | None = None) -> str | None:
    """Send the SMS an offer event calls for; the message SID, or None when there
    is nothing to send (other type, duplicate, no phone, opted out)."""
    if value.get("type") not in OFFER_TYPES or not isinstance(value.get("data"), dict):
        return None
    ctx = ctx or context()
    data = value["data"]
    with SqlUnitOfWork(ctx.sessions) as uow:
        # a caregiver without a phone gets no SMS: found by a read, before the claim's write, so a
        # roster without phones (replays, benches) costs the worker no write transaction per offer
        # (on SQLite those queued behind dispatch's and the agent fell ever further behind)
        person = channels.caregiver_contact(uow.session, data["caregiver_id"])
        if person is None or not person.phone:
            return None
        if not uow.claim(f"notify:{value['id']}"):
            return None
        offer = uow.offers.get(data["offer_id"])
        request = uow.requests.get(data["request_id"])
        if offer is None or request is None:
            uow.commit()
            return None
        text = _text(ctx, uow.session, value["type"], offer, request, person.language)
        phone, request_id = person.phone, request.request_id
        uow.commit()  # the claim is durable before the SMS leaves: at most once
    try:
        sid = ctx.notifier.send_sms(
            phone, text, ctx.url("/twilio/status", kind="sms", purpose="offer", request_id=request_id)
        )
    except NotifyError as exc:
        log.warning("offer SMS %s to %s failed: %s", value["type"], mask(phone), exc)
        return None
    if sid:
        with ctx.sessions() as session:
            channels.record_status(
                session, sid, "sms", "queued", ctx.clock(), to_phone=phone, purpose="offer", request_id=request_id
            )
            session.commit()
    return sid


def _text(ctx: ChannelContext, session, etype: str, offer, request, language: str | None) -> str:  # noqa: ANN001
    brand = ctx.brand(language)
    if etype == "dispatch.offer.created":
        return sms.offer_text(
            request.service_type,
            _area(session, request),
            offer.planned_start,
            offer.planned_end,
            offer.short_code,
            language,
            ctx.tz,
            brand,
        )
    if etype == "dispatch.offer.accepted":
        elder = channels.elder(session, request.elder_id)
        address = (elder.address if elder and elder.address else None) or _area(session, request)
        return sms.accepted_text(
            request.service_type,
            address,
            offer.planned_start,
            offer.planned_end,
            offer.short_code,
            language,
            ctx.tz,
            brand,
        )
    if etype == "dispatch.offer.accept_refused":
        return sms.refused_text(offer.short_code, language, brand)
    return sms.rescinded_text(offer.short_code, language, brand)


def _area(session, request) -> str:  # noqa: ANN001
    """What a caregiver may know before accepting: the neighbourhood, else the service area's name."""
    elder = channels.elder(session, request.elder_id)
    if elder is not None and elder.neighbourhood:
        return elder.neighbourhood
    name = channels.area_name(session, request.service_area)
    return name or request.service_area


def plan_rating_call(value: dict, ctx: ChannelContext | None = None) -> datetime | None:
    """For a completed visit: record its survey; returns when the call is due (UTC), or None."""
    if value.get("type") != "care.visit.completed" or not isinstance(value.get("data"), dict):
        return None
    data = value["data"]
    completed = data.get("check_out_at") or value.get("time")
    if not completed:
        return None
    return surveys.plan_survey(ctx or context(), data, datetime.fromisoformat(completed))


def wanted(raw: bytes | str | dict) -> bool:
    """Whether ``handle`` can have anything to do with this record (an offer SMS, a
    satisfaction call, a family SMS), decided from the record alone. Most records of
    these topics need nothing (decisions, deadlines, status changes); the agent skips
    them without a thread hop and a database session, which kept it from falling
    hours behind under load (docs/benchmarks.md). Unreadable records count as wanted,
    so ``handle`` logs them as before."""
    from streams.steps import DeadLetter, decode

    try:
        value = decode(raw)
    except DeadLetter:
        return True
    kind = value.get("type")
    return kind in OFFER_TYPES or kind == "care.visit.completed" or family_event(value) is not None


def handle(raw: bytes | str | dict) -> None:
    """One record of the outbound agent's topics (runs in a worker thread)."""
    from streams.steps import decode

    value = decode(raw)
    if str(value.get("type", "")).startswith("dispatch.offer."):
        notify_offer_event(value)
    else:
        plan_rating_call(value)
        notify_family(value)


def place_due_rating_calls(ctx: ChannelContext | None = None, limit: int = 50) -> int:
    """Place the satisfaction calls whose time has come (in the worker's clock);
    each survey moves ``scheduled`` -> ``calling`` once, so overlapping sweeps
    never call twice. Returns how many calls were placed."""
    from db.register import read_clock

    ctx = ctx or context()
    with ctx.sessions() as session:
        due = db_surveys.due(session, read_clock(session).now(), limit)
    return sum(1 for request_id in due if surveys.place_rating_call(ctx, request_id))


def family_event(value: dict) -> str | None:
    """Which family SMS an event calls for: every emergency, and, for elders whose
    family opted in (``elders.family_updates``), assignment, arrival and completion."""
    data = value.get("data") or {}
    if value.get("type") == "care.operator.alert" and data.get("reason") == "emergency received":
        return "emergency"
    if value.get("type") == "care.request.status_changed" and data.get("status") in (
        "accepted",
        "in-progress",
        "completed",
    ):
        return data["status"]
    return None


def notify_family(value: dict, ctx: ChannelContext | None = None) -> int:
    """Text the elder's family contacts when ``family_event`` says so; how many SMS were sent."""
    event = family_event(value)
    if event is None:
        return 0
    ctx = ctx or context()
    data, sent = value["data"], 0
    with SqlUnitOfWork(ctx.sessions) as uow:
        elder = channels.family_of(uow.session, str(data.get("elder_id")))
        if elder is None or not elder.family_phones or (event != "emergency" and not elder.family_updates):
            return 0
        if not uow.claim(f"family:{value['id']}"):
            return 0
        text = sms.family_text(event, elder.language, ctx.brand(elder.language))
        for phone in elder.family_phones:
            try:
                sid = ctx.notifier.send_sms(
                    phone, text, ctx.url("/twilio/status", kind="sms", purpose="family", request_id=data["request_id"])
                )
            except NotifyError as exc:
                log.warning("family SMS to %s failed: %s", mask(phone), exc)
                continue
            if sid:
                channels.record_status(
                    uow.session,
                    sid,
                    "sms",
                    "queued",
                    ctx.clock(),
                    to_phone=phone,
                    purpose="family",
                    request_id=data["request_id"],
                )
                sent += 1
        uow.commit()
    return sent
