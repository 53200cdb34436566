"""Admin pages: accounts (admins only), the audit log (admins and supervisors),
and placing service areas in the region hierarchy (admins only)."""
from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from careline.operators import AccountError, create_operator, list_operators, place_area, set_active
from careline.web import auth
from careline.web.pages import render
from db import tables
from db.operator_uow import write_audit
from handlers.operations.access import Permission
from handlers.operations.regions import InvalidRegion

router = APIRouter(prefix="/admin", include_in_schema=False)
_admin = auth.require(Permission.MANAGE_OPERATORS, page=True)
_auditor = auth.require(Permission.VIEW_AUDIT, page=True)


def _page(request: Request, principal: auth.Principal, error: str = "", status_code: int = 200):  # noqa: ANN202
    with auth.sessions_of(request)() as session:
        operators = list_operators(session)
        regions = session.execute(select(tables.service_area_regions).order_by(
            tables.service_area_regions.c.region_path)).all()
    return render(request, "dashboard/admin_operators.html", principal, operators=operators,
                  regions=regions, error=error, status_code=status_code)


@router.get("/operators")
def operators_page(request: Request, principal: auth.Principal = Depends(_admin)):  # noqa: ANN201
    return _page(request, principal)


@router.post("/operators")
def add(request: Request, username: str = Form(...), name: str = Form(""), role: str = Form(...),
        password: str = Form(...), region_scope: str = Form(""), csrf_token: str = Form(""),
        principal: auth.Principal = Depends(_admin)):  # noqa: ANN201
    auth.check_csrf(principal, csrf_token)
    with auth.sessions_of(request)() as session:
        try:
            create_operator(session, username, role, password, name or None, region_scope,
                            created_by=principal.operator_id)
        except AccountError as exc:
            return _page(request, principal, str(exc), 400)
        session.commit()
    return RedirectResponse("/admin/operators", status_code=303)


@router.post("/operators/{operator_id}/deactivate")
def deactivate(request: Request, operator_id: str, csrf_token: str = Form(""),
               principal: auth.Principal = Depends(_admin)) -> RedirectResponse:
    auth.check_csrf(principal, csrf_token)
    with auth.sessions_of(request)() as session:
        set_active(session, operator_id, False)
        write_audit(session, principal.operator_id, "operator.deactivate", operator_id, datetime.now(timezone.utc))
        session.commit()
    return RedirectResponse("/admin/operators", status_code=303)


@router.post("/regions")
def place(request: Request, service_area: str = Form(...), region_path: str = Form(...),
          csrf_token: str = Form(""), principal: auth.Principal = Depends(_admin)):  # noqa: ANN201
    auth.check_csrf(principal, csrf_token)
    with auth.sessions_of(request)() as session:
        try:
            place_area(session, service_area.strip(), region_path)
        except InvalidRegion as exc:
            return _page(request, principal, str(exc), 400)
        write_audit(session, principal.operator_id, "region.place", service_area.strip(),
                    datetime.now(timezone.utc), detail={"region_path": region_path.strip()})
        session.commit()
    return RedirectResponse("/admin/operators", status_code=303)


@router.get("/audit")
def audit(request: Request, limit: int = 200, principal: auth.Principal = Depends(_auditor)):  # noqa: ANN201
    t = tables.audit_log.c
    with auth.sessions_of(request)() as session:
        rows = session.execute(select(tables.audit_log).order_by(t.seq.desc()).limit(min(max(limit, 1), 1000))).all()
    return render(request, "dashboard/audit.html", principal, rows=rows)
