"""Templates, static files and the page context shared by the dashboard routers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from careline.web import board_i18n, i18n
from careline.web.auth import Principal

PACKAGE = Path(__file__).resolve().parents[1]
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"


def duration(seconds: float | None) -> str:
    """Seconds as an operator reads them: 45s, 4m 05s, 2h 03m, 3d 4h."""
    if seconds is None:
        return "–"
    s = int(max(0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.filters["dur"] = duration


def _terms(lang: str) -> Any:
    """``term(kind, value)`` in templates: a status, service or ladder step in ``lang``
    (``careline.web.board_i18n``); an unknown value is shown as it is."""

    def term(kind: str, value: str | None) -> str:
        if value is None:
            return "–"
        if kind == "step":
            return board_i18n.step(value, lang)
        if kind == "service":
            return board_i18n.service(value, lang)
        entry = board_i18n.BOARD_TEXT.get(f"{kind}.{value}")
        return entry[lang] if entry else value

    return term


def _clock(zone_name: str) -> dict[str, Any]:
    """``local(at, pattern)`` in templates: an aware time on the center's clock
    (``Settings.programme_timezone``), whose name is ``center_zone``; a naive one is taken as UTC."""
    zone = ZoneInfo(zone_name)

    def local(at: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
        if at is None:
            return "–"
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone).strftime(pattern)

    return {"local": local, "center_zone": zone_name}


def render(
    request: Request, name: str, principal: Principal | None, status_code: int = 200, **context: Any
) -> Response:
    """Render ``name`` with the language, translator, principal and CSRF token in context;
    a ``?lang=`` choice is remembered in a cookie."""
    lang = i18n.language(request, request.app.state.settings.default_language)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "t": i18n.translator(lang),
            "term": _terms(lang),
            "principal": principal,
            "csrf": principal.csrf if principal else "",
            **_clock(request.app.state.settings.programme_timezone),
            **context,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, samesite="strict", httponly=True)
    response.headers["Cache-Control"] = "no-store"
    return response
