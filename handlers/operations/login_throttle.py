"""Brute-force throttling of logins, per account and per client address.

Every login attempt is counted *before* the password is checked, and a
correct password clears the account's count: so a burst of parallel guesses
cannot slip past the count while the slow hash runs. After ``free_failures``
counted attempts each further one waits ``base_delay_seconds`` doubled per
attempt (1 s, 2 s, 4 s, …): an attempt inside the wait is refused without
checking anything (HTTP 429 with ``Retry-After``). The ``lock_after``-th
attempt locks the key for ``lock_seconds``; an admin may lift it earlier.
Failures are forgotten ``forget_after_seconds`` after the last one (unless
locked). Sources: OWASP Authentication Cheat Sheet ("account lockout",
exponential back-off); NIST SP 800-63B rev. 4 §3.2.2 (rate limiting: at most
100 consecutive failures per account). Addresses get higher limits than
accounts because a center's operators may share one NAT address.

Pure: states in, states out; times are aware datetimes, durations seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ThrottlePolicy:
    """When attempts on one key (an account or an address) start to wait, and when they lock."""

    free_failures: int = 5
    lock_after: int = 10
    base_delay_seconds: float = 1.0
    lock_seconds: float = 15 * 60.0
    forget_after_seconds: float = 60 * 60.0

    def __post_init__(self) -> None:
        if not 1 <= self.free_failures < self.lock_after:
            raise ValueError("need 1 <= free_failures < lock_after")


@dataclass(frozen=True)
class ThrottleState:
    """Counted attempts on one key since its last success, the last one's time, and
    until when further attempts are refused (None: not now)."""

    failures: int
    last_failure_at: datetime
    blocked_until: datetime | None = None


@dataclass(frozen=True)
class Counted:
    """The state after counting one attempt; ``started`` is ``"delay"`` or ``"lock"`` when
    this attempt began a wait or a lock worth an audit row, else None."""

    state: ThrottleState
    started: str | None


def retry_after(state: ThrottleState | None, now: datetime) -> float:
    """Seconds until an attempt on this key is allowed again; 0 when it is allowed now."""
    if state is None or state.blocked_until is None or state.blocked_until <= now:
        return 0.0
    return (state.blocked_until - now).total_seconds()


def is_locked(state: ThrottleState | None, now: datetime, policy: ThrottlePolicy) -> bool:
    """True while the key is locked (not merely delayed)."""
    return state is not None and state.failures >= policy.lock_after and retry_after(state, now) > 0


def current(state: ThrottleState | None, now: datetime, policy: ThrottlePolicy) -> ThrottleState | None:
    """``state`` as it stands at ``now``: forgotten (None) once quiet long enough and not blocked."""
    if state is None:
        return None
    quiet = (now - state.last_failure_at).total_seconds() > policy.forget_after_seconds
    return None if quiet and retry_after(state, now) == 0 else state


def count_attempt(state: ThrottleState | None, now: datetime, policy: ThrottlePolicy) -> Counted:
    """Count one attempt (call only when ``retry_after`` is 0): the new state, whose
    ``blocked_until`` the next attempt must wait for."""
    standing = current(state, now, policy)
    failures = (standing.failures if standing else 0) + 1
    if failures >= policy.lock_after:
        until = now + timedelta(seconds=policy.lock_seconds)
        return Counted(ThrottleState(failures, now, until), "lock" if failures == policy.lock_after else None)
    if failures > policy.free_failures:
        delay = min(policy.base_delay_seconds * 2 ** (failures - policy.free_failures - 1), policy.lock_seconds)
        started = "delay" if failures == policy.free_failures + 1 else None
        return Counted(ThrottleState(failures, now, now + timedelta(seconds=delay)), started)
    return Counted(ThrottleState(failures, now, None), None)
