"""The window an elder is promised: from the plan or the accepted visit, not the raw request window.

Issue 18 ("Promise only what the plan can keep"): an elder told "between 09:00 and 11:00" should
see the helper between 09:00 and 11:00. The request window is what the elder *asked for*; what
careline *promises* is a window around the start the dispatch actually holds:

- ``source="visit"``: a caregiver accepted an offer; the promise is around the visit's planned start
  (``Visit.planned_start``, i.e. the accepted offer's ``planned_start``);
- ``source="plan"``: a planned area's day plan holds a slot for the request but no caregiver has
  accepted yet (``handlers.dispatch.planned.PlannedVisit.start``);
- no promise (``None``): nothing holds a start yet; the elder is told "we will tell you the time".

The window is ``before_minutes`` before the held start to ``after_minutes`` after it: wider after
than before, the slack for a declined or timed-out offer that is re-dispatched later the same day
(careline policy, ``config/policy.toml`` ``[promise]``, loaded into ``DispatchPolicy``
``promise_before_minutes``/``promise_after_minutes``; not a DESIGN.md field and not from the UHHC
benchmark). It is clipped to the request's own window (a promise never reaches outside what the
elder asked for), except where the held start itself lies outside it (a plan may place a
soft-window visit late; the elder is then told the truth, not the asked-for window).

Once told, a promise is kept while the held start stays inside it (the window told is stored on the
request, ``told``): a re-dispatch to a start inside the told window says the same window again; a
start outside it is a *change*, told as a notice
(``elder.rescheduled``, ``handlers.channels.notices``) with the new window. Times are timezone-aware
datetimes; widths are minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from handlers.model import CareRequest

#: default minutes the promise opens before the held start (the EVV practice of a check-in up to
#: 15 min early, DESIGN.md; the app's former ±15 min arrival window)
PROMISE_BEFORE_MINUTES = 15.0
#: default minutes the promise reaches after the held start: the slack for a decline or timeout
#: re-dispatched later (careline policy, see docs/NOTES.md issue 18 "promised window" for the
#: measured share of visits starting inside it)
PROMISE_AFTER_MINUTES = 45.0

VISIT = "visit"
PLAN = "plan"


@dataclass(frozen=True)
class Promise:
    """``start``..``end`` (aware datetimes, ``start <= end``): when the elder is told the helper
    comes; ``source`` ``visit`` (accepted visit's planned start) or ``plan`` (a planned area's slot);
    ``held_start`` the start the window was made around."""

    start: datetime
    end: datetime
    source: str
    held_start: datetime

    def holds(self, start: datetime) -> bool:
        """Whether a visit starting at ``start`` keeps this promise (inclusive bounds)."""
        return self.start <= start <= self.end


def promised_window(
    request: CareRequest,
    held_start: datetime | None,
    source: str = VISIT,
    before_minutes: float = PROMISE_BEFORE_MINUTES,
    after_minutes: float = PROMISE_AFTER_MINUTES,
) -> Promise | None:
    """The promise for ``request`` around ``held_start`` (None when nothing holds a start: the
    elder is told "we will tell you the time"). The window ``held_start - before_minutes`` ..
    ``held_start + after_minutes`` is clipped to the request window (``window_start``..``window_end``,
    or, for a request whose window bounds the service end, ``window_end - duration``) on each side
    the held start lies inside; a held start outside the request window (a soft window the plan
    misses) keeps the full width on that side, so the elder is told the truth with its slack. Raises ``ValueError`` for a negative width or an
    unknown ``source``."""
    if held_start is None:
        return None
    if before_minutes < 0 or after_minutes < 0:
        raise ValueError("promise widths must be >= 0 minutes")
    if source not in (VISIT, PLAN):
        raise ValueError(f"unknown promise source {source!r} (visit or plan)")
    latest = request.window_end
    if request.window_at_service_end:
        latest = latest - timedelta(minutes=request.duration_minutes)
    start = held_start - timedelta(minutes=before_minutes)
    end = held_start + timedelta(minutes=after_minutes)
    if request.window_start <= held_start:
        start = max(start, request.window_start)
    if held_start <= latest:
        end = min(end, latest)
    return Promise(start, end, source, held_start)


def told(request: CareRequest) -> Promise | None:
    """The window ``request``'s elder was last told (``CareRequest.promised_start`` ..
    ``promised_end``, stored when she is told it: at an acceptance outside confirmation rounds, or
    after a planned day's last round), None when she has not been told one. A visit accepted while
    the rounds were open and then moved or cancelled by a round was never told and does not count.
    ``held_start`` is not stored: it reads as the window's start."""
    if request.promised_start is None or request.promised_end is None:
        return None
    return Promise(request.promised_start, request.promised_end, VISIT, request.promised_start)


def change_for(
    request: CareRequest,
    told: Promise | None,
    new_start: datetime,
    before_minutes: float = PROMISE_BEFORE_MINUTES,
    after_minutes: float = PROMISE_AFTER_MINUTES,
) -> tuple[Promise, bool]:
    """What the elder is told when the held start becomes ``new_start``: ``(promise, changed)``.
    With no promise told yet, the new window and ``changed=False`` (a first confirmation); with one
    that still holds ``new_start``, the same promise and False (nothing to tell as a change); else
    the new window and True (a notice with the new window is due)."""
    if told is not None and told.holds(new_start):
        return told, False
    fresh = promised_window(request, new_start, VISIT, before_minutes, after_minutes)
    assert fresh is not None
    return fresh, told is not None


@dataclass(frozen=True)
class PromiseTally:
    """How a day kept its promises: ``kept`` of ``visits`` (visits checked in whose request was
    told a window) started inside the window last told, ``early`` before it (the rest after it);
    ``changed`` requests told a new window."""

    visits: int
    kept: int
    changed: int
    early: int = 0

    @property
    def share(self) -> float | None:
        """``kept / visits`` (0..1); None when no visit was promised."""
        return self.kept / self.visits if self.visits else None


def tally(accepted: Iterable[Mapping[str, Any]], started: Mapping[str, datetime]) -> PromiseTally:
    """Count promises kept over a day: ``accepted`` the payloads of ``dispatch.offer.accepted``
    events in order (``request_id``, ``promised_start``/``promised_end`` ISO 8601,
    ``promise_changed``), ``started`` request id -> when its visit started (check-in). A visit is
    inside when ``promised_start <= start <= promised_end`` of the last window told for its request
    (an early start counts as outside). Requests without a start or a promise are not counted."""
    last: dict[str, tuple[datetime, datetime]] = {}
    changed: set[str] = set()
    for data in accepted:
        rid, s, e = data.get("request_id"), data.get("promised_start"), data.get("promised_end")
        if isinstance(rid, str) and isinstance(s, str) and isinstance(e, str):
            last[rid] = (datetime.fromisoformat(s), datetime.fromisoformat(e))
            if data.get("promise_changed"):
                changed.add(rid)
    counted = [(last[rid], start) for rid, start in started.items() if rid in last]
    kept = sum(1 for (s, e), start in counted if s <= start <= e)
    early = sum(1 for (s, _), start in counted if start < s)
    return PromiseTally(len(counted), kept, len(changed & set(started)), early)
