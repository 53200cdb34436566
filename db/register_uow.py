"""The unit of work behind ``handlers.register.ports.RegisterUnitOfWork``.

``SqlRegisterUnitOfWork`` is the operator unit of work (state, event log, outbox and audit
row in one transaction) with alarm devices, the register's points and service areas. A file
import applies its rows one by one in ``row()``: a refused row leaves nothing behind and the
others stay. (Not a savepoint: with SQLite's Python driver the first savepoint of a
transaction is its outer transaction, and releasing it committed a dry run.)
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
        """One row of an import: a refusal drops the events the row emitted and propagates. The
        register's use cases run every check before their first write (``handlers.register.changes``),
        so a refused row has written nothing; any other error fails the whole import."""
        kept = len(self._events)
        try:
            yield
        except BaseException:
            del self._events[kept:]
            raise
