"""Compare dispatch methods on UHHC instances: online, batched, planned, published.

Online, batched and planned dispatch each run a whole day in simulated time
through ``handlers.simulation.offline.run_day`` with the seeded caregiver model
(``handlers.simulation.caregiver_model.CaregiverModel``: accept 0.85, decline 0.10, otherwise
the offer times out), so declines and timeouts cost what they cost. Their
routes are the visits as checked in and out. "planned (solver only)" is the
OR-Tools day plan itself (``handlers.dispatch.planning.plan_day``) before any offer;
"published <method>" are the solutions shipped with the benchmark. All routes
are judged by ``handlers.datasets.uhhc.evaluate_routes`` (minutes) and
``handlers.dispatch.planning.sync_violations``.

Data: UHHC benchmark (iolab-uniud/uhhc), doi 10.1111/itor.70140, CC BY 4.0.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from handlers.datasets.day import build_day
from handlers.datasets.uhhc import Instance, InstanceError, Stop, evaluate_routes, load_instance, routes_from_solution
from handlers.dispatch.area import Mode
from handlers.dispatch.planning import plan_day, planned_visits, sync_violations
from handlers.dispatch.scheduling import DispatchPolicy, MatrixTravelTimes
from handlers.evaluation.summary import routes_from_visits
from handlers.simulation.caregiver_model import CaregiverModel
from handlers.simulation.offline import run_day

DAY_START = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
LEAD_MINUTES = 60.0
"""Requests are submitted this long before their window opens, as in ``careline replay``."""

SIMULATED: tuple[Mode, ...] = ("online", "batched", "planned")


@dataclass(frozen=True)
class Row:
    """One method on one instance (and caregiver-model seed): minutes, counts,
    wall-clock seconds (None for published solutions), and whether every
    request reached a final state (None when nothing was simulated)."""

    instance: str
    method: str
    seed: int | None
    travel: float
    total_tardiness: float
    max_tardiness: float
    unserved: int
    sync_violations: int
    runtime_seconds: float | None
    all_final: bool | None = None


def _row(
    instance: Instance,
    method: str,
    seed: int | None,
    routes: Mapping[str, Sequence[Stop]],
    seconds: float | None,
    all_final: bool | None = None,
) -> Row:
    cost = evaluate_routes(instance, routes)
    return Row(
        instance.name,
        method,
        seed,
        cost.travel_time,
        cost.total_tardiness,
        cost.highest_tardiness,
        cost.unserved,
        len(sync_violations(instance, routes)),
        seconds,
        all_final,
    )


def published_routes(path: Path) -> dict[str, dict[str, list[Stop]]]:
    """Published solutions beside an instance (``../solutions/<stem>.<method>.json``), method -> routes."""
    folder = path.resolve().parent.parent / "solutions"
    return {
        p.name.removeprefix(path.stem + ".").removesuffix(".json"): routes_from_solution(json.loads(p.read_text()))
        for p in sorted(folder.glob(f"{path.stem}.*.json"))
    }


def simulate(
    instance: Instance,
    mode: Mode,
    seed: int,
    plan_routes: Mapping[str, Sequence[Stop]] | None,
    batch_interval_seconds: float = 60.0,
) -> tuple[dict[str, list[Stop]], float, bool]:
    """One simulated day: (routes as visited, wall seconds, every request final?)."""
    run = instance.name
    day = build_day(instance, DAY_START, LEAD_MINUTES, run)
    plan = planned_visits(instance, plan_routes, run, DAY_START) if plan_routes is not None else None
    started = time.perf_counter()
    result = run_day(
        day,
        MatrixTravelTimes(instance.distances),
        DispatchPolicy(shift_end_hard=instance.shift_end_hard),
        CaregiverModel(seed=seed),
        {n.service_id for n in instance.needs},
        mode=mode,
        batch_interval_seconds=batch_interval_seconds,
        plan=plan,
    )
    seconds = time.perf_counter() - started
    final = len(result.uow.requests) == len(day.submissions) and all(
        r.status.is_final for r in result.uow.requests.values()
    )
    return routes_from_visits(result.uow.visits.values(), run, DAY_START), seconds, final


def bench_dispatch(instances: list[Path], seeds: Iterable[int], time_limit: float, console: Console) -> list[Row]:
    """Run every method on every instance and print the comparison table.

    ``seeds`` seed the caregiver model (and permute the planner's input);
    ``time_limit`` is the planner's wall-clock budget in seconds per instance
    and seed. Raises ``InstanceError``/``OSError``/``ValueError`` for an unreadable instance.
    """
    seeds = list(seeds)
    loaded = [(p, load_instance(p.read_bytes(), name=p.stem)) for p in instances]
    rows: list[Row] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("dispatch bench", total=len(loaded) * len(seeds) * (1 + len(SIMULATED)))
        for path, instance in loaded:
            for seed in seeds:
                bar.update(task, description=f"{instance.name} seed {seed}: planning ({time_limit:g} s)")
                started = time.perf_counter()
                plan = plan_day(instance, time_limit, seed)
                plan_seconds = time.perf_counter() - started
                bar.advance(task)
                for mode in SIMULATED:
                    bar.update(task, description=f"{instance.name} seed {seed}: {mode} day")
                    routes, seconds, final = simulate(instance, mode, seed, plan if mode == "planned" else None)
                    rows.append(
                        _row(
                            instance, mode, seed, routes, seconds + (plan_seconds if mode == "planned" else 0.0), final
                        )
                    )
                    bar.advance(task)
                rows.append(_row(instance, "planned (solver only)", seed, plan, plan_seconds))
            for method, routes in published_routes(path).items():
                rows.append(_row(instance, f"published {method}", None, routes, None))
    print_rows(console, rows)
    return rows


def _fmt(x: float | None, digits: int = 0) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def print_rows(console: Console, rows: Sequence[Row]) -> None:
    """One table per instance, methods as rows (minutes and seconds)."""
    for name in dict.fromkeys(r.instance for r in rows):
        table = Table(title=f"{name}: travel and tardiness in minutes, recomputed from routes")
        table.add_column("method", no_wrap=True)
        for col in (
            "seed",
            "travel",
            "tardiness total",
            "tardiness max",
            "unserved visits",
            "sync violations",
            "runtime s",
            "all final",
        ):
            table.add_column(col, justify="right")
        for r in (r for r in rows if r.instance == name):
            table.add_row(
                r.method,
                _fmt(r.seed),
                _fmt(r.travel),
                _fmt(r.total_tardiness),
                _fmt(r.max_tardiness),
                str(r.unserved),
                str(r.sync_violations),
                _fmt(r.runtime_seconds, 1),
                {True: "yes", False: "[red]no", None: "—"}[r.all_final],
            )
        console.print(table)


def command_line(files: Sequence[Path], time_limit: float, seed: int) -> str:
    """The command as typed, or its ``careline bench dispatch`` equivalent when
    called from Python (``python -c``)."""
    equivalent = shlex.join(
        ["careline", "bench", "dispatch", *map(str, files), "--time-limit", f"{time_limit:g}", "--seed", str(seed)]
    )
    if sys.argv and sys.argv[0] not in ("-c", "") and Path(sys.argv[0]).name == "careline":
        return shlex.join(["careline", *sys.argv[1:]])
    return f"{equivalent}   # equivalent of this run: python {shlex.join(sys.argv)}"


def machine() -> str:
    """nproc (CPUs this process may use), CPU model and Python version."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"nproc {cpus} · {platform.processor() or platform.machine()} · Python {platform.python_version()}"


def main(files: list[Path], time_limit: float, seed: int) -> int:
    """``careline bench dispatch [FILES...] [--time-limit] [--seed]``: prints the
    header (command line, machine) and the table. Exit 0 when every simulated
    day brought every request to a final state, 1 otherwise, 2 for an unreadable file."""
    probe = Console()
    out = probe if probe.is_terminal else Console(width=120)  # unwrapped in files, as careline.cli does
    out.print(f"$ {command_line(files, time_limit, seed)}", soft_wrap=True)
    out.print(
        f"machine: {machine()} · caregiver model: accept 0.85, decline 0.10, reply 10–90 s, "
        f"offer timeout 120 s · planner: OR-Tools GLS, {time_limit:g} s per instance",
        soft_wrap=True,
    )
    started = time.perf_counter()
    try:
        rows = bench_dispatch(files, [seed], time_limit, out)
    except (OSError, ValueError, InstanceError) as exc:
        Console(stderr=True).print(f"[red]cannot run the bench: {exc}")
        return 2
    out.print(
        f"total wall time {time.perf_counter() - started:.1f} s. Data: UHHC benchmark "
        "(iolab-uniud/uhhc), doi 10.1111/itor.70140, CC BY 4.0."
    )
    return 0 if all(r.all_final is not False for r in rows) else 1
