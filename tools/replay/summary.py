"""Print a replay's summary as tables (rich), beside published solutions."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from handlers.datasets.uhhc import RouteCost
from handlers.evaluation.summary import Summary


def fmt(x: float | None, digits: int = 1) -> str:
    """``x`` with ``digits`` decimals for a report line, ``—`` when unmeasured (None)."""
    return "—" if x is None else f"{x:.{digits}f}"


def print_final_states(
    console: Console, title: str, by_status: dict[str, int], requests: int, failure_reasons: dict[str, int]
) -> None:
    """The table of requests by final state (``__open__``: not final) with its total, then one
    line per failure reason; the same for a UHHC replay and a city day."""
    states = Table(title=title)
    states.add_column("state")
    states.add_column("requests", justify="right")
    for state, n in sorted(by_status.items()):
        states.add_row("not final" if state == "__open__" else state, str(n))
    states.add_row("[bold]total", f"[bold]{requests}")
    console.print(states)
    for reason, n in sorted(failure_reasons.items()):
        console.print(f"failed, {reason}: {n} (sent to the operator queue)")


def print_summary(
    console: Console, name: str, summary: Summary, published: dict[str, RouteCost], wall_seconds: float
) -> None:
    print_final_states(
        console, f"{name}: requests by final state", summary.by_status, summary.requests, summary.failure_reasons
    )
    console.print(
        f"time to assign: p50 {fmt(summary.time_to_assign_p50_minutes)} min, "
        f"p95 {fmt(summary.time_to_assign_p95_minutes)} min (simulated) · offers: "
        + ", ".join(f"{k} {v}" for k, v in sorted(summary.offers_by_status.items()))
        + f" · wall time {wall_seconds:.1f} s"
    )
    cmp = Table(title="travel and tardiness (minutes), recomputed from routes with the instance matrix")
    for col in ("routes", "travel", "total tardiness", "max tardiness", "visits", "unserved"):
        cmp.add_column(col, justify="right" if col != "routes" else "left")
    rows = [("careline (this run)", summary.cost)] + [(f"published {m}", c) for m, c in published.items()]
    for label, c in rows:
        cmp.add_row(
            label,
            fmt(c.travel_time, 0),
            fmt(c.total_tardiness, 0),
            fmt(c.highest_tardiness, 0),
            str(c.visits),
            str(c.unserved),
        )
    console.print(cmp)
    for method, c in published.items():
        if c.travel_time:
            console.print(f"travel vs published {method}: {summary.cost.travel_time / c.travel_time:.3f}x")
    per = Table(title="visits per caregiver")
    for cid in summary.visits_per_caregiver:
        per.add_column(cid, justify="right")
    per.add_row(*[str(n) for n in summary.visits_per_caregiver.values()])
    console.print(per)
    console.print("Data: UHHC benchmark (iolab-uniud/uhhc), doi 10.1111/itor.70140, CC BY 4.0.")


def print_provider_work(console: Console, work: list, run: str) -> None:
    """Share of first offers per provider before and after the first two hours."""
    table = Table(title="work by provider (first offers: the dispatcher's choice)")
    for col in ("provider", "first offers, first 2 h", "first offers, later", "completed visits", "score"):
        table.add_column(col, justify="left" if col == "provider" else "right")
    for w in work:
        table.add_row(
            w.provider_id.removeprefix(run + "."),
            f"{w.first_offer_share_before:.0%}",
            f"{w.first_offer_share_after:.0%}",
            str(w.completed_visits),
            "—" if w.score is None else f"{w.score:.1f}",
        )
    console.print(table)
