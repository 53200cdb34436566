"""The register's points (``locations``): stored once, never changed, read by location index.

``LocationBook`` is the mapping ``index -> Location`` that travel from coordinates reads
(``handlers.register.geo.CoordinateTravelTimes``, ``adapters.road_network``): it loads every
row once and a row it has not seen on first use, so an elder registered a second ago is
found by a worker whose area context was built a minute ago. Rows never change (a new
address is a new row), so nothing cached is ever stale.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Iterator, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db import tables
from handlers.register.records import Location, Provenance


def add_location(session: Session, location: Location, now: datetime | None = None) -> int:
    """Insert ``location`` and return its index (``location_id``); not committed."""
    key = session.execute(
        tables.locations.insert()
        .values(
            latitude=location.latitude,
            longitude=location.longitude,
            provenance=location.provenance.value,
            precision=location.precision,
            created_at=now or datetime.now(UTC),
        )
        .returning(tables.locations.c.location_id)
    ).scalar_one()
    return int(key)


def _location(row: object) -> Location:
    return Location(row.latitude, row.longitude, Provenance(row.provenance), row.precision)  # type: ignore[attr-defined]


def read_location(session: Session, index: int | None) -> Location | None:
    """The point stored under ``index``, if any."""
    if index is None:
        return None
    t = tables.locations.c
    row = session.execute(select(tables.locations).where(t.location_id == index)).first()
    return _location(row) if row is not None else None


class LocationBook(Mapping[int, Location]):
    """Every stored point by index, read from ``sessions`` (thread-safe; see module docstring)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._points: dict[int, Location] = {}
        self._loaded = False
        self._lock = threading.Lock()

    def _load_all(self) -> None:
        with self._lock:
            if self._loaded:
                return
            with self.sessions() as session:
                for row in session.execute(select(tables.locations)):
                    self._points[row.location_id] = _location(row)
            self._loaded = True

    def __getitem__(self, index: int) -> Location:
        self._load_all()
        found = self._points.get(index)
        if found is None:
            with self.sessions() as session:
                found = read_location(session, index)
            if found is None:
                raise KeyError(index)
            self._points[index] = found
        return found

    def __iter__(self) -> Iterator[int]:
        self._load_all()
        return iter(list(self._points))

    def __len__(self) -> int:
        self._load_all()
        return len(self._points)
