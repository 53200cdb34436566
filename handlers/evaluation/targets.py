"""Targets of the monthly report: the value a KPI should reach, whether a month met it, and
how it moved since the month before.

A target is a threshold on one KPI, met ``at least`` (shares, stars) or ``at most``
(complaints); each carries the source of its number. The shipped targets and their sources
are in ``config/evaluation.toml`` ``[targets]``. A subject without data for a KPI neither
meets nor misses its target (``None``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from handlers.evaluation.kpis import Kpis

#: KPIs a target may name: the six of the composite score (``kpis.SCORED_KPIS``), as
#: ``Kpis`` fields, and the center's two (``handlers.evaluation.center_kpis``): ``served``,
#: the share of the requests served, and ``emergencies_answered``, the share of emergencies
#: answered within the target's ``within_seconds``.
TARGET_KPIS: Mapping[str, str] = {
    "on_time": "on_time_rate",
    "completion": "completion_rate",
    "evv_compliance": "evv_compliance_rate",
    "acceptance": "acceptance_rate",
    "satisfaction": "satisfaction",
    "complaints": "complaints_per_100_visits",
    "served": "",
    "emergencies_answered": "",
}
CENTER_KPIS = ("served", "emergencies_answered")


@dataclass(frozen=True)
class Target:
    """``kpi`` (a key of ``TARGET_KPIS``) should be at least (``at_least``) or at most
    ``value``, in the KPI's own unit: a share 0..1, stars 1..5, complaints per 100 visits.
    ``source`` says where the number comes from; ``within_seconds`` is the answer time of
    ``emergencies_answered`` (and of no other KPI)."""

    kpi: str
    value: float
    at_least: bool
    source: str
    within_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.kpi not in TARGET_KPIS:
            raise ValueError(f"unknown KPI {self.kpi!r}; known: {', '.join(TARGET_KPIS)}")
        if (self.within_seconds is not None) != (self.kpi == "emergencies_answered"):
            raise ValueError("within_seconds belongs to emergencies_answered, and it needs one")


def kpi_value(kpis: Kpis, kpi: str) -> float | None:
    """The value of ``kpi`` in ``kpis``; None without data (satisfaction without ratings is
    the prior, not data). The center's KPIs are not ``Kpis`` fields: ``ValueError``."""
    if kpi in CENTER_KPIS:
        raise ValueError(f"{kpi} is the center's, not a provider's or caregiver's")
    if kpi == "satisfaction" and kpis.ratings == 0:
        return None
    value = getattr(kpis, TARGET_KPIS[kpi])
    return None if value is None else float(value)


def met(value: float | None, target: Target) -> bool | None:
    """Whether ``value`` meets ``target`` (equal counts as met); None without a value."""
    if value is None:
        return None
    return value >= target.value if target.at_least else value <= target.value


def change(now: float | None, before: float | None) -> float | None:
    """``now - before`` in the KPI's unit; None if either month had no data."""
    return None if now is None or before is None else now - before


def better(delta: float | None, target: Target) -> bool | None:
    """Whether a change ``delta`` moved toward the target's side (up for ``at_least``);
    None for no change or no data."""
    if delta is None or delta == 0:
        return None
    return delta > 0 if target.at_least else delta < 0
