"""The live evaluation page: each provider's and caregiver's KPIs over the
rolling window, as the worker's windowed table holds them.

``GET /dashboard/kpis`` (``view_stats``): providers of the operator's region,
best composite score first, then the caregivers of one provider
(``?provider=``) or, without one, the caregivers with most visits due. The
numbers come from the ``live_kpis`` read model (``streams.live_kpis`` writes
it every ``score_interval_seconds``); the page reloads itself every 10 s. The
monthly contract report (``careline report providers``) is the settled
version of the same KPIs.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from careline.web import auth
from careline.web.pages import render
from db import dashboard as readmodel
from db import live_kpis
from handlers.operations.access import Permission

router = APIRouter(include_in_schema=False)
_viewer_page = auth.require(Permission.VIEW_STATS, page=True)
MAX_CAREGIVERS = 100


@router.get("/dashboard/kpis")
def kpis_page(
    request: Request,
    region: str | None = None,
    provider: str | None = None,
    principal: auth.Principal = Depends(_viewer_page),
) -> Response:
    """The page; ``provider`` narrows the caregivers to one provider's (an unknown id is ignored)."""
    with auth.sessions_of(request)() as session:
        view = readmodel.region_view(session, auth.region_for(principal, region))
        names, employer = live_kpis.provider_names(session, view.areas), live_kpis.employers(session, view.areas)
        providers = live_kpis.read(session, "provider", names)
        wanted = [cid for cid, pid in employer.items() if provider is None or pid == provider]
        caregivers = live_kpis.read(session, "caregiver", wanted)
    if provider is None:
        caregivers.sort(key=lambda r: (-(r.get("visits") or 0), r["subject_id"]))
    window = providers[0] if providers else (caregivers[0] if caregivers else None)
    zone = ZoneInfo(request.app.state.settings.programme_timezone)

    def local(at: datetime, pattern: str) -> str:
        """``at`` in the center's time zone (CARELINE_PROGRAMME_TIMEZONE), as the report shows it."""
        return at.astimezone(zone).strftime(pattern)

    return render(
        request,
        "dashboard/kpis.html",
        principal,
        providers=providers,
        names=names,
        caregivers=caregivers[:MAX_CAREGIVERS],
        more=max(0, len(caregivers) - MAX_CAREGIVERS),
        employer=employer,
        provider=provider if provider in names else None,
        window=window,
        local=local,
        zone=zone.key,
        region=view.region,
        subregions=view.subregions,
    )
