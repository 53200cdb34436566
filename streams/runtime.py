"""What the agents share in one worker process: the database, the clock, the
outbox relay, and ``deliver`` for the few records an agent sends itself.

An agent takes the next record only after everything the last one produced is
safe: committed to the database (with its outbox rows, which the relay
publishes) or acknowledged by the broker (``deliver``). Faust commits an input
offset once the agent has taken the next record, so that order is what makes a
worker killed at any moment lose nothing (issue 13, ``docs/NOTES.md``).

The outbox relay publishes events committed by handlers, in commit order,
and marks them sent only after the broker acknowledged them. Agents do not
wait for it: they ``kick_relay()`` after each commit and go on with the next
record, and one relay task publishes everything committed meanwhile (under
load one pass carries the events of many records; see docs/benchmarks.md). Rows for the
``scheduler`` are left to the timer service (``careline.scheduler``), the one
process that owns the APScheduler job store.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Sequence, TypeVar

from config.bootstrap import Runtime, bootstrap
from db import outbox
from db.session import Row, Session, sessionmaker
from db.uow import database_unavailable, is_concurrency_conflict

log = logging.getLogger("careline.runtime")
_relay_lock = asyncio.Lock()
T = TypeVar("T")
Key = TypeVar("Key", bound=bytes | None)

#: how long an agent waits for an unreachable database before it gives up and
#: crashes (so a supervisor restarts it): PostgreSQL restarts and failovers take seconds
DATABASE_WAIT_SECONDS = 600.0


def worth_waiting(exc: BaseException) -> bool:
    """The database is away, or this transaction lost a race to another one (stale
    version, deadlock, SQLite locked: ``db.uow.is_concurrency_conflict``); both pass."""
    return database_unavailable(exc) or is_concurrency_conflict(exc)


async def db_call(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a thread (the event loop keeps moving), awaited; while the
    database is unavailable, or the transaction keeps losing races (the batch
    matcher and the dispatch agent can both touch one request), it is tried again
    with exponential backoff (0.2 s doubling to 5 s, for up to
    ``DATABASE_WAIT_SECONDS``), logging each wait. ``fn`` must be one
    transaction, so a retry repeats nothing committed."""
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential

    def before_sleep(state) -> None:  # noqa: ANN001 - tenacity's RetryCallState
        log.warning(
            "database unavailable or busy (%s); %s waits %.1f s, attempt %d",
            type(state.outcome.exception()).__name__,
            getattr(fn, "__name__", "step"),
            state.next_action.sleep,
            state.attempt_number,
        )

    async for attempt in AsyncRetrying(
        retry=retry_if_exception(worth_waiting),
        wait=wait_exponential(multiplier=0.2, max=5),
        stop=stop_after_delay(DATABASE_WAIT_SECONDS),
        before_sleep=before_sleep,
        reraise=True,
    ):
        with attempt:
            return await asyncio.to_thread(fn, *args)
    raise AssertionError("unreachable")  # pragma: no cover - AsyncRetrying reraises


_relay_wanted = asyncio.Event()


_runtime: Runtime | None = None


def install(runtime: Runtime | None) -> None:
    """Use ``runtime`` (from ``config.bootstrap``) in this worker; ``None`` makes the
    next ``current()`` bootstrap again (tests that change the environment)."""
    global _runtime
    _runtime = runtime


def current() -> Runtime:
    """The worker's runtime: the one ``careline worker`` installed, or one
    bootstrapped from the environment on first use."""
    global _runtime
    if _runtime is None:
        _runtime = bootstrap()
    return _runtime


async def deliver_many(
    topic: Any,
    records: Sequence[tuple[Key, Any]],
    partition: Callable[[Key], int | None] = lambda key: None,
) -> None:
    """Send ``records`` ([(key, value)]) to the Faust ``topic`` and wait until the broker
    acknowledged every one. A send that fails (broker away, leader moving) is tried again,
    all of them, with backoff (0.2 s doubling to 5 s) for as long as it takes: the agent holds
    its input record meanwhile, so its offset is not committed (a stalled worker is restarted
    by ``streams.watchdog``). Records sent twice keep their ids; consumers drop the second.
    ``partition(key)`` may name the partition (None: the producer's partitioner)."""
    delay = 0.2
    while True:
        try:
            pending = [await topic.send(key=key, value=value, partition=partition(key)) for key, value in records]
            for fut in pending:
                await fut
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - kafka and faust errors alike: the record must get there
            log.warning(
                "send to %s not acknowledged (%s); trying again in %.1f s",
                topic.get_topic_name(),
                type(exc).__name__,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def deliver(topic: Any, key: bytes | None, value: Any) -> None:
    """``deliver_many`` for one record: sent and acknowledged by the broker before this returns."""
    await deliver_many(topic, [(key, value)])


def sessions() -> sessionmaker[Session]:
    """The worker's database sessions (``current().sessions``)."""
    return current().sessions


def _unsent(limit: int) -> list[Row]:
    with sessions()() as session:
        return outbox.unsent(session, limit)


def _mark_sent(seqs: list[int]) -> None:
    with sessions()() as session:
        outbox.mark_sent(session, seqs)
        session.commit()


async def relay_outbox(limit: int = 500) -> int:
    """Publish unsent outbox rows in order, marking them sent once the broker
    acknowledged; returns how many were relayed. Database work runs in a
    thread so the agents' event loop keeps moving."""
    from streams.app import app

    async with _relay_lock:
        rows = await db_call(_unsent, limit)
        if not rows:
            return 0
        by_name = {name: app.topic(name, value_serializer="json") for name in {row.topic for row in rows}}
        pending = [await by_name[row.topic].send(key=row.key.encode(), value=row.value) for row in rows]
        for fut in pending:
            await fut
        await db_call(_mark_sent, [r.seq for r in rows])
        return len(rows)


async def relay_outbox_safely() -> int:
    """``relay_outbox``, but a broker or database failure is logged and left to the next
    try (the rows stay unsent; consumers drop a re-sent event by its id)."""
    try:
        return await relay_outbox()
    except Exception as exc:  # noqa: BLE001 - the outbox keeps the rows; try again on the next tick
        log.warning("outbox relay deferred: %s", type(exc).__name__)
        return 0


def kick_relay() -> None:
    """Ask the relay task (``relay_when_kicked``) to publish what was committed; returns at once."""
    _relay_wanted.set()


async def relay_when_kicked(limit: int = 500) -> None:
    """Run for the worker's life: after each kick, relay until the outbox has
    nothing unsent. A failure is logged and retried on the next kick (and the
    worker's one-second timer, ``relay_leftovers``, catches what is left)."""
    while True:
        await _relay_wanted.wait()
        _relay_wanted.clear()
        try:
            while await relay_outbox(limit) == limit:
                pass
        except Exception:
            log.exception("outbox relay failed; rows stay unsent")
            await asyncio.sleep(0.5)
