"""What confirmation rounds ahead of the day could keep of a plan: ``careline bench confirm``.

Issue 18 asks a planned day, with the caregiver model's declines and timeouts, to travel at most
1.10x the best published solution (bazirha) and to stay under 150 min of total tardiness (rome).
Repairing during the day (``careline bench dispatch``) does not get there: each fallen visit is
placed around visits already accepted. This bench measures, at the planning level, the design
the notes propose instead (docs/NOTES.md, issue 18): offer the whole day ahead, collect the
answers, re-plan, offer what changed, and repeat, before any elder is told a time.

Each round offers every visit of the current plan not yet accepted by its planned caregiver;
the seeded caregiver model (``handlers.simulation.caregiver_model.CaregiverModel``: accept 0.85,
decline 0.10, otherwise no answer) answers each offer; a caregiver who did not accept is never
planned for that visit again (``plan_day(allowed=...)``); an accepted visit stays with its
caregiver unless moving it saves more than ``keep_minutes`` (``plan_day(keep=...)``: a move is a
new offer in the next round); each re-plan starts from the last plan (``hint``). The times of the
visits stay free until the last round. Rounds stop when every visit is accepted or ``rounds`` ran
out; the visits still unconfirmed then would be dispatched during the day.

What this is not: the live flow. No offer goes through the handlers, no caregiver travels, and
the elders' promises are not modelled; it is the upper bound of the design, measured before it is
built. Routes are judged by ``handlers.datasets.uhhc.evaluate_routes`` (minutes).

Data: UHHC benchmark (iolab-uniud/uhhc), doi 10.1111/itor.70140, CC BY 4.0.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from handlers.datasets.uhhc import Instance, InstanceError, Stop, evaluate_routes, load_instance
from handlers.dispatch.planning import Need, plan_day
from handlers.simulation.caregiver_model import CaregiverModel
from tools.bench.dispatch import as_typed, machine


@dataclass(frozen=True)
class RoundRow:
    """One plan of a run: ``round`` 0 is the first plan, k the re-plan after the k-th answers.
    Minutes for travel and tardiness; ``offers`` made so far, ``fell`` answers of this round that
    were not yes, ``reassigned`` accepted visits the re-plan gave to another caregiver,
    ``unconfirmed`` visits of this plan whose caregiver has not accepted them."""

    instance: str
    keep_minutes: int
    seed: int
    round: int
    offers: int
    fell: int
    reassigned: int
    unconfirmed: int
    travel: float
    tardiness_total: float
    tardiness_max: float
    unserved: int
    in_window_share: float | None
    seconds: float


@dataclass(frozen=True)
class Rounds:
    """A run: its ``rows``, the last ``plan`` (caregiver id -> stops), who ``accepted`` each need
    and who ``refused`` it (declined or did not answer)."""

    rows: list[RoundRow]
    plan: dict[str, list[Stop]]
    accepted: dict[Need, str]
    refused: dict[Need, set[str]]


def _needs(routes: Mapping[str, Sequence[Stop]]) -> dict[Need, str]:
    return {(s.patient_id, s.service_id): cid for cid, stops in routes.items() for s in stops}


def confirm_rounds(instance: Instance, rounds: int, keep_minutes: int, time_limit: float, seed: int) -> Rounds:
    """The rows of one run (module docstring): the first plan with ``time_limit`` seconds, then
    up to ``rounds`` rounds of answers and re-plans with half of it each. Raises ``RuntimeError``
    when the planner finds no plan."""
    model = CaregiverModel(seed=seed)
    able = {
        (n.patient_id, n.service_id): frozenset(c.caregiver_id for c in instance.roster if n.service_id in c.abilities)
        for n in instance.needs
    }
    accepted: dict[Need, str] = {}
    refused: dict[Need, set[str]] = {need: set() for need in able}
    started = time.perf_counter()
    plan = plan_day(instance, time_limit, seed)
    rows = [_row(instance, keep_minutes, seed, 0, 0, 0, 0, plan, accepted, started)]
    offers = 0
    for k in range(1, rounds + 1):
        fell = 0
        for need, cid in sorted(_needs(plan).items()):
            if accepted.get(need) == cid:
                continue
            offers += 1
            answer, _ = model.answer(f"{instance.name}:round{k}:{need[0]}.{need[1]}:{cid}")
            if answer == "accept":
                accepted[need] = cid
            else:
                refused[need].add(cid)
                fell += 1
        if fell == 0:  # every offer of the round accepted: the plan stands, all confirmed
            rows.append(_row(instance, keep_minutes, seed, k, offers, 0, 0, plan, accepted, started))
            break
        allowed = {need: able[need] - refused[need] for need in able}
        plan = plan_day(instance, time_limit / 2, seed, allowed, accepted, keep_minutes, hint=plan)
        now = _needs(plan)
        reassigned = sum(1 for need, cid in accepted.items() if need in now and now[need] != cid)
        for need in [n for n, cid in accepted.items() if now.get(n) != cid]:
            del accepted[need]  # given to another caregiver (or left out): offered anew next round
        rows.append(_row(instance, keep_minutes, seed, k, offers, fell, reassigned, plan, accepted, started))
    return Rounds(rows, plan, accepted, refused)


def _row(
    instance: Instance,
    keep_minutes: int,
    seed: int,
    k: int,
    offers: int,
    fell: int,
    reassigned: int,
    plan: Mapping[str, Sequence[Stop]],
    accepted: Mapping[Need, str],
    started: float,
) -> RoundRow:
    cost = evaluate_routes(instance, plan)
    unconfirmed = sum(1 for need, cid in _needs(plan).items() if accepted.get(need) != cid)
    return RoundRow(
        instance.name,
        keep_minutes,
        seed,
        k,
        offers,
        fell,
        reassigned,
        unconfirmed,
        cost.travel_time,
        cost.total_tardiness if not instance.windows_hard else 0.0,
        cost.highest_tardiness if not instance.windows_hard else 0.0,
        cost.unserved,
        cost.in_window_share,
        round(time.perf_counter() - started, 1),
    )


def print_rows(console: Console, rows: Sequence[RoundRow]) -> None:
    """One table per instance and ``keep_minutes``, a row per round."""
    for name, keep in dict.fromkeys((r.instance, r.keep_minutes) for r in rows):
        table = Table(title=f"{name}, keep {keep} min: the plan after each round of answers (minutes)")
        for col in ("round", "offers", "fell", "reassigned", "unconfirmed", "travel", "tardiness total",
                    "tardiness max", "unserved", "in window %", "seconds"):  # fmt: skip
            table.add_column(col, justify="right")
        for r in rows:
            if (r.instance, r.keep_minutes) != (name, keep):
                continue
            share = "—" if r.in_window_share is None else f"{100 * r.in_window_share:.1f}"
            table.add_row(
                str(r.round), str(r.offers), str(r.fell), str(r.reassigned), str(r.unconfirmed), f"{r.travel:.0f}",
                f"{r.tardiness_total:.0f}", f"{r.tardiness_max:.0f}", str(r.unserved), share, f"{r.seconds:.1f}",
            )  # fmt: skip
        console.print(table)


def main(
    files: list[Path],
    rounds: int,
    keep: Sequence[int],
    time_limit: float,
    seed: int,
    json_out: Path | None = None,
) -> int:
    """``careline bench confirm [FILES] [--rounds] [--keep-minutes] [--time-limit] [--seed] [--json]``:
    prints the command, the machine and a table per instance and keep cost; with ``json_out`` also
    writes ``{"command", "machine", "rows"}``. Exit 0, or 2 for an unreadable file."""
    probe = Console()
    out = probe if probe.is_terminal else Console(width=120)
    command = as_typed(
        ["careline", "bench", "confirm", *map(str, files), "--rounds", str(rounds),
         "--keep-minutes", ",".join(map(str, keep)), "--time-limit", f"{time_limit:g}", "--seed", str(seed)]
        + (["--json", str(json_out)] if json_out is not None else [])
    )  # fmt: skip
    out.print(f"$ {command}", soft_wrap=True)
    out.print(
        f"machine: {machine()} · caregiver model: accept 0.85, decline 0.10, no answer otherwise · "
        f"planner: OR-Tools GLS, {time_limit:g} s for the plan, {time_limit / 2:g} s per re-plan",
        soft_wrap=True,
    )
    rows: list[RoundRow] = []
    try:
        loaded = [load_instance(p.read_bytes(), name=p.stem) for p in files]
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=out, transient=True) as bar:
            task = bar.add_task("confirmation rounds", total=len(loaded) * len(keep))
            for instance in loaded:
                for k in keep:
                    bar.update(task, description=f"{instance.name}, keep {k} min")
                    rows += confirm_rounds(instance, rounds, k, time_limit, seed).rows
                    bar.advance(task)
    except (OSError, ValueError, InstanceError) as exc:
        Console(stderr=True).print(f"[red]cannot run the bench: {exc}")
        return 2
    print_rows(out, rows)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        document = {"command": command, "machine": machine(), "rows": [asdict(r) for r in rows]}
        json_out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        out.print(f"rows written to {json_out}")
    out.print("Data: UHHC benchmark (iolab-uniud/uhhc), doi 10.1111/itor.70140, CC BY 4.0.")
    return 0
