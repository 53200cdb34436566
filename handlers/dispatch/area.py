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

from dataclasses import dataclass, replace
from functools import cached_property
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
    background_repairs: bool = False
    """A planned area's repairs search beside the worker, their answers coming back as commands
    (``handlers.dispatch.repair.ask_solver``): set by the stream worker, which runs the solver
    agent; elsewhere (offline runner, tests, the bench) a repair searches where it is asked."""

    @cached_property
    def offer_policy(self) -> DispatchPolicy:
        """The policy an accept or a ladder step reads: confirmation rounds only in a planned area
        (``handlers.dispatch.rounds``), so an online or batched area's accept never reads the
        plan table (one query per accept on the worker's hot path, for nothing)."""
        return self.policy if self.mode == "planned" else replace(self.policy, confirm_rounds=0)

    def at_clock_speed(self, speed: float) -> AreaContext:
        """This context for a clock running ``speed`` times real time (a replay): a planned
        area's repair may take ``repair_seconds`` of the *day*, so its wall budget is divided by
        the speed (at 1200x, 3 s of solver time would be an hour of the replayed day in which
        the area's other events wait: CI saw a planned bazirha-E2 replay end a visit 33 min after
        its hard window). Below ``repair.MIN_SOLVER_SECONDS`` the repair falls back to insertion
        and says so. A confirmation round's re-plan (``confirm_round_seconds``) is divided the
        same way. Unchanged at speed 1 or slower."""
        if speed <= 1.0 or self.mode != "planned":
            return self
        p = self.policy
        return replace(
            self,
            policy=replace(
                p, repair_seconds=p.repair_seconds / speed, confirm_round_seconds=p.confirm_round_seconds / speed
            ),
        )


class InvalidMode(ValueError):
    """A dispatch mode or batch interval the register refuses; the message names the field."""


def check_mode(mode: str, batch_interval_seconds: float = 60.0) -> tuple[Mode, float]:
    """``(mode, batch_interval_seconds)`` checked: ``mode`` one of ``MODES`` (case and
    surrounding blanks ignored), the interval (seconds) in 1..3600 (a batch is matched at
    least once an hour). Raises ``InvalidMode`` naming the field and the values allowed."""
    m = mode.strip().lower()
    if m not in MODES:
        raise InvalidMode(f"dispatch_mode: {mode!r} is not one of {', '.join(MODES)}")
    if not 1.0 <= batch_interval_seconds <= 3600.0:
        raise InvalidMode(f"batch_interval_seconds: {batch_interval_seconds:g} is not between 1 and 3600 seconds")
    return m, float(batch_interval_seconds)
