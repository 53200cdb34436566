"""The monthly report's plots (matplotlib, drawn off screen) in the report's language.

Chinese labels need a CJK font: the first of ``CJK_FONTS`` installed is the fallback after
DejaVu Sans (Debian: ``fonts-wqy-microhei`` or ``fonts-noto-cjk``); ``cjk_font()`` says
which, or None.
"""

from __future__ import annotations

import functools
import io
import re
from functools import lru_cache
from typing import Callable, ParamSpec

from matplotlib import font_manager, rc_context
from matplotlib.figure import Figure

from careline.report_i18n import ReportLanguage
from handlers.evaluation import kpis as k

P = ParamSpec("P")
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "SimHei")


#: file names of the CJK fonts, for a font installed after matplotlib cached its font list
_CJK_FILES = re.compile(r"wqy|cjk|sourcehan|simhei", re.IGNORECASE)


@lru_cache
def cjk_font() -> str | None:
    """The first of ``CJK_FONTS`` matplotlib can find, or None. Matplotlib keeps the font list
    it found once (in its cache folder); a CJK font installed since is added here."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    if not installed & set(CJK_FONTS):
        for path in font_manager.findSystemFonts():
            if _CJK_FILES.search(path):
                font_manager.fontManager.addfont(path)
        installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((f for f in CJK_FONTS if f in installed), None)


def _families() -> list[str]:
    """A figure's font families: DejaVu Sans, the CJK font as fallback (matplotlib >= 3.6
    falls back glyph by glyph through the family list)."""
    cjk = cjk_font()
    return ["DejaVu Sans"] + ([cjk] if cjk else [])


def _in_report_fonts(draw: Callable[P, Figure]) -> Callable[P, Figure]:
    """Draw with ``_families()``: texts keep the fonts they were made with."""

    @functools.wraps(draw)
    def drawn(*args: P.args, **kwargs: P.kwargs) -> Figure:
        with rc_context({"font.family": _families()}):
            return draw(*args, **kwargs)

    return drawn


def _figure(width_in: float, height_in: float) -> Figure:
    return Figure(figsize=(width_in, height_in), layout="tight", facecolor="white")


@_in_report_fonts
def ranking(ranked: list[tuple[str, float]], names: dict[str, str], tr: ReportLanguage) -> Figure:
    """Horizontal bars of the composite score, best on top (top and bottom 15 of more than 30)."""
    shown = ranked if len(ranked) <= 30 else ranked[:15] + ranked[-15:]
    fig = _figure(8.5, 1.5 + 0.4 * max(len(shown), 1))
    ax = fig.subplots()
    bars = ax.barh(range(len(shown)), [s for _, s in shown][::-1], color="#3b6ea5")
    ax.set_yticks(range(len(shown)), [names.get(p, p) for p, _ in shown][::-1])
    ax.bar_label(bars, fmt="%.1f", padding=3)
    ax.set_xlim(0, 108)
    ax.set_xticks(range(0, 101, 20))
    ax.set_xlabel(tr._("composite score (0–100)"))
    title = tr._("Providers ranked by composite score")
    ax.set_title(title if shown is ranked else title + " " + tr._("(top and bottom 15)"))
    return fig


@_in_report_fonts
def on_time_trend(
    trend: dict[str, list[float | None]], names: dict[str, str], weeks: list[str], tr: ReportLanguage
) -> Figure:
    """On-time share per week of the month, one line per provider (the 10 busiest)."""
    fig = _figure(8.5, 4.2)
    ax = fig.subplots()
    busiest = list(trend)[:10]
    for pid in busiest:
        ax.plot(
            range(len(weeks)),
            [float("nan") if r is None else 100 * r for r in trend[pid]],
            marker="o",
            label=names.get(pid, pid),
        )
    ax.set_xticks(range(len(weeks)), weeks)
    ax.set_xlim(-0.3, len(weeks) - 0.7)
    ax.set_ylim(0, 105)
    ax.set_xlabel(tr._("days of the month"))
    ax.set_ylabel(tr._("on-time arrivals (%)"))
    title = tr._("On-time arrival rate by week")
    ax.set_title(title + (" " + tr._("(10 busiest providers)") if len(trend) > 10 else ""))
    if busiest:
        ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return fig


@_in_report_fonts
def satisfaction_complaints(by_provider: dict[str, k.Kpis], names: dict[str, str], tr: ReportLanguage) -> Figure:
    """Satisfaction against complaints per provider, marker size by visits."""
    fig = _figure(8.5, 4.2)
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
    ax.set_xlabel(tr._("complaints per 100 visits"))
    ax.set_ylabel(tr._("satisfaction (Bayesian average, stars)"))
    ax.set_title(tr._("Satisfaction vs complaints (marker size: visits)"))
    ax.grid(alpha=0.3)
    return fig


def png(fig: Figure, dpi: int = 150) -> bytes:
    """``fig`` as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
