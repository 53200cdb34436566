"""Login throttle state (``tables.login_throttle``) read and written with compare-and-set.

``swap`` writes a new state only if the row is still the one read (same
``version``, or still absent): of two web processes counting an attempt on the
same key at the same moment, one wins and the other is told so, on SQLite and
PostgreSQL alike, without table locks.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session

from db import tables
from db.session import insert_if_absent, matched_rows
from handlers.operations.login_throttle import ThrottleState

t = tables.login_throttle


@dataclass(frozen=True)
class Stored:
    """A key's state and the row version it was read at (0: no row)."""

    state: ThrottleState | None
    version: int


def read(session: Session, key: str) -> Stored:
    row = session.execute(select(t).where(t.c.key == key)).first()
    if row is None:
        return Stored(None, 0)
    return Stored(ThrottleState(row.failures, row.last_failure_at, row.blocked_until), row.version)


def swap(session: Session, key: str, seen: Stored, new: ThrottleState) -> bool:
    """Write ``new`` if the row is still at ``seen.version``; False when another writer came first."""
    values = {
        "failures": new.failures,
        "last_failure_at": new.last_failure_at,
        "blocked_until": new.blocked_until,
        "version": seen.version + 1,
    }
    if seen.version == 0:
        return insert_if_absent(session, t, key=key, **values)
    done = session.execute(update(t).where(t.c.key == key, t.c.version == seen.version).values(**values))
    return matched_rows(done) == 1


def clear(session: Session, key: str) -> bool:
    """Forget a key's failures (a correct password, an admin's unlock); True if there were any."""
    return matched_rows(session.execute(delete(t).where(t.c.key == key))) > 0


def account_key(operator_id: str) -> str:
    """The key of an existing account."""
    return f"account:{operator_id}"


def unknown_account_key(digest: str) -> str:
    """The key of a user name that is no account: an HMAC of it, never the name as typed."""
    return f"account:#{digest}"


def address_key(address: str) -> str:
    return f"address:{address}"


def uncount(session: Session, key: str, lock_after: int) -> None:
    """Take back one counted attempt on ``key`` after it turned out to be a correct password,
    and lift the delay it set (a lock stays): a center behind one address logging in all
    morning is not a brute force."""
    session.execute(
        update(t)
        .where(t.c.key == key, t.c.failures > 0)
        .values(
            failures=t.c.failures - 1,
            version=t.c.version + 1,
            blocked_until=case((t.c.failures - 1 >= lock_after, t.c.blocked_until), else_=None),
        )
    )
