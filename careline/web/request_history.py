"""A request's history on the dashboard: every dispatch decision (candidates with their
costs, excluded caregivers with dispatch's reason, policy version), status change, offer,
ladder step, visit, operator action and notice with its delivery status, in time order, as
``careline explain`` prints it (the same ``handlers.dispatch.explain`` read model and
``careline.history`` words), in the operator's language and the center's time zone.

``GET /dashboard/requests/{request_id}/history``: 404 for a request nothing is stored of,
403 for one whose service area lies outside the operator's region scope (or is placed
nowhere, for a scoped operator). Phone numbers are masked for every role.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from careline.history import CenterWords, told
from careline.web import auth, i18n
from careline.web.pages import render
from db.request_history import read_history
from handlers.operations.access import Permission
from handlers.operations.regions import within

router = APIRouter(prefix="/dashboard", include_in_schema=False)
_viewer = auth.require(Permission.VIEW_DASHBOARD, page=True)


def in_scope(region: str | None, scope: str) -> bool:
    """Whether a request placed at ``region`` is within an operator's ``scope`` (``""``: everywhere)."""
    return scope == "" or (region is not None and within(region, scope))


@router.get("/requests/{request_id}/history")
def request_history(request: Request, request_id: str, principal: auth.Principal = Depends(_viewer)) -> Response:
    """The page of one request's decisions and state changes (``handlers.dispatch.explain``), in
    the operator's language, times ``HH:MM`` on the center's clock, phones masked. 404 for an
    unknown request, 403 for one outside the operator's region."""
    settings = request.app.state.settings
    zone = ZoneInfo(settings.programme_timezone)
    lang = i18n.language(request, settings.default_language)
    with auth.sessions_of(request)() as session:
        found = read_history(session, request_id)
    if found is None:
        raise HTTPException(404, f"no request {request_id!r}")
    if not in_scope(found.region, principal.region_scope):
        raise HTTPException(403, "outside your region")
    words = CenterWords(lang, zone)
    care = found.request
    facts = None
    if care is not None:
        facts = words.text(
            "history.facts",
            service=words.term("service", care.service_type),
            status=words.term("status", care.status.value),
            priority=i18n.translator(lang)(f"priority.{care.priority.value}"),
            area=care.service_area,
            window=f"{care.window_start.astimezone(zone):%Y-%m-%d %H:%M}–{care.window_end.astimezone(zone):%H:%M}",
        )
    return render(
        request,
        "dashboard/request_history.html",
        principal,
        request_id=request_id,
        elder_id=care.elder_id if care else None,
        facts=facts,
        entries=told(found.events, found.notices, lang, zone),
        h=words.text,
        zone=settings.programme_timezone,
    )
