"""The outbox relay, safe with several workers (issue 19).

Handlers commit their events to the outbox with the state that made them; the relay publishes
them to Kafka and marks them sent once the broker acknowledged them.

- **Own rows, at once.** An agent that committed a batch hands the rows it wrote (``hand``);
  one task publishes them in commit order, many batches per pass. On PostgreSQL it first
  marks them sent in an open transaction (``db.outbox.claim_for_relay``: the rows are locked),
  publishes, waits for every acknowledgement, then commits; a failure rolls back and the rows
  stay unsent. On SQLite (one worker only) it publishes, then marks.
- **Leftovers, by sweeping.** Every half second, and at once when kicked (``kick``), rows
  unsent for ``SWEEP_AFTER_SECONDS`` (written by the web and the channels, or by a worker that
  died) are taken ``FOR UPDATE SKIP LOCKED`` (``db.outbox.unsent_locked``), published, marked
  and committed, never a row ahead of an earlier unsent row of its topic and key (it waits while
  that one is locked elsewhere, in flight here, or too young; the rows held back are looked past,
  so one key's backlog does not stall the others); a kicked sweep takes rows of any age (an agent committed through the plain
  unit of work). The age keeps a sweep from racing another worker's own rows: a worker's own
  rows normally leave within milliseconds, in order. Rows of the topics only the outside writes
  (``db.outbox.FROM_OUTSIDE``: intake, caregivers' answers, ratings) are nobody's own, so a
  sweep takes them at any age: a caller's request or a caregiver's SMS reaches Kafka within
  half a second, not two and a half. (The fault lab's ``webhooks-5x`` at 600x: intake rows
  waited 2.3 s, 23 replayed minutes, so every offer, timed from its request's arrival, had
  expired before its caregiver could answer by SMS; 0 of 33 requests completed.)

No row is published twice in normal operation: every publication holds the row's lock (on
PostgreSQL; in SQLite's one worker, the set of rows in flight) until it is marked. A worker
killed after the broker's acknowledgement and before its commit leaves the row unsent, and it
is published again; consumers drop it by its event id (``processed_events``). Rows for the
timer service (topic ``scheduler``) are its own (``careline.scheduler``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any, Coroutine

from config import topics
from db import outbox
from db.session import Session
from streams.runtime import db_call, sessions

log = logging.getLogger("careline.relay")

#: rows published per pass (and per sweep)
LIMIT = 1000
SWEEP_EVERY_SECONDS = 0.5
#: a row this old and unsent is a leftover any worker's sweep may take
SWEEP_AFTER_SECONDS = 2.0


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _claim(seqs: list[int]) -> tuple[Session, set[int] | None]:
    session = sessions()()
    try:
        return session, (outbox.claim_for_relay(session, seqs) if _is_postgres(session) else None)
    except BaseException:
        session.close()
        raise


def _finish(session: Session, mark: list[int] | None) -> None:
    try:
        if mark:
            outbox.mark_sent(session, mark)
        session.commit()
    finally:
        session.close()


def _abandon(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


def _take(
    limit: int, created_before: datetime | None, skip: set[int], held: set[int] | None = None
) -> tuple[Session, list[Any]]:
    session = sessions()()
    try:
        return session, outbox.unsent_locked(session, limit, created_before, skip, held)
    except BaseException:
        session.close()
        raise


async def _send(rows: list[Any]) -> None:
    """Publish ``rows`` and wait until the broker acknowledged every one."""
    from streams.app import app

    pending = [
        await app.producer.send(row.topic, row.key.encode(), json.dumps(row.value).encode(), None, None, None)
        for row in rows
    ]
    await asyncio.gather(*pending)


#: how long a stopping worker lets a relay pass in flight finish
FINISH_SECONDS = 10.0


async def _to_the_end(work: Coroutine[Any, Any, Any]) -> Any:
    """Run a relay pass; if the worker stops meanwhile (a rebalance's graceful leave, SIGTERM),
    let the pass finish first (up to ``FINISH_SECONDS``): rows the broker acknowledged are then
    marked sent, where a cancelled pass left them unsent and the sweep published them again."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task], timeout=FINISH_SECONDS)
        raise


class Relay:
    """One per worker: ``hand`` own rows, ``kick`` a sweep; ``run_own`` and ``run_sweeps`` are
    the worker's two tasks."""

    def __init__(self) -> None:
        self._own: deque[list[Any]] = deque()
        self._wanted = asyncio.Event()
        self._kicked = asyncio.Event()
        self._in_flight: set[int] = set()
        self.published = 0

    def reserve(self, rows: list[Any]) -> None:
        """Rows about to be committed by this worker: no sweep takes them (callable from the
        thread that commits, just before its commit)."""
        self._in_flight.update(r.seq for r in rows)

    def release(self, rows: list[Any]) -> None:
        """Reserved rows that were not committed after all (the transaction failed)."""
        self._in_flight.difference_update(r.seq for r in rows)

    def hand(self, rows: list[Any]) -> None:
        """Publish these committed (and reserved) outbox rows soon, in this order; returns at once."""
        mine = [r for r in rows if r.topic != topics.SCHEDULER]
        self.release([r for r in rows if r.topic == topics.SCHEDULER])
        if mine:
            self._in_flight.update(r.seq for r in mine)
            self._own.append(mine)
            self._wanted.set()

    async def run_step(self, step: Any, *args: Any) -> Any:
        """``db_call(step, *args, reserve)`` for a batch step that commits outbox rows: the rows
        are reserved before its commit, handed to the relay after it, released if it failed."""
        reserved: list[Any] = []

        def reserve(rows: list[Any]) -> None:
            self.reserve(rows)
            reserved.extend(rows)

        try:
            outcome = await db_call(step, *args, reserve)
        except BaseException:
            self.release(reserved)
            raise
        committed = {r.seq for r in outcome.rows}
        self.release([r for r in reserved if r.seq not in committed])
        self.hand(outcome.rows)
        return outcome

    def kick(self) -> None:
        """Sweep for unsent rows of any age now (returns at once)."""
        self._kicked.set()

    async def run_own(self) -> None:
        """Publish this worker's own committed rows as soon as they are handed over, up to
        ``LIMIT`` per send, in the order they were committed; runs until cancelled."""
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            while self._own:
                rows: list[Any] = []
                while self._own and len(rows) < LIMIT:
                    rows.extend(self._own.popleft())
                await _to_the_end(self._publish_own(rows))

    async def _publish_own(self, rows: list[Any]) -> None:
        seqs = [r.seq for r in rows]
        try:
            session, owned = await db_call(_claim, seqs)
            try:
                await _send(rows if owned is None else [r for r in rows if r.seq in owned])
            except BaseException:
                await asyncio.to_thread(_abandon, session)
                raise
            await asyncio.to_thread(_finish, session, seqs if owned is None else None)
            self.published += len(rows) if owned is None else len(owned)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the rows stay unsent: the sweep publishes them
            log.warning("relay of %d rows deferred to the sweep: %s", len(rows), type(exc).__name__)
        finally:
            self._in_flight.difference_update(seqs)

    async def sweep(self, min_age_seconds: float) -> int:
        """Publish leftovers (rows unsent for ``min_age_seconds``) until none is left; how many."""
        done = 0
        passed: set[int] = set()  # rows held back behind an earlier row of their key, this sweep
        while True:
            before = datetime.now(UTC) - timedelta(seconds=min_age_seconds) if min_age_seconds else None
            held: set[int] = set()
            session, rows = await db_call(_take, LIMIT, before, set(self._in_flight) | passed, held)
            passed |= held
            if not rows:
                await asyncio.to_thread(_abandon, session)
                if len(held) == LIMIT:  # a whole pass held back: look past those rows
                    continue
                return done
            try:
                await _send(rows)
            except BaseException:
                await asyncio.to_thread(_abandon, session)
                raise
            await asyncio.to_thread(_finish, session, [r.seq for r in rows])
            done += len(rows)
            self.published += len(rows)
            if len(rows) + len(held) < LIMIT:
                return done

    async def run_sweeps(self) -> None:
        """Every ``SWEEP_EVERY_SECONDS``, or at once when kicked, publish rows nobody published
        (another worker's after a crash, or the outside world's), claimed ``FOR UPDATE SKIP
        LOCKED``; runs until cancelled."""
        while True:
            try:
                await asyncio.wait_for(self._kicked.wait(), SWEEP_EVERY_SECONDS)
                kicked = True
            except TimeoutError:
                kicked = False
            self._kicked.clear()
            try:
                await _to_the_end(self.sweep(0.0 if kicked else SWEEP_AFTER_SECONDS))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - broker or database away: the rows wait for the next sweep
                log.warning("outbox sweep deferred: %s", type(exc).__name__)
                await asyncio.sleep(0.5)


relay = Relay()
