"""What the throughput and scale benches run on: a broker, a migrated
database, the careline topics and, when asked, the worker and timer service;
plus the watcher that sees each request's first decision on the broker.

The worker runs with ``CARELINE_OFFER_TIMEOUT_SECONDS=86400`` and a copy of
the routing policy whose ladder deadlines are a day (``bench_policy``):
nobody answers offers in a bench, and an offer timing out or a ladder step
passing would start a second round of dispatch that the bench does not mean
to measure (a long scale run would otherwise climb the ladder after 30
minutes). Everything else in the policy is as configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import resource
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from aiokafka import AIOKafkaConsumer, TopicPartition

from careline import brokers
from config import topics
from config.settings import Settings
from db.migrate import upgrade
from db.runs import DECIDED_WITHOUT_OFFER
from tools.replay.stack import worker_env

if TYPE_CHECKING:
    from tools.bench.fleet import Fleet

BENCH_ENV = {"CARELINE_OFFER_TIMEOUT_SECONDS": "86400", "CARELINE_LOG_LEVEL": "WARNING"}


@dataclass
class BenchStack:
    bootstrap: str
    database_url: str
    settings: Settings
    logs: Path
    broker_pid: int | None = None
    #: the timer service and the stream workers (``start_worker``), supervised by the bench
    fleet: Fleet | None = None
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def start_worker(self, name: str, count: int = 1) -> int:
        """Timer service and ``count`` stream workers as child processes (``tools.bench.fleet``,
        logging to ``<logs>/bench-<name>/``; stopped when the stack closes; the workers share the
        partitions as one consumer group); the first worker's pid."""
        from tools.bench.fleet import Fleet

        env = dict(
            worker_env(self.settings, self.bootstrap, self.database_url),
            **BENCH_ENV,
            CARELINE_POLICY_FILE=str(bench_policy(self.settings.policy_file, self.logs.parent / "bench")),
        )
        self.fleet = Fleet(env, self.logs / f"bench-{name}")
        self._stack.callback(self.fleet.stop)
        self.fleet.start(count)
        return self.worker_pids[0]

    @property
    def worker(self) -> subprocess.Popen | None:
        """The first stream worker's process (the one ``restart_worker`` restarts)."""
        return self.fleet.workers()[0].proc if self.fleet else None

    @property
    def worker_pid(self) -> int | None:
        return self.worker.pid if self.worker else None

    @property
    def worker_pids(self) -> list[int]:
        """Every running stream worker's pid, the first one first."""
        return [s.proc.pid for s in self.fleet.workers() if s.proc is not None] if self.fleet else []

    @property
    def restarts(self) -> int:
        return self.fleet.restarts if self.fleet else 0

    @property
    def retired_cpu_seconds(self) -> float:
        """CPU seconds of the first worker's processes that were restarted."""
        return self.fleet.retired_cpu.get("worker-1", 0.0) if self.fleet else 0.0

    @property
    def retired_peak_mib(self) -> float:
        """Peak memory (MiB) of the first worker's processes that were restarted."""
        if not self.fleet:
            return 0.0
        return max((mib for label, mib in self.fleet.peaks.items() if label.split(".")[0] == "worker-1"), default=0.0)

    def restart_worker(self) -> None:
        """Stop the first stream worker (SIGTERM, SIGKILL after 20 s) and start a new one
        (``Fleet.restart``; its log ``worker-1.r<n>.log``); its CPU seconds and peak memory so far
        are kept in ``retired_cpu_seconds`` and ``retired_peak_mib``."""
        assert self.fleet is not None
        self.fleet.restart(self.fleet.workers()[0])

    def worker_alive(self) -> bool:
        """Whether every stream worker still runs."""
        return self.fleet is not None and all(
            s.proc is not None and s.proc.poll() is None for s in self.fleet.workers()
        )


@contextlib.contextmanager
def bench_stack(broker: str | None, database_url: str, settings: Settings, name: str) -> Iterator[BenchStack]:
    """The embedded Tansu broker when ``broker`` is None, else the broker at that bootstrap address."""
    logs = settings.var_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as outer:
        pid = None
        if broker is None:
            tansu = outer.enter_context(brokers.start_tansu(log_path=logs / f"tansu-{name}.log"))
            broker, pid = tansu.bootstrap, tansu.proc.pid if tansu.proc else None
        else:
            brokers.wait_for_broker(broker, 60)
        upgrade(database_url)
        brokers.ensure_topics(broker, topics.resolved(settings.topic_partitions), drop_rejected_configs=pid is not None)
        stack = BenchStack(broker, database_url, settings, logs, broker_pid=pid)
        with stack._stack:
            yield stack


def bench_policy(policy_file: Path, folder: Path) -> Path:
    """A copy of ``policy_file`` with every ladder deadline above zero set to a day (86,400 s)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = re.sub(r"(?m)^(deadline_seconds\s*=\s*)[1-9]\d*", r"\g<1>86400", policy_file.read_text())
    out = folder / "policy-bench.toml"
    out.write_text(text)
    return out


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (0 when unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int | None) -> float | None:
    """Peak resident memory (VmHWM) of a live process in MiB; None when unknown."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def own_peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Watcher:
    """Reads dispatch.offers.v1, care.lifecycle.v1 and the dead-letter topics
    and notes, for every request the bench sent (``sent``: request id ->
    perf_counter at send), its first decision: ``offer`` (dispatch.offer.created),
    a final or held status (``failed`` …), or ``dead-letter``; time is when the
    record reached this process."""

    WATCHED = (topics.OFFERS, topics.LIFECYCLE, topics.INTAKE_DLQ, topics.DISPATCH_DLQ)

    def __init__(self, bootstrap: str, partitions: int) -> None:
        self.bootstrap, self.partitions = bootstrap, partitions
        self.sent: dict[str, float] = {}
        self.decided: dict[str, tuple[str, float]] = {}
        #: decisions the database held that the topics had not delivered (``reconcile``)
        self.database_only: set[str] = set()
        self.changed = asyncio.Event()
        self._probe: tuple[str, asyncio.Event] | None = None

    async def __aenter__(self) -> Watcher:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=100,
            max_partition_fetch_bytes=4 << 20,
        )
        await self.consumer.start()
        parts = [TopicPartition(t.name, p) for t in self.WATCHED for p in range(self.partitions)]
        self.consumer.assign(parts)
        await self.consumer.seek_to_end(*parts)
        for tp in parts:
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.consumer.stop()

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=50, max_records=5000)
            now = time.perf_counter()
            for tp, records in batches.items():
                for rec in records:
                    self._observe(tp.topic, rec.value, now)
            if batches:
                self.changed.set()

    def _observe(self, topic: str, raw: bytes, now: float) -> None:
        if topic == topics.OFFERS.name:
            if b'"dispatch.offer.created"' in raw:
                self._decide(json.loads(raw)["data"]["request_id"], "offer", now)
        elif topic == topics.LIFECYCLE.name:
            if b"careline.probe.answered" in raw and self._probe and self._probe[0].encode() in raw:
                self._probe[1].set()
            elif b'"care.request.status_changed"' in raw:
                data = json.loads(raw)["data"]
                if data.get("status") in DECIDED_WITHOUT_OFFER:
                    self._decide(data["request_id"], data["status"], now)
        else:
            value = json.loads(raw)
            record = value.get("record")
            record = json.loads(record) if isinstance(record, str) else (record or {})
            rid = record.get("request_id") or (record.get("data") or {}).get("request_id")
            if rid:
                self._decide(rid, "dead-letter", now)

    def _decide(self, rid: str, kind: str, now: float) -> None:
        if rid in self.sent and rid not in self.decided:
            self.decided[rid] = (kind, now)

    async def reconcile(self, database_url: str, ids: list[str]) -> list[str]:
        """Ask the database about ``ids`` still without a decision on the topics; those it
        has decided are counted as decided now (their latency is an upper bound) and noted
        in ``database_only``. Returns them. The worker acknowledged every record it
        published before marking it sent, so a decision found here and not on the topics
        was not delivered by the broker to this consumer (``lag`` says where it stands)."""
        from db import runs
        from db.session import session_factory

        waiting = [r for r in ids if r not in self.decided]
        if not waiting:
            return []

        def read() -> dict[str, str]:
            with session_factory(database_url)() as session:
                return runs.decisions_of(session, waiting)

        found = await asyncio.to_thread(read)
        now = time.perf_counter()
        for rid, kind in found.items():
            self._decide(rid, kind, now)
            self.database_only.add(rid)
        if found:
            self.changed.set()
        return list(found)

    async def lag(self) -> dict[str, int]:
        """``topic[partition]`` -> records between this consumer's position and the end,
        for the watched partitions that are behind."""
        parts = list(self.consumer.assignment())
        ends = await self.consumer.end_offsets(parts)
        behind = {}
        for tp in parts:
            gap = ends[tp] - await self.consumer.position(tp)
            if gap > 0:
                behind[f"{tp.topic}[{tp.partition}]"] = gap
        return behind

    async def wait_for_worker(self, producer, alive, timeout_s: float = 120.0) -> float:
        """Probe the intake topic until the worker answers; seconds waited."""
        probe, started = str(uuid.uuid4()), time.monotonic()
        self._probe = (probe, asyncio.Event())
        while time.monotonic() - started < timeout_s:
            if not alive():
                raise RuntimeError("the stream worker exited; see its log")
            await producer.send_and_wait(
                topics.INTAKE.name,
                key=probe.encode(),
                value=json.dumps({"type": "careline.probe", "id": probe}).encode(),
            )
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._probe[1].wait(), 5.0)
                return time.monotonic() - started
        raise TimeoutError(f"the stream worker did not answer within {timeout_s:.0f} s")

    async def wait_decided(self, ids: list[str], timeout_s: float, alive) -> int:
        """Wait until every id has a decision, or ``timeout_s`` passed, or the worker died; undecided count."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and alive():
            missing = sum(1 for r in ids if r not in self.decided)
            if not missing:
                return 0
            self.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 0.5)
        return sum(1 for r in ids if r not in self.decided)


def explain_undecided(console, database_url: str, ids: list[str], limit: int = 10) -> None:
    """Print, for up to ``limit`` of the requests the watcher saw no decision for, how far each
    came by the database (``db.runs.request_traces``) and where the worker log is."""
    from db import runs
    from db.session import session_factory

    if not ids:
        return
    with session_factory(database_url)() as session:
        traces = runs.request_traces(session, ids[:limit])
    console.print(
        f"[red]{len(ids)} request(s) without a decision seen on the topics[/red]"
        + (f" (first {limit})" if len(ids) > limit else "")
        + ":"
    )
    for rid, line in traces.items():
        console.print(f"  {rid}: {line}", markup=False, highlight=False)
