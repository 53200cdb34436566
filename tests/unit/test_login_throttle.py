"""The login throttle's rule: free attempts, doubling delays, a lock, forgetting."""

from datetime import UTC, datetime, timedelta

import pytest

from handlers.operations.login_throttle import ThrottlePolicy, count_attempt, current, is_locked, retry_after

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
POLICY = ThrottlePolicy(
    free_failures=3, lock_after=7, base_delay_seconds=1, lock_seconds=900, forget_after_seconds=3600
)


def attempts(n: int, start: datetime = T0, policy: ThrottlePolicy = POLICY):
    """Count ``n`` attempts, each made as soon as the previous one's wait allows."""
    state, now, started = None, start, []
    for _ in range(n):
        now = now + timedelta(seconds=retry_after(state, now))
        counted = count_attempt(state, now, policy)
        state = counted.state
        started.append(counted.started)
    return state, now, started


def test_the_first_attempts_are_free_then_each_waits_twice_as_long():
    state, now, _ = attempts(3)
    assert retry_after(state, now) == 0
    waits = []
    for _ in range(3):
        state = count_attempt(state, now, POLICY).state
        waits.append(retry_after(state, now))
        now = now + timedelta(seconds=waits[-1])
    assert waits == [1, 2, 4]


def test_the_lock_after_th_attempt_locks_for_the_lock_time_and_is_announced_once():
    state, now, started = attempts(8)
    assert started == [None, None, None, "delay", None, None, "lock", None]
    assert is_locked(state, now, POLICY) and retry_after(state, now) == 900


def test_failures_are_forgotten_after_a_quiet_hour_unless_locked():
    state, now, _ = attempts(5)
    later = now + timedelta(hours=1, seconds=1)
    assert current(state, later, POLICY) is None
    assert count_attempt(state, later, POLICY).state.failures == 1
    locked, at, _ = attempts(7, policy=ThrottlePolicy(3, 7, 1, lock_seconds=7200, forget_after_seconds=3600))
    assert current(locked, at + timedelta(hours=1, seconds=1), POLICY) is locked


def test_a_policy_must_allow_some_attempts_before_locking():
    with pytest.raises(ValueError):
        ThrottlePolicy(free_failures=5, lock_after=5)
