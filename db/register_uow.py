"""The unit of work behind ``handlers.register.ports.RegisterUnitOfWork``.

``SqlRegisterUnitOfWork`` is the operator unit of work (state, event log, outbox and audit
row in one transaction) with alarm devices, the register's points and service areas. A file
import applies its rows one by one in ``row()``: a savepoint per row, so a refused row takes
back its own changes and events and the others stay.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from sqlalchemy import select

from db import tables
from db.locations import add_location, read_location
from db.operator_uow import OperatorSqlUnitOfWork
from db.uow import _Repo
from handlers.model import AlarmDevice
from handlers.register.records import Location


class SqlRegisterUnitOfWork(OperatorSqlUnitOfWork):
    def __enter__(self) -> SqlRegisterUnitOfWork:
        super().__enter__()
        self.devices = _Repo(self.session, AlarmDevice)
        return self

    def locate(self, location: Location) -> int:
        return add_location(self.session, location)

    def location(self, index: int | None) -> Location | None:
        return read_location(self.session, index)

    def ensure_area(self, service_area: str, region_path: str) -> None:
        """A new area gets travel from coordinates (no matrix), the policy's shift rule and
        online dispatch, and is placed at ``region_path`` cut to its district when known."""
        from handlers.register.changes import default_service_area

        areas = tables.service_areas.c
        if self.session.execute(select(areas.service_area).where(areas.service_area == service_area)).first():
            return
        self.session.execute(
            tables.service_areas.insert().values(
                service_area=service_area, name=service_area, travel_matrix=None, shift_end_hard=True
            )
        )
        place = default_service_area(region_path) if region_path else None
        placed = tables.service_area_regions.c
        if (
            place
            and not self.session.execute(select(placed.service_area).where(placed.service_area == service_area)).first()
        ):
            self.session.execute(
                tables.service_area_regions.insert().values(service_area=service_area, region_path=place)
            )

    def region_of(self, service_area: str) -> str | None:
        t = tables.service_area_regions.c
        return self.session.execute(select(t.region_path).where(t.service_area == service_area)).scalar_one_or_none()

    @contextlib.contextmanager
    def row(self) -> Iterator[None]:
        """One row of an import: a savepoint; an exception rolls back the row's changes and
        drops the events it emitted, then propagates."""
        kept = len(self._events)
        savepoint = self.session.begin_nested()
        try:
            yield
            self.session.flush()
        except BaseException:
            savepoint.rollback()
            del self._events[kept:]
            raise
        else:
            savepoint.commit()
