"""``careline bench throughput``: the Python ceiling on a broker beside the
careline pipeline on the same broker and the same intake records.

(a) The raw loop: N intake records are produced to a fresh topic, then one
aiokafka consumer reads them, wraps each in the validated CloudEvents envelope
(JSON decode, build, encode: what ``validate_intake_record`` does without the
database) and produces it to a second topic; events per second from the first
record read to the last one acknowledged. No consumer group, no commits.

(c) The Faust loop (``tools.bench.faust_loop``): the same records, the same transform, as
one Faust agent in a child process with careline's consumer settings, batches and
acknowledgements, and nothing of careline's own: what Faust costs on top of (a), and what
careline's agents cost on top of it, each measured in the same run.

(b) The pipeline: the real worker and timer service, intake records sent at
fixed offered rates (requests per second, open loop) for ``seconds`` each,
and for every request the time from its send to its first decision read back
from the broker (``bench_stack.Watcher``). Loads go up until one saturates:
achieved < 90 % of offered, p95 over the bound, or requests left undecided
after the drain time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from careline import brokers
from config import topics
from db import runs
from tools.bench.stack import BenchStack, Watcher, cpu_seconds, explain_undecided
from tools.replay.stack import module_process

if TYPE_CHECKING:
    from config.settings import Settings
    from handlers.datasets.uhhc import Instance
    from tools.bench.workload import Workload

SATURATED_SHARE = 0.9
OUR_PACKAGES = ("streams/", "db/", "handlers/", "careline/", "config/")


@dataclass(frozen=True)
class RawResult:
    messages: int
    produce_per_second: float
    loop_per_second: float
    #: the bench process's CPU per record from the first record read to the last acknowledged
    cpu_ms_per_record: float = 0.0


@dataclass(frozen=True)
class FaustResult:
    """The Faust loop: records, events per second from the first record read to the last
    acknowledged, and the CPU it spent per record (ms, the agent's process)."""

    messages: int
    loop_per_second: float
    cpu_ms_per_record: float


@dataclass(frozen=True)
class LoadRow:
    """One offered load: requests per second offered and actually sent, how
    the sent requests were first decided, throughput, latency (ms),
    the workers' CPU (shares of one core, summed) and outbox rows written per request."""

    offered: float
    sent_per_second: float
    sent: int
    offers: int
    final: int
    dead: int
    undecided: int
    achieved: float
    p50: float | None
    p95: float | None
    p99: float | None
    worker_cpu: float
    rows_per_request: float
    saturated: bool
    #: decided in the database but never delivered to the bench by the broker (``Watcher.reconcile``)
    database_only: int = 0


def fresh(record: dict) -> dict:
    return dict(record, submitted_at=datetime.now(UTC).isoformat())


def validated(value: dict) -> dict:
    """The envelope ``streams.steps.validate_intake_record`` builds, without the database."""
    rid = value["request_id"]
    return {
        "specversion": "1.0",
        "id": f"validated:{rid}",
        "source": "careline/bench",
        "schema_version": 1,
        "type": "care.request.validated",
        "subject": rid,
        "time": value["submitted_at"],
        "data": value,
    }


async def raw_loop(bootstrap: str, records: Iterator[tuple[str, dict]], n: int, partitions: int, run: str) -> RawResult:
    """Produce ``n`` records, then consume → transform → produce them; rates in events per second."""
    src, dst = f"bench.raw.{run}.in", f"bench.raw.{run}.out"
    await asyncio.to_thread(
        brokers.ensure_topics,
        bootstrap,
        [topics.ResolvedTopic(src, partitions, {}), topics.ResolvedTopic(dst, partitions, {})],
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100, max_partition_fetch_bytes=4 << 20
    )
    await producer.start()
    await consumer.start()
    try:
        started, pending = time.perf_counter(), []
        for _ in range(n):
            area, rec = next(records)
            pending.append(await producer.send(src, key=area.encode(), value=json.dumps(fresh(rec)).encode()))
        await asyncio.gather(*pending)
        produce = n / (time.perf_counter() - started)
        parts = [TopicPartition(src, p) for p in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        done, pending, first, cpu = 0, [], None, 0.0
        while done < n:
            for _tp, batch in (await consumer.getmany(timeout_ms=100, max_records=2000)).items():
                if first is None:
                    first, cpu = time.perf_counter(), time.process_time()
                for rec in batch:
                    out = json.dumps(validated(json.loads(rec.value))).encode()
                    pending.append(await producer.send(dst, key=rec.key, value=out))
                done += len(batch)
            if len(pending) > 5000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
        return RawResult(
            n, produce, n / (time.perf_counter() - (first or started)), 1000 * (time.process_time() - cpu) / n
        )
    finally:
        await consumer.stop()
        await producer.stop()


def faust_loop(bootstrap: str, run: str, n: int, partitions: int, logs: Path, timeout: float = 300.0) -> FaustResult:
    """Run (c) over the records ``raw_loop`` left on its input topic; raises ``RuntimeError``
    when the loop does not finish within ``timeout`` seconds (its log is named)."""
    src, dst = f"bench.raw.{run}.in", f"bench.faust.{run}.out"
    brokers.ensure_topics(bootstrap, [topics.ResolvedTopic(dst, partitions, {})])
    out, log = logs / f"faust-loop-{run}.json", logs / f"faust-loop-{run}.log"
    env = dict(
        os.environ,
        BENCH_FAUST_BROKER=bootstrap,
        BENCH_FAUST_SRC=src,
        BENCH_FAUST_DST=dst,
        BENCH_FAUST_RECORDS=str(n),
        BENCH_FAUST_OUT=str(out),
    )
    with module_process("tools.bench.faust_loop", env, log) as proc:
        deadline = time.monotonic() + timeout
        while not out.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Faust loop did not finish: see {log}")
            time.sleep(0.2)
        result = json.loads(out.read_text())  # renamed into place whole (tools.bench.faust_loop)
    return FaustResult(result["records"], result["records"] / result["seconds"], 1000 * result["cpu_seconds"] / n)


def outbox_rows(database_url: str) -> int:
    """How many outbox rows the database has written so far (its last sequence number)."""
    return runs.outbox_last_seq(database_url)


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values`` by the nearest-rank method; ``None`` for none."""
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def workers_cpu(stack: BenchStack) -> float:
    """CPU seconds of every stream worker so far."""
    return sum(cpu_seconds(pid) for pid in stack.worker_pids)


async def one_load(
    stack: BenchStack,
    producer: AIOKafkaProducer,
    watcher: Watcher,
    records: Iterator[tuple[str, dict]],
    rate: float,
    seconds: float,
    p95_bound: float,
    drain: float,
    bar: Progress,
) -> LoadRow:
    """Offer ``rate`` requests per second for ``seconds``, open loop, then wait up
    to ``drain`` seconds for their decisions."""
    n = max(1, round(rate * seconds))
    task = bar.add_task(f"{rate:g} req/s", total=n)
    ids: list[str] = []
    cpu0, rows0 = workers_cpu(stack), await asyncio.to_thread(outbox_rows, stack.database_url)
    t0 = time.perf_counter()
    while len(ids) < n:
        due = min(n, int((time.perf_counter() - t0) * rate) + 1)
        while len(ids) < due:
            area, rec = next(records)
            rid = rec["request_id"]
            watcher.sent[rid] = time.perf_counter()
            await producer.send(
                topics.INTAKE.name, key=rec["intake_id"].encode(), value=json.dumps(fresh(rec)).encode()
            )
            ids.append(rid)
        bar.update(task, completed=sum(1 for r in ids if r in watcher.decided))
        await asyncio.sleep(0.002)
    await producer.flush()
    sent_for = time.perf_counter() - t0
    undecided = await watcher.wait_decided(ids, drain, stack.worker_alive)
    database_only = await watcher.reconcile(stack.database_url, ids) if undecided else []
    if database_only:
        bar.console.print(
            f"[yellow]{len(database_only)} decision(s) in the database not seen on the topics after "
            f"{drain:g} s; watcher behind on {await watcher.lag() or 'no partition'}"
        )
        undecided -= len(database_only)
    if undecided:
        await asyncio.to_thread(
            explain_undecided, bar.console, stack.database_url, [r for r in ids if r not in watcher.decided]
        )
    bar.update(task, completed=n - undecided)
    wall = time.perf_counter() - t0
    cpu = workers_cpu(stack) - cpu0
    rows = await asyncio.to_thread(outbox_rows, stack.database_url) - rows0
    decided = [watcher.decided[r] for r in ids if r in watcher.decided]
    latencies = [(watcher.decided[r][1] - watcher.sent[r]) * 1000 for r in ids if r in watcher.decided]
    kinds = [k for k, _ in decided]
    times = sorted(t for _, t in decided)
    achieved = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
    p95 = percentile(latencies, 0.95)
    saturated = bool(undecided) or achieved < SATURATED_SHARE * rate or (p95 or 0) > p95_bound * 1000
    return LoadRow(
        rate,
        n / sent_for,
        n,
        kinds.count("offer"),
        sum(k not in ("offer", "dead-letter") for k in kinds),
        kinds.count("dead-letter"),
        undecided,
        achieved,
        percentile(latencies, 0.5),
        p95,
        percentile(latencies, 0.99),
        cpu / wall,
        rows / n,
        saturated,
        len(database_only),
    )


async def pipeline_loads(
    stack: BenchStack,
    records: Iterator[tuple[str, dict]],
    loads: list[float],
    seconds: float,
    p95_bound: float,
    drain: float,
    console: Console,
) -> list[LoadRow]:
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    await producer.start()
    rows: list[LoadRow] = []
    try:
        async with Watcher(stack.bootstrap, stack.settings.topic_partitions) as watcher:
            waited = await watcher.wait_for_worker(producer, stack.worker_alive)
            console.print(f"worker answered after {waited:.1f} s")
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} decided"),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console, transient=True) as bar:
                for rate in loads:
                    row = await one_load(stack, producer, watcher, records, rate, seconds, p95_bound, drain, bar)
                    rows.append(row)
                    console.print(
                        f"{rate:g} req/s offered: achieved {row.achieved:.1f}/s, p95 "
                        f"{as_ms(row.p95)} ms, undecided {row.undecided}"
                        + (" [bold]saturated" if row.saturated else "")
                    )
                    if row.saturated or not stack.worker_alive():
                        break
    finally:
        await producer.stop()
    return rows


def as_ms(x: float | None) -> str:
    """Milliseconds for a table cell (``—`` when unmeasured)."""
    return "—" if x is None else f"{x:,.0f}"


def peak(rows: list[LoadRow]) -> float:
    """The pipeline's best sustained rate: the highest achieved rate (requests per second)."""
    return max((r.achieved for r in rows), default=0.0)


def print_table(
    console: Console,
    raw: RawResult | None,
    rows: list[LoadRow],
    instance: str,
    p95_bound: float,
    faust: FaustResult | None = None,
) -> None:
    table = Table(
        title="careline pipeline: intake → first decision, per offered load",
        caption=(
            f"first decision: the first dispatch.offer.created of the request, or a final state without an offer "
            f"(failed: no eligible caregiver, to the operator queue), or a dead letter; latency from the driver's send "
            f"to its read of that record. Requests: copies of {instance} (one service area per day of requests), "
            f"visits the day after tomorrow, nobody answers offers. Saturated: achieved < {SATURATED_SHARE:.0%} of offered, p95 > "
            f"{p95_bound:g} s, or undecided after the drain."
        ),
    )
    for col in (
        "offered req/s",
        "sent req/s",
        "requests",
        "first offer",
        "failed/held",
        "dead letter",
        "undecided",
        "achieved req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "workers' CPU",
        "workers' CPU ms/req",
        "rows/request",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            f"{r.offered:g}",
            f"{r.sent_per_second:.0f}",
            str(r.sent),
            str(r.offers),
            str(r.final),
            str(r.dead),
            ("[red]" if r.undecided else "") + str(r.undecided),
            ("[red]" if r.saturated else "") + f"{r.achieved:.1f}",
            as_ms(r.p50),
            as_ms(r.p95),
            as_ms(r.p99),
            f"{r.worker_cpu:.0%}",
            f"{1000 * r.worker_cpu / r.achieved:.1f}" if r.achieved else "—",
            f"{r.rows_per_request:.1f}",
        )
    console.print(table)
    if raw is not None:
        console.print(
            f"raw aiokafka loop: {raw.messages:,} records, produce {raw.produce_per_second:,.0f}/s, "
            f"consume → transform → produce {raw.loop_per_second:,.0f} events/s, "
            f"{raw.cpu_ms_per_record:.3f} ms of CPU per record"
        )
        best = peak(rows)
        console.print(
            f"careline pipeline: {best:,.1f} requests/s at best "
            f"(≈ {best * (rows[-1].rows_per_request if rows else 0):,.0f} outbox events/s); "
            f"ratio pipeline / raw = {best / raw.loop_per_second:.4f} "
            f"(1 : {raw.loop_per_second / max(best, 1e-9):,.0f})"
        )
    if faust is not None:
        console.print(
            f"Faust loop (same records and transform, careline's consumer settings and batches): "
            f"{faust.loop_per_second:,.0f} events/s, {faust.cpu_ms_per_record:.3f} ms of CPU per record"
            + (f"; ratio Faust / raw = {faust.loop_per_second / raw.loop_per_second:.2f}" if raw else "")
        )


def command_line() -> str:
    if sys.argv and Path(sys.argv[0]).name == "careline":
        return shlex.join(["careline", *sys.argv[1:]])
    return f"python {shlex.join(sys.argv)}"


def machine() -> str:
    """nproc, CPU model, memory, Python, and the 1-minute load average now."""
    cpus = len(os.sched_getaffinity(0))
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    mem = (
        next(
            (
                int(line.split()[1])
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            ),
            0,
        )
        / 1024
        / 1024
    )
    return (
        f"nproc {cpus} · {model} · {mem:.0f} GiB · Python {platform.python_version()} · "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )


def default_database(var_dir: Path, name: str) -> str:
    folder = var_dir / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / f'{name}-{datetime.now(UTC):%Y%m%dT%H%M%S}.db'}"


@dataclass
class Loaded:
    """What ``loaded_stack`` prepared: the console, settings and database, the run id (request
    ids start with it), the UHHC day and its copies, the stack (worker not started) and how
    long loading the register and rosters took (seconds)."""

    out: Console
    settings: Settings
    database_url: str
    run: str
    instance: Instance
    workload: Workload
    stack: BenchStack
    load_seconds: float


@contextlib.contextmanager
def loaded_stack(
    kind: str, instance_path: Path, requests: int, broker: str | None, database_url: str | None
) -> Iterator[Loaded]:
    """How ``bench throughput`` and ``bench scale`` start: the command line and the machine
    printed; ``requests`` requests built from copies of the UHHC day at ``instance_path`` (one
    service area per copy); a broker and database (``bench_stack``; a new SQLite file named
    after ``kind`` unless ``database_url``) with the register and rosters loaded."""
    from config.settings import get_settings
    from db.session import session_factory
    from handlers.datasets.uhhc import load_instance
    from tools.bench.stack import bench_stack
    from tools.bench.workload import build_workload, load_workload

    probe = Console()
    out = probe if probe.is_terminal else Console(width=150)
    settings = get_settings()
    database_url = database_url or default_database(settings.var_dir, kind)
    run = f"b{kind[0]}{datetime.now(UTC):%H%M%S}"
    instance = load_instance(instance_path.read_bytes(), name=instance_path.stem)
    workload = build_workload(instance, requests, run)
    out.print(f"$ {command_line()}", soft_wrap=True, highlight=False)
    out.print(f"machine: {machine()}", soft_wrap=True)
    with bench_stack(broker, database_url, settings, run) as stack:
        out.print(
            f"broker {'Tansu (embedded, memory)' if stack.broker_pid else stack.bootstrap} · database "
            f"{database_url.split('@')[-1]} · {len(workload.days):,} areas × {workload.per_area} requests of "
            f"{instance.name}, {len(instance.roster)} caregivers each",
            soft_wrap=True,
        )
        started = time.perf_counter()
        load_workload(session_factory(database_url), workload)
        load_seconds = time.perf_counter() - started
        out.print(f"register and rosters of {len(workload.days):,} areas loaded in {load_seconds:.1f} s")
        yield Loaded(out, settings, database_url, run, instance, workload, stack, load_seconds)


def main(
    broker: str | None,
    database_url: str | None,
    loads: list[float],
    seconds: float,
    messages: int,
    instance_path: Path,
    p95_bound: float,
    drain: float,
    profile: Path | None,
    json_path: Path | None = None,
    workers: int = 1,
) -> int:
    """Run (a) and (b) and print the table; exit 0 when the pipeline decided every
    request it was sent below saturation, 1 when the worker died or nothing ran."""
    from tools.bench.profile import Sampler

    total = max(messages, int(sum(r * seconds for r in loads)) + 1)
    with loaded_stack("throughput", instance_path, total, broker, database_url) as ld:
        out, settings, run, workload, instance, stack = ld.out, ld.settings, ld.run, ld.workload, ld.instance, ld.stack
        raw = (
            asyncio.run(raw_loop(stack.bootstrap, workload.records(), messages, settings.topic_partitions, run))
            if messages
            else None
        )
        if raw:
            out.print(f"raw loop: {raw.loop_per_second:,.0f} events/s")
        faust = (
            faust_loop(stack.bootstrap, run, messages, settings.topic_partitions, settings.var_dir / "logs")
            if messages
            else None
        )
        if faust:
            out.print(f"Faust loop: {faust.loop_per_second:,.0f} events/s, {faust.cpu_ms_per_record:.3f} ms CPU/record")
        worker_pid = stack.start_worker(run, workers)
        sampling = Sampler(worker_pid, profile / f"worker-{run}.txt") if profile else None
        if sampling:
            sampling.__enter__()
        try:
            rows = asyncio.run(pipeline_loads(stack, workload.records(), loads, seconds, p95_bound, drain, out))
        finally:
            if sampling:
                sampling.__exit__(None, None, None)
        alive = stack.worker_alive()
    print_table(out, raw, rows, instance.name, p95_bound, faust)
    if json_path:
        json_path.write_text(
            json.dumps(
                {
                    "command": command_line(),
                    "machine": machine(),
                    "instance": instance.name,
                    "workers": workers,
                    "raw": raw and asdict(raw),
                    "faust": faust and asdict(faust),
                    "loads": [asdict(r) for r in rows],
                },
                indent=1,
            )
        )
    if sampling and sampling.out.exists():
        print_profile(out, sampling.out)
    return 0 if rows and alive and all(r.undecided == 0 for r in rows if not r.saturated) else 1


def print_profile(out: Console, collapsed: Path, top: int = 15) -> None:
    """The worker's top functions by self and inclusive share of the samples."""
    from tools.bench.profile import by_step, summarise

    total, own, incl = summarise(collapsed, 500)
    own = own[:top]
    incl = [(f, v) for f, v in incl if f.split(" (")[-1].startswith(OUR_PACKAGES)][:top]
    table = Table(title=f"worker profile: {total:,} samples of busy threads (py-spy, {collapsed})")
    table.add_column("self %", justify="right")
    table.add_column("function (self)")
    table.add_column("inclusive %", justify="right")
    table.add_column("careline function (inclusive)")
    for i in range(max(len(own), len(incl))):
        f1, s1 = own[i] if i < len(own) else ("", None)
        f2, s2 = incl[i] if i < len(incl) else ("", None)
        table.add_row("" if s1 is None else f"{s1:.1%}", f1, "" if s2 is None else f"{s2:.1%}", f2)
    out.print(table)
    busy, steps = by_step(collapsed)
    out.print(
        f"worker busy samples by step ({busy:,}): " + "; ".join(f"{name} {share:.0%}" for name, share in steps),
        soft_wrap=True,
    )
