"""The monthly report's tables in one language: every cell formatted, every KPI marked met
or missed against its target, and each change from last month marked better or worse.

``month_context`` gives the template (``templates/provider_report.html.j2``) everything it
shows; the template only lays it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from careline.report_i18n import N_, ReportLanguage
from config.evaluation import EvaluationConfig
from handlers.evaluation import kpis as k
from handlers.evaluation.center_kpis import FAILED, NEVER_ASSIGNED, why_unserved
from handlers.evaluation.targets import CENTER_KPIS, Target, better, change, kpi_value, met

if TYPE_CHECKING:
    from careline.reports import Month

#: each target KPI: its label and its kind of number (share 0..1, stars, per 100 visits)
KPI_LABELS = {
    "on_time": (N_("on time"), "share"),
    "completion": (N_("completed"), "share"),
    "evv_compliance": (N_("EVV ok"), "share"),
    "acceptance": (N_("accepted"), "share"),
    "satisfaction": (N_("satisfaction ★"), "stars"),
    "complaints": (N_("complaints per 100 visits"), "per100"),
    "served": (N_("requests served"), "share"),
    "emergencies_answered": (N_("emergencies answered in time"), "share"),
}
#: the provider and caregiver tables' columns; a column named by a KPI is marked against its target
COLUMNS = {
    "name": N_("provider"),
    "score": N_("score"),
    "score_change": N_("score vs last month"),
    "visits": N_("visits"),
    "on_time": N_("on time"),
    "completion": N_("completed"),
    "no_shows": N_("no-shows"),
    "evv_compliance": N_("EVV ok"),
    "acceptance": N_("accepted"),
    "accept_s": N_("median s to accept"),
    "satisfaction": N_("satisfaction ★"),
    "ratings": N_("ratings (raw mean)"),
    "complaints": N_("complaints (/100 visits)"),
}
#: service types (``handlers.register.services.SERVICE_TYPES``) and priorities as the report names them
SERVICE_LABELS = {
    "meal": N_("meal"),
    "cleaning": N_("cleaning"),
    "bathing": N_("bathing"),
    "medical_escort": N_("medical escort"),
    "emergency": N_("emergency help"),
    "mobility": N_("mobility"),
    "companionship": N_("companionship"),
    "repair": N_("repair"),
}
PRIORITY_LABELS = {"routine": N_("routine"), "urgent": N_("urgent"), "asap": N_("asap"), "stat": N_("stat")}
UNSERVED_SHOWN = 50
#: the KPIs whose change from last month the per-provider table shows
CHANGED = ("on_time", "completion", "evv_compliance", "acceptance", "satisfaction", "complaints")


@dataclass(frozen=True)
class Cell:
    text: str
    css: str = ""  # met / missed (against a target), better / worse (a change)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def _num(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def value_text(kind: str, x: float | None) -> str:
    """A KPI's value: shares as percentages, stars with two decimals, rates per 100 with one."""
    return _pct(x) if kind == "share" else _num(x, 2 if kind == "stars" else 1)


def delta_text(kind: str, d: float | None, tr: ReportLanguage) -> str:
    """A change: shares in percentage points, others in their unit, with its sign."""
    if d is None:
        return "—"
    if kind == "share":
        return tr._("%(n)s pts", n=f"{100 * d:+.0f}")
    return f"{d:+.{2 if kind == 'stars' else 1}f}"


def target_text(target: Target) -> str:
    kind = KPI_LABELS[target.kpi][1]
    shown = f"{100 * target.value:g}%" if kind == "share" else value_text(kind, target.value)
    return ("≥ " if target.at_least else "≤ ") + shown


def _verdict(value: float | None, target: Target | None) -> str:
    if target is None:
        return ""
    return {True: "met", False: "missed", None: ""}[met(value, target)]


def _marked(text: str, css: str) -> Cell:
    return Cell(text + {"met": " ✓", "missed": " ✗"}.get(css, ""), css)


def _direction(d: float | None, target: Target | None = None) -> str:
    """``better``/``worse`` for a change toward/away from the target's side (up without a target)."""
    if target is not None:
        return {True: "better", False: "worse", None: ""}[better(d, target)]
    return "" if not d else "better" if d > 0 else "worse"


def kpi_cells(kp: k.Kpis, targets: dict[str, Target], score: float | None, before: float | None) -> dict[str, Cell]:
    """A provider's (or, without ``score``, a caregiver's) row, KPIs marked against ``targets``."""

    def marked(kpi: str, text: str | None = None) -> Cell:
        value = kpi_value(kp, kpi)
        return _marked(text or value_text(KPI_LABELS[kpi][1], value), _verdict(value, targets.get(kpi)))

    d = change(score, before)
    return {
        "score": Cell(_num(score)),
        "score_change": Cell("—" if d is None else f"{d:+.1f}", _direction(d)),
        "visits": Cell(str(kp.visits)),
        "on_time": marked("on_time"),
        "completion": marked("completion"),
        "no_shows": Cell(str(kp.no_shows)),
        "evv_compliance": marked("evv_compliance"),
        "acceptance": marked("acceptance"),
        "accept_s": Cell(_num(kp.median_seconds_to_accept, 0)),
        "satisfaction": marked("satisfaction", f"{kp.satisfaction:.2f}"),
        "ratings": Cell(f"{kp.ratings} ({_num(kp.mean_stars, 2)})"),
        "complaints": marked("complaints", f"{kp.complaints} ({_num(kp.complaints_per_100_visits)})"),
    }


def _center_value(month: Month, kpi: str) -> float | None:
    if kpi == "served":
        return month.requests.served_share
    if kpi == "emergencies_answered":
        return month.emergencies[1]
    return kpi_value(month.programme, kpi)


def summary_rows(now: Month, before: Month, cfg: EvaluationConfig, tr: ReportLanguage) -> list[dict[str, object]]:
    """The programme against each target, beside last month."""
    rows = []
    for kpi, target in cfg.targets.items():
        label, kind = KPI_LABELS[kpi]
        value, last = _center_value(now, kpi), _center_value(before, kpi)
        verdict = _verdict(value, target)
        d = change(value, last)
        rows.append(
            {
                "kpi": kpi,
                "label": tr._(label)
                + (tr._(" (%(s)s s)", s=f"{target.within_seconds:g}") if target.within_seconds else ""),
                "value": value_text(kind, value),
                "target": target_text(target),
                "verdict": Cell({"met": tr._("met"), "missed": tr._("missed")}.get(verdict, tr._("no data")), verdict),
                "before": value_text(kind, last),
                "change": Cell(delta_text(kind, d, tr), _direction(d, target)),
                "source": tr._(target.source),
                "center": kpi in CENTER_KPIS,
            }
        )
    return rows


def change_rows(now: Month, before: Month, cfg: EvaluationConfig, tr: ReportLanguage) -> list[dict[str, object]]:
    """Each provider of this month: its score and targeted KPIs beside last month's."""
    scores_before = dict(before.ranked)
    rows: list[dict[str, object]] = []
    for pid, score in now.ranked:
        was = before.by_provider.get(pid)
        cells = {}
        for kpi in CHANGED:
            kind = KPI_LABELS[kpi][1]
            d = None if was is None else change(kpi_value(now.by_provider[pid], kpi), kpi_value(was, kpi))
            target = cfg.targets.get(kpi)
            cells[kpi] = Cell(delta_text(kind, d, tr), _direction(d, target) if target else _direction(d))
        last = scores_before.get(pid)
        rows.append(
            {
                "name": now.data.names.get(pid, pid),
                "score": _num(score),
                "before": _num(last) if was is not None else tr._("new this month"),
                "cells": cells,
            }
        )
    return rows


def _label(labels: dict[str, str], code: str, tr: ReportLanguage) -> str:
    """``code``'s label in ``tr``'s language; an unknown code as it is."""
    return tr._(labels[code]) if code in labels else code


def unserved_context(now: Month, tr: ReportLanguage) -> dict[str, object]:
    """The month's unserved requests: counts by reason, service type and priority, and the first
    ``UNSERVED_SHOWN`` of them with their window in the center's time zone."""
    reasons = {FAILED: tr._("failed (no caregiver accepted; sent to the operators)"),
               NEVER_ASSIGNED: tr._("never assigned (still waiting, on hold or rejected)")}  # fmt: skip
    listed = [(r, why) for r in now.data.requests if (why := why_unserved(r)) is not None]
    return {
        "tally": now.requests,
        "reasons": [(reasons[why], n) for why, n in sorted(now.requests.by_reason.items())],
        "by_service": [
            (_label(SERVICE_LABELS, s, tr), n)
            for s, n in sorted(now.requests.by_service.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "by_priority": [
            (_label(PRIORITY_LABELS, p, tr), n)
            for p, n in sorted(now.requests.by_priority.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "requests": [
            (
                r.request_id,
                _label(SERVICE_LABELS, r.service_type, tr),
                _label(PRIORITY_LABELS, r.priority, tr),
                r.service_area,
                tr.moment(r.window_start),
                reasons[why],
            )
            for r, why in listed[:UNSERVED_SHOWN]
        ],
        "more": max(0, len(listed) - UNSERVED_SHOWN),
    }


def month_context(
    now: Month,
    before: Month,
    cfg: EvaluationConfig,
    tr: ReportLanguage,
    trend: dict[str, list[float | None]],
    weeks: list[str],
) -> dict[str, object]:
    """Everything ``provider_report.html.j2`` shows, in ``tr``'s language."""
    names = now.data.names
    targets = dict(cfg.targets)
    scores_before = dict(before.ranked)
    rows = [
        {"rank": str(i), "id": pid, "name": names.get(pid, pid)}
        | kpi_cells(now.by_provider[pid], targets, score, scores_before.get(pid))
        for i, (pid, score) in enumerate(now.ranked, 1)
    ]
    local_start = now.start.astimezone(tr.zone)
    return {
        "lang": tr.lang,
        "month": now.month,
        "month_name": tr.month(local_start),
        "last_month_name": tr.month(before.start.astimezone(tr.zone)),
        "zone": tr.zone_name(local_start),
        "columns": {key: tr._(label) for key, label in COLUMNS.items()},
        "rows": rows,
        "summary": summary_rows(now, before, cfg, tr),
        "changes": change_rows(now, before, cfg, tr),
        "change_columns": {kpi: tr._(KPI_LABELS[kpi][0]) for kpi in CHANGED},
        "unserved": unserved_context(now, tr),
        "weeks": weeks,
        "trend": [(names.get(p, p), [_pct(r) for r in rates]) for p, rates in trend.items()],
        "caregivers": [{"name": cg} | kpi_cells(kp, targets, None, None) for cg, kp in now.by_caregiver.items()],
        "center": k.center_score(now.data.center),
        "pct": _pct,
        "num": _num,
        "weights_text": ", ".join(f"{tr._(KPI_LABELS[kpi][0])} {w:g}" for kpi, w in cfg.weights.items()),
        "kpi_policy": cfg.kpis,
        "evv_policy": cfg.evv,
        "skipped": now.data.skipped,
        "counts": [
            (tr._("visits"), len(now.data.visits)),
            (tr._("offers"), len(now.data.offers)),
            (tr._("ratings"), len(now.data.ratings)),
            (tr._("complaints"), len(now.data.complaints)),
            (tr._("center ratings"), len(now.data.center)),
            (tr._("requests"), len(now.data.requests)),
        ],
    }
