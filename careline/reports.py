"""``careline report providers --month YYYY-MM [--lang zh|en|both]``: the monthly provider
evaluation, as HTML and PDF, in Chinese and English.

The month is a calendar month in the center's time zone (``CARELINE_PROGRAMME_TIMEZONE``),
and every time shown is in that zone. It reads the month and the month before from the
database (visits by planned start, offers by creation time, feedback by the month of the
visit it is about, requests by the start of their window), computes the KPIs of
``handlers.evaluation.kpis`` per provider, caregiver and for the whole programme, the
center's own (``handlers.evaluation.center_kpis``: requests served, emergencies answered),
each against its target (``config/evaluation.toml`` ``[targets]``) and beside last month's,
a weekly trend (days 1–7, 8–14, 15–21, 22–28, 29–last) and the ranking by composite score.

The HTML (plots embedded as PNG) is the report; the PDF is the same HTML laid out on A4
pages by WeasyPrint, so it holds every section the HTML has, on pages of one size.

A visit's EVV flags are those stored with it (geofence, phone, checklist, …) plus the two
its times show (``too_early``, ``short_visit``, recomputed with ``handlers.visits.evv`` for
visits checked in by SMS, which store none), less those an operator's review marked
``corrected`` (``handlers.visits.evv_review``). The center's score comes from the
providers' ratings (``center_ratings``) of the month's visits.
"""

from __future__ import annotations

import base64
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, select_autoescape

from careline import report_figures as figures
from careline.report_i18n import LANGUAGES, ReportLanguage, translations
from careline.report_tables import month_context
from config.evaluation import EvaluationConfig, get_evaluation_config
from db.reports import MonthData, read_month
from db.session import DatabaseError
from handlers.evaluation import center_kpis
from handlers.evaluation import kpis as k
from handlers.evaluation.trend import month_weeks, weekly_on_time

TEMPLATES = Path(__file__).resolve().parent / "templates"
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_bounds(month: str, zone: tzinfo) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of ``YYYY-MM`` in ``zone``, as UTC;
    ``ValueError`` naming ``--month`` otherwise."""
    m = _MONTH.match(month)
    if not m:
        raise ValueError(f"--month: expected YYYY-MM (for example 2026-11), got {month!r}")
    year, mon = int(m[1]), int(m[2])
    start = datetime(year, mon, 1, tzinfo=zone)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def previous_month(month: str) -> str:
    """``YYYY-MM`` of the month before ``month`` (a valid ``YYYY-MM``)."""
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year - 1}-12" if mon == 1 else f"{year}-{mon - 1:02d}"


@dataclass(frozen=True)
class Month:
    """One month evaluated: its data and KPIs per provider, per caregiver and for the whole
    programme, the ranking, the requests' tally and the emergencies answered in time."""

    month: str
    start: datetime
    end: datetime
    data: MonthData
    by_provider: dict[str, k.Kpis]
    by_caregiver: dict[str, k.Kpis]
    programme: k.Kpis
    ranked: list[tuple[str, float]]
    requests: center_kpis.RequestTally
    emergencies: tuple[int, float | None]


def evaluate_month(database_url: str, month: str, zone: tzinfo, cfg: EvaluationConfig) -> Month:
    """Read and evaluate ``month`` (``YYYY-MM`` in ``zone``)."""
    start, end = month_bounds(month, zone)
    data = read_month(database_url, start, end, cfg.evv)
    inputs = (data.offers, data.visits, data.ratings, data.complaints, cfg.kpis)
    by_provider = k.provider_kpis(*inputs)
    answer = cfg.targets["emergencies_answered"].within_seconds if "emergencies_answered" in cfg.targets else 60.0
    return Month(
        month,
        start,
        end,
        data,
        by_provider,
        k.caregiver_kpis(*inputs),
        k.compute_kpis("programme", *inputs),
        k.ranking(by_provider, cfg.weights, cfg.kpis),
        center_kpis.tally(data.requests),
        center_kpis.emergencies_answered_within(data.requests, answer or 60.0),
    )


class ReportError(RuntimeError):
    """The report cannot be written on this machine (a system library is missing)."""


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    pdf: Path


def _environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def _write(now: Month, before: Month, cfg: EvaluationConfig, tr: ReportLanguage, stem: Path) -> ReportFiles:
    try:
        from weasyprint import HTML  # imported here: it loads Pango, which only the report needs
    except OSError as exc:  # the shared library is missing, not the Python package
        raise ReportError(
            f"the PDF needs Pango (Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0): {exc}"
        ) from exc

    weeks = month_weeks(now.start, now.end)
    trend = weekly_on_time(now.data.visits, weeks, cfg.kpis.on_time_minutes, tr.zone)
    trend = dict(sorted(trend.items(), key=lambda kv: -now.by_provider[kv[0]].visits))
    week_labels = [f"{a}–{b}" for a, b in weeks]
    drawn = {
        "ranking": figures.ranking(now.ranked, now.data.names, tr),
        "on-time-trend": figures.on_time_trend(trend, now.data.names, week_labels, tr),
        "satisfaction-complaints": figures.satisfaction_complaints(now.by_provider, now.data.names, tr),
    }
    images = {}
    for name, fig in drawn.items():
        png = figures.png(fig)
        Path(f"{stem}-{name}.png").write_bytes(png)
        images[name] = base64.b64encode(png).decode("ascii")
    context = month_context(now, before, cfg, tr, trend, week_labels)
    html = (
        _environment(tr.lang)
        .get_template("provider_report.html.j2")
        .render(images=images, generated=tr.moment(datetime.now(UTC)), **context)
    )
    files = ReportFiles(stem.parent / f"{stem.name}.html", stem.parent / f"{stem.name}.pdf")
    files.html.write_text(html, encoding="utf-8")
    HTML(string=html, base_url=str(TEMPLATES)).write_pdf(files.pdf)
    return files


def build_provider_report(
    database_url: str,
    month: str,
    out_dir: Path,
    config: EvaluationConfig | None = None,
    languages: Sequence[str] | None = None,
    zone: str | None = None,
) -> dict[str, ReportFiles]:
    """Write ``providers-YYYY-MM.<lang>.html`` and ``.pdf`` (and each plot as PNG) into
    ``out_dir`` for each of ``languages`` (default ``CARELINE_DEFAULT_LANGUAGE``), the month
    in ``zone`` (default ``CARELINE_PROGRAMME_TIMEZONE``); the files by language.

    :raises ValueError: a bad month, language or zone.
    :raises db.session.DatabaseError: the database cannot be read.
    :raises ReportError: the PDF cannot be made (Pango missing).
    """
    from config.settings import get_settings

    cfg = config or get_evaluation_config()
    languages = list(languages or [get_settings().default_language])
    for lang in languages:
        translations(lang)  # a bad --lang is named before the database is read
    try:
        center_zone = ZoneInfo(zone or get_settings().programme_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time zone: no IANA zone {zone or get_settings().programme_timezone!r}") from None
    now = evaluate_month(database_url, month, center_zone, cfg)
    before = evaluate_month(database_url, previous_month(month), center_zone, cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    return {
        lang: _write(now, before, cfg, ReportLanguage(lang, center_zone), out_dir / f"providers-{month}.{lang}")
        for lang in languages
    }


def main(month: str, out_dir: Path, database_url: str, lang: str | None = None) -> int:
    """CLI entry: prints the paths; 0 on success, 2 for a bad ``--month``, ``--lang``, time
    zone or policy file, 1 for a database error or a missing Pango. ``lang``: zh, en or both."""
    from config.settings import get_settings

    languages = list(LANGUAGES) if lang == "both" else [lang or get_settings().default_language]
    if "zh" in languages and figures.cjk_font() is None:
        print("warning: no CJK font installed (fonts-wqy-microhei or fonts-noto-cjk): Chinese text in the "
              "plots will show as boxes", file=sys.stderr)  # fmt: skip
    try:
        written = build_provider_report(database_url, month, out_dir, languages=languages)
    except DatabaseError as exc:
        print(
            f"cannot read the database: {getattr(exc, 'orig', None) or exc} (is it migrated? careline migrate)",
            file=sys.stderr,
        )
        return 1
    except ReportError as exc:
        print(exc, file=sys.stderr)
        return 1
    except ValueError as exc:  # a bad --month, --lang, zone or config/evaluation.toml, named in the message
        print(exc, file=sys.stderr)
        return 2
    for files in written.values():
        print(f"{files.html}\n{files.pdf}")
    return 0
