"""How ``careline bench scale --lifecycle`` runs: its own Apache Kafka and PostgreSQL (unless
given), the register and rosters of every service area loaded before the clock starts, the
domain ceiling measured on the same requests, N workers and the timer service, the driver
(``tools.bench.lifecycle``), then the invariants on what the run left in the database.

Exit status: 0 when every request became final and the invariants hold, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from careline import brokers
from config import topics
from config.bootstrap import load_configuration
from config.settings import get_settings
from db import runs
from db.migrate import upgrade
from db.session import session_factory
from handlers.datasets.uhhc import load_instance
from handlers.simulation.caregiver_model import CaregiverModel
from tools.bench.ceiling import measure
from tools.bench.fleet import Fleet
from tools.bench.lifecycle import Driver, LifecycleResult, Run, drive, first_offer_percentiles, growth
from tools.bench.services import own_services
from tools.bench.stack import own_peak_rss_mib, peak_rss_mib
from tools.bench.throughput import command_line, machine, percentile
from tools.bench.workload import build_workload, load_workload
from tools.faults.invariants import check
from tools.replay.stack import worker_env

#: wall seconds an ignored offer waits before it times out in the bench (a compressed day)
OFFER_TIMEOUT_SECONDS = 10.0


def verdict(factory, run_id: str, run: Run, unsent: int) -> list[str]:
    """What broke, one line each (empty: the invariants hold)."""
    ids = list(run.sent_at)
    with factory() as session:
        requests, offers, visits = runs.run_records(session, f"{run_id}-")
        booked, freed = runs.booking_order(session, f"{run_id}-")
        status_events: dict[str, set[str]] = {}
        for i in range(0, len(ids), 5000):
            status_events.update(runs.statuses_reached(session, ids[i : i + 5000]))
    dead = [r for r, state in run.final.items() if state == "dead-letter"]
    found = check(ids, requests, offers, visits, status_events, dead, unsent, booked=booked, freed=freed)
    violations = list(found.violations)
    if run.published_twice:
        violations.append(f"outbox: {run.published_twice} records published twice in normal operation")
    return violations


def group_lag(bootstrap: str, group: str = "careline") -> int:
    """Records on the topics the workers' consumer group reads that it has not committed yet."""
    from kafka import KafkaAdminClient, KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        committed = admin.list_group_offsets({group: None}).get(group, {})
        ends = consumer.end_offsets(list(committed))
    finally:
        consumer.close()
        admin.close()
    return sum(max(0, ends[tp] - max(om.offset, 0)) for tp, om in committed.items())


def _wait_caught_up(bootstrap: str, timeout_s: float) -> int:
    """Wait until every agent read what the run produced (notices, KPI tallies, surveys run
    behind the requests' final states), so that the statements counted are all the work the
    requests caused; the records still behind after ``timeout_s`` (0: caught up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        behind = group_lag(bootstrap)
        if not behind or time.monotonic() >= deadline:
            return behind
        time.sleep(1.0)


def main(
    requests: int,
    workers: int,
    in_flight: int,
    instance_path: Path,
    kill_at: float | None,
    json_path: Path | None,
    broker: str | None,
    database_url: str | None,
    partitions: int,
    stall_seconds: float,
    seed: int,
    rebalance: bool = False,
) -> int:
    console = Console(width=150) if not Console().is_terminal else Console()
    settings = get_settings()
    console.print(f"$ {command_line()}", soft_wrap=True, highlight=False)
    console.print(f"machine: {machine()}", soft_wrap=True)
    load_start = os.getloadavg()[0]
    run_id = f"bl{time.strftime('%H%M%S')}"
    instance = load_instance(instance_path.read_bytes(), name=instance_path.stem)
    workload = build_workload(instance, requests, run_id)
    model = CaregiverModel(seed=seed)
    var = settings.var_dir / "bench" / run_id
    logs = var / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with own_services(var, logs, broker, database_url) as svc:
        upgrade(svc.database_url)
        brokers.ensure_topics(svc.bootstrap, topics.resolved(partitions))
        factory = session_factory(svc.database_url)
        t0 = time.perf_counter()
        load_workload(factory, workload)
        console.print(
            f"register and rosters of {len(workload.days):,} areas loaded in {time.perf_counter() - t0:.0f} s; "
            f"Apache Kafka {svc.bootstrap} ({partitions} partitions), database {svc.database_url.split('@')[-1]}"
        )
        policy = replace(load_configuration(settings).policy, offer_timeout_seconds=OFFER_TIMEOUT_SECONDS)
        ceiling = measure(workload, policy, model)
        console.print(
            f"domain ceiling: the offline runner played {ceiling.requests:,} of the same requests in "
            f"{ceiling.seconds:.1f} s: {ceiling.per_second:,.0f} requests/s"
        )
        env = dict(
            worker_env(
                settings.model_copy(update={"var_dir": var, "topic_partitions": partitions}),
                svc.bootstrap,
                svc.database_url,
            ),
            CARELINE_TOPIC_PARTITIONS=str(partitions),
            CARELINE_OFFER_TIMEOUT_SECONDS=str(OFFER_TIMEOUT_SECONDS),
            CARELINE_TIMER_GRACE_SECONDS="1",
            CARELINE_LOG_LEVEL="WARNING",
            CARELINE_WORKER_STATS_SECONDS="10",
        )
        fleet = Fleet(env, logs)
        if svc.database_pid is not None:  # the bench's own cluster: one role per process, counted apart
            fleet.env_for = lambda name: {"CARELINE_DATABASE_URL": runs.process_role_url(svc.database_url, name)}
            runs.reset_statement_counts(svc.database_url)
        stats0 = svc.statements()
        seq0 = runs.outbox_last_seq(svc.database_url)
        run = Run()
        fleet.start(workers)
        try:

            async def go() -> tuple[float, float]:
                async with Driver(svc.bootstrap, partitions, model, run) as driver:
                    waited = await driver.wait_for_worker()
                    console.print(f"workers answered after {waited:.1f} s")
                    started = await drive(
                        driver,
                        workload.records(keep_sync=True),
                        requests,
                        in_flight,
                        fleet,
                        kill_at,
                        stall_seconds,
                        console,
                        rebalance,
                    )
                    return started, time.perf_counter()

            started, ended = asyncio.run(go())
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with factory() as session:
                    unsent = runs.unsent_outbox(session, for_kafka_only=True)
                if not unsent:
                    break
                time.sleep(0.5)
            behind = _wait_caught_up(svc.bootstrap, 60.0)
            if behind:
                fleet.notes.append(
                    f"the workers' consumer group was still {behind:,} records behind 60 s after the run"
                )
            stats1 = svc.statements()
            by_role = runs.statements_by_role(svc.database_url) if fleet.env_for else {}
            seq1 = runs.outbox_last_seq(svc.database_url)
            cpu = fleet.cpu()
        finally:
            fleet.stop()
        broken = verdict(factory, run_id, run, unsent)
        broker_peak = peak_rss_mib(svc.broker_pid)
    times = sorted(run.final_at.values())
    wall = (times[-1] - started) if times else ended - started
    decided = len(run.final)
    per_second = decided / wall if wall else 0.0
    p50, p95, p99 = first_offer_percentiles(run)
    outcomes: dict[str, int] = {}
    for state in run.final.values():
        outcomes[state] = outcomes.get(state, 0) + 1
    peaks = dict(fleet.peaks, driver=round(own_peak_rss_mib(), 1))
    if broker_peak:
        peaks["broker"] = round(broker_peak, 1)
    statements = transactions = None
    if stats0 and stats1 and decided:
        statements = round((stats1[0] - stats0[0]) / decided, 1)
        transactions = round((stats1[1] - stats0[1]) / decided, 2)
    by_process = {
        role.removeprefix("bench_"): {
            "statements_per_request": round(v["statements"] / decided, 2),
            "transactions_per_request": round((v["commits"] + v["rollbacks"]) / decided, 2),
            "commits_per_request": round(v["commits"] / decided, 2),
            "exec_ms_per_request": round(v["exec_ms"] / decided, 2),
            "top_statements_per_request": [(round(c / decided, 2), ms, q) for c, ms, q in v["top"]],
        }
        for role, v in sorted(by_role.items())
        if decided
    }
    if decided < requests:
        broken.insert(0, f"{requests - decided:,} requests never became final")
    result = LifecycleResult(
        command=command_line(),
        machine=machine(),
        load_average_start=round(load_start, 2),
        load_average_end=round(os.getloadavg()[0], 2),
        broker=f"Apache Kafka (own, {svc.bootstrap})" if broker is None else svc.bootstrap,
        database="PostgreSQL (own)" if database_url is None else svc.database_url.split("@")[-1],
        workers=workers,
        partitions=partitions,
        requests=requests,
        decided=decided,
        outcomes=outcomes,
        wall_seconds=round(wall, 1),
        requests_per_second=round(per_second, 1),
        events_per_second=round((seq1 - seq0) / wall, 1) if wall else 0.0,
        domain_ceiling_per_second=round(ceiling.per_second, 1),
        domain_ceiling_requests=ceiling.requests,
        ratio_to_ceiling=round(per_second / ceiling.per_second, 3) if ceiling.per_second else 0.0,
        p50_first_offer_ms=p50 and round(p50, 1),
        p95_first_offer_ms=p95 and round(p95, 1),
        p99_first_offer_ms=p99 and round(p99, 1),
        p50_final_ms=_p50_final(run),
        watchdog_restarts=fleet.watchdog_restarts,
        other_restarts=fleet.other_restarts,
        kills=fleet.kills,
        peak_rss_mib={k: round(v, 1) for k, v in peaks.items()},
        rss_mib_over_time=fleet.series,
        worker_rss_growth_mib={k: growth(v) for k, v in fleet.series.items() if k.startswith("worker")},
        cpu_seconds={k: round(v, 1) for k, v in cpu.items()},
        db_statements_per_request=statements,
        db_transactions_per_request=transactions,
        db_by_process=by_process,
        answers=run.answers,
        published_twice=run.published_twice,
        republished_after_kill=run.republished_after_kill,
        invariants="hold" if not broken else broken[:50],
        notes=fleet.notes,
    )
    print_result(console, result)
    if json_path:
        json_path.write_text(result.to_json())
        console.print(f"written to {json_path}")
    return 0 if not broken else 1


def _p50_final(run: Run) -> float | None:
    p = percentile([(t - run.sent_at[r]) * 1000 for r, t in run.final_at.items()], 0.5)
    return p and round(p, 1)


def print_result(out: Console, r: LifecycleResult) -> None:
    table = Table(title=f"scale --lifecycle: {r.requests:,} requests, {r.workers} workers, {r.partitions} partitions")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        (
            "requests final",
            f"{r.decided:,} of {r.requests:,} ({', '.join(f'{k} {v:,}' for k, v in r.outcomes.items())})",
        ),
        ("wall time", f"{r.wall_seconds:,.1f} s"),
        ("requests per second", f"{r.requests_per_second:,.1f}"),
        ("events per second (outbox rows)", f"{r.events_per_second:,.0f}"),
        ("domain ceiling (offline runner, same requests)", f"{r.domain_ceiling_per_second:,.0f} requests/s"),
        ("ratio to the ceiling", f"{r.ratio_to_ceiling:.2f}"),
        ("first offer p50 / p95 / p99 ms", f"{r.p50_first_offer_ms} / {r.p95_first_offer_ms} / {r.p99_first_offer_ms}"),
        ("watchdog restarts / other restarts / kills", f"{r.watchdog_restarts} / {r.other_restarts} / {r.kills}"),
        ("peak RSS MiB", ", ".join(f"{k} {v:,.0f}" for k, v in r.peak_rss_mib.items())),
        (
            "worker RSS growth after a third of the run, MiB",
            ", ".join(f"{k} {v:+.0f}" for k, v in r.worker_rss_growth_mib.items()),
        ),
        ("CPU seconds", ", ".join(f"{k} {v:,.0f}" for k, v in r.cpu_seconds.items())),
        (
            "database statements / transactions per request",
            f"{r.db_statements_per_request} / {r.db_transactions_per_request}",
        ),
        *(
            (
                f"  {name}: statements / transactions (commits) / exec ms per request",
                f"{v['statements_per_request']} / {v['transactions_per_request']} ({v['commits_per_request']})"
                f" / {v['exec_ms_per_request']}",
            )
            for name, v in r.db_by_process.items()
        ),
        ("published twice (normal operation / after the kill)", f"{r.published_twice} / {r.republished_after_kill}"),
        ("load average at start / end", f"{r.load_average_start} / {r.load_average_end}"),
        ("invariants", "hold" if r.invariants == "hold" else f"[red]{len(r.invariants)} broken"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)
    if r.invariants != "hold":
        for line in r.invariants[:20]:
            out.print(f"[red]  {line}", highlight=False)
    for note in r.notes:
        out.print(f"  {note}", highlight=False)
