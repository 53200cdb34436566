"""Key performance indicators of providers and caregivers, and the composite
score that ranks them.

Pure functions over plain frozen dataclasses, so the monthly report, the
stream worker and tests compute the same numbers. Rates are shares 0..1,
``None`` when there is nothing to count; times are seconds or minutes as named.
Thresholds and weights ship in ``config/evaluation.toml``.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, Mapping, Protocol, Sequence, TypeVar

COMPLAINT_CATEGORIES = ("late", "no-show", "rude", "incomplete", "safety")
ANSWERABLE_OFFER_STATUSES = ("accepted", "rejected", "timeout")
SCORED_KPIS = ("on_time", "completion", "satisfaction", "evv_compliance", "acceptance", "complaints")
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "on_time": 0.25,
    "completion": 0.20,
    "satisfaction": 0.20,
    "evv_compliance": 0.15,
    "acceptance": 0.10,
    "complaints": 0.10,
}


def counted_offer_status(status: str, has_visit: bool) -> str:
    """The status an offer counts with: ``canceled`` with a visit counts as ``accepted``
    (``handlers.visits.disruptions`` cancels an accepted offer whose visit fell through, a no-show
    or a call-off; the caregiver did accept, and the no-show counts among the visits); any
    other status as stored. ``status`` is an ``OfferStatus`` value."""
    return "accepted" if status == "canceled" and has_visit else status


@dataclass(frozen=True)
class OfferOutcome:
    """One offer (TaskRouter reservation) and how it ended; ``status`` is an
    ``OfferStatus`` value."""

    provider_id: str
    caregiver_id: str
    offered_at: datetime
    responded_at: datetime | None
    status: str


@dataclass(frozen=True)
class VisitOutcome:
    """One visit due (cancelled visits are left out by the caller).

    ``lateness_minutes`` is minutes after the latest on-time start promised
    to the elder (as ``handlers.visits.attendance.check_in`` measures it); ``evv_flags``
    holds ``EvvFlagCode`` values raised at check-in and check-out.
    """

    provider_id: str
    caregiver_id: str
    planned_start: datetime
    check_in_at: datetime | None
    lateness_minutes: float
    completed: bool
    no_show: bool
    evv_flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rating:
    """A callback-survey (回访) rating of one visit, 1..5 stars; ValueError otherwise."""

    provider_id: str
    caregiver_id: str | None
    stars: int

    def __post_init__(self) -> None:
        if not 1 <= self.stars <= 5:
            raise ValueError(f"stars must be 1..5, got {self.stars}")


@dataclass(frozen=True)
class Complaint:
    """A complaint about a visit; ``category`` is one of ``COMPLAINT_CATEGORIES``."""

    provider_id: str
    category: str
    caregiver_id: str | None = None

    def __post_init__(self) -> None:
        if self.category not in COMPLAINT_CATEGORIES:
            raise ValueError(f"complaint category must be one of {COMPLAINT_CATEGORIES}, got {self.category!r}")


@dataclass(frozen=True)
class CenterRating:
    """A provider's rating of the dispatch center for one visit: was the
    information right, was the notice enough, and optionally 1..5 stars
    (``handlers.evaluation.center_ratings``)."""

    provider_id: str
    information_right: bool
    notice_enough: bool
    stars: int | None = None


@dataclass(frozen=True)
class KpiPolicy:
    """Thresholds of the KPIs (shipped values in ``config/evaluation.toml``).

    - ``on_time_minutes`` (5): an arrival is on time up to 5 min late; home-care
      agencies raise the late-visit alert from 5 min (DESIGN.md).
    - ``prior_mean`` (3.0 stars) and ``prior_weight`` (5 ratings): the Bayesian
      average's prior; 3.0 is the middle of the 1..5 scale, so a provider
      without ratings scores neutral. careline policy.
    - ``complaint_ceiling_per_100`` (10): the complaint rate per 100 visits that
      scores 0; careline policy, to be set by the contracting authority.
    - ``neutral`` (0.5): the normalised value a KPI without data contributes to
      the composite, the middle of 0..1, so missing data neither rewards nor
      punishes a new provider.
    """

    on_time_minutes: float = 5.0
    prior_mean: float = 3.0
    prior_weight: float = 5.0
    complaint_ceiling_per_100: float = 10.0
    neutral: float = 0.5


@dataclass(frozen=True)
class Kpis:
    """The KPIs of one provider or caregiver over a period; see ``compute_kpis``."""

    subject_id: str
    offers: int
    acceptance_rate: float | None
    median_seconds_to_accept: float | None
    visits: int
    on_time_rate: float | None
    completion_rate: float | None
    no_shows: int
    evv_compliance_rate: float | None
    ratings: int
    mean_stars: float | None
    satisfaction: float
    complaints: int
    complaints_per_100_visits: float | None


def share(hits: float, total: float) -> float | None:
    """``hits / total`` (0..1), or None when ``total`` is 0: a KPI over no events is unknown, not 0."""
    return hits / total if total else None


def acceptance_rate(offers: Sequence[OfferOutcome]) -> float | None:
    """Accepted / answerable offers (accepted, rejected or timed out; an offer
    the center rescinded or canceled is not the caregiver's choice)."""
    answerable = [o for o in offers if o.status in ANSWERABLE_OFFER_STATUSES]
    return share(sum(o.status == "accepted" for o in answerable), len(answerable))


def median_seconds_to_accept(offers: Sequence[OfferOutcome]) -> float | None:
    """Median seconds from offer to acceptance over accepted offers."""
    waits = [
        (o.responded_at - o.offered_at).total_seconds()
        for o in offers
        if o.status == "accepted" and o.responded_at is not None
    ]
    return statistics.median(waits) if waits else None


def on_time_rate(visits: Sequence[VisitOutcome], threshold_minutes: float) -> float | None:
    """Arrivals at most ``threshold_minutes`` late / arrivals (visits checked
    in); no-shows count in ``no_shows`` and the completion rate instead."""
    arrived = [v for v in visits if v.check_in_at is not None]
    return share(sum(v.lateness_minutes <= threshold_minutes for v in arrived), len(arrived))


def completion_rate(visits: Sequence[VisitOutcome]) -> float | None:
    """Completed visits / visits due."""
    return share(sum(v.completed for v in visits), len(visits))


def evv_compliance_rate(visits: Sequence[VisitOutcome]) -> float | None:
    """Visits checked in without any EVV flag / visits checked in."""
    arrived = [v for v in visits if v.check_in_at is not None]
    return share(sum(not v.evv_flags for v in arrived), len(arrived))


def bayesian_average(stars: Sequence[int], prior_mean: float, prior_weight: float) -> float:
    """(prior_weight·prior_mean + Σ stars) / (prior_weight + n): the mean
    shrunk toward a prior by ``prior_weight`` pseudo-ratings, so three 5-star
    ratings do not outrank three hundred 4.8s. Same form as IMDb's Top 250
    weighted rating WR = v/(v+m)·R + m/(v+m)·C (the posterior mean under a
    conjugate prior)."""
    return bayesian_average_of(sum(stars), len(stars), prior_mean, prior_weight)


def bayesian_average_of(total_stars: float, ratings: int, prior_mean: float, prior_weight: float) -> float:
    """``bayesian_average`` from the sum and count of the stars (what a
    window of counters keeps, ``handlers.evaluation.live_kpis``)."""
    return (prior_weight * prior_mean + total_stars) / (prior_weight + ratings)


def complaints_per_100_visits(complaints: int, visits: int) -> float | None:
    """Complaints per 100 visits due."""
    return 100.0 * complaints / visits if visits else None


def compute_kpis(
    subject_id: str,
    offers: Sequence[OfferOutcome],
    visits: Sequence[VisitOutcome],
    ratings: Sequence[Rating],
    complaints: Sequence[Complaint],
    policy: KpiPolicy,
) -> Kpis:
    """Every KPI of one subject from its own offers, visits and feedback."""
    stars = [r.stars for r in ratings]
    return Kpis(
        subject_id=subject_id,
        offers=sum(o.status in ANSWERABLE_OFFER_STATUSES for o in offers),
        acceptance_rate=acceptance_rate(offers),
        median_seconds_to_accept=median_seconds_to_accept(offers),
        visits=len(visits),
        on_time_rate=on_time_rate(visits, policy.on_time_minutes),
        completion_rate=completion_rate(visits),
        no_shows=sum(v.no_show for v in visits),
        evv_compliance_rate=evv_compliance_rate(visits),
        ratings=len(stars),
        mean_stars=statistics.fmean(stars) if stars else None,
        satisfaction=bayesian_average(stars, policy.prior_mean, policy.prior_weight),
        complaints=len(complaints),
        complaints_per_100_visits=complaints_per_100_visits(len(complaints), len(visits)),
    )


class _Attributed(Protocol):
    """What the KPI inputs share: whose work an outcome or feedback is about."""

    @property
    def provider_id(self) -> str: ...
    @property
    def caregiver_id(self) -> str | None: ...


Input = TypeVar("Input", bound=_Attributed)
SubjectOf = Callable[[_Attributed], str | None]
"""The subject an input counts for (a provider or caregiver id); None leaves it out."""


def _group(items: Iterable[Input], key: SubjectOf) -> dict[str, list[Input]]:
    groups: dict[str, list[Input]] = {}
    for item in items:
        subject = key(item)
        if subject is not None:
            groups.setdefault(subject, []).append(item)
    return groups


def _kpis_by(
    key: SubjectOf,
    offers: Sequence[OfferOutcome],
    visits: Sequence[VisitOutcome],
    ratings: Sequence[Rating],
    complaints: Sequence[Complaint],
    policy: KpiPolicy,
) -> dict[str, Kpis]:
    by_offer, by_visit = _group(offers, key), _group(visits, key)
    by_rating, by_complaint = _group(ratings, key), _group(complaints, key)
    subjects = sorted(set(by_offer) | set(by_visit) | set(by_rating) | set(by_complaint))
    return {
        s: compute_kpis(
            s, by_offer.get(s, []), by_visit.get(s, []), by_rating.get(s, []), by_complaint.get(s, []), policy
        )
        for s in subjects
    }


def provider_kpis(
    offers: Sequence[OfferOutcome],
    visits: Sequence[VisitOutcome],
    ratings: Sequence[Rating],
    complaints: Sequence[Complaint],
    policy: KpiPolicy,
) -> dict[str, Kpis]:
    """KPIs per provider id, for every provider that appears in any input."""
    return _kpis_by(lambda x: x.provider_id, offers, visits, ratings, complaints, policy)


def caregiver_kpis(
    offers: Sequence[OfferOutcome],
    visits: Sequence[VisitOutcome],
    ratings: Sequence[Rating],
    complaints: Sequence[Complaint],
    policy: KpiPolicy,
) -> dict[str, Kpis]:
    """KPIs per caregiver id; ratings and complaints without a caregiver are left out."""
    return _kpis_by(lambda x: x.caregiver_id, offers, visits, ratings, complaints, policy)


def normalised(kpis: Kpis, policy: KpiPolicy) -> dict[str, float | None]:
    """Each scored KPI on 0..1 (1 best), ``None`` without data: rates as they
    are, satisfaction (stars − 1) / 4, complaints 1 − rate / ceiling (0 at or
    above ``complaint_ceiling_per_100``)."""
    c = kpis.complaints_per_100_visits
    return {
        "on_time": kpis.on_time_rate,
        "completion": kpis.completion_rate,
        "satisfaction": (kpis.satisfaction - 1.0) / 4.0,
        "evv_compliance": kpis.evv_compliance_rate,
        "acceptance": kpis.acceptance_rate,
        "complaints": None
        if c is None
        else 1.0 - min(c, policy.complaint_ceiling_per_100) / policy.complaint_ceiling_per_100,
    }


def check_weights(weights: Mapping[str, float]) -> None:
    """Raise ``ValueError`` unless the weights name only ``SCORED_KPIS``, are
    non-negative and sum to 1 (within 1e-6)."""
    unknown = set(weights) - set(SCORED_KPIS)
    if unknown:
        raise ValueError(f"unknown KPI weights {sorted(unknown)}; known: {', '.join(SCORED_KPIS)}")
    if any(w < 0 for w in weights.values()):
        raise ValueError("KPI weights must not be negative")
    if not math.isclose(sum(weights.values()), 1.0, abs_tol=1e-6):
        raise ValueError(f"KPI weights must sum to 1, they sum to {sum(weights.values()):.4f}")


def composite_score(kpis: Kpis, weights: Mapping[str, float], policy: KpiPolicy) -> float:
    """100 · Σ weight · normalised KPI, on 0..100; a KPI without data counts
    as ``policy.neutral`` (0.5). Default weights (``DEFAULT_WEIGHTS``): on
    time 0.25, completion 0.20, satisfaction 0.20, EVV compliance 0.15,
    acceptance 0.10, complaints 0.10 — careline's starting policy, weighting
    what the elder notices (0.75) over process (0.25); no published standard.
    Raises ``ValueError`` for bad weights (see ``check_weights``)."""
    check_weights(weights)
    values = normalised(kpis, policy)
    return 100.0 * sum(w * (policy.neutral if (v := values[k]) is None else v) for k, w in weights.items())


def ranking(
    kpis_by_subject: Mapping[str, Kpis], weights: Mapping[str, float], policy: KpiPolicy
) -> list[tuple[str, float]]:
    """(subject id, composite score) best first; ties by id."""
    scores = [(s, composite_score(k, weights, policy)) for s, k in kpis_by_subject.items()]
    return sorted(scores, key=lambda item: (-item[1], item[0]))


@dataclass(frozen=True)
class CenterScore:
    """How providers rate the center: shares 0..1 and ``score`` 0..100 (the
    mean of the two shares × 100); ``None`` without ratings. ``mean_stars``
    over the ratings that gave stars (optional, so not part of ``score``)."""

    ratings: int
    information_right_rate: float | None
    notice_enough_rate: float | None
    score: float | None
    mean_stars: float | None = None


def center_score(ratings: Sequence[CenterRating]) -> CenterScore:
    """The center's score from providers' ratings of the information and
    notice they got with their offers."""
    info = share(sum(r.information_right for r in ratings), len(ratings))
    notice = share(sum(r.notice_enough for r in ratings), len(ratings))
    score = None if info is None or notice is None else 50.0 * (info + notice)
    stars = [r.stars for r in ratings if r.stars is not None]
    return CenterScore(len(ratings), info, notice, score, statistics.fmean(stars) if stars else None)
