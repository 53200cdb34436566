"""``careline bench scale --lifecycle``: whole care requests through N workers, as fast as the
pipeline takes them, with the invariants checked at the end.

The driver plays the outside world with the seeded caregiver model
(``handlers.simulation.caregiver_model``): it sends intake records (at most ``in_flight``
requests not yet final), answers every ``dispatch.offer.created`` it reads (accept, decline, or
nothing: the offer times out through the timer service), checks the caregiver in when an
offer is accepted and out when the check-in is confirmed, and has the elder rate the visit
(``care.feedback.v1``) when it is completed. Nothing waits for simulated time: each answer goes
out as soon as what it answers was read, so the run measures the pipeline, not a clock (the
worker decides in event time capped by the wall clock, and the visits are tomorrow's).

Reported (``LifecycleResult``, also as JSON): requests final per second from the first send to
the last final state, events per second (every event a handler emitted, ``event_log`` rows),
latency from an intake's send to its first offer read back, the domain's own speed on the same
requests (``tools.bench.ceiling``, the offline runner, measured in the same run) and the ratio,
watchdog restarts, peak memory per process and each worker's memory over time, database
statements and transactions per request (``pg_stat_statements``), and the invariants
(``tools.faults.invariants``): every request final or with an operator and none lost, none
decided twice, no caregiver double-booked, the outbox drained and no outbox row published
twice. With ``kill_at`` a worker is killed (SIGKILL) once that share of the requests is final
and a fresh one started; a row the killed worker had published but not yet marked sent may
then be published again (its consumers drop it by id): such repeats are counted apart, and
only a row first published after the kill and published twice breaks the invariant.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console

from config import topics
from handlers.simulation.caregiver_model import CaregiverModel
from tools.bench.fleet import Fleet, Slot
from tools.bench.throughput import percentile

FINAL = frozenset({"completed", "failed", "cancelled", "rejected", "entered-in-error"})
ANSWERS = {
    "accept": "caregiver.offer.accepted",
    "decline": "caregiver.offer.declined",
    "check_in": "caregiver.visit.checked_in",
    "check_out": "caregiver.visit.checked_out",
}


@dataclass
class Run:
    """What the driver saw: per request (id -> area) when it was sent, its first offer and its
    final state; counts of what it sent back; duplicate outbox records."""

    area_of: dict[str, str] = field(default_factory=dict)
    sent_at: dict[str, float] = field(default_factory=dict)
    first_offer_at: dict[str, float] = field(default_factory=dict)
    final: dict[str, str] = field(default_factory=dict)
    final_at: dict[str, float] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=dict)
    records_read: int = 0
    #: hash of each careline event id read on the offer and lifecycle topics -> the broker
    #: timestamp (ms, producer's clock) of its first copy
    first_produced: dict[int, int] = field(default_factory=dict)
    killed: bool = False
    #: wall clock (ms) when the killed worker was dead
    killed_at_ms: float | None = None
    republished_after_kill: int = 0
    published_twice: int = 0
    dead_letters: int = 0


class Driver:
    """Sends intake records and plays caregivers and elders against a running pipeline."""

    def __init__(self, bootstrap: str, partitions: int, model: CaregiverModel, run: Run) -> None:
        self.bootstrap, self.partitions, self.model, self.run = bootstrap, partitions, model, run
        self.changed = asyncio.Event()

    async def __aenter__(self) -> Driver:
        self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
        await self.producer.start()
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=50,
            max_partition_fetch_bytes=4 << 20,
        )
        await self.consumer.start()
        watched = (topics.OFFERS, topics.LIFECYCLE, topics.INTAKE_DLQ, topics.DISPATCH_DLQ)
        parts = [TopicPartition(t.name, p) for t in watched for p in range(self.partitions)]
        self.consumer.assign(parts)
        await self.consumer.seek_to_end(*parts)
        for tp in parts:
            await self.consumer.position(tp)
        self._pending: list[asyncio.Future] = []
        self._probe: tuple[str, asyncio.Event] | None = None
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        await self.flush()
        await self.consumer.stop()
        await self.producer.stop()

    async def send(self, topic: str, key: str, value: dict) -> None:
        self._pending.append(await self.producer.send(topic, key=key.encode(), value=json.dumps(value).encode()))
        if len(self._pending) > 2000:
            await self.flush()

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)

    async def submit(self, area: str, record: dict) -> None:
        rid = record["request_id"]
        self.run.area_of[rid] = area
        self.run.sent_at[rid] = time.perf_counter()
        value = dict(record, submitted_at=datetime.now(UTC).isoformat())
        await self.send(topics.INTAKE.name, record["intake_id"], value)

    async def wait_for_worker(self, timeout_s: float = 180.0) -> float:
        """Probe the intake topic until a worker answers; seconds waited."""
        probe, started = str(uuid.uuid4()), time.monotonic()
        self._probe = (probe, asyncio.Event())
        while time.monotonic() - started < timeout_s:
            await self.send(topics.INTAKE.name, probe, {"type": "careline.probe", "id": probe})
            await self.flush()
            try:
                await asyncio.wait_for(self._probe[1].wait(), 5.0)
                return time.monotonic() - started
            except TimeoutError:
                continue
        raise TimeoutError(f"no worker answered within {timeout_s:.0f} s")

    async def _read(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=50, max_records=10000)
            now = time.perf_counter()
            for tp, records in batches.items():
                for rec in records:
                    await self._observe(tp.topic, rec.value, now, rec.timestamp)
            if batches:
                self.run.records_read += sum(len(r) for r in batches.values())
                self.changed.set()

    def _count_once(self, event_id: str, produced_ms: int) -> None:
        """Count a repeat of ``event_id``: apart (``republished_after_kill``) when its first copy
        was produced before the kill (the killed worker published it and died before marking it
        sent), else as published twice in normal operation. Judged by the broker's timestamps, not
        by when the driver read the copies: records in flight at the kill are read after it."""
        h = hash(event_id)
        run = self.run
        first = run.first_produced.get(h)
        if first is None:
            run.first_produced[h] = produced_ms
        elif run.killed_at_ms is not None and first <= run.killed_at_ms:
            run.republished_after_kill += 1
        else:
            run.published_twice += 1

    async def _observe(self, topic: str, raw: bytes, now: float, produced_ms: int = 0) -> None:
        run = self.run
        if topic in (topics.INTAKE_DLQ.name, topics.DISPATCH_DLQ.name):
            value = json.loads(raw)
            record = value.get("record")
            record = json.loads(record) if isinstance(record, str) else (record or {})
            rid = record.get("request_id") or (record.get("data") or {}).get("request_id")
            if rid in run.sent_at:
                run.dead_letters += 1
                if topic == topics.INTAKE_DLQ.name and rid not in run.final:
                    run.final[rid], run.final_at[rid] = "dead-letter", now
            return
        value = json.loads(raw)
        etype = value.get("type")
        if etype == "careline.probe.answered":
            if self._probe and value.get("id") == self._probe[0]:
                self._probe[1].set()
            return
        if value.get("source") == "careline":
            self._count_once(value["id"], produced_ms)
        data = value.get("data") or {}
        rid = data.get("request_id")
        if rid not in run.sent_at:
            return
        if etype == "dispatch.offer.created":
            run.first_offer_at.setdefault(rid, now)
            answer, _ = self.model.answer(data["offer_id"])
            if answer != "ignore":
                await self._answer(answer, rid, data["caregiver_id"], data["offer_id"])
        elif etype == "dispatch.offer.accepted":
            await self._answer("check_in", rid, data["caregiver_id"], data["offer_id"])
        elif etype == "care.visit.checked_in":
            await self._answer("check_out", rid, data["caregiver_id"], "")
        elif etype == "care.visit.completed":
            stars, complaint = self.model.feedback(rid, 0.0)
            if stars is not None or complaint:
                await self._feedback(rid, stars, complaint)
        elif etype == "care.request.status_changed" and data.get("status") in FINAL and rid not in run.final:
            run.final[rid], run.final_at[rid] = data["status"], now

    async def _answer(self, kind: str, rid: str, caregiver: str, offer: str) -> None:
        area = self.run.area_of[rid]
        self.run.answers[kind] = self.run.answers.get(kind, 0) + 1
        await self.send(
            topics.CAREGIVER_EVENTS.name,
            area,
            {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "source": "careline/bench",
                "type": ANSWERS[kind],
                "subject": rid,
                "time": datetime.now(UTC).isoformat(),
                "schema_version": 1,
                "data": {"request_id": rid, "caregiver_id": caregiver, "offer_id": offer, "service_area": area},
            },
        )

    async def _feedback(self, rid: str, stars: int | None, complaint: bool) -> None:
        self.run.answers["feedback"] = self.run.answers.get("feedback", 0) + 1
        await self.send(
            topics.FEEDBACK.name,
            rid,
            {
                "specversion": "1.0",
                "id": f"{rid}.callback",
                "source": "careline/bench",
                "type": "care.feedback.submitted",
                "subject": rid,
                "time": datetime.now(UTC).isoformat(),
                "schema_version": 1,
                "data": {"request_id": rid, "stars": stars, "complaint": "late" if complaint else None},
            },
        )


@dataclass
class LifecycleResult:
    """The JSON of ``careline bench scale --lifecycle`` (times in seconds, memory in MiB)."""

    command: str
    machine: str
    load_average_start: float
    load_average_end: float
    broker: str
    database: str
    workers: int
    partitions: int
    requests: int
    decided: int
    outcomes: dict[str, int]
    wall_seconds: float
    requests_per_second: float
    events_per_second: float
    domain_ceiling_per_second: float
    domain_ceiling_requests: int
    ratio_to_ceiling: float
    p50_first_offer_ms: float | None
    p95_first_offer_ms: float | None
    p99_first_offer_ms: float | None
    p50_final_ms: float | None
    watchdog_restarts: int
    other_restarts: int
    kills: int
    peak_rss_mib: dict[str, float]
    rss_mib_over_time: dict[str, list[tuple[float, float]]]
    worker_rss_growth_mib: dict[str, float]
    cpu_seconds: dict[str, float]
    db_statements_per_request: float | None
    db_transactions_per_request: float | None
    #: per process (``worker_1``, ``scheduler``, ``postgres``: the bench itself), from its own
    #: database role: statements, transactions and database time per request, top statements
    db_by_process: dict[str, dict]
    answers: dict[str, int]
    published_twice: int
    republished_after_kill: int
    invariants: str | list[str]
    notes: list[str]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


def first_offer_percentiles(run: Run) -> tuple[float | None, float | None, float | None]:
    lat = [(t - run.sent_at[r]) * 1000 for r, t in run.first_offer_at.items()]
    return percentile(lat, 0.5), percentile(lat, 0.95), percentile(lat, 0.99)


def growth(series: list[tuple[float, float]]) -> float:
    """RSS at the end minus RSS at a third of the run (MiB): a worker whose memory is flat
    after warm-up shows a few MiB at most."""
    if len(series) < 3:
        return 0.0
    return round(series[-1][1] - series[len(series) // 3][1], 1)


async def drive(
    driver: Driver,
    records,
    requests: int,
    in_flight: int,
    fleet: Fleet,
    kill_at: float | None,
    stall_seconds: float,
    console: Console,
    rebalance: bool = False,
) -> float:
    """Send every request and wait until each is final (or nothing moved for
    ``stall_seconds``); returns perf_counter at the first send. With ``rebalance`` one more
    worker joins when 40 % of the requests are final and leaves (SIGTERM) at 70 %: the
    partitions move to it and back under load."""
    run = driver.run
    joined: Slot | None = None
    left = False
    sent, started, last_final, seen = 0, time.perf_counter(), time.monotonic(), 0
    next_sample = next_line = 0.0
    while len(run.final) < requests:
        while sent < requests and sent - len(run.final) < in_flight:
            area, record = next(records)
            await driver.submit(area, record)
            sent += 1
        await driver.flush()
        driver.changed.clear()
        try:
            await asyncio.wait_for(driver.changed.wait(), 0.2)
        except TimeoutError:
            pass
        if len(run.final) != seen:
            seen, last_final = len(run.final), time.monotonic()
        elapsed = time.perf_counter() - started
        fleet.supervise()
        if elapsed >= next_sample:
            fleet.sample()
            next_sample = elapsed + 5.0
        if kill_at is not None and not run.killed and seen >= kill_at * requests:
            run.killed = True
            slot = fleet.workers()[0]
            pid = fleet.kill(slot)
            run.killed_at_ms = time.time() * 1000
            fleet.notes.append(f"{slot.name} (pid {pid}) killed with SIGKILL at {seen:,} final ({elapsed:.0f} s)")
            console.print(f"[yellow]killed {slot.name} (SIGKILL) at {seen:,} requests final; a fresh one starts")
        if rebalance and joined is None and seen >= 0.4 * requests:
            joined = fleet.add_worker()
            fleet.notes.append(f"{joined.name} joined at {seen:,} final ({elapsed:.0f} s)")
            console.print(f"[yellow]{joined.name} joins at {seen:,} requests final: the partitions rebalance")
        if rebalance and joined is not None and not left and seen >= 0.7 * requests:
            left = True
            fleet.retire(joined)
            fleet.notes.append(f"{joined.name} left (SIGTERM) at {seen:,} final ({elapsed:.0f} s)")
            console.print(f"[yellow]{joined.name} leaves at {seen:,} requests final: the partitions rebalance back")
        if elapsed >= next_line:
            console.print(
                f"lifecycle: {seen:,} of {requests:,} final · sent {sent:,} · {seen / max(elapsed, 1e-9):,.0f}/s · "
                f"{elapsed:,.0f} s",
                highlight=False,
            )
            next_line = elapsed + 10.0
        if time.monotonic() - last_final > stall_seconds:
            console.print(f"[red]no request became final for {stall_seconds:g} s: stopping")
            break
    fleet.sample()
    return started
