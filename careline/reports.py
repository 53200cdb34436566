"""``careline report providers --month YYYY-MM``: the monthly provider evaluation.

Reads one UTC calendar month from the database (visits by planned start,
offers by creation time, feedback by the month of the visit it is about),
computes the KPIs of ``handlers.evaluation.kpis`` per provider and caregiver, a weekly
trend (days 1–7, 8–14, 15–21, 22–28, 29–last) and the ranking by composite
score, and writes an HTML report (plots embedded as PNG) and a PDF.

A visit's EVV flags are those stored with it (geofence, phone, checklist, …)
plus the two its times show (``too_early``, ``short_visit``, recomputed with
``handlers.visits.evv`` for visits checked in by SMS, which store none), less those
an operator's review marked ``corrected`` (``handlers.visits.evv_review``). The
center's score comes from the providers' ratings (``center_ratings``) of
the month's visits.
"""

from __future__ import annotations

import base64
import io
import re
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from config.evaluation import EvaluationConfig, get_evaluation_config
from db.reports import read_month
from db.session import DatabaseError
from handlers.evaluation import kpis as k

TEMPLATES = Path(__file__).resolve().parent / "templates"
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) in UTC for ``YYYY-MM``;
    ``ValueError`` naming ``--month`` otherwise."""
    m = _MONTH.match(month)
    if not m:
        raise ValueError(f"--month: expected YYYY-MM (for example 2026-11), got {month!r}")
    year, mon = int(m[1]), int(m[2])
    start = datetime(year, mon, 1, tzinfo=UTC)
    return start, datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=UTC)


def month_weeks(start: datetime, end: datetime) -> list[tuple[int, int]]:
    """Day ranges of the month's weeks: 1–7, 8–14, 15–21, 22–28 and 29–last day (if any)."""
    last = (end - start).days
    return [(a, min(a + 6, last)) for a in range(1, last + 1, 7)]


def weekly_on_time(
    visits: list[k.VisitOutcome], weeks: list[tuple[int, int]], threshold: float
) -> dict[str, list[float | None]]:
    """On-time rate per provider per week of the month (see ``month_weeks``)."""
    out: dict[str, list[float | None]] = {}
    for pid in sorted({x.provider_id for x in visits}):
        mine = [x for x in visits if x.provider_id == pid]
        out[pid] = [k.on_time_rate([x for x in mine if a <= x.planned_start.day <= b], threshold) for a, b in weeks]
    return out


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def _num(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _row(name: str, kp: k.Kpis, score: float | None = None) -> dict[str, str]:
    cells = {
        "name": name,
        "score": _num(score),
        "visits": str(kp.visits),
        "on_time": _pct(kp.on_time_rate),
        "completion": _pct(kp.completion_rate),
        "no_shows": str(kp.no_shows),
        "evv": _pct(kp.evv_compliance_rate),
        "acceptance": _pct(kp.acceptance_rate),
        "accept_s": _num(kp.median_seconds_to_accept, 0),
        "satisfaction": f"{kp.satisfaction:.2f}",
        "ratings": f"{kp.ratings} ({_num(kp.mean_stars, 2)})",
        "complaints": f"{kp.complaints} ({_num(kp.complaints_per_100_visits)})",
    }
    return cells if score is not None else {c: v for c, v in cells.items() if c != "score"}


COLUMNS = {
    "name": "provider",
    "score": "score",
    "visits": "visits",
    "on_time": "on time",
    "completion": "completed",
    "no_shows": "no-shows",
    "evv": "EVV ok",
    "acceptance": "accepted",
    "accept_s": "median s to accept",
    "satisfaction": "satisfaction ★",
    "ratings": "ratings (raw mean)",
    "complaints": "complaints (/100 visits)",
}


def _ranking_figure(ranked: list[tuple[str, float]], names: dict[str, str]) -> Figure:
    shown = ranked if len(ranked) <= 30 else ranked[:15] + ranked[-15:]
    fig = Figure(figsize=(8.5, 1.5 + 0.4 * max(len(shown), 1)), layout="tight")
    ax = fig.subplots()
    bars = ax.barh(range(len(shown)), [s for _, s in shown][::-1], color="#3b6ea5")
    ax.set_yticks(range(len(shown)), [names.get(p, p) for p, _ in shown][::-1])
    ax.bar_label(bars, fmt="%.1f", padding=3)
    ax.set_xlim(0, 108)
    ax.set_xticks(range(0, 101, 20))
    ax.set_xlabel("composite score (0–100)")
    ax.set_title("Providers ranked by composite score" + ("" if shown is ranked else " (top and bottom 15)"))
    return fig


def _trend_figure(
    trend: dict[str, list[float | None]], names: dict[str, str], month: str, weeks: list[tuple[int, int]]
) -> Figure:
    fig = Figure(figsize=(8.5, 4.8), layout="tight")
    ax = fig.subplots()
    busiest = list(trend)[:10]
    for pid in busiest:
        ax.plot(
            range(len(weeks)),
            [float("nan") if r is None else 100 * r for r in trend[pid]],
            marker="o",
            label=names.get(pid, pid),
        )
    ax.set_xticks(range(len(weeks)), [f"{a}–{b}" for a, b in weeks])
    ax.set_xlim(-0.3, len(weeks) - 0.7)
    ax.set_ylim(0, 105)
    ax.set_xlabel(f"days of {month}")
    ax.set_ylabel("on-time arrivals (%)")
    ax.set_title("On-time arrival rate by week" + (" (10 busiest providers)" if len(trend) > 10 else ""))
    if busiest:
        ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return fig


def _scatter_figure(by_provider: dict[str, k.Kpis], names: dict[str, str]) -> Figure:
    fig = Figure(figsize=(8.5, 4.8), layout="tight")
    ax = fig.subplots()
    pts = [(p, kp, c) for p, kp in by_provider.items() if (c := kp.complaints_per_100_visits) is not None]
    ax.scatter(
        [c for _, _, c in pts],
        [kp.satisfaction for _, kp, _ in pts],
        s=[30 + 4 * kp.visits for _, kp, _ in pts],
        alpha=0.6,
        color="#c0504d",
    )
    for p, kp, c in pts:
        ax.annotate(
            names.get(p, p),
            (c, kp.satisfaction),
            textcoords="offset points",
            xytext=(6, 6),
            fontsize=8,
        )
    ax.set_ylim(1, 5.2)
    ax.set_xlim(-1, max([c for _, _, c in pts], default=10) * 1.15 + 1)
    ax.set_xlabel("complaints per 100 visits")
    ax.set_ylabel("satisfaction (Bayesian average, stars)")
    ax.set_title("Satisfaction vs complaints (marker size: visits)")
    ax.grid(alpha=0.3)
    return fig


def _table_pages(pdf: PdfPages, title: str, rows: list[dict[str, str]], per_page: int = 22) -> None:
    for i in range(0, max(len(rows), 1), per_page):
        fig = Figure(figsize=(11.7, 8.3))
        ax = fig.subplots()
        ax.axis("off")
        ax.set_title(title + (f" ({i // per_page + 1})" if len(rows) > per_page else ""), loc="left")
        chunk = rows[i : i + per_page]
        if chunk:
            cols = list(chunk[0])
            labels = [COLUMNS[c].replace(" (", "\n(").replace(" to ", "\nto ") for c in cols]
            table = ax.table([[r[c] for c in cols] for r in chunk], colLabels=labels, loc="upper center")
            table.auto_set_font_size(False)
            table.set_fontsize(8)
            table.auto_set_column_width(list(range(len(cols))))
            table.scale(1, 1.6)
            for (row, _), cell in table.get_celld().items():
                cell.set_height(cell.get_height() * (2 if row == 0 else 1))
        else:
            ax.text(0.5, 0.5, "no data this month", ha="center")
        pdf.savefig(fig)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def build_provider_report(
    database_url: str, month: str, out_dir: Path, config: EvaluationConfig | None = None
) -> tuple[Path, Path]:
    """Write ``providers-YYYY-MM.html`` and ``.pdf`` (and each plot as PNG)
    into ``out_dir``; returns (html, pdf). Raises ``ValueError`` for a bad
    month and ``db.session.DatabaseError`` for database errors."""
    cfg = config or get_evaluation_config()
    start, end = month_bounds(month)
    data = read_month(database_url, start, end, cfg.evv)
    by_provider = k.provider_kpis(data.offers, data.visits, data.ratings, data.complaints, cfg.kpis)
    by_caregiver = k.caregiver_kpis(data.offers, data.visits, data.ratings, data.complaints, cfg.kpis)
    ranked = k.ranking(by_provider, cfg.weights, cfg.kpis)
    weeks = month_weeks(start, end)
    trend = weekly_on_time(data.visits, weeks, cfg.kpis.on_time_minutes)
    trend = dict(sorted(trend.items(), key=lambda kv: -by_provider[kv[0]].visits))
    names = data.names
    figures = {
        "ranking": _ranking_figure(ranked, names),
        "on-time-trend": _trend_figure(trend, names, month, weeks),
        "satisfaction-complaints": _scatter_figure(by_provider, names),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"providers-{month}"
    images = {}
    for name, fig in figures.items():
        png = _png(fig)
        Path(f"{stem}-{name}.png").write_bytes(png)
        images[name] = base64.b64encode(png).decode("ascii")
    rows = [_row(names.get(p, p), by_provider[p], s) | {"rank": str(i), "id": p} for i, (p, s) in enumerate(ranked, 1)]
    pdf_path = stem.with_suffix(".pdf")
    with PdfPages(pdf_path) as pdf:
        _table_pages(
            pdf, f"Provider KPIs, {month} (UTC), ranked by composite score", [{c: r[c] for c in COLUMNS} for r in rows]
        )
        for fig in figures.values():
            pdf.savefig(fig)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template("provider_report.html.j2").render(
        month=month,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        columns=COLUMNS,
        rows=rows,
        images=images,
        weeks=[f"{a}–{b}" for a, b in weeks],
        trend=[(names.get(p, p), [_pct(r) for r in rates]) for p, rates in trend.items()],
        caregivers=[_row(cg, kp) for cg, kp in by_caregiver.items()],
        center=k.center_score(data.center),
        pct=_pct,
        num=_num,
        weights=cfg.weights,
        kpi_policy=asdict(cfg.kpis),
        evv_policy=cfg.evv,
        skipped=data.skipped,
        counts={
            "visits": len(data.visits),
            "offers": len(data.offers),
            "ratings": len(data.ratings),
            "complaints": len(data.complaints),
            "center ratings": len(data.center),
        },
    )
    stem.with_suffix(".html").write_text(html, encoding="utf-8")
    return stem.with_suffix(".html"), pdf_path


def main(month: str, out_dir: Path, database_url: str) -> int:
    """CLI entry: prints the two paths; 0 on success, 2 for a bad ``--month`` or
    policy file, 1 for a database error."""
    try:
        html, pdf = build_provider_report(database_url, month, out_dir)
    except DatabaseError as exc:
        print(
            f"cannot read the database: {getattr(exc, 'orig', None) or exc} (is it migrated? careline migrate)",
            file=sys.stderr,
        )
        return 1
    except ValueError as exc:  # a bad --month or a bad config/evaluation.toml, named in the message
        print(exc, file=sys.stderr)
        return 2
    print(f"{html}\n{pdf}")
    return 0
