"""What the agents share in one worker process: the database, the clock, and ``deliver`` for
the few records an agent sends itself.

An agent acknowledges a batch of records only after everything it produced is safe: committed
to the database (with its outbox rows, which the relay publishes: ``streams.relay``) or
acknowledged by the broker (``deliver``). Faust commits an input offset once it is
acknowledged, so that order is what makes a worker killed at any moment lose nothing (issue 13,
``docs/NOTES.md``). Rows for the ``scheduler`` are left to the timer service
(``careline.scheduler``), the one process that owns the APScheduler job store.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncGenerator, AsyncIterator, Callable, Sequence, TypeVar, cast

from faust import Stream
from faust.types import EventT, StreamT
from mode.utils.futures import notify

from config.bootstrap import Runtime, bootstrap
from config.settings import get_settings
from db.session import Session, sessionmaker
from db.uow import database_unavailable, is_concurrency_conflict

log = logging.getLogger("careline.runtime")
T = TypeVar("T")
Key = TypeVar("Key", bound=bytes | None)

#: how long an agent waits for an unreachable database before it gives up and
#: crashes (so a supervisor restarts it): PostgreSQL restarts and failovers take seconds
DATABASE_WAIT_SECONDS = 600.0

#: most records an agent takes for one batch, and how long it waits for more (``streams.agents``)
BATCH = get_settings().batch_max_records
WITHIN = max(get_settings().batch_wait_ms, 0.1) / 1000.0


def take_batches(stream: StreamT) -> AsyncIterator[Sequence[EventT]]:
    """The records waiting on the stream's partitions, a batch at a time (up to ``BATCH``, or
    what came within ``WITHIN`` seconds of the first), none of them acknowledged: the agent
    acknowledges them (``ack_all``) once everything they produced is safe."""
    agen = take_events(cast(Stream, stream), BATCH, WITHIN)
    cast(Stream, stream)._active_agens.add(agen)  # as faust's own take: closed when the stream stops
    return cast(AsyncIterator[Sequence[EventT]], agen)


async def take_events(stream: Stream, max_: int, within: float) -> AsyncGenerator[list[EventT], None]:
    """faust's ``Stream.noack_take`` (faust-streaming 0.15.3, ``faust/streams.py``), except that
    an idle stream sleeps until its first record instead of waking every ``within`` seconds.

    faust's loop waits for a full buffer *with* the timeout, empty or not: each agent woke
    every 5 ms, two futures made and cancelled each time, and the worker spent a fifth of a
    core doing nothing (``careline bench throughput --loads 0.5``, docs/benchmarks.md). Here the
    batch starts with its first record and closes ``within`` seconds later or at ``max_``
    records. The rest is faust's: a processor the stream drains passively puts each event in
    the buffer, waits while a batch is being handled, and holds at ``max_`` (backpressure);
    acks are off meanwhile (the caller acknowledges)."""
    buffer: list[EventT] = []
    full, consumed, arrived = asyncio.Event(), asyncio.Event(), asyncio.Event()
    consuming: asyncio.Future | None = None
    channel_it = aiter(stream.channel)

    async def add_to_buffer(value: Any) -> Any:
        nonlocal consuming
        try:
            if consuming is not None:
                try:
                    await consuming
                finally:
                    consuming = None
            event = stream.current_event
            if event is None:
                raise RuntimeError("take buffer found current_event is None")
            buffer.append(event)
            arrived.set()
            if len(buffer) >= max_:
                full.set()
                consumed.clear()
                await stream.wait(consumed)  # type: ignore[arg-type]  # asyncio.Event has .wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # as faust does: the stream crashes, the worker sees it
            stream.log.exception("Error adding to take buffer: %r", exc)
            await stream.crash(exc)
        return value

    acks = stream.enable_acks
    stream.enable_acks = False
    stream.add_processor(add_to_buffer)
    stream._enable_passive(cast(Any, channel_it))
    try:
        while not stream.should_stop:
            if not buffer:
                arrived.clear()
                await stream.wait_for_stopped(arrived)  # type: ignore[arg-type]  # idle: no timer
            if buffer and len(buffer) < max_:
                await stream.wait_for_stopped(full, timeout=within)  # type: ignore[arg-type]
            if buffer:
                consuming = stream.loop.create_future()
                try:
                    yield list(buffer)
                finally:
                    buffer.clear()
                    notify(consuming)  # None if the processor took it back when cancelled
                    full.clear()
                    consumed.set()
    finally:
        stream.enable_acks = acks
        stream._processors.remove(add_to_buffer)


async def ack_all(stream: StreamT, events: Sequence[EventT]) -> None:
    """Acknowledge ``events``: faust may commit their offsets from now on."""
    for event in events:
        await stream.ack(event)


def no_spinner(root: logging.Logger) -> None:
    """Faust's worker puts the root logger at DEBUG when the level is WARNING or above, only to
    turn its terminal spinner on every record (``faust.worker.Worker._setup_spinner_handler``):
    every debug call of aiokafka, faust and mode then builds a record that no handler writes
    (3 % of the worker's py-spy samples in the lifecycle bench, 7 % of those not waiting). The
    spinner goes, and ``root`` takes the lowest level of its other handlers."""
    spinners = [h for h in root.handlers if type(h).__name__ == "SpinnerHandler"]
    for handler in spinners:
        root.removeHandler(handler)
    if spinners and root.handlers:
        root.setLevel(min(h.level for h in root.handlers) or logging.WARNING)


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


def kick_relay() -> None:
    """Ask the relay (``streams.relay``) to sweep the outbox now; returns at once. For agents
    that committed through the plain unit of work; batch steps hand their rows instead."""
    from streams.relay import relay

    relay.kick()


async def relay_outbox_safely() -> int:
    """Publish the unsent outbox rows now (``streams.relay.Relay.sweep``: a row waits while an
    earlier one of its key is locked by another worker); a broker or database
    failure is logged and left to the next sweep (the rows stay unsent)."""
    from streams.relay import relay

    try:
        return await relay.sweep(0.0)
    except Exception as exc:  # noqa: BLE001 - the outbox keeps the rows; try again on the next sweep
        log.warning("outbox relay deferred: %s", type(exc).__name__)
        return 0
