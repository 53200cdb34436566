"""Live KPIs of providers and caregivers in event-time windows, and the provider
scores dispatch reads from them (the evaluation loop closes here).

- ``tally_events``: ``care.lifecycle.v1``, ``dispatch.offers.v1`` and
  ``care.feedback.v1`` -> ``kpi.tallies.v1``, one record per subject an event
  counts for (``handlers.evaluation.live_kpis.tallies``), keyed ``provider:<id>`` or
  ``caregiver:<id>`` on the partition ``partition_of(key)``. This is the
  repartition: a subject's counters live with the worker that holds its
  partition, and the source topics are keyed by request id. The tallies of a
  record are acknowledged by the broker before the agent takes the next one.
- ``window_tallies``: ``kpi.tallies.v1`` -> ``handlers.evaluation.live_kpis.Windows``:
  tumbling windows of ``kpi_step_minutes`` in event time (the CloudEvents
  ``time``, so a replay's simulated day windows like a real one), the last
  ``score_window_hours`` of them kept. A tally counts once, by its id
  (``<event id>|<subject key>``), however often it comes.
- Rebuilt from the stored records: before a worker counts anything for a
  partition of ``kpi.tallies.v1`` it was given (at start, after a crash, after
  a rebalance), it folds every event of the last day that careline put on its
  outbox (``db.live_kpis.stored_events``: each lifecycle, offer and feedback
  event it ever published) into that partition's subjects, with the same ids.
  Tallies then re-read or re-sent for those events are recognised and not
  counted again. A restarted worker so starts from what happened, never from
  nothing, and counts each event once: issue 13 found a restarted worker whose
  Faust table (recovered from its changelog) came back empty, and worker kills
  made the old table count events twice (``docs/NOTES.md``).
- ``publish_live_kpis`` (every ``score_interval_seconds``): the rolling window
  is the last ``score_window_hours`` (24 h), advancing every step: the sum of
  each subject's windows in it gives its ``Kpis``
  (``handlers.evaluation.live_kpis.kpis_from_counts``); a provider's composite score goes
  on the compacted ``provider.scores.v1`` when it changed, and every changed
  subject's KPIs into the ``live_kpis`` read model the dashboard shows. Only
  subjects of partitions this worker holds and has rebuilt are published, so
  dispatch never reads a score made from an empty window as a real one.

Windows in memory, not a changelogged table: the outbox already is the durable
log of every event folded here, and a tally per window per subject is cheap
to fold again. The rebuild reads a day of outbox rows (an index on
``created_at``); the bench's 100,000 requests a day are about 500,000 rows.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from aiokafka.partitioner import murmur2
from faust.types import TP, EventT, StreamT

from config import topics
from config.settings import get_settings
from db import live_kpis as stored
from handlers.evaluation.kpis import composite_score
from handlers.evaluation.live_kpis import Counts, Windows, kpis_from_counts, split_key, tallies
from streams import steps
from streams.app import app, topic
from streams.evaluation import scores_topic
from streams.runtime import ack_all, current, db_call, deliver, deliver_many, sessions, take_batches

log = logging.getLogger("careline.live_kpis")
settings = get_settings()  # module-level timing constants; the same cached settings the bootstrap reads
STEP_SECONDS = settings.kpi_step_minutes * 60.0
#: windows summed for the rolling window (24 h / 1 h: 24)
WINDOW_STEPS = max(1, math.ceil(settings.score_window_hours * 3600.0 / STEP_SECONDS))
SOURCES = (topics.LIFECYCLE.name, topics.OFFERS.name, topics.FEEDBACK.name)
#: outbox rows read by a rebuild: the rolling window in wall time, plus an hour (a replay's
#: simulated day passes faster than a wall day, so this holds its window too)
REBUILD_WALL = timedelta(hours=settings.score_window_hours + 1)

kpi_sources = app.topic(*SOURCES, key_type=None, value_type=None, key_serializer="raw", value_serializer="raw")
tallies_topic = topic(topics.KPI_TALLIES)
PARTITIONS = topics.KPI_TALLIES.partitions or settings.topic_partitions

windows = Windows(STEP_SECONDS, WINDOW_STEPS)
_dirty: set[str] = set()
_state: dict[str, float | None] = {"step": None}
_published: dict[str, float] = {}
#: partition of kpi.tallies.v1 -> (group generation, its rebuild); done: the subjects are counted
_rebuilds: dict[int, tuple[int, asyncio.Task]] = {}


def partition_of(key: str) -> int:
    """The partition of ``kpi.tallies.v1`` a subject key goes to (Kafka's default: murmur2)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % PARTITIONS


def _ts(at: str | datetime) -> float:
    return (datetime.fromisoformat(at) if isinstance(at, str) else at).timestamp()


@app.agent(kpi_sources)
async def tally_events(stream: StreamT) -> None:
    """Lifecycle, offer and feedback events -> ``kpi.tallies.v1``, a batch at a time: every
    tally of the batch is acknowledged by the broker before its events are. Records that are
    not JSON events were dead-lettered by the agents that own those topics."""
    on_time = current().configuration.evaluation.kpis.on_time_minutes
    async for events in take_batches(stream):
        records: list[tuple[bytes, dict]] = []
        for event in events:
            try:
                value = steps.decode(event.message.value or b"")
            except steps.DeadLetter:
                continue
            source = value.get("id") if isinstance(value.get("id"), str) else None
            records += [
                (
                    t.key.encode(),
                    {"id": f"{source}|{t.key}" if source else None, "counts": t.counts, "time": t.at.isoformat()},
                )
                for t in tallies(value, on_time)
            ]
        if records:
            await deliver_many(tallies_topic, records, lambda key: partition_of(key.decode()))
        await ack_all(stream, events)


def stored_tallies(partitions: frozenset[int], on_time: float) -> list[tuple[str, str | None, Counts, float]]:
    """(subject key, tally id, counts, event time) of every event careline stored on its outbox
    in the last ``REBUILD_WALL`` whose subject is on one of ``partitions``; runs in a thread."""
    out = []
    with sessions()() as session:
        for value in stored.stored_events(session, SOURCES, datetime.now(UTC) - REBUILD_WALL):
            source = value.get("id") if isinstance(value.get("id"), str) else None
            for t in tallies(value, on_time):
                if partition_of(t.key) in partitions:
                    out.append((t.key, f"{source}|{t.key}" if source else None, t.counts, t.at.timestamp()))
    return out


async def _rebuild(partitions: frozenset[int]) -> None:
    found = await db_call(stored_tallies, partitions, current().configuration.evaluation.kpis.on_time_minutes)
    for key, tally_id, counts, ts in found:
        if windows.add(key, tally_id, counts, ts):
            _dirty.add(key)
    log.info("live KPIs of partitions %s rebuilt from %d stored tallies", sorted(partitions), len(found))


def _usable(entry: tuple[int, asyncio.Task] | None) -> TypeGuard[tuple[int, asyncio.Task]]:
    """A rebuild that serves now: started in the consumer's current generation, not failed."""
    if entry is None or entry[0] != app.consumer_generation_id:
        return False
    task = entry[1]
    return not (task.done() and (task.cancelled() or task.exception() is not None))


async def rebuilt(partition: int) -> None:
    """Return once ``partition``'s subjects are rebuilt from the stored records in this
    generation of the group (a partition held again after a rebalance is rebuilt again: the
    worker that held it meanwhile counted tallies this one never read; counting by id makes the
    second fold add only those). One rebuild reads the outbox for every held partition that
    needs it; a failed one is tried again by the next caller, a cancelled one (its partition was
    revoked) is started again if the partition came back."""
    while True:
        entry = _rebuilds.get(partition)
        if not _usable(entry):
            todo = frozenset(p for p in _held() | {partition} if not _usable(_rebuilds.get(p)))
            entry = (app.consumer_generation_id, asyncio.ensure_future(_rebuild(todo)))
            _rebuilds.update(dict.fromkeys(todo, entry))
        task = entry[1]
        try:
            await asyncio.shield(task)
            return
        except asyncio.CancelledError:
            if not task.cancelled():  # this caller was cancelled, not the rebuild
                raise


@app.on_partitions_revoked.connect
async def forget_revoked(sender: object, /, *args: set[TP], **kwargs: object) -> None:
    """A revoked partition of ``kpi.tallies.v1`` may be counted by another worker before it
    comes back: forget its subjects, so that holding it again means rebuilding it. A receiver of a
    mode signal is called as ``(sender, *sent, signal=…)`` (mode's ``SignalHandlerT``, hence the
    positional-only sender); faust sends one value, the revoked partitions."""
    (revoked,) = args
    for partition in {tp.partition for tp in revoked if tp.topic == topics.KPI_TALLIES.name}:
        entry = _rebuilds.pop(partition, None)
        if entry is not None:
            entry[1].cancel()
        windows.drop([k for k in windows.subjects() if partition_of(k) == partition])


def _held() -> set[int]:
    """The partitions of ``kpi.tallies.v1`` this worker holds (none before it joined the group)."""
    try:
        assignment = app.consumer.assignment()
    except Exception:  # noqa: BLE001 - faust's ConsumerNotStarted: nothing held yet
        return set()
    return {tp.partition for tp in assignment if tp.topic == topics.KPI_TALLIES.name}


@app.agent(tallies_topic)
async def window_tallies(stream: StreamT) -> None:
    """``kpi.tallies.v1`` -> the live windows, once the tally's partition is rebuilt; a batch at
    a time, acknowledged once folded (a restarted worker rebuilds its windows from the database)."""
    async for events in take_batches(stream):
        for event in events:
            await _fold(event)
        await ack_all(stream, events)


async def _fold(event: EventT) -> None:
    value: Any = event.value
    key = (event.message.key or b"").decode(errors="replace")
    try:
        ts = _ts(value["time"])
        counts = Counts({str(k): float(v) for k, v in value["counts"].items()})
    except (KeyError, TypeError, ValueError, AttributeError):
        log.warning("tally without time or counts skipped (offset %s)", event.message.offset)
        return
    partition = event.message.partition
    entry = _rebuilds.get(partition)
    while not (_usable(entry) and entry is not None and entry[1].done()):
        try:
            await rebuilt(partition)
            break
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("live KPI rebuild failed; trying again")
            await asyncio.sleep(1.0)
    tally_id = value.get("id") if isinstance(value.get("id"), str) else None
    if windows.add(key, tally_id, counts, ts):
        _dirty.add(key)


@app.timer(interval=settings.score_interval_seconds)
async def publish_live_kpis() -> None:
    held = _held()
    try:
        await asyncio.gather(*(rebuilt(p) for p in sorted(held)))
    except Exception:
        log.exception("live KPI rebuild failed")
        return
    now = await db_call(steps.clock_now)
    step = windows.window_start(now.timestamp())
    mine = {k for k in windows.subjects() if partition_of(k) in held}
    _dirty.intersection_update(mine)
    if step != _state["step"]:  # the window moved (or first pass): every subject's numbers change
        _state["step"] = step
        keys = set(mine)
    else:
        keys = set(_dirty)
    _dirty.difference_update(keys)
    if not keys:
        return
    cfg = current().configuration.evaluation
    rows, scores = [], {}
    for key in sorted(keys):
        scope, subject = split_key(key)
        kpis = kpis_from_counts(subject, windows.total(key, now.timestamp()), cfg.kpis)
        score = round(composite_score(kpis, cfg.weights, cfg.kpis), 2) if scope == "provider" else None
        rows.append((scope, kpis, score))
        if score is not None:
            scores[subject] = score
    start = datetime.fromtimestamp(step - (WINDOW_STEPS - 1) * STEP_SECONDS, UTC)
    end = datetime.fromtimestamp(step + STEP_SECONDS, UTC)
    await db_call(steps.save_live_kpis, rows, start, end)
    for provider_id, score in scores.items():
        if _published.get(provider_id) != score:
            await deliver(scores_topic, provider_id.encode(), {"provider_id": provider_id, "score": score})
            _published[provider_id] = score
