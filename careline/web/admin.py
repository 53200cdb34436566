"""Admin pages: accounts (admins only), the audit log (admins and supervisors),
and placing service areas in the region hierarchy (admins only).

Everything here is limited to the signed-in account's region scope
(``handlers.operations.access``): an admin sees, creates, deactivates, reactivates and
unlocks only accounts within its scope and places only areas inside it (403
naming why otherwise; 409 for the last unscoped admin); an auditor reads only
the audit rows of its region (``db.operator_uow.audit_rows``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Callable

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from careline import operators as accounts
from careline.web import auth
from careline.web.pages import render
from db.operator_uow import audit_rows, write_audit
from db.regions import placements
from handlers.operations.access import LastGlobalAdmin, OutOfScope, Permission
from handlers.operations.regions import InvalidRegion, within

router = APIRouter(prefix="/admin", include_in_schema=False)
_admin = auth.require(Permission.MANAGE_OPERATORS, page=True)
_auditor = auth.require(Permission.VIEW_AUDIT, page=True)
#: what each refusal of the account rules answers
_STATUS = {OutOfScope: 403, LastGlobalAdmin: 409, accounts.AccountError: 400, InvalidRegion: 400}


def _page(request: Request, principal: auth.Principal, error: str = "", status_code: int = 200):  # noqa: ANN202
    scope = principal.region_scope
    with auth.sessions_of(request)() as session:
        operators = accounts.list_operators(session, scope)
        regions = [r for r in placements(session) if within(r.region_path, scope)]
    return render(
        request,
        "dashboard/admin_operators.html",
        principal,
        operators=operators,
        regions=regions,
        error=error,
        status_code=status_code,
    )


def _change(
    request: Request, principal: auth.Principal, csrf_token: str, action: str, target: str, apply: Callable
) -> Response:
    """Check CSRF, ``apply(session)`` and commit; a refusal is audited and shown on the page."""
    auth.check_csrf(principal, csrf_token)
    with auth.sessions_of(request)() as session:
        try:
            apply(session)
        except tuple(_STATUS) as exc:
            session.rollback()
            status = next(code for kind, code in _STATUS.items() if isinstance(exc, kind))
            write_audit(
                session,
                principal.operator_id,
                action,
                target,
                datetime.now(UTC),
                outcome="denied" if status == 403 else "refused",
                detail={"reason": type(exc).__name__},
                region=principal.region_scope,
            )
            session.commit()
            return _page(request, principal, str(exc), status)
        session.commit()
    return RedirectResponse("/admin/operators", status_code=303)


@router.get("/operators")
def operators_page(request: Request, principal: auth.Principal = Depends(_admin)):  # noqa: ANN201
    return _page(request, principal)


@router.post("/operators")
def add(
    request: Request,
    username: str = Form(...),
    name: str = Form(""),
    role: str = Form(...),
    password: str = Form(...),
    region_scope: str = Form(""),
    csrf_token: str = Form(""),
    principal: auth.Principal = Depends(_admin),
) -> Response:
    return _change(
        request,
        principal,
        csrf_token,
        "operator.add",
        username.strip() or "?",
        lambda session: accounts.create_operator(
            session,
            username,
            role,
            password,
            name or None,
            region_scope,
            created_by=principal.operator_id,
            actor_scope=principal.region_scope,
        ),
    )


def _account_action(action: str, apply: Callable) -> Callable:
    def endpoint(
        request: Request, operator_id: str, csrf_token: str = Form(""), principal: auth.Principal = Depends(_admin)
    ) -> Response:
        return _change(
            request,
            principal,
            csrf_token,
            f"operator.{action}",
            operator_id,
            lambda session: apply(session, operator_id, principal.operator_id, principal.region_scope),
        )

    endpoint.__name__ = action
    return endpoint


router.add_api_route(
    "/operators/{operator_id}/deactivate",
    _account_action("deactivate", lambda s, user, actor, scope: accounts.set_active(s, user, False, actor, scope)),
    methods=["POST"],
)
router.add_api_route(
    "/operators/{operator_id}/reactivate",
    _account_action("reactivate", lambda s, user, actor, scope: accounts.set_active(s, user, True, actor, scope)),
    methods=["POST"],
)
router.add_api_route("/operators/{operator_id}/unlock", _account_action("unlock", accounts.unlock), methods=["POST"])


@router.post("/regions")
def place(
    request: Request,
    service_area: str = Form(...),
    region_path: str = Form(...),
    csrf_token: str = Form(""),
    principal: auth.Principal = Depends(_admin),
) -> Response:
    area = service_area.strip()

    def apply(session) -> None:  # noqa: ANN001
        path = accounts.place_area(session, area, region_path, principal.region_scope)
        write_audit(
            session,
            principal.operator_id,
            "region.place",
            area,
            datetime.now(UTC),
            detail={"region_path": path},
            region=path,
        )

    return _change(request, principal, csrf_token, "region.place", area, apply)


@router.get("/audit")
def audit(request: Request, limit: int = 200, principal: auth.Principal = Depends(_auditor)):  # noqa: ANN201
    with auth.sessions_of(request)() as session:
        rows = audit_rows(session, principal.region_scope, min(max(limit, 1), 1000))
    return render(request, "dashboard/audit.html", principal, rows=rows)
