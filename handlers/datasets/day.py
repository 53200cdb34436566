"""A day of care from a UHHC instance: the register, the roster and the requests.

Each patient becomes a registered elder at its matrix location; each caregiver
joins one of ``providers`` synthetic provider organisations (round robin: the
benchmark has no providers, the evaluation needs some); each required service
becomes one intake record submitted ``lead_minutes`` before its window opens.
A synchronised pair keeps its rule: the second service is a follower of the
first (``sync``), submitted with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from handlers.datasets.uhhc import Instance, needs_in_submission_order, submission_minute
from handlers.model import Caregiver, Elder, ProviderOrganisation


@dataclass(frozen=True)
class Submission:
    """One intake record (``handlers.channels.intake`` shape) and when the replay submits it (aware)."""

    at: datetime
    record: dict[str, Any]


@dataclass(frozen=True)
class Day:
    """One UHHC instance as a careline day: a single service ``area``, minute 0 at ``start``
    (aware), the register (elders, providers, caregivers) and the timed submissions in order."""

    area: str
    start: datetime
    elders: tuple[Elder, ...]
    providers: tuple[ProviderOrganisation, ...]
    caregivers: tuple[Caregiver, ...]
    submissions: tuple[Submission, ...]

    def minute(self, at: datetime) -> float:
        """Minutes since the start of the day."""
        return (at - self.start).total_seconds() / 60.0


def request_id(run: str, patient_id: str, service_id: str) -> str:
    """The care request id of a UHHC need: ``<run>.<patient>.<service>``, unique across replays."""
    return f"{run}.{patient_id}.{service_id}"


def build_day(
    instance: Instance,
    start: datetime,
    lead_minutes: float,
    run: str,
    providers: int = 2,
    twin_roster: bool = False,
    booked_minute: float | None = None,
) -> Day:
    """The register, roster and timed intake records of one instance day.

    ``start`` is minute 0 of the instance (aware datetime); ``run`` prefixes
    every id so several replays can share a database. With ``twin_roster``
    every provider employs a copy of the whole roster (``c1``, ``c1~p2`` …),
    so each request has equally able candidates at every provider and the
    provider evaluation alone separates them. With ``booked_minute`` every request is submitted at
    that minute instead (e.g. -600: booked by 21:00 the evening before a 07:00 start), in the same
    order.
    """
    area = f"{run}.area"

    def at(minute: float) -> datetime:
        return start + timedelta(minutes=minute)

    elders = tuple(
        Elder(f"{run}.{n.patient_id}", area, n.location_index)
        for n in {n.patient_id: n for n in instance.needs}.values()
    )
    orgs = tuple(
        ProviderOrganisation(
            f"{run}.prov{i + 1}",
            f"Provider {i + 1}",
            area,
            " ".join(sorted({a for c in instance.roster for a in c.abilities})),
        )
        for i in range(providers)
    )
    if twin_roster:
        caregivers = tuple(
            Caregiver(
                f"{run}.{c.caregiver_id}" + (f"~p{k + 1}" if k else ""),
                org.provider_id,
                area,
                " ".join(c.abilities),
                c.home_index,
                at(c.shift_start),
                at(c.shift_end),
            )
            for k, org in enumerate(orgs)
            for c in instance.roster
        )
    else:
        caregivers = tuple(
            Caregiver(
                f"{run}.{c.caregiver_id}",
                orgs[i % providers].provider_id,
                area,
                " ".join(c.abilities),
                c.home_index,
                at(c.shift_start),
                at(c.shift_end),
            )
            for i, c in enumerate(instance.roster)
        )
    submissions = []
    for need in needs_in_submission_order(instance, lead_minutes):
        rid = request_id(run, need.patient_id, need.service_id)
        record: dict[str, Any] = {
            "intake_id": rid,
            "request_id": rid,
            "channel": "replay",
            "elder_id": f"{run}.{need.patient_id}",
            "service_type": need.service_id,
            "duration_minutes": need.duration,
            "window": {"start": at(need.window_start).isoformat(), "end": at(need.window_end).isoformat()},
            "priority": "routine",
            "window_hard": instance.windows_hard,
            "window_at_service_end": instance.at_service_end,
            "submitted_at": at(submission_minute(need, lead_minutes)).isoformat(),
        }
        if need.sync_partner is not None and need.sync_type is not None:
            record["sync"] = {
                "type": need.sync_type.value,
                "follower": True,
                "partner_request_id": request_id(run, need.patient_id, need.sync_partner),
                "min_gap_minutes": need.sync_min_gap,
                "max_gap_minutes": need.sync_max_gap,
            }
        minute = submission_minute(need, lead_minutes) if booked_minute is None else booked_minute
        record["submitted_at"] = at(minute).isoformat()
        submissions.append(Submission(at(minute), record))
    return Day(area, start, elders, orgs, caregivers, tuple(submissions))
