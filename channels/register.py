"""The register's service, shared by the command line, the dashboard, the app API and the
city replay: read a register file and apply its rows, or apply one command, each through
the message bus in a register unit of work (``db.register_uow``).

An import applies every valid row (a re-import updates by id: nothing changes the second
time), reports every rejected row as ``line N, column C: reason`` (the parser's errors and
the refusals of the use cases, such as a caregiver of an unknown provider), and with
``dry_run`` changes nothing and reports the same.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Callable

from config.settings import Settings
from db.register_uow import SqlRegisterUnitOfWork
from db.session import Session, sessionmaker
from handlers.messagebus import handle
from handlers.register import commands as rc
from handlers.register.changes import Change, RegisterRefused
from handlers.register.files import Table, read_table
from handlers.register.records import RowError
from handlers.register.rows import (
    ParseResult,
    RegisterContext,
    parse_caregivers,
    parse_devices,
    parse_elders,
    parse_providers,
)

KINDS = ("providers", "elders", "caregivers", "devices")
PARSERS: dict[str, Callable[[Table, RegisterContext], ParseResult]] = {
    "providers": parse_providers,
    "elders": parse_elders,
    "caregivers": parse_caregivers,
    "devices": parse_devices,
}
COMMANDS: dict[str, Callable[..., rc.RegisterCommand]] = {
    "providers": rc.RegisterProvider,
    "elders": rc.RegisterElder,
    "caregivers": rc.RegisterCaregiver,
    "devices": rc.RegisterDevice,
}


def register_context(settings: Settings, abilities: tuple[str, ...] | None = None) -> RegisterContext:
    """How this center reads its files: its time zone, phone region, landline area code,
    region (for ambiguous district names) and the abilities its policy defines."""
    base = RegisterContext()
    return RegisterContext(
        tz=settings.programme_timezone,
        phone_region=settings.default_phone_region,
        area_code=settings.landline_area_code,
        region_hint=settings.center_region,
        abilities=abilities or base.abilities,
    )


@dataclass
class ImportReport:
    """What an import did: rows read, records added, updated and unchanged, every rejected row."""

    kind: str
    filename: str
    encoding: str
    dry_run: bool
    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()

    @property
    def rejected_lines(self) -> int:
        return len({e.line for e in self.errors})


def import_file(
    sessions: sessionmaker[Session],
    kind: str,
    data: bytes,
    filename: str,
    context: RegisterContext,
    dry_run: bool = False,
    actor: str = "cli",
    source: str = "file",
    scope: str = "",
    now: datetime | None = None,
) -> ImportReport:
    """Apply the register file ``filename`` (its bytes ``data``) of ``kind`` (providers,
    elders, caregivers, devices). Raises ``handlers.register.files.RegisterFileError`` for a
    file that cannot be read at all (encoding, no header row, a missing column)."""
    now = now or datetime.now(UTC)
    table = read_table(data, filename)
    parsed = PARSERS[kind](table, context)
    report = ImportReport(kind, filename, table.encoding, dry_run, ignored_columns=parsed.ignored_columns)
    report.errors += parsed.errors
    report.read = len(parsed.records) + len({e.line for e in parsed.errors})
    with SqlRegisterUnitOfWork(sessions) as uow:
        for record in parsed.records:
            command = COMMANDS[kind](
                f"register:{uuid.uuid4().hex}", now, actor=actor, source=source, scope=scope, record=record
            )
            try:
                with uow.row():
                    change = handle(command, uow, now)
            except RegisterRefused as exc:
                report.errors.append(RowError(record.line, parsed.columns.get(exc.field, exc.field), exc.reason))
                continue
            _count(report, change)
        uow.audit(
            actor,
            f"register.import.{kind}",
            filename,
            now,
            outcome="done" if not report.errors else "partial",
            detail={
                "added": report.added,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "rejected_lines": report.rejected_lines,
                "dry_run": dry_run,
            },
            region=scope or None,
        )
        if dry_run:
            uow.rollback()
        else:
            uow.commit()
    report.errors.sort(key=lambda e: e.line)
    return report


def _count(report: ImportReport, change: Change) -> None:
    if change.action == "added":
        report.added += 1
    elif change.action == "updated":
        report.updated += 1
    else:
        report.unchanged += 1


def apply(sessions: sessionmaker[Session], command: rc.RegisterCommand, now: datetime | None = None) -> Change:
    """Run one register command and commit; raises ``RegisterRefused`` (nothing changed)."""
    now = now or datetime.now(UTC)
    with SqlRegisterUnitOfWork(sessions) as uow:
        change: Change = handle(command, uow, now)
        uow.commit()
    return change


def command_id() -> str:
    """A fresh event id for a register command."""
    return f"register:{uuid.uuid4().hex}"


def refusal(exc: RegisterRefused, columns: dict[str, str] | None = None) -> dict[str, Any]:
    """A refusal as pages and the app API show it: the field (as the form names it) and why."""
    return {"field": (columns or {}).get(exc.field, exc.field), "reason": exc.reason}


def caregivers_of(sessions: sessionmaker[Session], provider_id: str) -> list[Any]:
    """The provider's caregivers (``handlers.model.Caregiver``), by id; detached for reading."""
    from db import register_views as views

    with sessions() as session:
        found = [v.caregiver for v in views.caregivers(session, "", provider_id=provider_id)]
        session.expunge_all()
    return found
