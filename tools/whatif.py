"""``careline whatif``: re-run a recorded day under another policy or mode and print the differences.

Reads the day from the database (``db.whatif``), re-runs it in simulated time through the
dispatch handlers (``handlers.simulation.whatif``) and prints a table (rich) of the recorded
and the re-run measures, the requests that went to another caregiver, and how many offers
were answered from the record and how many by the caregiver model; ``--json`` writes the same.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from handlers.simulation.whatif import Difference, Measures


class WhatIfError(ValueError):
    """A bad argument or a day that cannot be re-run; the message names the option."""


def day_bounds(text: str, zone: str) -> tuple[datetime, datetime]:
    """``[start, end)`` of the local day ``text`` (YYYY-MM-DD) in ``zone``; raises ``WhatIfError``."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise WhatIfError(f"--date: {text!r} is not a date YYYY-MM-DD") from None
    start = datetime.combine(day, time(), ZoneInfo(zone))
    return start, datetime.combine(day + timedelta(days=1), time(), ZoneInfo(zone))


def _value(x: float | None, kind: str) -> str:
    if x is None:
        return "–"
    if kind == "share":
        return f"{100 * x:.1f} %"
    if kind == "count":
        return f"{x:g}"
    return f"{x:.1f}" if kind == "seconds" else f"{x:.0f}"


def _delta(d: Difference) -> str:
    if d.delta is None:
        return "" if d.recorded == d.rerun else "changed"
    if d.delta == 0:
        return ""
    if d.kind == "share":
        return f"{100 * d.delta:+.1f} pt"
    return f"{d.delta:+.1f}" if d.kind == "seconds" else f"{d.delta:+.0f}"


def print_differences(out: Console, title: str, rows: list[Difference]) -> None:
    """The comparison as a table: measure, recorded, what-if, change (empty: the same)."""
    table = Table(title=title, title_justify="left")
    table.add_column("measure")
    table.add_column("recorded", justify="right")
    table.add_column("what-if", justify="right")
    table.add_column("change", justify="right")
    for d in rows:
        table.add_row(d.measure, _value(d.recorded, d.kind), _value(d.rerun, d.kind), _delta(d))
    out.print(table)


def as_json(
    recorded: Measures,
    rerun: Measures,
    rows: list[Difference],
    changed: list[tuple[str, str | None, str | None]],
    **about: Any,
) -> dict[str, Any]:
    """The ``--json`` document: ``about`` (date, area, mode, policy file and version, offers
    answered from the record and by the model), both measures, the rows and the changed requests."""
    return {
        **about,
        "recorded": recorded.as_json(),
        "whatif": rerun.as_json(),
        "differences": [
            {"measure": d.measure, "recorded": d.recorded, "whatif": d.rerun, "delta": d.delta} for d in rows
        ],
        "changed_caregivers": [{"request_id": r, "recorded": a, "whatif": b} for r, a, b in changed],
    }


def main(
    day_text: str,
    area: str | None,
    policy_file: Path,
    mode: str | None,
    seed: int,
    json_out: Path | None,
    out: Console,
    console: Console,
) -> int:
    """Run ``careline whatif``; the exit code (2: bad arguments or nothing to re-run)."""
    from config.bootstrap import load_configuration
    from config.files import ConfigFileError
    from config.settings import get_settings
    from db.areas import AreaContexts
    from db.migrate import upgrade
    from db.session import session_factory
    from db.uow import SqlUnitOfWork
    from db.whatif import areas_with_requests, read_recorded_day
    from handlers.dispatch.area import InvalidMode, check_mode
    from handlers.simulation.caregiver_model import CaregiverModel
    from handlers.simulation.whatif import changed_decisions, decisions, differences, measures, rerun

    settings = get_settings()
    try:
        start, end = day_bounds(day_text, settings.programme_timezone)
        base = load_configuration(settings).policy
        other = load_configuration(settings.model_copy(update={"policy_file": policy_file})).policy
        if mode is not None:
            mode = check_mode(mode, 60.0)[0]
    except (WhatIfError, ConfigFileError, InvalidMode) as exc:
        console.print(f"[red]careline whatif: {exc}", highlight=False)
        return 2
    upgrade(settings.database_url)
    sessions = session_factory(settings.database_url)
    with sessions() as session:
        if area is None:
            found = areas_with_requests(session, start, end)
            if len(found) != 1:
                what = f"several areas ({', '.join(found)}): choose one" if found else "no request on that day"
                console.print(f"[red]careline whatif: --area: {what}", highlight=False)
                return 2
            area = found[0]
        recorded_day = read_recorded_day(session, area, start, end)
        contexts = AreaContexts(sessions, other, road_network=settings.road_network)
        context = contexts.read(session, area)
    if not recorded_day.arrivals:
        console.print(f"[red]careline whatif: no request of {area!r} has its window on {day_text}", highlight=False)
        return 2
    chosen = mode or context.mode
    plan = None
    if chosen == "planned":
        with SqlUnitOfWork(sessions) as sql:
            plan = sql.planned_visits([r.request_id for _, r in recorded_day.arrivals])
        if not plan:
            console.print(
                f"[red]careline whatif: --mode planned: no stored plan for {area!r} on {day_text} "
                f"(make one with: careline plan --date {day_text} --area {area})",
                highlight=False,
            )
            return 2
    result = rerun(
        recorded_day,
        context.policy,
        context.travel,
        CaregiverModel(seed=seed),
        chosen,
        plan,
        context.batch_interval_seconds,
    )
    sim = result.run.uow
    args = (recorded_day.caregivers, context.travel, base.sla_minutes)
    before = measures(recorded_day.arrivals, recorded_day.offers, recorded_day.visits, *args)
    after = measures(recorded_day.arrivals, sim.offers.values(), sim.visits.values(), *args)
    rows = differences(before, after)
    changed = changed_decisions(
        decisions(recorded_day.offers, recorded_day.visits), decisions(sim.offers.values(), sim.visits.values())
    )
    title = (
        f"{area} on {day_text}: recorded vs {policy_file.name} (policy {other.version}, mode {chosen}); "
        f"SLA targets of policy {base.version}"
    )
    print_differences(out, title, rows)
    out.print(
        f"{len(changed)} of {len(recorded_day.arrivals)} requests went to another caregiver; offers answered as "
        f"recorded {result.answered_from_record}, by the caregiver model (seed {seed}) {result.answered_by_model}",
        highlight=False,
    )
    for rid, a, b in changed[:20]:
        out.print(f"  {rid}: {a or '(none)'} -> {b or '(none)'}", highlight=False)
    if len(changed) > 20:
        out.print(f"  … and {len(changed) - 20} more (--json lists all)", highlight=False)
    if json_out is not None:
        doc = as_json(
            before,
            after,
            rows,
            changed,
            date=day_text,
            area=area,
            mode=chosen,
            policy_file=str(policy_file),
            policy_version=other.version,
            answered_from_record=result.answered_from_record,
            answered_by_model=result.answered_by_model,
        )
        json_out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0
