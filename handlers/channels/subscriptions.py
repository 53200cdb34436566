"""Recurring services: e.g. lunch delivered on weekdays at 11:00 to subscribed elders.

A subscription names the days (cron style, ``mon-fri``), the local time of the
service, the elder's IANA time zone (``Asia/Shanghai``), the duration and the
width of the time window. The timer service turns each into a cron job that
fires ``lead_minutes`` before the service and submits an ordinary intake
record — from then on it is a care request like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class InvalidSubscription(ValueError):
    """The message names the bad field."""


@dataclass(frozen=True)
class Subscription:
    """One elder's recurring service. ``days`` cron-style names (``mon-fri``, ``mon,wed,fri``,
    ``*``; a range may wrap, ``fri-mon``), ``at_time`` ``HH:MM`` local to ``timezone`` (IANA);
    ``duration_minutes`` of service, a window of ``window_minutes`` from ``at_time``, and the
    intake submitted ``lead_minutes`` before it. Bad fields raise ``InvalidSubscription`` when read."""

    subscription_id: str
    elder_id: str
    service_type: str
    days: str  # "mon-fri", "mon,wed,fri", "*"
    at_time: str  # "11:00", local to ``timezone``
    timezone: str
    duration_minutes: float = 30.0
    window_minutes: float = 60.0
    lead_minutes: float = 60.0
    active: bool = True

    def local_time(self) -> time:
        """``at_time`` as a naive local time; ``InvalidSubscription`` unless it is ``HH:MM``."""
        try:
            return time.fromisoformat(self.at_time)
        except ValueError:
            raise InvalidSubscription(f"at_time: expected HH:MM, got {self.at_time!r}") from None

    def zone(self) -> ZoneInfo:
        """The elder's time zone; ``InvalidSubscription`` for a name the IANA database lacks."""
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidSubscription(f"timezone: unknown time zone {self.timezone!r}") from None

    def weekdays(self) -> set[int]:
        """Weekday numbers (0 = Monday) the service runs on."""
        if self.days.strip() == "*":
            return set(range(7))
        out: set[int] = set()
        for part in self.days.lower().split(","):
            first, _, last = part.strip().partition("-")
            if first not in DAYS or (last and last not in DAYS):
                raise InvalidSubscription(f"days: expected names like mon-fri, got {self.days!r}")
            a, b = DAYS.index(first), DAYS.index(last or first)
            out.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        return out


def intake_for(sub: Subscription, fired_at: datetime) -> dict[str, Any]:
    """The intake record a firing submits: the service's window on the local
    day of the firing (``fired_at`` is ``lead_minutes`` before the service)."""
    local_start = (fired_at + timedelta(minutes=sub.lead_minutes)).astimezone(sub.zone())
    start = local_start.replace(hour=sub.local_time().hour, minute=sub.local_time().minute, second=0, microsecond=0)
    end = start + timedelta(minutes=sub.window_minutes)
    rid = f"sub.{sub.subscription_id}.{start.date().isoformat()}"
    return {
        "intake_id": rid,
        "request_id": rid,
        "channel": "subscription",
        "elder_id": sub.elder_id,
        "service_type": sub.service_type,
        "duration_minutes": sub.duration_minutes,
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "priority": "routine",
        "submitted_at": fired_at.astimezone(UTC).isoformat(),
    }


def next_services(sub: Subscription, after: datetime, count: int = 3) -> list[datetime]:
    """The next ``count`` service starts (aware, in the elder's zone) after ``after``."""
    zone, at, days = sub.zone(), sub.local_time(), sub.weekdays()
    day = after.astimezone(zone).date()
    found: list[datetime] = []
    while len(found) < count:
        start = datetime.combine(day, at, tzinfo=zone)
        if day.weekday() in days and start > after:
            found.append(start)
        day += timedelta(days=1)
    return found
