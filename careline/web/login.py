"""Logging in, for the dashboard form and ``POST /api/auth/token`` alike: throttled,
and with the password hash checked off the event loop in a small pool.

An Argon2 verification takes 64 MiB and a good fraction of a second of CPU
(argon2-cffi's RFC 9106 low-memory profile). Run on the event loop it stalls
every other route (alarms included); run in the shared thread pool, a burst of
logins takes every thread and 64 MiB each. So verifications run in their own
``PasswordPool`` of ``password_hash_concurrency`` threads (2 by default); up to
``password_hash_queue`` more wait for it without holding a thread, and beyond
that a login is answered 503 with ``Retry-After`` at once.

Before any hash, the attempt is counted per account and per client address
(``handlers.operations.login_throttle``; state in ``login_throttle``, shared by every web
replica): an attempt inside a delay or lock is answered 429 with ``Retry-After``
and checks nothing. A correct password clears the account's count and takes its
attempt back from the address's, so only failures add up there. A user name that is no account is counted under an HMAC of
it, so answers do not tell which accounts exist, and is audited as ``?``: a
password typed into the user field is never stored. The start of a delay and
of a lock is audited (``login.throttled`` / ``login.locked``); the refusals
inside one are not, so a flood cannot fill the audit log.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Callable

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from careline.operators import Operator, get_operator, verify_login
from careline.web import auth
from config.settings import Settings
from db import login_throttle as store
from db.operator_uow import write_audit
from handlers.operations.login_throttle import ThrottlePolicy, count_attempt, current, retry_after


class PoolBusy(RuntimeError):
    """Every verification slot and queue place is taken."""


class PasswordPool:
    """``workers`` threads for password hashing; at most ``workers + queue`` jobs at once."""

    def __init__(self, workers: int, queue: int) -> None:
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="careline-argon2")
        self.capacity = workers + queue
        self._lock = threading.Lock()
        self.jobs = 0

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in the pool, awaited without blocking the loop; ``PoolBusy`` when full.
        A job counts until it has run, even if its caller went away."""
        with self._lock:
            if self.jobs >= self.capacity:
                raise PoolBusy("too many logins at once")
            self.jobs += 1

        def job() -> Any:
            try:
                return fn(*args)
            finally:
                with self._lock:
                    self.jobs -= 1

        try:
            future = self.executor.submit(job)
        except RuntimeError:
            with self._lock:
                self.jobs -= 1
            raise
        return await asyncio.wrap_future(future)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def policies(settings: Settings) -> tuple[ThrottlePolicy, ThrottlePolicy]:
    """(per account, per client address) from the ``login_*`` settings."""
    lock, forget = settings.login_lock_minutes * 60, settings.login_forget_minutes * 60
    return (
        ThrottlePolicy(settings.login_free_failures, settings.login_lock_failures, 1.0, lock, forget),
        ThrottlePolicy(settings.login_address_free_failures, settings.login_address_lock_failures, 1.0, lock, forget),
    )


def client_address(request: Request) -> str:
    """The client's address as uvicorn reports it (behind the TLS proxy: ``X-Forwarded-For``
    from a trusted proxy, ``FORWARDED_ALLOW_IPS``)."""
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class Counted:
    account_key: str
    wait_seconds: float = 0.0


def _now(request: Request) -> datetime:
    """The throttle's clock: the wall clock, or ``app.state.login_clock`` (tests freeze it, so
    that the delays between attempts do not depend on how fast the machine hashes)."""
    clock = getattr(request.app.state, "login_clock", None)
    return clock() if clock is not None else datetime.now(UTC)


def _account_key(settings: Settings, user: str, exists: bool) -> str:
    if exists:
        return store.account_key(user)
    digest = hmac.new(
        auth.derive(auth.secret_key(settings), "login-throttle"), user.encode("utf-8", "replace"), hashlib.sha256
    ).hexdigest()
    return store.unknown_account_key(digest)


def _count(request: Request, user: str, address: str, tries: int = 5) -> Counted:
    """Refuse (``wait_seconds`` > 0) or count this attempt on the account and the address;
    a write that lost to a simultaneous attempt on the same key is retried."""
    settings: Settings = request.app.state.settings
    with auth.sessions_of(request)() as session:
        op = get_operator(session, user)
        key = _account_key(settings, user, op is not None)
        keys = list(zip((key, store.address_key(address)), policies(settings), strict=False))
        for _ in range(tries):
            now = _now(request)
            seen = [(k, p, store.read(session, k)) for k, p in keys]
            wait = max(retry_after(current(s.state, now, p), now) for _, p, s in seen)
            if wait > 0:
                return Counted(key, wait)
            if _count_all(session, op, key, address, seen, now):
                session.commit()
                return Counted(key)
            session.rollback()
    return Counted(key, 1.0)  # still losing to simultaneous attempts: ask to retry


def _count_all(session, op: Operator | None, key: str, address: str, seen: list, now: datetime) -> bool:  # noqa: ANN001
    for k, policy, stored in seen:
        counted = count_attempt(stored.state, now, policy)
        if not store.swap(session, k, stored, counted.state):
            return False
        if counted.started:
            scope = "account" if k == key else "address"
            action = "login.locked" if counted.started == "lock" else "login.throttled"
            until = counted.state.blocked_until  # set whenever a wait or a lock starts
            write_audit(
                session,
                op.operator_id if op else "?",
                action,
                address if scope == "address" else "login",
                now,
                outcome="refused",
                region=op.region_scope if op else None,
                detail={
                    "scope": scope,
                    "failures": counted.state.failures,
                    "until": until.isoformat() if until else None,
                },
            )
    return True


def _verify(request: Request, user: str, password: str, key: str, channel: str) -> Operator | None:
    """Check the password (in the pool); on success clear the account's count and take the
    attempt back from the address's; audit either way."""
    now = _now(request)
    with auth.sessions_of(request)() as session:
        operator = verify_login(session, user, password)
        if operator is not None:
            store.clear(session, key)
            store.uncount(
                session, store.address_key(client_address(request)), policies(request.app.state.settings)[1].lock_after
            )
            write_audit(session, operator.operator_id, "login", channel, now, region=operator.region_scope)
        else:
            known = get_operator(session, user)
            write_audit(
                session,
                known.operator_id if known else "?",
                "login",
                channel,
                now,
                outcome="refused",
                region=known.region_scope if known else None,
            )
        session.commit()
    return operator


async def log_in(request: Request, username: str, password: str, channel: str) -> Operator | None:
    """The operator whose password this is, or None (a wrong password; audited). Raises
    ``HTTPException`` 429 (throttled) or 503 (verification pool full), both with ``Retry-After``
    in whole seconds."""
    pool: PasswordPool = request.app.state.password_pool
    user = username.strip()
    if pool.jobs >= pool.capacity:
        raise HTTPException(503, "too many logins at once; try again shortly", headers={"Retry-After": "1"})
    counted = await run_in_threadpool(_count, request, user, client_address(request))
    if counted.wait_seconds > 0:
        seconds = max(1, math.ceil(counted.wait_seconds))
        raise HTTPException(
            429, f"too many failed logins; try again in {seconds} s", headers={"Retry-After": str(seconds)}
        )
    try:
        return await pool.run(_verify, request, user, password, counted.account_key, channel)
    except PoolBusy:
        raise HTTPException(503, "too many logins at once; try again shortly", headers={"Retry-After": "1"}) from None
