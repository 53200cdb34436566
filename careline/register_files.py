"""``careline register import|export``: the register from and to files.

Import prints every rejected row as ``line N, column C: reason`` (the column as the file
writes it) and a summary; exit status 0 when every row went in, 1 when some were rejected
or the file could not be read at all. ``--dry-run`` changes nothing and prints the same.
Export writes CSV (UTF-8) to standard output with the English column names the import reads,
plus ``location_provenance`` (given, geocoded, approximate).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TextIO

from rich.console import Console

from channels.register import import_file, register_context
from config.bootstrap import Runtime
from db import register_views as views
from handlers.register.export import caregiver_row, device_row, elder_row, header, provider_row
from handlers.register.files import RegisterFileError


def import_command(runtime: Runtime, kind: str, path: Path, dry_run: bool, out: Console, err: Console) -> int:
    """Run ``careline register import KIND FILE``; returns the exit status."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        err.print(f"[red]{path}: cannot read the file ({exc.strerror})", highlight=False)
        return 1
    context = register_context(runtime.settings, _abilities(runtime))
    try:
        report = import_file(runtime.sessions, kind, data, path.name, context, dry_run=dry_run)
    except RegisterFileError as exc:
        err.print(f"[red]{exc}", highlight=False)
        return 1
    for error in report.errors:
        out.print(str(error), highlight=False, markup=False, soft_wrap=True)
    if report.ignored_columns:
        out.print(
            f"columns not read (unknown names): {', '.join(report.ignored_columns)}", highlight=False, soft_wrap=True
        )
    what = "would be" if dry_run else "were"
    out.print(
        f"{path.name} ({report.encoding}): {report.read} rows read; {report.added} {kind} {what} added, "
        f"{report.updated} updated, {report.unchanged} unchanged; {report.rejected_lines} rows rejected"
        + (" (dry run: nothing was changed)" if dry_run else ""),
        highlight=False,
        soft_wrap=True,
    )
    return 1 if report.errors else 0


def _abilities(runtime: Runtime) -> tuple[str, ...]:
    """The abilities the routing policy defines (its skill hierarchy's keys)."""
    return tuple(runtime.configuration.policy.skill_hierarchy) or ("nurse", "personal_care", "housekeeping")


def export_command(runtime: Runtime, kind: str, stream: TextIO | None = None) -> int:
    """Write the register's ``kind`` as CSV to ``stream`` (standard output)."""
    writer = csv.writer(stream or sys.stdout, lineterminator="\n")
    writer.writerow(header(kind))
    with runtime.sessions() as session:
        if kind == "elders":
            writer.writerows(elder_row(e) for e in views.elders(session))
        elif kind == "caregivers":
            writer.writerows(
                caregiver_row(v.caregiver, v.latitude, v.longitude, v.provenance) for v in views.caregivers(session)
            )
        elif kind == "providers":
            writer.writerows(provider_row(p) for p in views.providers(session))
        else:
            writer.writerows(device_row(d) for d in views.devices(session))
    return 0
