"""Engines and sessions. SQLite gets WAL and a busy timeout so the worker and
the replay driver can share one file; PostgreSQL is used as it comes.

Code outside ``db/`` never imports SQLAlchemy: it types sessions and rows with
the names re-exported here (``Session``, ``sessionmaker``, ``Row``) and catches
``DatabaseError`` (any SQLAlchemy error) or ``DatabaseUnavailable`` (the server is away)."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Row
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


def insert_if_absent(session: Session, table, **values) -> bool:  # noqa: ANN001, ANN003
    """``INSERT … ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL): True if this row went in,
    False if one with the same key was there (or is being inserted by a transaction that
    then commits: PostgreSQL waits for it)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}[session.get_bind().dialect.name]
    key = list(table.primary_key.columns)[0]
    return session.execute(insert(table).values(**values).on_conflict_do_nothing().returning(key)).first() is not None
