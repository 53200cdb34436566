"""The EVV review page: visits whose EVV flags wait for an operator's decision.

``GET /dashboard/evv`` lists every undecided flag of the operator's region
(oldest first) and the latest decisions; ``POST
/dashboard/actions/evv/{visit_id}/{code}/review`` decides one flag
(``handlers.visits.evv_review.review_flag``) through the dashboard's action runner:
role, CSRF, region and the audit row, in one transaction. Elders' names and
phones are masked for roles that may not see them, as on the board; the
reviewer's note is free text, shown escaped and kept out of the audit log.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from careline.web import auth
from careline.web.actions import _run
from careline.web.pages import render
from db import dashboard as readmodel
from db import evv_review as stored
from db.operator_uow import OperatorSqlUnitOfWork, evv_reviews_of
from db.session import Session
from handlers.operations.access import Permission, Role, personal
from handlers.visits import evv_review as rules

router = APIRouter(include_in_schema=False)
_reviewer_page = auth.require(Permission.REVIEW_EVV, page=True)
_reviewer = auth.require(Permission.REVIEW_EVV)
MAX_ROWS = 200
RECENT_REVIEWS = 30


def open_rows(session: Session, role: Role, areas: list[str] | None) -> list[dict]:
    """One row per undecided flag: flag, visit, caregiver, provider, when, elder (masked per role)."""
    rows = stored.flagged_visits(session, areas)
    reviews = evv_reviews_of(session, [r.Visit.visit_id for r in rows])
    out = []
    for r in rows:
        v = r.Visit
        for flag in rules.open_flags(v, reviews):
            code = str(flag.get("code"))
            out.append(
                {
                    "code": code,
                    "detail": rules.detail_for(role, str(flag.get("detail", ""))),
                    "visit_id": v.visit_id,
                    "request_id": v.request_id,
                    "service_type": v.service_type,
                    "service_area": r.service_area,
                    "caregiver_id": v.caregiver_id,
                    "provider_id": v.provider_id,
                    "provider_name": r.provider_name or v.provider_id,
                    "at": rules.raised_at(v, code),
                    "elder": personal(role, r.elder_name, r.elder_phone),
                }
            )
    return sorted(out, key=lambda x: (x["at"], x["visit_id"], x["code"]))


@router.get("/dashboard/evv")
def evv_page(
    request: Request,
    region: str | None = None,
    refused: str | None = None,
    principal: auth.Principal = Depends(_reviewer_page),
) -> Response:
    with auth.sessions_of(request)() as session:
        view = readmodel.region_view(session, auth.region_for(principal, region))
        rows = open_rows(session, principal.role, view.areas)
        decided = stored.recent_reviews(session, view.areas, RECENT_REVIEWS)
    return render(
        request,
        "dashboard/evv_review.html",
        principal,
        rows=rows[:MAX_ROWS],
        total=len(rows),
        reviews=decided,
        region=view.region,
        subregions=view.subregions,
        outcomes=[o.value for o in rules.ReviewOutcome],
        refused=refused or "",
        note_max=rules.NOTE_MAX_CHARS,
    )


@router.post("/dashboard/actions/evv/{visit_id}/{code}/review")
def review(
    request: Request,
    visit_id: str,
    code: str,
    outcome: str = Form(...),
    note: str = Form(""),
    csrf_token: str | None = Form(None),
    principal: auth.Principal = Depends(_reviewer),
) -> Response:
    """Decide one flag; JSON ``{ok, code, message}`` for fetch, else back to the page."""

    def area(uow: OperatorSqlUnitOfWork) -> str | None:
        visit = uow.visits.get(visit_id)
        req = uow.requests.get(visit.request_id) if visit else None
        return req.service_area if req else None

    def change(uow: OperatorSqlUnitOfWork, now: datetime) -> dict:
        done = rules.review_flag(visit_id, code, outcome, note, uow, now, principal.operator_id)
        return {"code": done.code, "outcome": done.outcome.value, "payable": done.outcome.payable}

    return _run(request, principal, csrf_token, "evv.review", visit_id, area, change, back="/dashboard/evv")
