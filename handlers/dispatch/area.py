"""What dispatch needs to know about one service area: its routing policy,
its travel times and how requests are first offered there.

Modes: ``online`` offers each request on arrival; ``batched`` matches the
requests that arrived within ``batch_interval_seconds`` as one assignment
problem (``handlers.dispatch.batching``; emergencies never wait for a batch);
``planned`` offers each request first to the caregiver a day plan gave it
(``handlers.dispatch.planning``). The bootstrap builds one per area
(``careline.bootstrap``); the offline runner builds its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from handlers.dispatch.scheduling import DispatchPolicy, TravelTimes

Mode = Literal["online", "batched", "planned"]
MODES: tuple[Mode, ...] = ("online", "batched", "planned")


@dataclass(frozen=True)
class AreaContext:
    """A service area's dispatch context; ``batch_interval_seconds`` in (simulated) seconds."""

    policy: DispatchPolicy
    travel: TravelTimes
    mode: Mode = "online"
    batch_interval_seconds: float = 60.0
