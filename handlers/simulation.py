"""A seeded model of caregivers answering offers, for replays and benchmarks.

Each offer gets an answer drawn from a generator seeded by (seed, offer id),
so a replay is repeatable however the events interleave: accept with
probability ``accept_rate``, decline with ``decline_rate``, otherwise no
answer (the offer times out). Answers come ``reply_delay_seconds`` after the
offer (uniform). A caregiver who accepted travels per the instance matrix
and checks in at the planned start and out after the service duration,
optionally late by a seeded delay.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from dataclasses import dataclass
from typing import Literal

Answer = Literal["accept", "decline", "ignore"]


@dataclass(frozen=True)
class CaregiverModel:
    seed: int = 7
    accept_rate: float = 0.85
    decline_rate: float = 0.10
    reply_delay_seconds: tuple[float, float] = (10.0, 90.0)
    late_arrival_rate: float = 0.0
    late_arrival_minutes: tuple[float, float] = (1.0, 10.0)

    def __post_init__(self) -> None:
        if not 0 <= self.accept_rate + self.decline_rate <= 1:
            raise ValueError("accept_rate + decline_rate must lie in [0, 1]")

    def answer(self, offer_id: str) -> tuple[Answer, float]:
        """The answer to an offer and its delay in seconds."""
        rng = random.Random(f"{self.seed}:offer:{offer_id}")
        draw, delay = rng.random(), rng.uniform(*self.reply_delay_seconds)
        if draw < self.accept_rate:
            return "accept", delay
        if draw < self.accept_rate + self.decline_rate:
            return "decline", delay
        return "ignore", delay

    def arrival_delay_minutes(self, visit_id: str) -> float:
        """Minutes after the planned start at which the caregiver checks in."""
        rng = random.Random(f"{self.seed}:arrival:{visit_id}")
        if rng.random() < self.late_arrival_rate:
            return rng.uniform(*self.late_arrival_minutes)
        return 0.0


@dataclass(frozen=True)
class CaregiverAction:
    """Something a simulated caregiver will do at ``due``: ``accept`` or
    ``decline`` an offer, ``check_in`` or ``check_out`` of a visit."""

    due: datetime
    kind: str
    request_id: str
    caregiver_id: str
    offer_id: str = ""


def reactions(model: CaregiverModel, event_type: str, payload: dict,
              now: datetime) -> list[CaregiverAction]:
    """What the simulated caregivers do about an event sent to them.

    ``dispatch.offer.created`` gets an answer (or none); ``dispatch.offer.accepted``
    (the assignment confirmation) gets a check-in at the planned start plus the
    seeded delay and a check-out one service duration later.
    """
    if event_type not in ("dispatch.offer.created", "dispatch.offer.accepted"):
        return []
    rid, cid = payload["request_id"], payload["caregiver_id"]
    if event_type == "dispatch.offer.created":
        answer, delay = model.answer(payload["offer_id"])
        if answer == "ignore":
            return []
        return [CaregiverAction(now + timedelta(seconds=delay), answer, rid, cid, payload["offer_id"])]
    if event_type == "dispatch.offer.accepted":
        start = datetime.fromisoformat(payload["planned_start"])
        end = datetime.fromisoformat(payload["planned_end"])
        arrive = max(start, now) + timedelta(minutes=model.arrival_delay_minutes(payload["visit_id"]))
        return [CaregiverAction(arrive, "check_in", rid, cid),
                CaregiverAction(arrive + (end - start), "check_out", rid, cid)]
    return []


class CaregiverFleet:
    """Simulated caregivers who cannot be in two places at once.

    Answers offers like ``reactions``; after an assignment, a caregiver checks
    in at the planned start plus the seeded delay, but never before finishing
    the previous visit and travelling from it (matrix minutes), and checks out
    one service duration after checking in.
    """

    def __init__(self, model: CaregiverModel, travel, homes: dict[str, int | None]) -> None:  # noqa: ANN001
        self.model, self.travel = model, travel
        self._where: dict[str, tuple[int | None, datetime | None]] = {c: (h, None) for c, h in homes.items()}
        self._visits: dict[str, tuple[int | None, timedelta]] = {}

    def on_event(self, event_type: str, payload: dict, now: datetime) -> list[CaregiverAction]:
        """Actions caused by an event sent to caregivers (offers, assignments)."""
        if event_type == "dispatch.offer.accepted":
            start = datetime.fromisoformat(payload["planned_start"])
            duration = datetime.fromisoformat(payload["planned_end"]) - start
            self._visits[payload["request_id"]] = (payload.get("location_index"), duration)
            arrive = max(start, now) + timedelta(minutes=self.model.arrival_delay_minutes(payload["visit_id"]))
            return [CaregiverAction(arrive, "check_in", payload["request_id"], payload["caregiver_id"])]
        if event_type == "dispatch.offer.created":
            return reactions(self.model, event_type, payload, now)
        return []

    def act(self, action: CaregiverAction) -> tuple[CaregiverAction | None, list[CaregiverAction]]:
        """When ``action`` comes due: (the action to perform now, or None if it
        must wait) and the actions to schedule next."""
        if action.kind != "check_in":
            return action, []
        location, duration = self._visits.get(action.request_id, (None, timedelta(0)))
        here, free_at = self._where.get(action.caregiver_id, (None, None))
        if free_at is not None:
            ready = free_at + timedelta(minutes=self.travel.minutes(here, location))
            if action.due < ready:
                return None, [CaregiverAction(ready, action.kind, action.request_id, action.caregiver_id)]
        self._where[action.caregiver_id] = (location, action.due + duration)
        return action, [CaregiverAction(action.due + duration, "check_out", action.request_id, action.caregiver_id)]
