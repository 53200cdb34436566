"""Following a day plan live: each request of a planned area is offered first
to the caregiver and start the plan gave it (``handlers.dispatch.planning``
makes the plan), and online when the plan has no slot that still fits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from handlers import events as ev
from handlers.dispatch import offers
from handlers.dispatch.scheduling import DispatchPolicy, Ranking, TravelTimes, insertion_at
from handlers.model import CareRequest
from handlers.ports import UnitOfWork


@dataclass(frozen=True)
class PlannedVisit:
    """A visit of the day plan: who does it, when (aware datetimes), where
    (travel-matrix index), and when the caregiver was told (``announced_at``,
    so they may set off for it before its request formally arrives).

    What the plan knows of the request before it arrives, so a repair
    (``handlers.dispatch.repair``) may move the slot: ``service_type``, the start
    range ``window_start``..``latest_start`` (aware; the latest on-time start),
    ``window_hard``, and ``synchronised`` (half of a synchronised pair: never moved).
    None when unknown (a slot read back from the database): the slot then stays put."""

    caregiver_id: str
    start: datetime
    end: datetime
    location_index: int | None = None
    announced_at: datetime | None = None
    service_type: str | None = None
    window_start: datetime | None = None
    latest_start: datetime | None = None
    window_hard: bool = False
    synchronised: bool = False


def receive_planned(
    request: CareRequest,
    plan: Mapping[str, PlannedVisit],
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    unplanned: offers.Reoffer | None = None,
) -> None:
    """Receive a request of a planned day: offer it first to its planned
    caregiver at its planned start; when the plan has no slot for it, or the
    slot no longer fits the caregiver's day (``scheduling.insertion_at``),
    ``unplanned(request)`` when given (the bus passes the repair for an urgent request,
    ``handlers.messagebus``), else dispatch it online (``offers.offer_next``). A declined or
    expired planned offer moves on as the area's re-offer hook says. A follower takes its
    anchor's planned start as its anchor time, so the pair is offered as planned."""
    planned = plan.get(request.request_id)
    anchor = plan.get(request.sync_partner_id or "")
    if request.waits_for_anchor and planned is not None and anchor is not None:
        request.sync_anchor_start = anchor.start
    if not offers.register_request(request, uow, now, policy):
        return
    caregiver = uow.caregivers.get(planned.caregiver_id) if planned is not None else None
    if (
        planned is not None
        and caregiver is not None
        and caregiver.active
        and planned.start >= now
        and policy.covers(caregiver.abilities, request.service_type)
    ):
        fit = insertion_at(
            request,
            caregiver,
            uow.bookings([caregiver.caregiver_id])[caregiver.caregiver_id],
            travel,
            planned.start,
            min(now, planned.announced_at or now),
            policy,
        )
        if not isinstance(fit, str):
            uow.emit(ev.dispatch_decided(request, Ranking((fit,), {}), policy, now))
            offers.offer_to(request, fit, len(uow.offers.for_request(request.request_id)) + 1, uow, now, policy)
            return
    if unplanned is not None:
        unplanned(request)
    else:
        offers.offer_next(request, uow, now, policy, travel)
