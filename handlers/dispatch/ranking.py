"""The ranking context: what dispatch knows about an elder and the caregivers'
day beyond the routes (continuity, contracts, provider scores, workload,
language and preferences), built from plain lists so both units of work
(``db.uow.SqlUnitOfWork`` and the in-memory one) share one rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable, Protocol, Sequence

from handlers.dispatch.scheduling import RankingContext
from handlers.model import CareRequest, Elder, ProviderOrganisation, VisitStatus

_DEAD = (VisitStatus.CANCELLED, VisitStatus.NO_SHOW)


class VisitFacts(Protocol):
    """What the ranking context reads of a visit: a ``Visit``, or a unit of work's summary
    of one (``db.partition_state`` keeps only these for an elder's past visits)."""

    @property
    def caregiver_id(self) -> str:
        """Who made (or makes) the visit."""
        ...

    @property
    def status(self) -> VisitStatus:
        """The visit's status: cancelled and no-show visits count for no one."""
        ...

    @property
    def planned_start(self) -> datetime:
        """When the visit was planned to start (aware UTC): which day it counts for."""
        ...


def context_from(
    request: CareRequest,
    now: datetime,
    elder_visits: Iterable[VisitFacts],
    live_visits: Iterable[VisitFacts],
    providers: Sequence[ProviderOrganisation],
    explore: bool = False,
    elder: Elder | None = None,
) -> RankingContext:
    """Build the ranking context from plain lists (shared by both units of work):
    caregivers the elder had in the last 30 days, contracts and scores of
    providers, live visits per caregiver on the request's day, and the
    elder's language, preferred caregiver gender, preferred and excluded caregivers.
    Unrecorded values (a caregiver without a recorded gender) exclude nobody."""
    recent = frozenset(
        v.caregiver_id for v in elder_visits if v.status not in _DEAD and v.planned_start >= now - timedelta(days=30)
    )
    day = request.window_start.date()
    today: dict[str, int] = {}
    for v in live_visits:
        if v.planned_start.date() == day:
            today[v.caregiver_id] = today.get(v.caregiver_id, 0) + 1
    contracts = {p.provider_id: frozenset(p.service_types.split()) for p in providers}
    scores = {p.provider_id: p.score for p in providers if p.score is not None}
    return RankingContext(
        recent_caregivers=recent,
        provider_services=contracts,
        provider_scores=scores,
        visits_today=today,
        explore=explore,
        excluded_caregivers=frozenset((getattr(elder, "excluded_caregivers", "") or "").split()),
        preferred_caregivers=frozenset((getattr(elder, "preferred_caregivers", "") or "").split()),
        language=getattr(elder, "language", None),
        preferred_gender=getattr(elder, "preferred_gender", None),
    )
