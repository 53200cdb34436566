"""The monthly report's weekly trend: a month cut into weeks of its own days (1–7, 8–14,
15–21, 22–28, 29–last) and each provider's on-time rate per week.

Days are those of the center's time zone: a visit planned at 23:30 UTC on the 7th falls in
the second week in Shanghai (07:30 on the 8th).
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from handlers.evaluation import kpis as k


def month_weeks(start: datetime, end: datetime) -> list[tuple[int, int]]:
    """Day ranges of the month [start, end): 1–7, 8–14, 15–21, 22–28 and 29–last day (if any).
    The length is rounded to whole days, so a month with a daylight-saving change keeps its days."""
    last = round((end - start).total_seconds() / 86400)
    return [(a, min(a + 6, last)) for a in range(1, last + 1, 7)]


def weekly_on_time(
    visits: list[k.VisitOutcome], weeks: list[tuple[int, int]], threshold: float, zone: tzinfo
) -> dict[str, list[float | None]]:
    """On-time rate (``kpis.on_time_rate``, ``threshold`` minutes) per provider per week of
    ``weeks`` (``month_weeks``), a visit's day taken in ``zone``; None for a week without visits."""
    out: dict[str, list[float | None]] = {}
    for pid in sorted({x.provider_id for x in visits}):
        mine = [(x, x.planned_start.astimezone(zone).day) for x in visits if x.provider_id == pid]
        out[pid] = [k.on_time_rate([x for x, day in mine if a <= day <= b], threshold) for a, b in weeks]
    return out
