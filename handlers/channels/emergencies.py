"""One open emergency per elder: a second alarm joins the first.

An elder in distress presses the button again, texts SOS, calls the hotline, or
the family taps "emergency" in the app; each used to open another ``stat``
request, each with its own ladder, its own operator alert and, for a flood from
a stolen token, without end. Now an emergency from an elder whose latest
emergency was raised less than ``merge_minutes`` ago (30 by default) and is not
in a final state joins it: the caller gets that request's id and the operators
get an alert on it ("again, press N"), so nothing is lost and the escalation
ladder already running is not duplicated. An emergency the worker has not
stored yet (``status`` None) is open. After the window a new emergency opens:
a long-open one that is pressed again is a fresh call for help, not a repeat.

Pure: times are aware datetimes, ``merge_minutes`` minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers.model import FINAL_STATUSES, RequestStatus


@dataclass(frozen=True)
class LatestEmergency:
    """An elder's latest emergency: its request, when it was raised, how many alarms it holds."""

    request_id: str
    raised_at: datetime
    presses: int


def joins(latest: LatestEmergency | None, status: RequestStatus | None, now: datetime, merge_minutes: float) -> bool:
    """True when a new emergency at ``now`` should join ``latest`` (whose request is in
    ``status``; None while not stored yet) instead of opening another."""
    if latest is None or merge_minutes <= 0 or (status is not None and status in FINAL_STATUSES):
        return False
    return now - latest.raised_at < timedelta(minutes=merge_minutes)


def again_reason(channel: str, presses: int) -> str:
    """The operator alert's reason for an alarm that joined an open emergency."""
    return f"emergency again by {channel} (alarm {presses} of this emergency)"
