"""``careline bench scale``: many requests through the pipeline as fast as it takes them.

The driver keeps at most ``in_flight`` requests sent but not yet decided
(first offer, final state or dead letter, as in ``careline bench
throughput``), so the broker never holds an unbounded backlog: backpressure
is the pipeline's own pace. Reported: wall time from the first send to the
last decision, requests and outbox events per second, latency percentiles
(which include the wait behind up to ``in_flight`` others), peak resident
memory of the worker, the broker (embedded Tansu only) and this driver, and,
with ``--profile``, the worker's hottest functions (py-spy).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from config import topics
from streams.watchdog import EXIT_STALLED
from tools.bench.stack import BenchStack, Watcher, cpu_seconds, explain_undecided, own_peak_rss_mib, peak_rss_mib
from tools.bench.throughput import as_ms, fresh, outbox_rows, percentile

MAX_RESTARTS = 30

#: seconds without a decision on the topics before the database is asked (``Watcher.reconcile``)
RECONCILE_AFTER_S = 30.0
#: and at most this often while nothing changes
RECONCILE_EVERY_S = 10.0

#: seconds between progress lines when the console is not a terminal (a log file)
PLAIN_PROGRESS_EVERY_S = 60.0


@dataclass(frozen=True)
class ScaleResult:
    requests: int
    decided: int
    kinds: dict[str, int]
    wall_seconds: float
    outbox_rows: int
    worker_cpu_seconds: float
    latencies_ms: tuple[float | None, float | None, float | None]
    worker_peak_mib: float | None
    broker_peak_mib: float | None
    driver_peak_mib: float
    restarts: int = 0
    #: decided in the database but never delivered to the bench by the broker
    database_only: int = 0

    @property
    def per_second(self) -> float:
        return self.decided / self.wall_seconds if self.wall_seconds else 0.0


async def drive(
    stack: BenchStack,
    records,
    requests: int,
    in_flight: int,
    stall_seconds: float,
    console: Console,
    restart_after: float = 0.0,
) -> ScaleResult:
    """Send and watch until every request is decided; ``restart_after`` > 0: restart
    a worker that decided nothing for that many seconds while requests were in
    flight (counted in ``ScaleResult.restarts``); give up after ``stall_seconds``."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        async with Watcher(stack.bootstrap, stack.settings.topic_partitions) as watcher:
            console.print(f"worker answered after {await watcher.wait_for_worker(producer, stack.worker_alive):.1f} s")
            rows0, cpu0 = await asyncio.to_thread(outbox_rows, stack.database_url), cpu_seconds(stack.worker_pid)
            columns = (
                TextColumn("scale"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("decided · {task.fields[rate]}"),
                TextColumn("· worker {task.fields[rss]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            sent, started, last_change, seen = 0, time.perf_counter(), time.monotonic(), 0
            next_line, next_reconcile = PLAIN_PROGRESS_EVERY_S, 0.0
            with Progress(*columns, console=console, refresh_per_second=2) as bar:
                task = bar.add_task("scale", total=requests, rate="—", rss="—")
                while len(watcher.decided) < requests:
                    while sent < requests and sent - len(watcher.decided) < in_flight:
                        area, rec = next(records)
                        watcher.sent[rec["request_id"]] = time.perf_counter()
                        await producer.send(
                            topics.INTAKE.name, key=rec["intake_id"].encode(), value=json.dumps(fresh(rec)).encode()
                        )
                        sent += 1
                    watcher.changed.clear()
                    try:
                        await asyncio.wait_for(watcher.changed.wait(), 0.5)
                    except TimeoutError:
                        pass
                    if len(watcher.decided) != seen:
                        seen, last_change = len(watcher.decided), time.monotonic()
                    elapsed = time.perf_counter() - started
                    bar.update(
                        task, completed=seen, rate=f"{seen / elapsed:,.1f}/s", rss=f"{_rss_now(stack.worker_pid)} MiB"
                    )
                    if not console.is_terminal and elapsed >= next_line:  # a log file gets no bar: lines
                        console.print(
                            f"scale: {seen:,} of {requests:,} decided · {seen / elapsed:,.1f}/s · "
                            f"worker {_rss_now(stack.worker_pid)} MiB · {elapsed:,.0f} s"
                        )
                        next_line += PLAIN_PROGRESS_EVERY_S
                    quiet = time.monotonic() - last_change
                    if (
                        restart_after
                        and quiet > restart_after
                        and stack.restarts < MAX_RESTARTS
                        and sent > len(watcher.decided)
                    ):
                        console.print(
                            f"[yellow]no decision for {quiet:.0f} s with {sent - len(watcher.decided)} "
                            f"requests in flight at {len(watcher.decided):,} decided: restarting the worker"
                        )
                        await asyncio.to_thread(stack.restart_worker)
                        last_change = time.monotonic()
                        continue
                    if (
                        not stack.worker_alive()
                        and stack.worker is not None
                        and stack.worker.returncode == EXIT_STALLED
                        and stack.restarts < MAX_RESTARTS
                    ):  # its watchdog found it stalled: a supervisor's job
                        console.print(
                            f"[yellow]the worker's watchdog found it stalled at {len(watcher.decided):,} "
                            "decided and exited: restarting it"
                        )
                        await asyncio.to_thread(stack.restart_worker)
                        last_change = time.monotonic()
                        continue
                    if (
                        quiet > min(RECONCILE_AFTER_S, stall_seconds / 2)
                        and sent > len(watcher.decided)
                        and time.monotonic() >= next_reconcile
                    ):
                        next_reconcile = time.monotonic() + RECONCILE_EVERY_S
                        found = await watcher.reconcile(stack.database_url, list(watcher.sent))
                        if found:
                            console.print(
                                f"[yellow]{len(found)} decision(s) in the database not seen on the topics "
                                f"after {quiet:.0f} s; watcher behind on {await watcher.lag() or 'no partition'}"
                            )
                            last_change = time.monotonic()
                            continue
                    if not stack.worker_alive() or quiet > stall_seconds:
                        console.print(
                            f"[red]stopped: {'worker exited' if not stack.worker_alive() else 'no decision for '}"
                            f"{'' if not stack.worker_alive() else f'{stall_seconds:g} s'}"
                        )
                        break
            decided = dict(watcher.decided)
            await asyncio.to_thread(
                explain_undecided, console, stack.database_url, [r for r in watcher.sent if r not in decided]
            )
            times = [t for _, t in decided.values()]
            wall = (max(times) - started) if times else time.perf_counter() - started
            latencies = [(t - watcher.sent[r]) * 1000 for r, (_, t) in decided.items()]
            kinds: dict[str, int] = {}
            for kind, _ in decided.values():
                kinds[kind] = kinds.get(kind, 0) + 1
            return ScaleResult(
                requests,
                len(decided),
                kinds,
                wall,
                await asyncio.to_thread(outbox_rows, stack.database_url) - rows0,
                cpu_seconds(stack.worker_pid) + stack.retired_cpu_seconds - cpu0,
                (percentile(latencies, 0.5), percentile(latencies, 0.95), percentile(latencies, 0.99)),
                max(peak_rss_mib(stack.worker_pid) or 0.0, stack.retired_peak_mib) or None,
                peak_rss_mib(stack.broker_pid),
                own_peak_rss_mib(),
                stack.restarts,
                len(watcher.database_only),
            )
    finally:
        await producer.stop()


def _rss_now(pid: int | None) -> str:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return f"{int(line.split()[1]) / 1024:,.0f}"
    except (OSError, TypeError):
        pass
    return "?"


def print_result(out: Console, r: ScaleResult, load_seconds: float, areas: int, instance: str) -> None:
    table = Table(
        title=f"scale: {r.requests:,} requests through the pipeline (intake → first decision)",
        caption=(
            f"{areas:,} service areas, copies of {instance}; register and rosters loaded in {load_seconds:.0f} s "
            "(not in the wall time). Latency includes the wait behind the other requests in flight."
        ),
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in (
        ("requests decided", f"{r.decided:,} of {r.requests:,}"),
        (
            "first offer / failed or held / dead letter",
            f"{r.kinds.get('offer', 0):,} / {sum(v for k, v in r.kinds.items() if k not in ('offer', 'dead-letter')):,}"
            f" / {r.kinds.get('dead-letter', 0):,}",
        ),
        ("wall time", f"{r.wall_seconds:,.0f} s ({r.wall_seconds / 60:.1f} min)"),
        ("requests per second", f"{r.per_second:,.1f}"),
        ("outbox events written per second", f"{r.outbox_rows / r.wall_seconds:,.0f}" if r.wall_seconds else "—"),
        ("worker CPU (share of one core)", f"{r.worker_cpu_seconds / r.wall_seconds:.0%}" if r.wall_seconds else "—"),
        ("latency p50 / p95 / p99 ms", " / ".join(as_ms(x) for x in r.latencies_ms)),
        ("worker restarts after a stall", str(r.restarts)),
        ("decisions seen in the database only", str(r.database_only)),
        ("peak RSS worker", f"{r.worker_peak_mib:,.0f} MiB" if r.worker_peak_mib else "—"),
        ("peak RSS broker (Tansu)", f"{r.broker_peak_mib:,.0f} MiB" if r.broker_peak_mib else "—"),
        ("peak RSS driver (this process)", f"{r.driver_peak_mib:,.0f} MiB"),
    ):
        table.add_row(name, value)
    out.print(table)


def main(
    broker: str | None,
    database_url: str | None,
    requests: int,
    in_flight: int,
    instance_path: Path,
    stall_seconds: float,
    profile: Path | None,
    restart_after: float = 0.0,
) -> int:
    """Exit 0 when every request was decided, 1 otherwise."""
    from tools.bench.profile import Sampler
    from tools.bench.throughput import loaded_stack, print_profile

    with loaded_stack("scale", instance_path, requests, broker, database_url) as ld:
        out, run, workload, instance, stack = ld.out, ld.run, ld.workload, ld.instance, ld.stack
        load_seconds = ld.load_seconds
        worker_pid = stack.start_worker(run)
        sampler = Sampler(worker_pid, profile / f"worker-{run}.txt", rate=50) if profile else None
        if sampler:
            sampler.__enter__()
        try:
            result = asyncio.run(
                drive(stack, workload.records(), requests, in_flight, stall_seconds, out, restart_after)
            )
        finally:
            if sampler:
                sampler.__exit__(None, None, None)
    print_result(out, result, load_seconds, len(workload.days), instance.name)
    if sampler and sampler.out.exists():
        print_profile(out, sampler.out, top=20)
    return 0 if result.decided == requests else 1
