"""The stall watchdog: a worker that stopped consuming exits, so that its
supervisor (docker compose ``restart: unless-stopped``, systemd, the bench)
starts a fresh one that resumes from the committed offsets.

Under sustained load a faust-streaming consumer can stop fetching with no
error (faust-streaming/faust#175; ``docs/benchmarks.md``, Scale): records
wait on the broker, every agent is idle, and the process looks alive. The
watchdog asks the broker itself, independently of Faust's consumer thread,
every ``interval`` seconds: for the partitions of the intake and dispatch
topics this worker holds, the end offsets and the consumer group's committed
offsets (kafka-python admin). Records waiting and no committed offset moving
for ``worker_stall_exit_seconds`` (120 s) is a stall: the worker logs it and
exits with status 75 (EX_TEMPFAIL). A worker that holds no partition at all
(a restarted worker can hang in the group join, under load, with its timers
running) watches every partition of those topics: records waiting for the
group and no committed offset moving is the same stall. Nothing is lost: records not committed are
read again, and the outbox and claims make that idempotent (``docs/NOTES.md``).

``StallWatch.observe`` is the decision, pure and unit-tested.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Hashable, Iterable, Mapping

from faust.types import AppT

log = logging.getLogger("careline.watchdog")
EXIT_STALLED = 75  # EX_TEMPFAIL: try again (sysexits.h)


@dataclass
class StallWatch:
    """Tracks (partition -> committed offset) and (partition -> end offset)
    readings; ``observe`` returns the seconds since committed offsets last
    moved while records were waiting, or ``None`` when nothing waits or they moved."""

    _committed: dict[Hashable, int] = field(default_factory=dict)
    _since: float | None = None

    def observe(
        self, committed: Mapping[Hashable, int | None], ends: Mapping[Hashable, int], now: float
    ) -> float | None:
        current = {tp: committed.get(tp) or 0 for tp in ends}
        waiting = any(ends[tp] > current[tp] for tp in ends)
        moved = current != self._committed
        self._committed = current
        if not waiting or moved:
            self._since = now if waiting else None
            return None
        if self._since is None:
            self._since = now
        return now - self._since

    @staticmethod
    def waiting(committed: Mapping[Hashable, int | None], ends: Mapping[Hashable, int]) -> int:
        """Records between the committed and the end offsets, over all partitions."""
        return sum(max(0, end - (committed.get(tp) or 0)) for tp, end in ends.items())


def watched(
    assigned: Iterable[tuple[str, int]], topics: tuple[str, ...], partitions: int
) -> tuple[list[tuple[str, int]], bool]:
    """(partitions to watch, whether this worker holds any): the [(topic, partition)] of
    ``topics`` in ``assigned``; holding none, all ``partitions`` of each of ``topics``."""
    mine = sorted((t, p) for t, p in assigned if t in topics)
    if mine:
        return mine, True
    return [(t, p) for t in sorted(topics) for p in range(partitions)], False


def read_offsets(bootstrap: str, group: str, partitions: list[tuple[str, int]]) -> tuple[dict, dict]:
    """(committed, end) offsets of ``partitions`` [(topic, partition)], from the broker."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    tps = [TopicPartition(t, p) for t, p in partitions]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="careline-watchdog", request_timeout_ms=10_000)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, client_id="careline-watchdog", request_timeout_ms=10_000, enable_auto_commit=False
    )
    try:
        offsets = admin.list_group_offsets({group: tps}).get(group, {})
        committed = {(tp.topic, tp.partition): max(o.offset, 0) for tp, o in offsets.items()}
        ends = {(tp.topic, tp.partition): end for tp, end in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()
        admin.close()
    return committed, ends


def install(
    app: AppT,
    bootstrap: str,
    watched_topics: tuple[str, ...],
    stall_seconds: float,
    interval: float = 15.0,
) -> None:
    """Register the watchdog timer on the Faust ``app`` (``bootstrap``: host:port[,host:port]);
    ``stall_seconds`` 0 leaves it off."""
    if stall_seconds <= 0:
        return
    watch = StallWatch()

    @app.timer(interval=interval, name="careline.watchdog")
    async def stall_watchdog() -> None:
        mine, holds = watched(
            ((tp.topic, tp.partition) for tp in app.consumer.assignment()), watched_topics, app.conf.topic_partitions
        )
        try:
            committed, ends = await asyncio.to_thread(read_offsets, bootstrap, app.conf.id, mine)
        except Exception as exc:  # noqa: BLE001 - the broker is away: not a stall of this worker
            log.warning("watchdog could not read offsets: %s", exc)
            return
        stalled = watch.observe(committed, ends, time.monotonic())
        if stalled is not None and stalled >= stall_seconds:
            log.error(
                "no committed offset moved for %.0f s with %d records waiting on %s%s: exiting (%d) so "
                "the supervisor starts a fresh worker (faust-streaming#175)",
                stalled,
                StallWatch.waiting(committed, ends),
                ", ".join(sorted(set(t for t, _ in mine))),
                "" if holds else " (this worker holds no partition)",
                EXIT_STALLED,
            )
            logging.shutdown()
            os._exit(EXIT_STALLED)
