"""Provider scores that feed dispatch: the evaluation loop closes here.

From a window of offers, visits and feedback, each provider's KPIs
(``handlers.evaluation.kpis``) and composite score 0–100 with the configured weights.
Dispatch reads the scores (``RankingContext.provider_scores``) and adds
``provider_score_weight`` minutes of cost per point below 100; a share of
requests (``exploration_share``, epsilon-greedy) ignores scores so that a
new or low-volume provider still gets work and can be measured.
"""

from __future__ import annotations

import zlib
from typing import Iterable, Mapping

from handlers.evaluation.kpis import (
    Complaint,
    KpiPolicy,
    OfferOutcome,
    Rating,
    VisitOutcome,
    composite_score,
    provider_kpis,
)
from handlers.model import Feedback, Offer, OfferStatus, Visit, VisitStatus


def explores(request_id: str, share: float) -> bool:
    """Whether this request is dispatched without provider scores: a stable
    draw from the request id, true for about ``share`` of requests."""
    return (zlib.crc32(request_id.encode()) % 10_000) < share * 10_000


def outcomes(
    offers: Iterable[Offer], visits: Iterable[Visit], provider_of: Mapping[str, str]
) -> tuple[list[OfferOutcome], list[VisitOutcome]]:
    """KPI inputs from stored offers and visits (``provider_of``: caregiver -> provider)."""
    offer_outcomes = [
        OfferOutcome(provider_of.get(o.caregiver_id, "?"), o.caregiver_id, o.created_at, o.responded_at, o.status.value)
        for o in offers
        if o.status != OfferStatus.PENDING
    ]
    visit_outcomes = [
        VisitOutcome(
            v.provider_id,
            v.caregiver_id,
            v.planned_start,
            v.check_in_at,
            v.lateness_minutes,
            v.status == VisitStatus.COMPLETED,
            v.status == VisitStatus.NO_SHOW,
        )
        for v in visits
        if v.status in (VisitStatus.COMPLETED, VisitStatus.NO_SHOW)
    ]
    return offer_outcomes, visit_outcomes


def provider_scores(
    offers: list[OfferOutcome],
    visits: list[VisitOutcome],
    ratings: list[Rating],
    complaints: list[Complaint],
    weights: Mapping[str, float],
    policy: KpiPolicy,
) -> dict[str, float]:
    """Composite score 0–100 per provider present in the inputs."""
    kpis = provider_kpis(offers, visits, ratings, complaints, policy)
    return {pid: round(composite_score(k, weights, policy), 2) for pid, k in kpis.items()}


def feedback_outcomes(
    feedback: Iterable[Feedback], visit_of_request: Mapping[str, Visit]
) -> tuple[list[Rating], list[Complaint]]:
    """Ratings and complaints attributed to the provider and caregiver of the
    request's visit; feedback on a request without a visit is left out."""
    ratings, complaints = [], []
    for f in feedback:
        v = visit_of_request.get(f.request_id)
        if v is None:
            continue
        if f.kind == "rating" and f.rating is not None:
            ratings.append(Rating(v.provider_id, v.caregiver_id, f.rating))
        elif f.kind == "complaint":
            complaints.append(Complaint(v.provider_id, f.category or "incomplete", v.caregiver_id))
    return ratings, complaints


def scores_from(
    offers: Iterable[Offer],
    visits: Iterable[Visit],
    feedback: Iterable[Feedback],
    provider_of: Mapping[str, str],
    weights: Mapping[str, float],
    policy: KpiPolicy,
) -> dict[str, float]:
    """Provider scores from stored records (the window is the caller's choice)."""
    visits = list(visits)
    offer_o, visit_o = outcomes(offers, visits, provider_of)
    latest = {v.request_id: v for v in sorted(visits, key=lambda v: v.planned_start)}
    ratings, complaints = feedback_outcomes(feedback, latest)
    return provider_scores(offer_o, visit_o, ratings, complaints, weights, policy)
