"""The numbers a replay ends with, computed from stored requests, offers and visits.

Travel and tardiness are recomputed from the visits as they happened (check-in
and check-out times) with the instance matrix, by the same rules as the
published solutions (``handlers.datasets.uhhc.evaluate_routes``), so the two compare.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

import numpy as np

from handlers.datasets.uhhc import Instance, RouteCost, Stop, evaluate_routes
from handlers.model import CareRequest, Offer, Visit


@dataclass(frozen=True)
class Summary:
    """What a replay ends with: request counts by status, time-to-assign percentiles (minutes), offers by outcome, route cost (minutes) and visits per caregiver."""

    requests: int
    by_status: dict[str, int]
    time_to_assign_p50_minutes: float | None
    time_to_assign_p95_minutes: float | None
    offers_by_status: dict[str, int]
    cost: RouteCost
    visits_per_caregiver: dict[str, int]
    failure_reasons: dict[str, int]

    @property
    def all_final(self) -> bool:
        """True when every request reached a final FHIR status (none left under ``__open__``)."""
        return self.by_status.get("__open__", 0) == 0


def _minute(day_start: datetime, at: datetime) -> float:
    return (at - day_start).total_seconds() / 60.0


def routes_from_visits(visits: Iterable[Visit], run: str, day_start: datetime) -> dict[str, list[Stop]]:
    """Caregiver (instance id) -> stops of the visits that were checked in."""
    routes: dict[str, list[Stop]] = {}
    for v in visits:
        if v.check_in_at is None:
            continue
        patient, service = v.request_id.removeprefix(f"{run}.").rsplit(".", 1)
        end = v.check_out_at or v.planned_end
        routes.setdefault(v.caregiver_id.removeprefix(f"{run}."), []).append(
            Stop(patient, service, _minute(day_start, v.check_in_at), _minute(day_start, end))
        )
    return routes


def summarise(
    instance: Instance,
    run: str,
    day_start: datetime,
    requests: list[CareRequest],
    offers: list[Offer],
    visits: list[Visit],
) -> Summary:
    """Counts by status (open ones under ``__open__``), time to assign
    percentiles in minutes, offers by outcome, route cost and visits per caregiver."""
    by_status = Counter(r.status.value if r.status.is_final else "__open__" for r in requests)
    waits = [
        (r.assigned_at - r.received_at).total_seconds() / 60.0 for r in requests if r.assigned_at and r.received_at
    ]
    p50, p95 = (float(np.percentile(waits, 50)), float(np.percentile(waits, 95))) if waits else (None, None)
    routes = routes_from_visits(visits, run, day_start)
    ids = [c.caregiver_id for c in instance.roster] + sorted(set(routes) - {c.caregiver_id for c in instance.roster})
    per_caregiver = {cid: len(routes.get(cid, [])) for cid in ids}
    reasons = Counter(r.status_reason or "unknown" for r in requests if r.status.value == "failed")
    return Summary(
        len(requests),
        dict(by_status),
        p50,
        p95,
        dict(Counter(o.status.value for o in offers)),
        evaluate_routes(instance, routes),
        per_caregiver,
        dict(reasons),
    )


@dataclass(frozen=True)
class ProviderWork:
    """Per provider: share of requests first offered to it before and after
    ``split`` (0..1), completed visits, and its latest score (0..100)."""

    provider_id: str
    first_offer_share_before: float
    first_offer_share_after: float
    completed_visits: int
    score: float | None


def work_by_provider(
    offers: list[Offer],
    visits: list[Visit],
    provider_of: dict[str, str],
    split: datetime,
    scores: dict[str, float | None],
) -> list[ProviderWork]:
    """How work moved between providers over the day (first offers show the
    dispatcher's choice, before any decline)."""
    first: dict[str, Offer] = {}
    for o in sorted(offers, key=lambda o: o.created_at):
        first.setdefault(o.request_id, o)
    before = [o for o in first.values() if o.created_at <= split]
    after = [o for o in first.values() if o.created_at > split]

    def share(group: list[Offer], pid: str) -> float:
        return sum(provider_of.get(o.caregiver_id) == pid for o in group) / len(group) if group else 0.0

    done = Counter(v.provider_id for v in visits if v.check_out_at is not None)
    return [
        ProviderWork(pid, share(before, pid), share(after, pid), done.get(pid, 0), scores.get(pid))
        for pid in sorted(set(provider_of.values()))
    ]
