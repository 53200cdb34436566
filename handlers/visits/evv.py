"""Electronic visit verification (EVV): the visit record and the checks made
at check-in and check-out.

The record holds the six data elements the 21st Century Cures Act §12006
(42 U.S.C. 1396b(l)) requires of EVV for personal care and home health
visits: type of service, individual receiving it, date, location,
individual providing it, time it begins and ends.

A check never rejects a visit: it returns ``EvvFlag``s that are stored with
the visit for an operator to review (a caregiver at the door with a flat
phone battery must still be able to start the bath). Distances are metres,
durations minutes, times timezone-aware ``datetime``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Collection, Mapping

from geopy.distance import geodesic

Position = tuple[float, float]
"""(latitude, longitude) in WGS84 degrees."""

#: how a check-in is verified: a text from the caregiver's phone, the app's GPS, a call from the
#: elder's landline, or a replay's simulated caregiver. A check-in without one is ``unverified``.
CHECK_IN_METHODS = ("sms_code", "app_gps", "landline", "simulated")
TASK_OUTCOMES = ("done", "refused")


class EvvFlagCode(StrEnum):
    """Why a check-in or check-out needs a person to verify it (thresholds in ``EvvPolicy``):
    a position beyond ``geofence_metres``; check-in more than ``too_early_minutes`` early; an SMS or
    landline check from a number not registered; no position to check; a visit shorter than
    ``short_visit_share`` of plan; care-plan tasks not reported; no verification method at all."""

    OUTSIDE_GEOFENCE = "outside_geofence"
    TOO_EARLY = "too_early"
    WRONG_PHONE = "wrong_phone"
    MISSING_LOCATION = "missing_location"
    SHORT_VISIT = "short_visit"
    INCOMPLETE_CHECKLIST = "incomplete_checklist"
    UNVERIFIED = "unverified"


@dataclass(frozen=True)
class EvvFlag:
    """A finding for operator review; ``detail`` is a sentence an operator reads."""

    code: EvvFlagCode
    detail: str


@dataclass(frozen=True)
class EvvPolicy:
    """Thresholds of the EVV checks (shipped values in ``config/evaluation.toml``).

    - ``geofence_metres`` (150): the largest distance between the caregiver's
      reported position and the elder's home at check-in. Home-care agency
      practice (DESIGN.md) uses a geofence; the agency cited there uses 150 ft
      (46 m). careline's default of 150 m allows for phone GPS error between
      high-rise blocks; tighten it where positions are good.
    - ``too_early_minutes`` (15): check-in at most this many minutes before the
      planned start (home-care agency EVV practice, DESIGN.md).
    - ``short_visit_share`` (0.5): a visit shorter than this share of its
      planned duration is flagged (careline policy, no published source).
    - ``checklists``: care-plan tasks per service type that a check-out must
      report as done or refused (careline's starting care plans).
    """

    geofence_metres: float = 150.0
    too_early_minutes: float = 15.0
    short_visit_share: float = 0.5
    checklists: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "bathing": ("assist", "skin_check"),
            "meal": ("delivered", "eaten"),
            "cleaning": ("kitchen", "bathroom", "floors"),
            "medical_escort": ("picked_up", "returned_home"),
            "companionship": ("conversation", "wellbeing_check"),
            "repair": ("fixed", "safety_check"),
        }
    )


@dataclass(frozen=True)
class EvvRecord:
    """The six EVV data elements of one visit (21st Century Cures Act §12006).

    Location is either ``position`` (lat, lon) or ``location_index`` (the
    service area's travel-matrix point); at least one is required. Raises
    ``ValueError`` without a location or when ``end`` is before ``start``.
    """

    service_type: str
    elder_id: str
    service_date: date
    caregiver_id: str
    start: datetime
    end: datetime | None
    position: Position | None = None
    location_index: int | None = None
    visit_id: str | None = None
    flags: tuple[EvvFlag, ...] = ()

    def __post_init__(self) -> None:
        if self.position is None and self.location_index is None:
            raise ValueError("EVV record needs a location: position (lat, lon) or location_index")
        if self.end is not None and self.end < self.start:
            raise ValueError("EVV record ends before it starts")

    @property
    def compliant(self) -> bool:
        """True when the visit carries no flag."""
        return not self.flags


def distance_metres(a: Position, b: Position) -> float:
    """Geodesic distance on the WGS84 ellipsoid in metres (geopy, Karney 2013)."""
    return float(geodesic(a, b).meters)


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def check_too_early(at: datetime, planned_start: datetime, policy: EvvPolicy) -> list[EvvFlag]:
    """``too_early`` when check-in is more than ``policy.too_early_minutes``
    before the planned start (15 min, home-care agency practice, DESIGN.md)."""
    early = (planned_start - at).total_seconds() / 60.0
    if early > policy.too_early_minutes:
        return [
            EvvFlag(
                EvvFlagCode.TOO_EARLY,
                f"checked in {early:.0f} min before the planned start (allowed {policy.too_early_minutes:.0f} min)",
            )
        ]
    return []


def _location_flags(caregiver: Position | None, elder: Position | None, policy: EvvPolicy) -> list[EvvFlag]:
    if caregiver is None:
        return [EvvFlag(EvvFlagCode.MISSING_LOCATION, "check-in carried no position")]
    if elder is None:
        return [EvvFlag(EvvFlagCode.MISSING_LOCATION, "the elder's home has no coordinates on file")]
    metres = distance_metres(caregiver, elder)
    if metres > policy.geofence_metres:
        return [
            EvvFlag(
                EvvFlagCode.OUTSIDE_GEOFENCE,
                f"checked in {metres:.0f} m from the elder's home (geofence {policy.geofence_metres:.0f} m)",
            )
        ]
    return []


def verify_check_in(
    method: str,
    at: datetime,
    planned_start: datetime,
    caregiver_position: Position | None,
    elder_position: Position | None,
    caller_phone: str | None,
    registered_phones: Collection[str],
    policy: EvvPolicy,
) -> list[EvvFlag]:
    """Flags for one check-in, empty when it verifies.

    ``method``:
    - ``app_gps``: the app's position must lie within ``policy.geofence_metres``
      (150 m) of ``elder_position``, measured geodesically in metres;
      no position gives ``missing_location``.
    - ``landline``: a call from the elder's home phone (telephony EVV); the
      caller id must be one of ``registered_phones`` (compared digit by
      digit, spaces and dashes ignored), else ``wrong_phone``; the registered
      line stands for the location.
    - ``sms_code``: the visit's short code texted; the sender must be one of
      ``registered_phones`` (the caregiver's own), else ``wrong_phone``. A text
      proves who and when, not where: its location is checked only when a
      position came with it (then like ``app_gps``).
    - ``simulated``: a replay's simulated caregiver (``tools/replay``), checked for time only.
    Every method is also checked for ``too_early`` (more than 15 min before
    ``planned_start``, DESIGN.md). Raises ``ValueError`` for an unknown method.
    """
    if method not in CHECK_IN_METHODS:
        raise ValueError(f"unknown check-in method {method!r}; expected one of {', '.join(CHECK_IN_METHODS)}")
    flags = check_too_early(at, planned_start, policy)
    if method in ("landline", "sms_code"):
        registered = {_digits(p) for p in registered_phones}
        if caller_phone is None or _digits(caller_phone) not in registered:
            whose = "the elder" if method == "landline" else "the caregiver"
            flags.append(
                EvvFlag(
                    EvvFlagCode.WRONG_PHONE,
                    f"{method} check-in from {caller_phone or 'a withheld number'}, not a phone registered for {whose}",
                )
            )
    if method == "app_gps" or (method == "sms_code" and caregiver_position is not None):
        flags.extend(_location_flags(caregiver_position, elder_position, policy))
    return flags


def unverified(method: str | None) -> list[EvvFlag]:
    """``unverified`` for a check-in or check-out that came without a verification
    method (``CHECK_IN_METHODS``): counted against EVV compliance and shown for review."""
    if method in CHECK_IN_METHODS:
        return []
    return [EvvFlag(EvvFlagCode.UNVERIFIED, "the report came with no verification (no phone, GPS or landline check)")]


def check_short_visit(
    check_in_at: datetime, check_out_at: datetime, planned_minutes: float, policy: EvvPolicy
) -> list[EvvFlag]:
    """``short_visit`` when the visit lasted less than ``policy.short_visit_share``
    (0.5) of ``planned_minutes``. Raises ``ValueError`` if check-out precedes check-in."""
    if check_out_at < check_in_at:
        raise ValueError("check-out before check-in")
    actual = (check_out_at - check_in_at).total_seconds() / 60.0
    if actual < policy.short_visit_share * planned_minutes:
        return [EvvFlag(EvvFlagCode.SHORT_VISIT, f"visit lasted {actual:.0f} min of {planned_minutes:.0f} min planned")]
    return []


def verify_check_out(
    check_in_at: datetime,
    check_out_at: datetime,
    planned_minutes: float,
    service_type: str,
    tasks: Mapping[str, str],
    policy: EvvPolicy,
) -> list[EvvFlag]:
    """Flags for one check-out, empty when it verifies.

    ``tasks`` maps care-plan task names to ``"done"`` or ``"refused"`` (an
    elder may refuse a task; that is recorded, not flagged). Tasks of the
    service type's checklist (``policy.checklists``) that are not reported
    give ``incomplete_checklist``; a service type without a checklist is not
    checked. Also ``short_visit`` (see ``check_short_visit``). Raises
    ``ValueError`` for an outcome other than done/refused.
    """
    bad = {name: outcome for name, outcome in tasks.items() if outcome not in TASK_OUTCOMES}
    if bad:
        raise ValueError(f"task outcomes must be done or refused, got {bad}")
    flags = check_short_visit(check_in_at, check_out_at, planned_minutes, policy)
    missing = [t for t in policy.checklists.get(service_type, ()) if t not in tasks]
    if missing:
        flags.append(EvvFlag(EvvFlagCode.INCOMPLETE_CHECKLIST, f"{service_type}: not reported: {', '.join(missing)}"))
    return flags
