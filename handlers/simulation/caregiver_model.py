"""A seeded model of caregivers and elders, for replays and benchmarks.

Each draw comes from a generator seeded by (seed, what, id), so a replay is
repeatable however events interleave. An offer is accepted with probability
``accept_rate``, declined with ``decline_rate``, otherwise left to time out,
``reply_delay_seconds`` after it was made. A caregiver who accepted travels
per the instance matrix, checks in at the planned start (late by a seeded
delay with ``late_arrival_rate``), never before finishing the previous visit
and travelling from it, and checks out one service duration later. After a
visit the elder rates it 1–5 with ``rating_rate`` (lower when the caregiver
came late) and complains with ``complaint_rate`` (more often when late).
Providers listed in ``poor_providers`` answer and arrive like a provider
that performs badly, to show the evaluation steering work away from them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Mapping

from handlers.dispatch.scheduling import TravelTimes

Answer = Literal["accept", "decline", "ignore"]


@dataclass(frozen=True)
class CaregiverModel:
    """Rates of the seeded caregiver and elder model (shares 0..1, delays in seconds or minutes as named); raises ``ValueError`` when accept + decline exceed 1."""

    seed: int = 7
    accept_rate: float = 0.85
    decline_rate: float = 0.10
    reply_delay_seconds: tuple[float, float] = (10.0, 90.0)
    late_arrival_rate: float = 0.0
    late_arrival_minutes: tuple[float, float] = (1.0, 10.0)
    rating_rate: float = 0.7
    complaint_rate: float = 0.02
    feedback_delay_minutes: float = 30.0
    poor_providers: tuple[str, ...] = ()
    poor_accept_rate: float = 0.45
    poor_late_arrival_rate: float = 0.6
    poor_late_arrival_minutes: tuple[float, float] = (10.0, 40.0)

    def __post_init__(self) -> None:
        if not 0 <= self.accept_rate + self.decline_rate <= 1:
            raise ValueError("accept_rate + decline_rate must lie in [0, 1]")

    def answer(self, offer_id: str, provider_id: str | None = None) -> tuple[Answer, float]:
        """The answer to an offer and its delay in seconds."""
        rng = random.Random(f"{self.seed}:offer:{offer_id}")
        draw, delay = rng.random(), rng.uniform(*self.reply_delay_seconds)
        accept = self.poor_accept_rate if provider_id in self.poor_providers else self.accept_rate
        if draw < accept:
            return "accept", delay
        if draw < accept + self.decline_rate:
            return "decline", delay
        return "ignore", delay

    def arrival_delay_minutes(self, visit_id: str, provider_id: str | None = None) -> float:
        """Minutes after the planned start at which the caregiver checks in."""
        rng = random.Random(f"{self.seed}:arrival:{visit_id}")
        poor = provider_id in self.poor_providers
        if rng.random() < (self.poor_late_arrival_rate if poor else self.late_arrival_rate):
            return rng.uniform(*(self.poor_late_arrival_minutes if poor else self.late_arrival_minutes))
        return 0.0

    def feedback(self, visit_id: str, late_minutes: float) -> tuple[int | None, bool]:
        """(stars 1–5 or None when the elder gives no rating, complains?)."""
        rng = random.Random(f"{self.seed}:feedback:{visit_id}")
        late = late_minutes > 5
        stars = None
        if rng.random() < self.rating_rate:
            stars = rng.choice([1, 2, 3, 3, 4]) if late else rng.choice([3, 4, 5, 5, 5])
        complaint = rng.random() < (min(1.0, self.complaint_rate * 10) if late else self.complaint_rate)
        return stars, complaint


@dataclass(frozen=True)
class CaregiverAction:
    """Something the simulated world does at ``due``: a caregiver's ``accept``,
    ``decline``, ``check_in`` or ``check_out``, or the elder's ``feedback``
    (``stars`` and ``complaint``)."""

    due: datetime
    kind: str
    request_id: str
    caregiver_id: str
    offer_id: str = ""
    stars: int | None = None
    complaint: bool = False
    told: int = 0
    """A check-in: which telling of the visit's start it is for (1 for the acceptance, then one more
    per move or cancellation); an older one lapses (``CaregiverFleet.act``)."""


def reactions(
    model: CaregiverModel, event_type: str, payload: Mapping[str, Any], now: datetime, provider_id: str | None = None
) -> list[CaregiverAction]:
    """A caregiver's answer to ``dispatch.offer.created`` (or none: a timeout)."""
    if event_type != "dispatch.offer.created":
        return []
    answer, delay = model.answer(payload["offer_id"], provider_id)
    if answer == "ignore":
        return []
    return [
        CaregiverAction(
            now + timedelta(seconds=delay), answer, payload["request_id"], payload["caregiver_id"], payload["offer_id"]
        )
    ]


class CaregiverFleet:
    """Simulated caregivers (who cannot be in two places at once) and elders."""

    def __init__(
        self,
        model: CaregiverModel,
        travel: TravelTimes,
        homes: dict[str, int | None],
        providers: dict[str, str] | None = None,
        travel_by_caregiver: Mapping[str, TravelTimes] | None = None,
    ) -> None:
        """``travel_by_caregiver``: a caregiver's own travel times (its travel mode's speed)
        where they differ from ``travel``."""
        self.model, self.travel = model, travel
        self.travel_by_caregiver = travel_by_caregiver or {}
        self.providers = providers or {}
        self._where: dict[str, tuple[int | None, datetime | None]] = {c: (h, None) for c, h in homes.items()}
        self._visits: dict[str, tuple[int | None, timedelta, datetime]] = {}
        # (request id, caregiver id) -> how many times its start was told (check-ins of older ones lapse)
        self._plans: dict[tuple[str, str], int] = {}

    def on_event(self, event_type: str, payload: Mapping[str, Any], now: datetime) -> list[CaregiverAction]:
        """Actions caused by an event sent to caregivers (offers, assignments)."""
        provider = self.providers.get(payload.get("caregiver_id", ""))
        if event_type in ("dispatch.offer.accepted", "care.visit.moved"):
            # accepted, or moved by a repair (same caregiver, a new start): she sets off for the new start
            rid = payload["request_id"]
            start = datetime.fromisoformat(payload["planned_start"])
            duration = datetime.fromisoformat(payload["planned_end"]) - start
            self._visits[rid] = (payload.get("location_index"), duration, start)
            key = (rid, payload["caregiver_id"])
            self._plans[key] = self._plans.get(key, 0) + 1
            delay = self.model.arrival_delay_minutes(payload["visit_id"], provider)
            return [
                CaregiverAction(
                    max(start, now) + timedelta(minutes=delay),
                    "check_in",
                    rid,
                    payload["caregiver_id"],
                    told=self._plans[key],
                )
            ]
        if event_type == "care.visit.cancelled" and payload.get("request_id") and payload.get("caregiver_id"):
            key = (payload["request_id"], payload["caregiver_id"])  # she does not go: her check-in lapses
            self._plans[key] = self._plans.get(key, 0) + 1
            return []
        return reactions(self.model, event_type, payload, now, provider)

    def act(self, action: CaregiverAction) -> tuple[CaregiverAction | None, list[CaregiverAction]]:
        """When ``action`` comes due: (the action to perform now, or None if it
        must wait) and the actions to schedule next."""
        if action.kind == "check_out":
            _, _, planned = self._visits.get(action.request_id, (None, timedelta(0), action.due))
            late = max(0.0, (action.due - planned).total_seconds() / 60 - self._duration(action))
            stars, complaint = self.model.feedback(action.request_id, late)
            if stars is None and not complaint:
                return action, []
            due = action.due + timedelta(minutes=self.model.feedback_delay_minutes)
            return action, [
                CaregiverAction(
                    due, "feedback", action.request_id, action.caregiver_id, stars=stars, complaint=complaint
                )
            ]
        if action.kind != "check_in":
            return action, []
        if action.told and action.told != self._plans.get((action.request_id, action.caregiver_id)):
            return None, []  # the visit was moved or cancelled since: the check-in for its new start stands
        location, duration, _ = self._visits.get(action.request_id, (None, timedelta(0), action.due))
        here, free_at = self._where.get(action.caregiver_id, (None, None))
        if free_at is not None:
            travel = self.travel_by_caregiver.get(action.caregiver_id, self.travel)
            ready = free_at + timedelta(minutes=travel.minutes(here, location))
            if action.due < ready:
                return None, [replace(action, due=ready)]
        self._where[action.caregiver_id] = (location, action.due + duration)
        return action, [CaregiverAction(action.due + duration, "check_out", action.request_id, action.caregiver_id)]

    def _duration(self, action: CaregiverAction) -> float:
        return self._visits.get(action.request_id, (None, timedelta(0), action.due))[1].total_seconds() / 60
