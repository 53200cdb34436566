"""The load the throughput and scale benches offer: many service areas, each a
copy of one UHHC day booked for the day after tomorrow.

A real programme is many districts, each with its own roster; dispatch is
partitioned by service area. So the bench gives every block of one day's
requests (65 for bazirha-F1) its own area: a copy of the instance's elders,
caregivers (round robin over two providers) and travel matrix. Requests come
round robin from ``active`` areas at a time, and an area that has sent its
day is replaced by a fresh one, so the roster per area stays the size the
instance has and the area cache of the worker (256 areas) is not defeated.

Visits are for the day after tomorrow (minute 0 of the instance is 07:00 UTC
two days on, ``bench_day_start``). The bench's worker keeps offers open for 24
hours (``stack.BENCH_ENV``) and a caregiver leaves only once an offer could be
answered (``handlers.dispatch.scheduling.best_insertion``), so a day tomorrow
lost its early windows to "would arrive after the time window" whenever the
bench ran after about 07:00 UTC: every request failed and no offer was made.
Two days on, every window is still open after the answer allowance at any
hour the bench starts, however long the run takes. Paired
visits lose their synchronisation (``sync``): a follower waits for its anchor
to be accepted, and nobody accepts in a bench.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Iterator

from db import register
from db.session import Session, sessionmaker
from handlers.datasets.day import Day, build_day
from handlers.datasets.uhhc import Instance

LEAD_MINUTES = 60.0


@dataclass(frozen=True)
class Workload:
    """``days``: one per service area, in the order they become active."""

    instance: Instance
    run: str
    days: tuple[Day, ...]

    @property
    def per_area(self) -> int:
        return len(self.days[0].submissions)

    def records(self, active: int = 32, keep_sync: bool = False) -> Iterator[tuple[str, dict]]:
        """(service area, intake record) round robin over ``active`` areas, each
        area's requests in submission order; ends when every area sent its day.
        Paired visits keep their synchronisation only with ``keep_sync`` (when the
        bench's caregivers answer offers, so an anchor can be accepted)."""
        waiting = deque(self.days)
        live: deque[tuple[str, Iterator]] = deque()
        while waiting or live:
            while waiting and len(live) < active:
                day = waiting.popleft()
                live.append((day.area, iter(day.submissions)))
            area, todo = live.popleft()
            submission = next(todo, None)
            if submission is None:
                continue
            live.append((area, todo))
            record = dict(submission.record)
            if not keep_sync:
                record.pop("sync", None)
            yield area, record


def bench_day_start(now: datetime | None = None) -> datetime:
    """07:00 UTC two days after ``now``: at least 31 hours ahead, more than the bench's
    24-hour offer timeout (see the module docstring)."""
    now = now or datetime.now(UTC)
    return (now + timedelta(days=2)).replace(hour=7, minute=0, second=0, microsecond=0)


def build_workload(instance: Instance, requests: int, run: str, day_start: datetime | None = None) -> Workload:
    """Enough areas for ``requests`` intake records (one instance day each)."""
    start = day_start or bench_day_start()
    first = build_day(instance, start, LEAD_MINUTES, f"{run}-a0")
    count = max(1, math.ceil(requests / len(first.submissions)))
    days = (first,) + tuple(build_day(instance, start, LEAD_MINUTES, f"{run}-a{k}") for k in range(1, count))
    return Workload(instance, run, days)


def load_workload(factory: sessionmaker[Session], workload: Workload, chunk: int = 200) -> None:
    """Insert every area's row (with the travel matrix), providers, elders and
    caregivers; ``chunk`` areas per transaction. The ids are new (``run``
    prefix), so rows are added, not merged."""
    matrix = [list(r) for r in workload.instance.distances]
    for i in range(0, len(workload.days), chunk):
        days = workload.days[i : i + chunk]
        with factory() as session:
            register.add_service_areas(
                session,
                [
                    {
                        "service_area": d.area,
                        "name": f"UHHC {workload.instance.name} copy {d.area}",
                        "travel_matrix": matrix,
                        "shift_end_hard": workload.instance.shift_end_hard,
                    }
                    for d in days
                ],
            )
            for group in ("providers", "elders", "caregivers"):
                session.add_all([obj for d in days for obj in getattr(d, group)])
                session.flush()
            session.commit()
