"""Engines and sessions. SQLite gets WAL and a busy timeout so the worker and
the replay driver can share one file; PostgreSQL is used as it comes.

Code outside ``db/`` never imports SQLAlchemy: it types sessions and rows with
the names re-exported here (``Session``, ``sessionmaker``, ``Row``) and catches
``DatabaseError`` (any SQLAlchemy error) or ``DatabaseUnavailable`` (the server is away)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Result, Row
from sqlalchemy.exc import OperationalError as DatabaseUnavailable
from sqlalchemy.exc import SQLAlchemyError as DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from db import area_versions
from db.orm import start_mappers

__all__ = ["DatabaseError", "DatabaseUnavailable", "Row", "Session", "engine_for", "session_factory", "sessionmaker"]


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One engine per URL; SQLite gets WAL, foreign keys and a 30 s busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def session_factory(url: str) -> sessionmaker[Session]:
    """A sessionmaker for ``url`` with the domain classes mapped and objects kept after commit;
    its sessions raise the counters of the service areas they change (``db.area_versions``)."""
    start_mappers()
    area_versions.install()
    return sessionmaker(bind=engine_for(url), expire_on_commit=False)


def dialect_insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The INSERT of the session's dialect (PostgreSQL or SQLite), which has ``on_conflict_do_nothing``;
    KeyError for another dialect."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise KeyError(dialect)


def matched_rows(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE without RETURNING matched. ``Session.execute`` is typed to
    return a ``Result``; for a Core statement on a ``Table`` it returns the ``CursorResult`` that
    carries ``rowcount`` (SQLAlchemy tutorial, "Getting Affected Row Count from UPDATE, DELETE").
    TypeError if it did not."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"no row count on a {type(result).__name__}")
    return result.rowcount


def insert_if_absent(session: Session, table: Table, **values: Any) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL): True if this row went in,
    False if one with the same key was there (or is being inserted by a transaction that
    then commits: PostgreSQL waits for it)."""
    key = list(table.primary_key.columns)[0]
    statement = dialect_insert(session, table).values(**values).on_conflict_do_nothing().returning(key)
    return session.execute(statement).first() is not None
