"""Statistics API: real-time and cumulative queue and caregiver statistics as JSON,
named as Twilio TaskRouter names them (see ``handlers.operations.queues``), behind login.

Authenticate with the dashboard's session cookie or ``Authorization: Bearer``
with a token from ``POST /api/auth/token`` (form or JSON ``username`` and
``password``; the token lasts ``session_max_age_seconds``). Every call is
limited to the operator's region; ``?region=`` narrows it further.
"""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from careline.web import auth
from careline.web.board import sla_policy
from careline.web.login import log_in
from db import dashboard as readmodel
from handlers.operations.access import Permission
from handlers.operations.queues import cumulative_statistics, realtime_statistics

router = APIRouter(prefix="/api", tags=["statistics"])
_reader = auth.require(Permission.VIEW_STATS)


async def _credentials(request: Request) -> tuple[str, str]:
    """``username`` and ``password`` from a JSON object or a form; 400 for a body that is not
    UTF-8 JSON, 422 naming what is missing or not a string."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(await request.body())
        except ValueError:  # UnicodeDecodeError and JSONDecodeError alike
            raise HTTPException(400, "the body is not UTF-8 JSON") from None
        if not isinstance(body, dict):
            raise HTTPException(422, "send a JSON object with username and password")
    else:
        body = dict(await request.form())
    user, password = body.get("username"), body.get("password")
    if not isinstance(user, str) or not isinstance(password, str) or not user.strip() or not password:
        raise HTTPException(422, "username and password are required, as strings")
    return user, password


@router.post(
    "/auth/token",
    responses={
        400: {"description": "not UTF-8 JSON"},
        401: {"description": "wrong user or password"},
        422: {"description": "username or password missing or not a string"},
        429: {"description": "too many failed logins for this account or address; see Retry-After"},
        503: {"description": "too many logins at once; see Retry-After"},
    },
)
async def token(request: Request) -> dict:
    """Exchange a user name and password for a bearer token (OAuth 2 password grant shape);
    throttled per account and address, checked off the event loop (``careline.web.login``)."""
    user, password = await _credentials(request)
    settings = request.app.state.settings
    operator = await log_in(request, user, password, "api")
    if operator is None:
        raise HTTPException(status_code=401, detail="wrong user or password")
    return {
        "access_token": auth.issue(operator, settings, kind="api"),
        "token_type": "bearer",
        "expires_in": settings.session_max_age_seconds,
    }


def _filter(stats: dict, service_type: str | None, service_area: str | None, priority: str | None) -> dict:
    def keep(q: dict) -> bool:
        key = q["queue"]
        return all(
            v is None or key[k] == v
            for k, v in (("service_type", service_type), ("service_area", service_area), ("priority", priority))
        )

    stats["queues"] = [q for q in stats["queues"] if keep(q)]
    if service_area is not None:
        stats["workers"] = [w for w in stats["workers"] if w["service_area"] == service_area]
    return stats


@router.get("/stats/realtime")
def realtime(
    request: Request,
    region: str | None = None,
    service_type: str | None = None,
    service_area: str | None = None,
    priority: str | None = None,
    principal: auth.Principal = Depends(_reader),
) -> dict:
    """Now: per queue ``longest_task_waiting_age`` (s), ``tasks_by_status``, SLA %, eligible and
    available caregivers; the workspace totals; each caregiver's activity."""
    scope = auth.region_for(principal, region)
    with auth.sessions_of(request)() as session:
        now = readmodel.clock_now(session)
        snap = readmodel.realtime_snapshot(session, scope, now)
    stats = realtime_statistics(snap, now, sla_policy(request.app.state.runtime.configuration.policy), scope)
    return _filter(stats, service_type, service_area, priority)


@router.get("/stats/cumulative")
def cumulative(
    request: Request,
    minutes: float = Query(60.0, gt=0, le=31 * 24 * 60),
    region: str | None = None,
    service_type: str | None = None,
    service_area: str | None = None,
    priority: str | None = None,
    principal: auth.Principal = Depends(_reader),
) -> dict:
    """The last ``minutes``: tasks entered / completed / canceled / escalated, acceptance
    times (s), reservations by outcome, SLA %, per queue, workspace and caregiver."""
    scope = auth.region_for(principal, region)
    with auth.sessions_of(request)() as session:
        end = readmodel.clock_now(session)
        start = end - timedelta(minutes=minutes)
        snap = readmodel.window_snapshot(session, scope, start, end + timedelta(microseconds=1))
    stats = cumulative_statistics(
        snap, start, end + timedelta(microseconds=1), sla_policy(request.app.state.runtime.configuration.policy), scope
    )
    return _filter(stats, service_type, service_area, priority)
