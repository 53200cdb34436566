"""Print a city day: what was read and placed, then its measures (rich tables)."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table

from handlers.datasets.city import CITY_PROVIDER_TYPES, CityDay
from handlers.evaluation.city_summary import CitySummary
from tools.replay.city import CityInput
from tools.replay.summary import fmt, print_final_states


def print_inputs(console: Console, city: CityInput, day: CityDay) -> None:
    """Files, rows read and rejected, providers selected, calls placed (given / approximate /
    not placed), areas, caregivers: nothing is left out without being counted."""
    console.print(
        f"providers: {city.providers_file} · {len(city.listings)} programs read, "
        f"{len(city.rejected_providers)} rows not read (types with no careline service, bad rows); "
        f"{len(day.providers)} of the types {', '.join(t.removesuffix(' CONTRACTS').lower() for t in CITY_PROVIDER_TYPES)}"
        + (f", {len(day.skipped_providers)} of them skipped for lack of coordinates" if day.skipped_providers else ""),
        highlight=False,
    )
    for row in day.skipped_providers:
        console.print(f"  skipped {row.provider_id} ({row.name}): no coordinates", highlight=False)
    p = day.placement
    approx = ", ".join(f"{n} at their {level.replace('_', ' ')}'s mean point" for level, n in p.approximate.items())
    console.print(
        f"calls: {city.calls_file} · {len(city.calls)} read, {len(city.rejected_calls)} rejected; "
        f"{len(day.submissions)} replayed: {p.given} at their coordinates"
        + (f", {approx} (approximate: no coordinates in the file)" if approx else "")
        + f"; {len(p.unplaced)} without coordinates, district or borough not placed",
        highlight=False,
    )
    for rejected in city.rejected_calls[:10]:
        console.print(f"  rejected {rejected}", highlight=False)
    if len(city.rejected_calls) > 10:
        console.print(f"  … and {len(city.rejected_calls) - 10} more rejected rows", highlight=False)
    for call in p.unplaced[:10]:
        console.print(f"  not placed: line {call.line} ({call.complaint_type}): no coordinates", highlight=False)
    services = Counter(s.record["service_type"] for s in day.submissions)
    channels = Counter(s.record["channel"] for s in day.submissions)
    console.print(
        f"service areas: {', '.join(b.title() for b in day.areas.values())} · {len(day.caregivers)} caregivers "
        f"· services: {', '.join(f'{k} {v}' for k, v in services.most_common())} "
        f"· channels: {', '.join(f'{k} {v}' for k, v in channels.most_common())}",
        highlight=False,
    )


def print_city_summary(console: Console, name: str, s: CitySummary, wall_seconds: float) -> None:
    """The measures of ``handlers.evaluation.city_summary``."""
    console.print(f"[bold]{name}")
    print_final_states(console, "requests by final state", s.by_status, s.requests, s.failure_reasons)
    if s.failed_by_area_service:
        gaps = ", ".join(
            f"{area.rsplit('.', 1)[-1]} {service} {n}" for (area, service), n in s.failed_by_area_service.items()
        )
        console.print(f"failed by service area and service: {gaps}", highlight=False)
    console.print(
        f"time to assign: p50 {fmt(s.time_to_assign_p50_minutes)} min, p95 {fmt(s.time_to_assign_p95_minutes)} "
        "min (simulated) · offers: "
        + ", ".join(f"{k} {v}" for k, v in sorted(s.offers_by_status.items()))
        + f" · wall time {wall_seconds:.1f} s",
        highlight=False,
    )
    console.print(
        f"travel from coordinates: {s.travel_total_minutes:.0f} min in all over {len(s.legs)} legs "
        f"(home base -> visits -> home base); into a visit p50 {fmt(s.travel_per_visit_p50_minutes)} min, "
        f"p95 {fmt(s.travel_per_visit_p95_minutes)}, max {fmt(s.travel_per_visit_max_minutes)}",
        highlight=False,
    )
    console.print(
        f"tardiness: {s.visits_late} of {s.visits} visits started after their window, "
        f"{s.tardiness_total_minutes:.0f} min in all, at most {s.tardiness_max_minutes:.0f} min",
        highlight=False,
    )
    per = Table(
        title=f"visits per caregiver ({s.caregivers} caregivers, the busiest made {s.busiest_caregiver_visits})"
    )
    per.add_column("visits", justify="right")
    per.add_column("caregivers", justify="right")
    for visits, n in s.caregivers_by_visits.items():
        per.add_row(str(visits), str(n))
    console.print(per)
