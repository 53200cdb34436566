"""The register's pages (admins, within their region): search, add, edit and deactivate
elders, caregivers with their rotas and leave, alarm devices and providers; import a file.

* ``GET /admin/register/{kind}?q=&edit=`` lists the records of the admin's region matching
  ``q`` (the elder lookup's rules for elders; id, name, provider or phone for caregivers),
  with a form holding the register file's columns, filled from ``edit``'s record.
* ``POST /admin/register/{kind}`` adds or updates one record from that form. The form is one
  row of a register file, read by the same parser and applied by the same use case as
  ``careline register import`` (``channels.register.import_file`` with source ``page``), so
  a page and a file are checked by the same rules; refusals come back as ``column: reason``
  (400) with what was typed kept.
* ``POST /admin/register/{kind}/import`` imports an uploaded file (``dry_run`` checks only) and
  shows the import's report, every rejected row as ``line N, column C: reason``.
* ``POST /admin/register/elders/{id}/status``, ``caregivers|devices|providers/{id}/active``,
  ``caregivers/{id}/rota``, ``caregivers/{id}/leave`` and ``.../leave/remove`` run the register's
  commands (``handlers.register.commands``).

The caregivers' list shows who is on shift now and who is on leave today. Every change is an
event on ``care.register.v1`` and an audit row naming the admin (``handlers.register.changes``).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from careline.web import auth
from careline.web.elder_card import find
from careline.web.pages import render
from channels.register import KINDS, apply, command_id, import_file, register_context
from db import dashboard as readmodel
from db import register_views as views
from handlers.dispatch.shifts import absence_on, current_or_next_shift, on_shift, rota_of
from handlers.operations.access import Permission
from handlers.register import commands as rc
from handlers.register.changes import RegisterRefused
from handlers.register.export import caregiver_row, chinese_names, device_row, elder_row, header, provider_row
from handlers.register.files import RegisterFileError
from handlers.register.rows import RegisterContext
from handlers.register.services import ElderStatus

router = APIRouter(prefix="/admin/register", include_in_schema=False)
_keeper = auth.require(Permission.MANAGE_REGISTER, page=True)
#: the largest register file a page accepts (a center's whole register is far smaller)
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
ELDER_STATUSES = tuple(s.value for s in ElderStatus)
#: the columns a list shows (the form holds them all)
LISTED = {
    "elders": ("elder_id", "name", "phone", "landline", "address", "service_area"),
    "caregivers": ("caregiver_id", "provider_id", "name", "skills", "travel_mode", "rota"),
    "devices": ("device_id", "elder_id", "kind", "phone"),
    "providers": ("provider_id", "name", "service_types", "address", "phone"),
}


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise HTTPException(404, f"no register of {kind!r}: one of {', '.join(KINDS)}")
    return kind


def _rows(request: Request, kind: str, scope: str, q: str, now: datetime) -> list[dict[str, Any]]:
    """The records of ``kind`` within ``scope`` matching ``q``, each with its file row."""
    columns = header(kind)
    with auth.sessions_of(request)() as session:
        if kind == "elders":
            found = find(session, q, scope, request.app.state.settings, 200) if q else views.elders(session, scope)
            return [
                {"row": dict(zip(columns, elder_row(e), strict=True)), "active": e.status == "active"} for e in found
            ]
        if kind == "caregivers":
            rows = []
            for v in views.caregivers(session, scope, q):
                c = v.caregiver
                rota = rota_of(c)
                shift = current_or_next_shift(c, now) if c.active else None
                absence = absence_on(c, now)
                rows.append(
                    {
                        "row": dict(zip(columns, caregiver_row(c, v.latitude, v.longitude, v.provenance), strict=True)),
                        "active": c.active,
                        "on_shift": c.active and on_shift(c, now),
                        "absence": absence.kind if absence else None,
                        "absences": list(rota.absences) if rota else [],
                        "shift": _shift_text(shift, now, ZoneInfo(request.app.state.settings.programme_timezone))
                        if shift
                        else "",
                    }
                )
            return rows
        if kind == "devices":
            zone = ZoneInfo(request.app.state.settings.programme_timezone)
            return [
                {
                    "row": dict(zip(columns, device_row(d), strict=True)),
                    "active": d.active,
                    "heartbeat": d.last_heartbeat_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                    if d.last_heartbeat_at
                    else "",
                }
                for d in views.devices(session, scope)
                if not q or q.lower() in f"{d.device_id} {d.elder_id} {d.phone or ''}".lower()
            ]
        return [
            {"row": dict(zip(columns, provider_row(p), strict=True)), "active": p.active}
            for p in views.providers(session, scope)
            if not q or q.lower() in f"{p.provider_id} {p.name} {p.address or ''}".lower()
        ]


def _shift_text(shift: Any, now: datetime, zone: ZoneInfo) -> str:  # the board's format (careline.web.board._shift)
    start, end = shift.start.astimezone(zone), shift.end.astimezone(zone)
    day = "" if start.date() == now.astimezone(zone).date() else f"{start:%m-%d} "
    return f"{day}{start:%H:%M}–{end:%H:%M}" + (" +" if shift.extra else "")


def _page(
    request: Request,
    principal: auth.Principal,
    kind: str,
    q: str = "",
    form: dict[str, str] | None = None,
    editing: bool = False,
    report: Any = None,
    error: str = "",
    status_code: int = 200,
) -> Response:
    with auth.sessions_of(request)() as session:
        now = readmodel.clock_now(session)
    rows = _rows(request, kind, principal.region_scope, q.strip()[:120], now)
    return render(
        request,
        "dashboard/register.html",
        principal,
        kind=kind,
        kinds=KINDS,
        q=q,
        rows=rows,
        columns=header(kind),
        listed=LISTED[kind],
        chinese=chinese_names(kind),
        form=form or {},
        editing=editing,
        report=report,
        error=error,
        statuses=ELDER_STATUSES,
        on_shift=sum(1 for r in rows if r.get("on_shift")),
        on_leave=sum(1 for r in rows if r.get("absence")),
        saved=request.query_params.get("saved", ""),
        status_code=status_code,
    )


@router.get("/{kind}")
def register_page(
    request: Request, kind: str, q: str = "", edit: str = "", principal: auth.Principal = Depends(_keeper)
) -> Response:
    kind = _kind(kind)
    form: dict[str, str] = {}
    if edit:
        with auth.sessions_of(request)() as session:
            now = readmodel.clock_now(session)
        match = [r for r in _rows(request, kind, principal.region_scope, "", now) if r["row"][header(kind)[0]] == edit]
        if not match:
            raise HTTPException(404, f"no {kind[:-1]} {edit!r} in your region")
        form = match[0]["row"]
    return _page(request, principal, kind, q, form, editing=bool(edit))


def _context(request: Request) -> RegisterContext:
    """How this center reads its files, with the abilities its routing policy defines."""
    runtime = request.app.state.runtime
    return register_context(request.app.state.settings, tuple(runtime.configuration.policy.skill_hierarchy) or None)


@router.post("/{kind}")
async def save_record(request: Request, kind: str, principal: auth.Principal = Depends(_keeper)) -> Response:
    """Add or update one record from the form (see the module docstring)."""
    kind = _kind(kind)
    posted = await request.form()
    auth.check_csrf(principal, str(posted.get("csrf_token") or ""))
    columns = header(kind)
    values = {c: str(posted.get(c) or "").strip() for c in columns}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerow([values[c] for c in columns])
    try:
        report = import_file(
            auth.sessions_of(request),
            kind,
            buffer.getvalue().encode("utf-8"),
            "page.csv",
            _context(request),
            actor=principal.operator_id,
            source="page",
            scope=principal.region_scope,
        )
    except RegisterFileError as exc:
        return _page(request, principal, kind, form=values, error=str(exc), status_code=400)
    if report.errors:
        error = "; ".join(f"{e.column}: {e.reason}" for e in report.errors)
        return _page(request, principal, kind, form=values, editing=True, error=error, status_code=400)
    key = values[columns[0]]
    return RedirectResponse(f"/admin/register/{kind}?{urlencode({'q': key, 'saved': key})}", status_code=303)


@router.post("/{kind}/import")
async def import_page(
    request: Request,
    kind: str,
    file: UploadFile = File(...),
    dry_run: bool = Form(False),
    csrf_token: str = Form(""),
    principal: auth.Principal = Depends(_keeper),
) -> Response:
    """Import an uploaded register file (CSV or .xlsx) and show its report."""
    kind = _kind(kind)
    auth.check_csrf(principal, csrf_token)
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return _page(request, principal, kind, error=f"file larger than {MAX_UPLOAD_BYTES} bytes", status_code=413)
    try:
        report = import_file(
            auth.sessions_of(request),
            kind,
            data,
            file.filename or "upload.csv",
            _context(request),
            dry_run=dry_run,
            actor=principal.operator_id,
            source="page",
            scope=principal.region_scope,
        )
    except RegisterFileError as exc:
        return _page(request, principal, kind, error=str(exc), status_code=400)
    return _page(request, principal, kind, report=report, status_code=400 if report.errors else 200)


def _command(request: Request, principal: auth.Principal, kind: str, key: str, command: rc.RegisterCommand) -> Response:
    try:
        apply(auth.sessions_of(request), command)
    except RegisterRefused as exc:
        return _page(request, principal, kind, q=key, error=f"{key}: {exc.field}: {exc.reason}", status_code=409)
    return RedirectResponse(f"/admin/register/{kind}?{urlencode({'q': key, 'saved': key})}", status_code=303)


def _who(principal: auth.Principal) -> dict[str, Any]:
    return {"actor": principal.operator_id, "source": "page", "scope": principal.region_scope}


@router.post("/elders/{elder_id}/status")
def elder_status(
    request: Request,
    elder_id: str,
    status: str = Form(...),
    csrf_token: str = Form(""),
    principal: auth.Principal = Depends(_keeper),
) -> Response:
    auth.check_csrf(principal, csrf_token)
    if status not in ELDER_STATUSES:
        raise HTTPException(400, f"status: one of {', '.join(ELDER_STATUSES)}")
    command = rc.SetElderStatus(command_id(), datetime.now(UTC), elder_id=elder_id, status=status, **_who(principal))
    return _command(request, principal, "elders", elder_id, command)


@router.post("/{kind}/{key}/active")
def set_active(
    request: Request,
    kind: str,
    key: str,
    active: bool = Form(...),
    csrf_token: str = Form(""),
    principal: auth.Principal = Depends(_keeper),
) -> Response:
    """Deactivate (or reactivate) a caregiver, a device or a provider."""
    auth.check_csrf(principal, csrf_token)
    now = datetime.now(UTC)
    commands: dict[str, Any] = {
        "caregivers": lambda: rc.SetCaregiverActive(
            command_id(), now, caregiver_id=key, active=active, **_who(principal)
        ),
        "devices": lambda: rc.SetDeviceActive(command_id(), now, device_id=key, active=active, **_who(principal)),
        "providers": lambda: rc.SetProviderActive(command_id(), now, provider_id=key, active=active, **_who(principal)),
    }
    if kind not in commands:
        raise HTTPException(404, "elders have a status, not an active flag")
    return _command(request, principal, kind, key, commands[kind]())


@router.post("/caregivers/{caregiver_id}/rota")
def set_rota(
    request: Request,
    caregiver_id: str,
    rota: str = Form(...),
    csrf_token: str = Form(""),
    principal: auth.Principal = Depends(_keeper),
) -> Response:
    """Replace the caregiver's rota (as people write it: ``mon-fri 08:00-16:00; sat 09:00-12:00``)."""
    auth.check_csrf(principal, csrf_token)
    command = rc.SetRota(command_id(), datetime.now(UTC), caregiver_id=caregiver_id, rota=rota, **_who(principal))
    return _command(request, principal, "caregivers", caregiver_id, command)


@router.post("/caregivers/{caregiver_id}/leave")
def add_leave(
    request: Request,
    caregiver_id: str,
    first: date = Form(...),
    last: str = Form(""),
    kind: str = Form("leave"),
    csrf_token: str = Form(""),
    principal: auth.Principal = Depends(_keeper),
) -> Response:
    """Leave or a sick day from ``first`` to ``last`` (inclusive; one day without ``last``)."""
    auth.check_csrf(principal, csrf_token)
    try:
        until = date.fromisoformat(last) if last.strip() else first
    except ValueError:
        raise HTTPException(400, f"last: not a date (YYYY-MM-DD): {last!r}") from None
    command = rc.AddAbsence(
        command_id(),
        datetime.now(UTC),
        caregiver_id=caregiver_id,
        first=first,
        last=until,
        kind=kind,
        **_who(principal),
    )
    return _command(request, principal, "caregivers", caregiver_id, command)


@router.post("/caregivers/{caregiver_id}/leave/remove")
def remove_leave(
    request: Request,
    caregiver_id: str,
    first: date = Form(...),
    csrf_token: str = Form(""),
    principal: auth.Principal = Depends(_keeper),
) -> Response:
    auth.check_csrf(principal, csrf_token)
    command = rc.RemoveAbsence(
        command_id(), datetime.now(UTC), caregiver_id=caregiver_id, first=first, **_who(principal)
    )
    return _command(request, principal, "caregivers", caregiver_id, command)
