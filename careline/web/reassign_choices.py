"""Who the operator may reassign a request to: the caregivers of its area dispatch would
accept, in dispatch's own ranking order with the terms of the ranking, and every other one
with the reason dispatch excludes them (translated for the Chinese view).

``GET /dashboard/requests/{request_id}/choices`` answers JSON
``{request_id, choices: [{caregiver_id, rank, start, travel_added_minutes, lateness_minutes,
cost}], excluded: [{caregiver_id, reason}]}``; 404 for an unknown request, 403 outside the
operator's region. The ranking is ``handlers.dispatch.scheduling.rank_caregivers`` with the
area's policy and travel times, the same call ``operator_actions.reassign`` checks the choice
with, so the list never offers someone the action would refuse. Read only: nothing is written.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from careline.web import auth, board_i18n, i18n
from careline.web.actions import _in_scope
from db import dashboard as readmodel
from db.operator_uow import OperatorSqlUnitOfWork
from handlers.dispatch.scheduling import rank_caregivers
from handlers.model import OfferStatus, VisitStatus
from handlers.operations.access import Permission

router = APIRouter(include_in_schema=False)
_assigner = auth.require(Permission.ASSIGN_REQUEST)


@router.get("/dashboard/requests/{request_id}/choices")
def choices(request: Request, request_id: str, principal: auth.Principal = Depends(_assigner)) -> JSONResponse:
    lang = i18n.language(request, request.app.state.settings.default_language)
    with OperatorSqlUnitOfWork(auth.sessions_of(request)) as uow:
        care = uow.requests.get(request_id)
        if care is None:
            raise HTTPException(status_code=404, detail=f"no request {request_id}")
        _in_scope(uow, principal, care.service_area)
        now = readmodel.clock_now(uow.session)
        area = request.app.state.runtime.areas.read(uow.session, care.service_area)
        holders = {o.caregiver_id for o in uow.offers.for_request(request_id) if o.status == OfferStatus.PENDING}
        visit = uow.visits.for_request(request_id)
        if visit is not None and visit.status in (VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS):
            holders.add(visit.caregiver_id)
        caregivers = [c for c in uow.caregivers.in_area(care.service_area) if c.caregiver_id not in holders]
        ranking = rank_caregivers(
            care,
            caregivers,
            uow.bookings([c.caregiver_id for c in caregivers]),
            area.travel,
            now,
            area.policy,
            set(),
            uow.ranking_context(care, now),
        )
    return JSONResponse(
        {
            "request_id": request_id,
            "choices": [
                {
                    "caregiver_id": c.caregiver_id,
                    "rank": i + 1,
                    "start": c.start.isoformat(),
                    "travel_added_minutes": round(c.travel_added_minutes, 1),
                    "lateness_minutes": round(c.lateness_minutes, 1),
                    "cost": round(c.cost, 1),
                }
                for i, c in enumerate(ranking.candidates)
            ],
            "excluded": [
                {"caregiver_id": cid, "reason": board_i18n.reason(why, lang)}
                for cid, why in sorted(ranking.exclusions.items())
            ]
            + [
                {"caregiver_id": cid, "reason": "已持有此请求" if lang == "zh" else "holds it now"}
                for cid in sorted(holders)
            ],
        },
        headers={"Cache-Control": "no-store"},
    )
