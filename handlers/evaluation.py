"""Per-provider and per-caregiver aggregates of completed visits.

A visit is on time when it started no later than its latest on-time start
(lateness 0 minutes). Aggregates fold ``care.visit.completed`` events;
folding is order-independent, and the caller dedupes events by id.
"""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Aggregate:
    """Totals for one provider or caregiver; minutes throughout."""

    scope: str  # "provider" | "caregiver"
    subject_id: str
    visits: int = 0
    on_time: int = 0
    travel_minutes: float = 0.0
    lateness_minutes: float = 0.0
    max_lateness_minutes: float = 0.0

    @property
    def on_time_rate(self) -> float | None:
        """Share of visits on time, 0..1; None before the first visit."""
        return self.on_time / self.visits if self.visits else None


def fold_visit(agg: Aggregate, lateness_minutes: float, travel_minutes: float) -> Aggregate:
    """The aggregate after one more completed visit."""
    return replace(
        agg, visits=agg.visits + 1, on_time=agg.on_time + (1 if lateness_minutes <= 0 else 0),
        travel_minutes=agg.travel_minutes + travel_minutes,
        lateness_minutes=agg.lateness_minutes + lateness_minutes,
        max_lateness_minutes=max(agg.max_lateness_minutes, lateness_minutes),
    )
