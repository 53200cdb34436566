"""Operator actions on the dashboard: create a request for a caller, (re)assign,
cancel, acknowledge an emergency, record the outcome of an emergency or of a request
nobody took, close a loose end (called back a hang-up or an unknown caller) or a
complaint's follow-up, mark a caregiver unavailable or available.

Each action checks the role (``handlers.operations.access``), the CSRF token and that the
target lies in the operator's region, then runs the same use cases as every
other entry point (``handlers.operations.operator_actions``, ``handlers.channels.intake``) in one
transaction with its audit row. A new request goes to the intake topic through
the outbox, so it is validated and dispatched by the stream worker like a call
from any other channel. Answers JSON to ``fetch`` (``Accept: application/json``)
and a redirect to the board otherwise.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from careline.web import auth, board_i18n, i18n
from db import channels, events
from db import dashboard as readmodel
from db.app_api import offered_service_types
from db.loose_ends import close_loose_end, loose_end
from db.operator_uow import OperatorSqlUnitOfWork, region_of_area, write_audit
from db.uow import ConcurrencyConflict
from handlers.channels.intake import InvalidIntake, validate_intake
from handlers.evaluation.feedback import FollowUpRefused, close_followup
from handlers.model import DomainEvent, Elder
from handlers.operations import operator_actions as ops
from handlers.operations import outcomes
from handlers.operations.access import Permission
from handlers.operations.regions import within

router = APIRouter(prefix="/dashboard/actions", include_in_schema=False)


def _answer(request: Request, ok: bool, code: str, message: str, status: int = 200, back: str = "/dashboard"):  # noqa: ANN202
    if "application/json" in request.headers.get("accept", ""):
        message = board_i18n.answer(
            ok, code, message, i18n.language(request, request.app.state.settings.default_language)
        )
        return JSONResponse({"ok": ok, "code": code, "message": message}, status_code=status)
    return RedirectResponse(back if ok else f"{back}?refused={code}", status_code=303)


#: what ``area_of`` answers for a target of no area (an unknown caller): every operator may handle it
NO_AREA = "\x00no-area"


def _in_scope(uow: OperatorSqlUnitOfWork, principal: auth.Principal, area: str) -> str | None:
    """The area's region path; 403 when it lies outside the operator's scope."""
    if area == NO_AREA:
        return None
    path = region_of_area(uow.session, area)
    if principal.region_scope != "" and (path is None or not within(path, principal.region_scope)):
        raise HTTPException(status_code=403, detail="outside your region")
    return path


def _run(
    request: Request,
    principal: auth.Principal,
    csrf: str | None,
    action: str,
    target: str,
    area_of: Callable[[OperatorSqlUnitOfWork], str | None],
    change: Callable[[OperatorSqlUnitOfWork, datetime], dict | None],
    back: str = "/dashboard",
) -> Response:
    """Check CSRF and region, apply ``change`` and audit it in one transaction; a plain
    form post is sent ``back`` (with ``?refused=<code>`` when the domain said no)."""
    auth.check_csrf(principal, csrf or request.headers.get("x-csrf-token"))
    factory = auth.sessions_of(request)
    region = None
    try:
        with OperatorSqlUnitOfWork(factory) as uow:
            area = area_of(uow)
            if area is None:
                raise ops.Refused("unknown_request", f"no {target}")
            region = _in_scope(uow, principal, area)
            now = readmodel.clock_now(uow.session)
            detail = change(uow, now)
            uow.audit(principal.operator_id, action, target, now, detail=detail, region=region)
            uow.commit()
    except (ops.Refused, FollowUpRefused, ConcurrencyConflict) as exc:
        code = exc.code if isinstance(exc, (ops.Refused, FollowUpRefused)) else "conflict"
        with factory() as session:
            write_audit(
                session,
                principal.operator_id,
                action,
                target,
                datetime.now(UTC),
                outcome="refused",
                detail={"code": code},
                region=region or principal.region_scope,
            )
            session.commit()
        return _answer(request, False, code, str(exc) if code != "conflict" else "changed meanwhile", 409, back)
    return _answer(request, True, "done", f"{action} {target}", back=back)


_assigner = auth.require(Permission.ASSIGN_REQUEST)
_canceller = auth.require(Permission.CANCEL_REQUEST)
_acknowledger = auth.require(Permission.ACKNOWLEDGE_EMERGENCY)
_marker = auth.require(Permission.MARK_CAREGIVER)
_creator = auth.require(Permission.CREATE_REQUEST)


def _request_area(rid: str) -> Callable[[OperatorSqlUnitOfWork], str | None]:
    def area(uow: OperatorSqlUnitOfWork) -> str | None:
        r = uow.requests.get(rid)
        return r.service_area if r else None

    return area


def _caregiver_area(cid: str) -> Callable[[OperatorSqlUnitOfWork], str | None]:
    def area(uow: OperatorSqlUnitOfWork) -> str | None:
        c = uow.caregivers.get(cid)
        return c.service_area if c else None

    return area


@router.post("/requests/{request_id}/cancel")
def cancel(
    request: Request,
    request_id: str,
    csrf_token: str | None = Form(None),
    principal: auth.Principal = Depends(_canceller),
) -> Response:
    return _run(
        request,
        principal,
        csrf_token,
        "request.cancel",
        request_id,
        _request_area(request_id),
        lambda uow, now: ops.cancel_request(request_id, uow, now, principal.operator_id),
    )


@router.post("/requests/{request_id}/reassign")
def reassign(
    request: Request,
    request_id: str,
    caregiver_id: str = Form(...),
    csrf_token: str | None = Form(None),
    principal: auth.Principal = Depends(_assigner),
) -> Response:

    def change(uow: OperatorSqlUnitOfWork, now: datetime) -> dict:
        area = request.app.state.runtime.areas.read(uow.session, uow.requests.get(request_id).service_area)
        policy, travel = area.policy, area.travel
        offer = ops.reassign(request_id, caregiver_id.strip(), uow, now, policy, travel, principal.operator_id)
        return {"caregiver_id": offer.caregiver_id, "offer_id": offer.offer_id}

    return _run(request, principal, csrf_token, "request.reassign", request_id, _request_area(request_id), change)


@router.post("/emergencies/{request_id}/acknowledge")
def acknowledge(
    request: Request,
    request_id: str,
    csrf_token: str | None = Form(None),
    principal: auth.Principal = Depends(_acknowledger),
) -> Response:
    return _run(
        request,
        principal,
        csrf_token,
        "emergency.acknowledge",
        request_id,
        _request_area(request_id),
        lambda uow, now: {"by": ops.acknowledge_emergency(request_id, uow, now, principal.operator_id).operator_id},
    )


@router.post("/requests/{request_id}/outcome")
def record_outcome(
    request: Request,
    request_id: str,
    code: str = Form(...),
    note: str = Form(""),
    csrf_token: str | None = Form(None),
    principal: auth.Principal = Depends(_acknowledger),
) -> Response:
    """Close an emergency (resolved by phone, helper on site, family attended, ambulance
    called, false alarm) or a request nobody took, with a code and a note; 409 without them."""
    return _run(
        request,
        principal,
        csrf_token,
        "request.outcome",
        request_id,
        _request_area(request_id),
        lambda uow, now: {
            "code": outcomes.record_outcome(request_id, code, note, uow, now, principal.operator_id).code
        },
    )


@router.post("/loose-ends/{loose_end_id}/close")
def close_loose(
    request: Request,
    loose_end_id: str,
    code: str = Form(...),
    note: str = Form(""),
    csrf_token: str | None = Form(None),
    principal: auth.Principal = Depends(_acknowledger),
) -> Response:
    """A menu hang-up called back, an unknown caller registered, …: closed with a code and a note."""

    def area(uow: OperatorSqlUnitOfWork) -> str | None:
        row = loose_end(uow.session, loose_end_id)
        return None if row is None else (row.service_area or NO_AREA)

    def change(uow: OperatorSqlUnitOfWork, now: datetime) -> dict:
        outcomes.check_loose_end_outcome(code, note)
        if not close_loose_end(uow.session, loose_end_id, code, note, principal.operator_id, now):
            raise ops.Refused("closed", f"{loose_end_id} is closed already")
        return {"code": code}

    return _run(request, principal, csrf_token, "loose_end.close", loose_end_id, area, change)


@router.post("/followups/{feedback_id}/close")
def close_complaint_followup(
    request: Request,
    feedback_id: str,
    note: str = Form(""),
    csrf_token: str | None = Form(None),
    principal: auth.Principal = Depends(_acknowledger),
) -> Response:
    """The elder who complained was called back: the follow-up closes with a note."""

    def area(uow: OperatorSqlUnitOfWork) -> str | None:
        complaint = uow.feedback.get(feedback_id)
        found = uow.requests.get(complaint.request_id) if complaint is not None else None
        return found.service_area if found else None

    return _run(
        request,
        principal,
        csrf_token,
        "complaint.followup_close",
        feedback_id,
        area,
        lambda uow, now: {"by": close_followup(feedback_id, uow, now, principal.operator_id, note).followup_closed_by},
    )


@router.post("/caregivers/{caregiver_id}/unavailable")
def mark_unavailable(
    request: Request,
    caregiver_id: str,
    csrf_token: str | None = Form(None),
    principal: auth.Principal = Depends(_marker),
) -> Response:

    def change(uow: OperatorSqlUnitOfWork, now: datetime) -> dict:
        area = request.app.state.runtime.areas.read(uow.session, uow.caregivers.get(caregiver_id).service_area)
        policy, travel = area.policy, area.travel
        done = ops.mark_caregiver_unavailable(caregiver_id, uow, now, policy, travel, principal.operator_id)
        return {"rescinded": list(done.rescinded_requests), "booked": list(done.booked_requests)}

    return _run(
        request, principal, csrf_token, "caregiver.unavailable", caregiver_id, _caregiver_area(caregiver_id), change
    )


@router.post("/caregivers/{caregiver_id}/available")
def mark_available(
    request: Request,
    caregiver_id: str,
    csrf_token: str | None = Form(None),
    principal: auth.Principal = Depends(_marker),
) -> Response:
    return _run(
        request,
        principal,
        csrf_token,
        "caregiver.available",
        caregiver_id,
        _caregiver_area(caregiver_id),
        lambda uow, now: {"changed": ops.mark_caregiver_available(caregiver_id, uow, now, principal.operator_id)},
    )


def _local(value: str, offset_minutes: int, zone: ZoneInfo | None = None) -> str:
    """A ``datetime-local`` value as ISO-8601 with a zone: on the center's clock ``zone`` when
    the form says so (the offset of that date, daylight saving included), else with the
    browser's ``getTimezoneOffset()``."""
    naive = datetime.fromisoformat(value)
    if zone is not None:
        return naive.replace(tzinfo=zone).isoformat()
    return naive.replace(tzinfo=timezone(timedelta(minutes=-offset_minutes))).isoformat()


@router.post("/requests")
def create_request(
    request: Request,
    elder_id: str = Form(...),
    service_type: str = Form(...),
    duration_minutes: float = Form(...),
    window_start: str = Form(...),
    window_end: str = Form(...),
    priority: str = Form("routine"),
    tz_offset_minutes: int = Form(0, ge=-18 * 60, le=18 * 60),
    time_zone: str = Form(""),
    csrf_token: str | None = Form(None),
    back: str = Form("/dashboard"),
    principal: auth.Principal = Depends(_creator),
) -> Response:
    """Submit an intake record (channel ``operator``) for a caller, checked here with the
    intake rules so the operator sees a mistake at once, then sent through the outbox.
    ``elder_id`` may be the id or what the caller said: a phone in any form, a name or an
    address fragment that matches one elder of the operator's region (``_caller``).
    A plain form post goes ``back`` to the elder's card it came from.
    ``tz_offset_minutes`` is the browser's ``getTimezoneOffset()``: within ±18 h (ISO 8601's
    range of UTC offsets), else 422. ``time_zone`` naming the center's zone
    (``Settings.programme_timezone``, the forms send it) reads the times on the center's clock
    instead: an operator whose computer is set to another zone still books the elder's local time."""
    center = request.app.state.settings.programme_timezone
    zone = ZoneInfo(center) if time_zone == center else None
    intake_id = f"op-{uuid.uuid4().hex[:12]}"
    chosen: list[str] = []

    def area(uow: OperatorSqlUnitOfWork) -> str | None:
        elder = _caller(uow, elder_id, principal, request.app.state.settings)
        chosen.append(elder.elder_id)
        return elder.service_area

    def change(uow: OperatorSqlUnitOfWork, now: datetime) -> dict:
        try:
            record = {
                "intake_id": intake_id,
                "channel": "operator",
                "elder_id": chosen[0],
                "service_type": service_type.strip(),
                "duration_minutes": duration_minutes,
                "window": {
                    "start": _local(window_start, tz_offset_minutes, zone),
                    "end": _local(window_end, tz_offset_minutes, zone),
                },
                "priority": priority,
                "submitted_at": now.isoformat(),
            }
            req = validate_intake(record, uow.elders.get, offered_service_types(uow.session))
        except (InvalidIntake, ValueError) as exc:
            raise ops.Refused("invalid", str(exc)) from None
        event = DomainEvent(
            "care.intake.submitted",
            intake_id,
            now,
            "lifecycle",
            intake_id,
            {
                "request_id": intake_id,
                "service_area": req.service_area,
                "channel": "operator",
                "operator_id": principal.operator_id,
            },
        )
        events.log_only(uow.session, event, intake_id, source="careline/dashboard")
        channels.enqueue_intake(uow.session, record)
        return {"intake_id": intake_id, "service_type": req.service_type, "priority": req.priority.value}

    to_card = back if back.startswith("/dashboard/elders/") and "//" not in back else "/dashboard"
    return _run(request, principal, csrf_token, "request.create", intake_id, area, change, back=to_card)


def _caller(uow: OperatorSqlUnitOfWork, said: str, principal: auth.Principal, settings: object) -> Elder:
    """The elder a request is for: by id, else the one elder of the operator's region found by
    phone, landline, name or address (``careline.web.elder_card.find``). Refused naming why
    when none or several match, never "outside your region" for a number that is simply
    another form of a registered phone."""
    from careline.web.elder_card import find

    said = said.strip()
    elder = uow.elders.get(said)
    if elder is not None:
        return elder
    found = find(uow.session, said, principal.region_scope, settings, limit=3)
    if not found:
        raise ops.Refused(
            "unknown_elder",
            f"no registered elder in your region matches {said!r}: search by phone, name, address or id",
        )
    if len(found) > 1:
        raise ops.Refused("ambiguous_elder", f"{len(found)} elders match {said!r}: open the right card and ask from it")
    return found[0]
