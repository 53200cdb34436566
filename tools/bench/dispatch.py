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

import dataclasses
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from config.policy import load_policy
from handlers.datasets.day import build_day
from handlers.datasets.uhhc import (
    Instance,
    InstanceError,
    SolutionError,
    Stop,
    check_solution_against,
    evaluate_routes,
    ignored_cost_components,
    load_instance,
    routes_from_solution,
)
from handlers.dispatch.area import Mode
from handlers.dispatch.planning import plan_day, planned_visits, sync_violations
from handlers.dispatch.promise import PLAN, PromiseTally, promised_window
from handlers.dispatch.promise import tally as promise_tally
from handlers.dispatch.scheduling import DispatchPolicy, MatrixTravelTimes
from handlers.evaluation.summary import routes_from_visits
from handlers.simulation.caregiver_model import CaregiverModel
from handlers.simulation.offline import run_day

DAY_START = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
LEAD_MINUTES = 60.0
"""Requests are submitted this long before their window opens, as in ``careline replay``."""

SIMULATED: tuple[Mode, ...] = ("online", "batched", "planned")

BOOKED_MINUTE = -600.0
"""With confirmation rounds, a planned day's requests are booked and its plan announced at this
minute of the day (21:00 the evening before a 07:00 start); the rounds close before midnight."""

SHIPPED = load_policy()
ROUNDS = SHIPPED.confirm_rounds
"""Confirmation rounds of the planned day, as config/policy.toml ships them (``[planned] rounds``;
their length, re-plan time and keep cost too: ``round_minutes``, ``round_seconds``, ``keep_minutes``)."""


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
    in_window_share: float | None = None
    hard_window_violations: int = 0
    promised_window_share: float | None = None
    """Simulated days: share of visits that started inside the window last told to the elder
    (``handlers.dispatch.promise.tally``); None for solver-only and published rows."""

    def as_json(self) -> dict[str, object]:
        """The row for ``--json``: minutes, counts, ``in_window_share`` 0..1 (None when
        nothing was served), ``hard_window_violations`` (late visits on an instance
        whose windows are hard, 0 on soft-window instances)."""
        return {
            "instance": self.instance,
            "method": self.method,
            "seed": self.seed,
            "travel": self.travel,
            "tardiness_total": self.total_tardiness,
            "tardiness_max": self.max_tardiness,
            "unserved": self.unserved,
            "in_window_share": self.in_window_share,
            "hard_window_violations": self.hard_window_violations,
            "promised_window_share": self.promised_window_share,
            "sync_violations": self.sync_violations,
            "runtime_seconds": self.runtime_seconds,
            "all_final": self.all_final,
        }


def write_json(path: Path, rows: Sequence[Row], command: str) -> None:
    """``{"command", "machine", "rows": [Row.as_json(), ...]}`` as UTF-8 JSON at ``path``
    (parent folders created). Raises ``OSError`` when it cannot be written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"command": command, "machine": machine(), "rows": [r.as_json() for r in rows]}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


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
        cost.in_window_share,
        cost.late_visits if instance.windows_hard else 0,
    )


def published_routes(path: Path, instance: Instance | None = None) -> dict[str, dict[str, list[Stop]]]:
    """Published solutions beside an instance (``../solutions/<stem>.<method>.json``),
    method -> routes, read by ``routes_from_solution`` (and checked against ``instance``
    when given). Raises ``SolutionError`` naming the file and the field."""
    folder = path.resolve().parent.parent / "solutions"
    found = {}
    for p in sorted(folder.glob(f"{path.stem}.*.json")):
        try:
            routes = routes_from_solution(json.loads(p.read_text()))
            if instance is not None:
                check_solution_against(instance, routes)
        except (ValueError, SolutionError) as exc:
            raise SolutionError(f"{p}: {exc}") from None
        found[p.name.removeprefix(path.stem + ".").removesuffix(".json")] = routes
    return found


def simulate(
    instance: Instance,
    mode: Mode,
    seed: int,
    plan_routes: Mapping[str, Sequence[Stop]] | None,
    batch_interval_seconds: float = 60.0,
    repair_seconds: float = DispatchPolicy.repair_seconds,
    repairs: list[Mapping[str, Any]] | None = None,
    promises: list[PromiseTally] | None = None,
    rounds: int = 0,
) -> tuple[dict[str, list[Stop]], float, bool]:
    """One simulated day: (routes as visited, wall seconds, every request final?).
    A planned day repairs with ``repair_seconds`` of solver time per fallen visit (0: insertion,
    as before issue 18); with ``rounds`` its requests are booked and its plan announced the
    evening before (``BOOKED_MINUTE``) and that many confirmation rounds re-plan it from the
    caregivers' answers (``handlers.dispatch.rounds``). Each ``care.dispatch.repaired`` payload
    is appended to ``repairs``, and how the day kept the windows told to elders
    (``promise.tally``) to ``promises``."""
    run = instance.name
    ahead = plan_routes is not None and rounds > 0
    day = build_day(instance, DAY_START, LEAD_MINUTES, run, booked_minute=BOOKED_MINUTE if ahead else None)
    plan = planned_visits(instance, plan_routes, run, DAY_START) if plan_routes is not None else None
    if plan is not None and ahead:
        announced = DAY_START + timedelta(minutes=BOOKED_MINUTE)
        plan = {rid: dataclasses.replace(pv, announced_at=announced) for rid, pv in plan.items()}
    started = time.perf_counter()
    result = run_day(
        day,
        MatrixTravelTimes(instance.distances),
        DispatchPolicy(
            shift_end_hard=instance.shift_end_hard,
            repair_seconds=repair_seconds,
            confirm_rounds=rounds if ahead else 0,
            confirm_round_minutes=SHIPPED.confirm_round_minutes,
            confirm_round_seconds=SHIPPED.confirm_round_seconds,
            confirm_keep_minutes=SHIPPED.confirm_keep_minutes,
        ),
        CaregiverModel(seed=seed),
        {n.service_id for n in instance.needs},
        mode=mode,
        batch_interval_seconds=batch_interval_seconds,
        plan=plan,
    )
    seconds = time.perf_counter() - started
    if repairs is not None:
        repairs += [e.payload for e in result.uow.events if e.type == "care.dispatch.repaired"]
    if promises is not None:
        told_types = ("dispatch.offer.accepted", "dispatch.promise.told")
        accepted = [e.payload for e in result.uow.events if e.type in told_types]
        checked_in = {v.request_id: v.check_in_at for v in result.uow.visits.values() if v.check_in_at is not None}
        promises.append(promise_tally(accepted, checked_in))
        if plan is not None:  # had each elder been told the plan's window (the evening before)
            told: list[dict[str, str]] = []
            for rid, slot in plan.items():
                request = result.uow.requests.get(rid)
                window = promised_window(request, slot.start, PLAN) if request is not None else None
                if window is not None:
                    told.append({"request_id": rid, "promised_start": window.start.isoformat(),
                                 "promised_end": window.end.isoformat()})  # fmt: skip
            promises.append(promise_tally(told, checked_in))
    final = len(result.uow.requests) == len(day.submissions) and all(
        r.status.is_final for r in result.uow.requests.values()
    )
    return routes_from_visits(result.uow.visits.values(), run, DAY_START), seconds, final


def bench_dispatch(
    instances: list[Path],
    seeds: Iterable[int],
    time_limit: float,
    console: Console,
    repair_seconds: float = DispatchPolicy.repair_seconds,
    rounds: int = ROUNDS,
) -> list[Row]:
    """Run every method on every instance and print the comparison table.

    ``seeds`` seed the caregiver model (and permute the planner's input);
    ``time_limit`` is the planner's wall-clock budget in seconds per instance
    and seed; ``repair_seconds`` the planned day's solver budget per repair (0: insertion);
    ``rounds`` the planned day's confirmation rounds (0: requests arrive on the day, as online).
    After the table, one line per planned day counts its repairs and their slowest decision.
    Raises ``InstanceError``/``OSError``/``ValueError`` for an unreadable instance.
    """
    summaries: list[str] = []
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
                    repairs: list[Mapping[str, Any]] = []
                    promises: list[PromiseTally] = []
                    routes, seconds, final = simulate(
                        instance,
                        mode,
                        seed,
                        plan if mode == "planned" else None,
                        60.0,
                        repair_seconds,
                        repairs,
                        promises,
                        rounds,
                    )
                    if mode == "planned":
                        summaries.append(repair_summary(instance.name, seed, repairs))
                        summaries.append(plan_promise_summary(instance.name, seed, promises))
                    row = _row(
                        instance, mode, seed, routes, seconds + (plan_seconds if mode == "planned" else 0.0), final
                    )
                    rows.append(dataclasses.replace(row, promised_window_share=promises[0].share))
                    bar.advance(task)
                rows.append(_row(instance, "planned (solver only)", seed, plan, plan_seconds))
            for method, routes in published_routes(path, instance).items():
                rows.append(_row(instance, f"published {method}", None, routes, None))
    print_rows(console, rows)
    for line in summaries:
        console.print(line, soft_wrap=True)
    return rows


def plan_promise_summary(name: str, seed: int, promises: Sequence[PromiseTally]) -> str:
    """One line: visits inside the window told at acceptance and inside the plan slot's window."""
    accepted, planned = promises[0], promises[1]
    pct = lambda t: _fmt(None if t.share is None else 100 * t.share, 1)  # noqa: E731
    return (
        f"{name} seed {seed} planned day: {pct(accepted)} % of {accepted.visits} visits started inside the window "
        f"told at acceptance ({accepted.changed} told a new one); {pct(planned)} % of {planned.visits} inside "
        f"the window of their plan slot (what the plan would have promised; {planned.early} started before it)"
    )


def repair_summary(name: str, seed: int, repairs: Sequence[Mapping[str, Any]]) -> str:
    """One planned day's repairs in a line: how many times a visit fell before the confirmation
    rounds closed (held for a round) and after (repaired at once), how many re-plans placed it,
    how many gave way to insertion, and the slowest solver time (seconds)."""
    outcomes = [r.get("outcome") for r in repairs]
    held = {r.get("request_id") for r in repairs if r.get("outcome") == "held"}
    slowest = max((float(r.get("solver_seconds") or 0) for r in repairs), default=0.0)
    return (
        f"{name} seed {seed} planned day: {len(held)} visits held for a confirmation round, "
        f"{outcomes.count('round')} placed by a round, {outcomes.count('repaired')} by a repair, "
        f"{outcomes.count('insertion')} by insertion; "
        f"slowest re-plan {slowest:.2f} s"
    )


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
            "in window %",
            "promised window %",
            "hard window violations",
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
                _fmt(None if r.in_window_share is None else 100 * r.in_window_share, 1),
                _fmt(None if r.promised_window_share is None else 100 * r.promised_window_share, 1),
                str(r.hard_window_violations),
                str(r.sync_violations),
                _fmt(r.runtime_seconds, 1),
                {True: "yes", False: "[red]no", None: "—"}[r.all_final],
            )
        console.print(table)


def command_line(
    files: Sequence[Path],
    time_limit: float,
    seed: int,
    repair_seconds: float = DispatchPolicy.repair_seconds,
    rounds: int = ROUNDS,
) -> str:
    """The command as typed, or its ``careline bench dispatch`` equivalent when
    called from Python (``python -c``)."""
    return as_typed(
        ["careline", "bench", "dispatch", *map(str, files), "--time-limit", f"{time_limit:g}", "--seed", str(seed)]
        + ([] if repair_seconds == DispatchPolicy.repair_seconds else ["--repair-seconds", f"{repair_seconds:g}"])
        + ([] if rounds == ROUNDS else ["--rounds", str(rounds)])
    )


def as_typed(equivalent: Sequence[str]) -> str:
    """The ``careline`` command as typed, or ``equivalent`` (its arguments) with the Python
    command line beside it when the bench was called from Python (``python -c``, a test)."""
    if sys.argv and sys.argv[0] not in ("-c", "") and Path(sys.argv[0]).name == "careline":
        return shlex.join(["careline", *sys.argv[1:]])
    return f"{shlex.join(equivalent)}   # equivalent of this run: python {shlex.join(sys.argv)}"


def machine() -> str:
    """nproc (CPUs this process may use), CPU model and Python version."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"nproc {cpus} · {platform.processor() or platform.machine()} · Python {platform.python_version()}"


def instance_warnings(instance: Instance) -> list[str]:
    """What the bench does not judge or the planner does not count on this instance, as lines."""
    lines = []
    ignored = ignored_cost_components(instance)
    if ignored:
        lines.append(
            f"warning: {instance.name}: cost components ignored by the planner and not in the table: "
            + ", ".join(ignored)
        )
    if any(len(n.all_windows) > 1 for n in instance.needs):
        lines.append(
            f"warning: {instance.name}: patients with several time windows: the planner uses every window; "
            "online and batched days offer the first window only"
        )
    return lines


def main(
    files: list[Path],
    time_limit: float,
    seed: int,
    json_out: Path | None = None,
    repair_seconds: float = DispatchPolicy.repair_seconds,
    rounds: int = ROUNDS,
) -> int:
    """``careline bench dispatch [FILES...] [--time-limit] [--seed] [--json FILE]``: prints the
    header (command line, machine), warnings (cost components the planner ignores) and the
    table; with ``json_out`` also writes the rows (``write_json``). Exit 0 when every simulated
    day brought every request to a final state, 1 otherwise, 2 for an unreadable file."""
    probe = Console()
    out = probe if probe.is_terminal else Console(width=120)  # unwrapped in files, as careline.cli does
    out.print(f"$ {command_line(files, time_limit, seed, repair_seconds, rounds)}", soft_wrap=True)
    out.print(
        f"machine: {machine()} · caregiver model: accept 0.85, decline 0.10, reply 10–90 s, "
        f"offer timeout 120 s · planner: OR-Tools GLS, {time_limit:g} s per instance · "
        f"planned day: "
        + (
            f"booked and announced at 21:00 the evening before, {rounds} confirmation rounds of "
            f"{SHIPPED.confirm_round_minutes:g} min ({SHIPPED.confirm_round_seconds:g} s re-plans, keep "
            f"{SHIPPED.confirm_keep_minutes} min in the last), then "
            if rounds > 0
            else "requests on the day, "
        )
        + f"repairs of {repair_seconds:g} s each{' (0: insertion)' if repair_seconds <= 0 else ''}",
        soft_wrap=True,
    )
    started = time.perf_counter()
    try:
        for path in files:
            for line in instance_warnings(load_instance(path.read_bytes(), name=path.stem)):
                out.print(f"[yellow]{line}", soft_wrap=True)
        rows = bench_dispatch(files, [seed], time_limit, out, repair_seconds, rounds)
        if json_out is not None:
            write_json(json_out, rows, command_line(files, time_limit, seed, repair_seconds, rounds))
            out.print(f"rows written to {json_out}")
    except (OSError, ValueError, InstanceError) as exc:
        Console(stderr=True).print(f"[red]cannot run the bench: {exc}")
        return 2
    out.print(
        f"total wall time {time.perf_counter() - started:.1f} s. Data: UHHC benchmark "
        "(iolab-uniud/uhhc), doi 10.1111/itor.70140, CC BY 4.0."
    )
    return 0 if all(r.all_final is not False for r in rows) else 1
