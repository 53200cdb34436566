"""Simulated time for replays: ``sim = sim_origin + (wall - wall_origin) * speed``.

In production there is no simulation and the clock is the wall clock
(``speed`` 1, origins equal). A replay at speed 600 runs a 10-hour day in a
minute; every component reads the same clock so deadlines agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class SimClock:
    """A clock running ``speed`` simulated seconds per wall second from (``wall_origin``, ``sim_origin``), aware UTC datetimes."""

    wall_origin: datetime
    sim_origin: datetime
    speed: float = 1.0

    def now(self) -> datetime:
        """The simulated time now (aware UTC), from the wall clock."""
        return self.to_sim(datetime.now(UTC))

    def to_sim(self, wall: datetime) -> datetime:
        """The simulated time at wall time ``wall`` (both aware)."""
        return self.sim_origin + (wall - self.wall_origin) * self.speed

    def to_wall(self, sim: datetime) -> datetime:
        """The wall time at which the simulation reaches ``sim`` (both aware): when to fire a timer."""
        return self.wall_origin + (sim - self.sim_origin) / self.speed

    def wall_seconds(self, sim_seconds: float) -> float:
        """Wall seconds that ``sim_seconds`` of simulated time take."""
        return sim_seconds / self.speed


def wall_clock() -> SimClock:
    """The real clock: speed 1, origins at now (production, and whenever no replay clock is set)."""
    now = datetime.now(UTC)
    return SimClock(now, now, 1.0)
