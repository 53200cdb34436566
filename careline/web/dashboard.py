"""The operator dashboard: login, the live board and its Server-Sent Events feed.

The page is rendered on the server (Jinja2) and refreshed in place: the
browser listens on ``/dashboard/events``, which reads new ``event_log`` rows
by ``seq`` every ``dashboard_poll_seconds`` (0.5 s) and pushes those of the
operator's region; on each, the page fetches the board fragment again. So an
event reaches the screen within about a second. Static files are served from
the package (no CDN, no tile server: the center may have no internet).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Mapping

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from careline.web import auth
from careline.web.board import build_board
from careline.web.login import log_in
from careline.web.pages import STATIC, render
from db import events as event_log
from db import operators as accounts
from db import regions
from db.operator_uow import write_audit
from db.session import Row
from handlers.operations.access import Permission
from handlers.operations.regions import within

router = APIRouter()
router.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
_viewer = auth.require(Permission.VIEW_DASHBOARD, page=True)


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/login", include_in_schema=False)
def login_page(request: Request, expired: int = 0, failed: int = 0):  # noqa: ANN201
    return _login_form(request, expired=bool(expired), failed=bool(failed))


def _login_form(request: Request, status_code: int = 200, headers: Mapping[str, str] | None = None, **context):  # noqa: ANN003, ANN202
    """The login page with a fresh signed CSRF pair (``auth.login_csrf``): nonce in a cookie, token in the form."""
    settings = request.app.state.settings
    nonce, token = auth.login_csrf(auth.secret_key(settings))
    response = render(request, "dashboard/login.html", None, login_csrf=token, status_code=status_code, **context)
    response.set_cookie(
        auth.LOGIN_CSRF_COOKIE,
        nonce,
        max_age=auth.LOGIN_CSRF_SECONDS,
        httponly=True,
        samesite="strict",
        secure=auth.cookie_secure(settings),
    )
    response.headers.update(headers or {})
    return response


@router.post("/login", include_in_schema=False)
async def login(request: Request, username: str = Form(...), password: str = Form(...), csrf_token: str = Form("")):  # noqa: ANN201
    """Check the signed CSRF pair, then ``careline.web.login.log_in`` (throttled, hashed off the loop):
    303 to the dashboard, back to the form on a wrong password, 429/503 with ``Retry-After``."""
    settings = request.app.state.settings
    if not auth.login_csrf_valid(request.cookies.get(auth.LOGIN_CSRF_COOKIE), csrf_token, auth.secret_key(settings)):
        raise HTTPException(status_code=403, detail="missing or wrong CSRF token; reload the login page")
    try:
        operator = await log_in(request, username, password, "dashboard")
    except HTTPException as exc:
        if exc.status_code not in (429, 503):
            raise
        return _login_form(request, exc.status_code, exc.headers, refused=exc.detail)
    if operator is None:
        return RedirectResponse("/login?failed=1", status_code=303)
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(
        auth.COOKIE,
        auth.issue(operator, settings),
        max_age=settings.session_max_age_seconds,
        httponly=True,
        samesite="strict",
        secure=auth.cookie_secure(settings),
    )
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout", include_in_schema=False)
def logout(
    request: Request, csrf_token: str = Form(""), principal: auth.Principal = Depends(_viewer)
) -> RedirectResponse:
    auth.check_csrf(principal, csrf_token)
    with auth.sessions_of(request)() as session:
        accounts.end_sessions(session, principal.operator_id)
        write_audit(
            session,
            principal.operator_id,
            "logout",
            "dashboard",
            datetime.now(UTC),
            region=principal.region_scope,
        )
        session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.COOKIE)
    return response


def _board(request: Request, principal: auth.Principal, region: str | None, area: str | None) -> dict:
    with auth.sessions_of(request)() as session:
        return build_board(
            session,
            request.app.state.settings,
            request.app.state.runtime.configuration.policy,
            principal.role,
            auth.region_for(principal, region),
            area,
        )


@router.get("/dashboard", include_in_schema=False)
def dashboard(
    request: Request, region: str | None = None, area: str | None = None, principal: auth.Principal = Depends(_viewer)
) -> Response:
    board = _board(request, principal, region, area)
    return render(
        request,
        "dashboard/dashboard.html",
        principal,
        board=board,
        caregiver_choices=[w["caregiver_id"] for w in board["workers"]],
    )


@router.get("/dashboard/board", include_in_schema=False)
def board_fragment(
    request: Request, region: str | None = None, area: str | None = None, principal: auth.Principal = Depends(_viewer)
) -> Response:
    return render(request, "dashboard/_board.html", principal, board=_board(request, principal, region, area))


def _rows_after(request: Request, seq: int, limit: int = 500) -> list[Row]:
    with auth.sessions_of(request)() as session:
        return event_log.events_after(session, seq, limit)


def _last_seq(request: Request) -> int:
    with auth.sessions_of(request)() as session:
        return event_log.last_seq(session)


def _regions(request: Request) -> dict[str, str]:
    with auth.sessions_of(request)() as session:
        return regions.area_regions(session)


def _visible(area: str | None, scope: str, regions: dict[str, str]) -> bool:
    if scope == "":
        return True
    return area is not None and area in regions and within(regions[area], scope)


def sse(data: dict, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n"


@router.get("/dashboard/events", include_in_schema=False)
async def events(request: Request, principal: auth.Principal = Depends(_viewer)) -> StreamingResponse:
    """New event_log rows of the operator's region, as ``{seq, type, subject, service_area,
    status}`` (no personal data). Resumes after ``Last-Event-ID``; ends with an
    ``expired`` message when the session runs out."""
    poll = request.app.state.settings.dashboard_poll_seconds
    resume = request.headers.get("last-event-id", "")
    start = int(resume) if resume.isdigit() else await run_in_threadpool(_last_seq, request)

    async def stream():  # noqa: ANN202
        last, regions, loaded, beat = start, {}, 0.0, time.monotonic()
        yield f"retry: 1000\n{sse({'type': 'hello', 'seq': last})}"
        while not await request.is_disconnected():
            if time.time() >= principal.expires_at:
                yield sse({"type": "expired"})
                return
            if time.monotonic() - loaded > 10:
                regions, loaded = await run_in_threadpool(_regions, request), time.monotonic()
            for row in await run_in_threadpool(_rows_after, request, last):
                last = row.seq
                data = (row.payload or {}).get("data", {}) if isinstance(row.payload, dict) else {}
                if _visible(data.get("service_area"), principal.region_scope, regions):
                    yield sse(
                        {
                            "seq": row.seq,
                            "type": row.type,
                            "subject": row.subject,
                            "service_area": data.get("service_area"),
                            "status": data.get("status"),
                        },
                        row.seq,
                    )
                    beat = time.monotonic()
            if time.monotonic() - beat > 15:
                yield ": keep-alive\n\n"
                beat = time.monotonic()
            await asyncio.sleep(poll)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


def _include_reassign_choices() -> None:
    """The reassign list's route (``careline.web.reassign_choices``) rides on the dashboard's router."""
    from careline.web.reassign_choices import router as choices_router

    router.include_router(choices_router)


_include_reassign_choices()
