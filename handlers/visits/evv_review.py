"""An operator's review of the EVV flags kept on a visit (``handlers.visits.evv``).

A flag is never dropped: it stays on the visit and waits on the review page
until an operator or supervisor decides it, one flag (visit, code) at a time,
with one of three outcomes:

- ``accepted``: the visit took place as recorded; the exception is explained
  (the elder confirmed by phone, the caregiver's phone had no fix). Payable.
  The flag still counts against the provider's EVV compliance: the visit
  needed a person to verify it, which is what the rate measures (state EVV
  aggregators report such visits as exceptions too).
- ``rejected``: the visit could not be verified: **not payable**. Counts
  against EVV compliance.
- ``corrected``: the flag came from wrong data on the center's side (the
  elder's home position, registered phone or care plan on file) and the
  record was put right. Payable, and the flag no longer counts against the
  provider's EVV compliance: the provider did nothing wrong.

Rejected and corrected need a note saying why or what was changed (the
payment decision must be explainable later); a note is at most
``NOTE_MAX_CHARS`` characters. A flag is decided once: a second review is
refused (``already_reviewed``). Same contract as ``handlers.operations.operator_actions``:
every check runs before the first write, ``Refused`` carries a stable code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Iterable, Mapping, Protocol, Sequence

from handlers.model import DomainEvent, Visit
from handlers.operations.access import Permission, Role, allowed, mask_phone
from handlers.operations.operator_actions import OperatorUnitOfWork, Refused
from handlers.visits.evv import EvvFlagCode

#: the longest review note, in characters
NOTE_MAX_CHARS = 500


class ReviewOutcome(StrEnum):
    """The decision on one flag (module docstring): whether the visit is paid and whether the flag
    still counts against the provider's EVV compliance."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CORRECTED = "corrected"

    @property
    def payable(self) -> bool:
        """Whether the visit may be paid after this decision (only ``rejected`` says no)."""
        return self is not ReviewOutcome.REJECTED

    @property
    def counts_against_compliance(self) -> bool:
        """Whether the flag still lowers the provider's EVV compliance rate
        (``handlers.evaluation.kpis.evv_compliance_rate``): all but ``corrected``."""
        return self is not ReviewOutcome.CORRECTED


#: outcomes whose note may not be empty
NOTE_REQUIRED = frozenset({ReviewOutcome.REJECTED, ReviewOutcome.CORRECTED})


@dataclass(frozen=True)
class EvvReview:
    """The decision on one flag (``code``) of one visit; ``note`` is the
    reviewer's free text (shown escaped, never logged or audited)."""

    visit_id: str
    code: str
    outcome: ReviewOutcome
    note: str
    operator_id: str
    reviewed_at: datetime


class EvvReviewRepository(Protocol):
    """Reviews by (visit, flag code): at most one per flag of a visit."""

    def for_visit(self, visit_id: str) -> list[EvvReview]:
        """The visit's reviews, oldest first (``reviewed_at``); [] for none or an unknown visit."""

    def add(self, review: EvvReview) -> None:
        """Store a review. Raises ``Refused("already_reviewed")`` when its flag was decided already
        (the SQL adapter: a concurrent review loses on the primary key)."""


class EvvReviewUnitOfWork(OperatorUnitOfWork, Protocol):
    """The operator unit of work plus the EVV reviews."""

    @property
    def evv_reviews(self) -> EvvReviewRepository:
        """EVV reviews, read and written in this unit of work's transaction."""


def may_review(role: Role | str) -> bool:
    """Operators and supervisors review EVV flags (``Permission.REVIEW_EVV``); admins do not."""
    return allowed(role, Permission.REVIEW_EVV)


def flag_codes(visit: Visit) -> list[str]:
    """The distinct flag codes kept on the visit, in the order they were raised."""
    codes: list[str] = []
    for flag in visit.evv_flags or []:
        code = flag.get("code") if isinstance(flag, Mapping) else None
        if code and code not in codes:
            codes.append(code)
    return codes


def parse_outcome(value: str) -> ReviewOutcome:
    """The ``ReviewOutcome`` named ``value``; ``Refused("invalid")`` otherwise."""
    try:
        return ReviewOutcome(value.strip())
    except ValueError:
        raise Refused(
            "invalid", f"outcome must be one of {', '.join(o.value for o in ReviewOutcome)}, got {value!r}"
        ) from None


def check_note(outcome: ReviewOutcome, note: str) -> str:
    """The note stripped; ``Refused("note_required")`` when a rejection or
    correction comes without one, ``Refused("invalid")`` when it is too long."""
    note = note.strip()
    if outcome in NOTE_REQUIRED and not note:
        raise Refused("note_required", f"a {outcome.value} flag needs a note saying why")
    if len(note) > NOTE_MAX_CHARS:
        raise Refused("invalid", f"note: at most {NOTE_MAX_CHARS} characters, got {len(note)}")
    return note


def review_flag(
    visit_id: str, code: str, outcome: str, note: str, uow: EvvReviewUnitOfWork, now: datetime, operator_id: str
) -> EvvReview:
    """Decide flag ``code`` of visit ``visit_id``. Refused: ``unknown_visit``,
    ``unknown_flag`` (the visit carries no such flag), ``invalid`` (outcome or
    note), ``note_required``, ``already_reviewed``. Emits
    ``care.visit.evv_reviewed`` (ids, code and outcome; not the note)."""
    visit = uow.visits.get(visit_id)
    if visit is None:
        raise Refused("unknown_visit", f"no visit {visit_id}")
    if code not in flag_codes(visit):
        raise Refused("unknown_flag", f"visit {visit_id} carries no {code} flag")
    decided = parse_outcome(outcome)
    text = check_note(decided, note)
    if any(r.code == code for r in uow.evv_reviews.for_visit(visit_id)):
        raise Refused("already_reviewed", f"the {code} flag of {visit_id} is already reviewed")
    review = EvvReview(visit_id, code, decided, text, operator_id, now)
    uow.evv_reviews.add(review)
    request = uow.requests.get(visit.request_id)
    area = request.service_area if request else ""
    uow.emit(
        DomainEvent(
            "care.visit.evv_reviewed",
            visit.request_id,
            now,
            "lifecycle",
            visit.request_id,
            {
                "service_area": area,
                "request_id": visit.request_id,
                "visit_id": visit_id,
                "code": code,
                "outcome": decided.value,
                "payable": decided.payable,
                "operator_id": operator_id,
                "provider_id": visit.provider_id,
                "caregiver_id": visit.caregiver_id,
                "evv_cleared": bool(visit.evv_flags)
                and not counted_flag_codes(visit.evv_flags, [*uow.evv_reviews.for_visit(visit_id), review]),
            },
        )
    )
    return review


#: flags found at check-out; the others are found at check-in (``handlers.visits.evv``)
CHECK_OUT_CODES = frozenset({EvvFlagCode.SHORT_VISIT.value, EvvFlagCode.INCOMPLETE_CHECKLIST.value})


def raised_at(visit: Visit, code: str) -> datetime:
    """When a flag was raised: the check-out for check-out flags, else the
    check-in, falling back to the planned start when neither is recorded."""
    at = visit.check_out_at if code in CHECK_OUT_CODES else visit.check_in_at
    return at or visit.check_in_at or visit.planned_start


def open_flags(visit: Visit, reviews: Iterable[EvvReview]) -> list[Mapping[str, Any]]:
    """The visit's flags (``{"code", "detail"}``) that no review has decided yet."""
    decided = {r.code for r in reviews if r.visit_id == visit.visit_id}
    return [f for f in visit.evv_flags or [] if isinstance(f, Mapping) and f.get("code") not in decided]


def counted_flag_codes(
    stored: Sequence[Mapping[str, Any]] | None, reviews: Iterable[EvvReview], derived: Iterable[str] = ()
) -> tuple[str, ...]:
    """The flag codes that count against a visit's EVV compliance: those kept
    on the visit (``stored``) and any recomputed from its times (``derived``,
    e.g. by the monthly report), less those a review marked ``corrected``."""
    corrected = {r.code for r in reviews if not r.outcome.counts_against_compliance}
    codes = {f.get("code") for f in stored or [] if isinstance(f, Mapping)} | set(derived)
    return tuple(sorted(c for c in codes if c and c not in corrected))


_LONG_NUMBER = re.compile(r"\+?\d[\d -]{5,}\d")


def detail_for(role: Role | str, detail: str) -> str:
    """A flag's ``detail`` as ``role`` may read it: phone numbers in it (a
    ``wrong_phone`` flag names the calling number) are masked for roles
    without ``VIEW_PERSONAL_DATA``, as the dashboard masks elders' phones."""
    if allowed(role, Permission.VIEW_PERSONAL_DATA):
        return detail
    return _LONG_NUMBER.sub(lambda m: mask_phone(re.sub(r"[ -]", "", m.group())), detail)
