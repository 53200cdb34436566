"""Live KPIs: the events of a request's life folded into counters, so that a
stream processor can keep them in rolling windows (``Windows``, held by
``streams.live_kpis``) and read the same ``handlers.evaluation.kpis.Kpis`` the monthly
report computes from stored rows.

Shapes:

- ``tallies(event, on_time_minutes)``: one CloudEvents record (a dict with
  ``type``, ``time``, ``data``) -> ``[Tally]``, one per subject it counts for
  (``provider:<id>`` and ``caregiver:<id>``); an event that counts for
  nothing gives ``[]``.
- ``Counts``: a dict of counter name -> number that adds up with ``+``, also
  onto a plain dict.
- ``kpis_from_counts(subject_id, counts, policy)`` -> ``Kpis``.
- ``Windows``: each subject's counters in event-time windows, every tally
  counted once by its id however often it is delivered.

Counters (all per subject, per window):

========================  ====================================================
``offers``                answerable offers: accepted, rejected, timed out
                          (an acceptance that overturns a timeout counts once)
``accepted``              accepted offers
``accept_le_<s>``         accepted offers answered within ``<s>`` seconds
                          (histogram buckets ``ACCEPT_BUCKETS_SECONDS``)
``visits``                visits due: completed or no-show
``completed``             completed visits
``no_shows``              no-shows
``arrived``               completed visits with a check-in
``on_time``               arrivals at most ``on_time_minutes`` late
``evv_clean``             arrivals without an EVV flag, plus flags an operator
                          review marked ``corrected`` (the visit's last one)
``ratings`` / ``stars``   ratings and the sum of their stars
``complaints``            complaints
========================  ====================================================

Each counter is the live twin of a rule in ``handlers.evaluation.kpis`` (the unit tests
check both give the same numbers from the same outcomes). The one
approximation: the median seconds to accept comes from the histogram,
interpolated linearly inside its bucket as Prometheus' ``histogram_quantile``
does, because a window cannot keep every answer time.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

from handlers.evaluation.kpis import KpiPolicy, Kpis, bayesian_average_of, complaints_per_100_visits, share

#: upper bounds (seconds) of the time-to-accept histogram; offers expire within 15 min
#: (DESIGN.md ladder), so answers beyond an hour are rare and share the last bucket
ACCEPT_BUCKETS_SECONDS = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, float("inf"))
SCOPES = ("provider", "caregiver")
_ANSWERED = {"dispatch.offer.accepted", "dispatch.offer.rejected", "dispatch.offer.timeout"}


def bucket_name(upper: float) -> str:
    """The counter of the time-to-accept bucket with upper bound ``upper`` seconds:
    ``accept_le_60``, or ``accept_le_inf`` for the open last bucket."""
    return "accept_le_inf" if upper == float("inf") else f"accept_le_{int(upper)}"


class Counts(dict[str, float]):
    """Counter name -> number; ``a + b`` adds per name (either side may be a plain dict)."""

    def __add__(self, other: Mapping[str, float]) -> Counts:
        total = Counts(self)
        for name, value in (other or {}).items():
            total[name] = total.get(name, 0) + value
        return total

    __radd__ = __add__


@dataclass(frozen=True)
class Tally:
    """What one event adds to one subject's counters, at event time ``at``."""

    key: str
    counts: Counts
    at: datetime


def subject_key(scope: str, subject_id: str) -> str:
    """``provider:<id>`` or ``caregiver:<id>``; ValueError for another scope."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    return f"{scope}:{subject_id}"


def split_key(key: str) -> tuple[str, str]:
    """``provider:p1`` -> ``("provider", "p1")``."""
    scope, _, subject = key.partition(":")
    return scope, subject


def _for(data: Mapping[str, Any], counts: dict[str, float], at: datetime) -> list[Tally]:
    out = []
    for scope in SCOPES:
        subject = data.get(f"{scope}_id")
        if isinstance(subject, str) and subject:
            out.append(Tally(subject_key(scope, subject), Counts(counts), at))
    return out


def _time(value: object) -> datetime | None:
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return at if at is not None and at.tzinfo is not None else None


def tallies(event: Mapping[str, Any], on_time_minutes: float) -> list[Tally]:
    """The counters one lifecycle, offer or feedback event adds (see the
    module table); ``[]`` for other types and for records without a zoned
    ``time`` or without ``data``. ``on_time_minutes`` is
    ``KpiPolicy.on_time_minutes`` (5 min shipped)."""
    type_, data, at = event.get("type"), event.get("data"), _time(event.get("time"))
    if not isinstance(data, Mapping) or at is None:
        return []
    counts: dict[str, float] = {}
    if type_ in _ANSWERED:
        counts["offers"] = 1
        if type_ == "dispatch.offer.accepted":
            counts["accepted"] = 1
            if data.get("supersedes") in ("timeout", "rejected"):
                counts["offers"] = 0  # its timeout was counted as an answer already
            offered = _time(data.get("offered_at"))
            if offered is not None:
                waited = max(0.0, (at - offered).total_seconds())
                upper = ACCEPT_BUCKETS_SECONDS[bisect.bisect_left(ACCEPT_BUCKETS_SECONDS, waited)]
                counts[bucket_name(upper)] = 1
    elif type_ == "care.visit.completed":
        counts.update(visits=1, completed=1)
        if data.get("check_in_at"):
            lateness = data.get("lateness_minutes") or 0.0
            counts.update(arrived=1, on_time=int(lateness <= on_time_minutes), evv_clean=int(not data.get("evv_flags")))
    elif type_ == "care.visit.no_show":
        counts.update(visits=1, no_shows=1)
    elif type_ in ("care.feedback.rating", "care.feedback.rated"):
        stars = data.get("stars", data.get("rating"))
        if isinstance(stars, int) and not isinstance(stars, bool) and 1 <= stars <= 5:
            counts.update(ratings=1, stars=stars)
    elif type_ == "care.feedback.complaint":
        counts["complaints"] = 1
    elif type_ == "care.visit.evv_reviewed" and data.get("evv_cleared"):
        counts["evv_clean"] = 1
    if not any(counts.values()):
        return []
    return _for(data, {k: v for k, v in counts.items() if v}, at)


def histogram_median(counts: Mapping[str, float]) -> float | None:
    """The median seconds to accept from the ``accept_le_<s>`` buckets, linear
    inside the bucket that holds it (lower bound 0 for the first); the last,
    open bucket answers its lower bound. ``None`` without accepted offers."""
    per_bucket = [counts.get(bucket_name(b), 0) for b in ACCEPT_BUCKETS_SECONDS]
    total = sum(per_bucket)
    if not total:
        return None
    rank, seen, lower = total / 2.0, 0.0, 0.0
    for upper, n in zip(ACCEPT_BUCKETS_SECONDS, per_bucket, strict=False):
        if n and seen + n >= rank:
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * (rank - seen) / n
        seen += n
        lower = upper
    return lower


def kpis_from_counts(subject_id: str, counts: Mapping[str, float], policy: KpiPolicy) -> Kpis:
    """The ``Kpis`` of one subject from its window's counters; the same
    definitions as ``handlers.evaluation.kpis.compute_kpis``."""

    def c(name: str) -> float:
        return counts.get(name, 0)

    ratings = int(c("ratings"))
    return Kpis(
        subject_id=subject_id,
        offers=int(c("offers")),
        acceptance_rate=share(c("accepted"), c("offers")),
        median_seconds_to_accept=histogram_median(counts),
        visits=int(c("visits")),
        on_time_rate=share(c("on_time"), c("arrived")),
        completion_rate=share(c("completed"), c("visits")),
        no_shows=int(c("no_shows")),
        evv_compliance_rate=share(min(c("evv_clean"), c("arrived")), c("arrived")),
        ratings=ratings,
        mean_stars=c("stars") / ratings if ratings else None,
        satisfaction=bayesian_average_of(c("stars"), ratings, policy.prior_mean, policy.prior_weight),
        complaints=int(c("complaints")),
        complaints_per_100_visits=complaints_per_100_visits(int(c("complaints")), int(c("visits"))),
    )


@dataclass
class Windows:
    """Each subject's counters in tumbling event-time windows of ``step_seconds``,
    kept for the last ``steps`` windows (the rolling window: 24 windows of an hour).

    A tally counts once: each window keeps the ids of the tallies it counted, so a
    tally delivered again (re-read after a worker restart, re-sent by a worker that
    died before its offset was committed, from an event the outbox relay published
    twice) changes nothing. Ids are kept as Python hashes, so in one process only;
    a window's ids go when the window leaves the rolling window.

    ``add`` returns whether the tally counted; ``total`` sums a subject's rolling
    window; ``drop`` forgets subjects (a partition moved to another worker)."""

    step_seconds: float
    steps: int
    counts: dict[str, dict[float, Counts]] = field(default_factory=dict)
    counted: dict[str, dict[float, set[int]]] = field(default_factory=dict)

    def window_start(self, ts: float) -> float:
        """Start (epoch seconds) of the window holding ``ts``."""
        return math.floor(ts / self.step_seconds) * self.step_seconds

    def add(self, key: str, tally_id: str | None, counts: Mapping[str, float], ts: float) -> bool:
        """Count ``counts`` for subject ``key`` at event time ``ts`` (epoch seconds), unless
        the tally ``tally_id`` was counted already (None: a tally without an id always counts)."""
        start = self.window_start(ts)
        ids = self.counted.setdefault(key, {}).setdefault(start, set())
        if tally_id is not None:
            if hash(tally_id) in ids:
                return False
            ids.add(hash(tally_id))
        held = self.counts.setdefault(key, {})
        held[start] = held.get(start, Counts()) + counts
        oldest = max(held) - (self.steps - 1) * self.step_seconds
        for old in [s for s in held if s < oldest]:
            del held[old]
            self.counted[key].pop(old, None)
        return True

    def total(self, key: str, now_ts: float) -> Counts:
        """Subject ``key``'s counters over the rolling window that ends with the window holding ``now_ts``."""
        newest = self.window_start(now_ts)
        oldest = newest - (self.steps - 1) * self.step_seconds
        total = Counts()
        for start, counts in self.counts.get(key, {}).items():
            if oldest <= start <= newest:
                total = total + counts
        return total

    def subjects(self) -> list[str]:
        """The subject keys with counters (``provider:<id>``, ``caregiver:<id>``), in first-counted order."""
        return list(self.counts)

    def drop(self, keys: Iterable[str]) -> None:
        """Forget the counters and counted tally ids of ``keys`` (a partition moved to another
        worker, which rebuilds them); unknown keys are ignored."""
        for key in list(keys):
            self.counts.pop(key, None)
            self.counted.pop(key, None)
