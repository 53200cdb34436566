"""When a caregiver works: the shifts dispatch, batching, planning and the board read.

A caregiver works either by a weekly rota (``Caregiver.rota``, the canonical text of
``handlers.register.rota``: weekly shifts in the center's time zone, leave, sick days and
extra shifts) or, when it has none, by its one fixed shift ``shift_start``..``shift_end``
(a UHHC benchmark day states each caregiver's shift that way).

Rules every entry point shares:

* a visit starts inside a shift, never outside (``handlers.dispatch.scheduling``);
* a shift is a candidate for a request when it overlaps the request's window
  (earliest start .. latest on-time start): a caregiver who works the morning is not
  offered the evening visit, nor the next morning's slot of an evening request;
* leave and sick days remove the shifts of those dates (``Rota.shifts_on``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

from handlers.model import Caregiver
from handlers.register.rota import Absence, Rota, Shift
from handlers.register.rota import parse as parse_rota


@lru_cache(maxsize=4096)
def rota_of_text(text: str, time_zone: str) -> Rota:
    """The parsed rota ``text`` in ``time_zone`` (cached: rotas are read at every ranking).
    Raises ``handlers.register.rota.RotaSyntaxError`` for text that is not a rota."""
    return parse_rota(text, time_zone)


def rota_of(caregiver: Caregiver) -> Rota | None:
    """The caregiver's weekly rota, or None when it works one fixed shift."""
    if not caregiver.rota:
        return None
    return rota_of_text(caregiver.rota, caregiver.time_zone or "UTC")


def shifts_between(caregiver: Caregiver, start: datetime, end: datetime) -> tuple[Shift, ...]:
    """The caregiver's shifts that overlap ``[start, end]`` (aware), by start time."""
    rota = rota_of(caregiver)
    if rota is None:
        if caregiver.shift_start is None or caregiver.shift_end is None:
            return ()
        fixed = Shift(caregiver.shift_start, caregiver.shift_end)
        return (fixed,) if fixed.start <= end and fixed.end > start else ()
    first = start.astimezone(rota.zone).date() - timedelta(days=1)
    last = end.astimezone(rota.zone).date()
    found: list[Shift] = []
    day = first
    while day <= last:
        found += [s for s in rota.shifts_on(day) if s.start <= end and s.end > start]
        day += timedelta(days=1)
    return tuple(sorted(found, key=lambda s: s.start))


def on_shift(caregiver: Caregiver, at: datetime) -> bool:
    """True when ``at`` (aware) falls inside one of the caregiver's shifts."""
    return any(s.contains(at) for s in shifts_between(caregiver, at, at))


def current_or_next_shift(caregiver: Caregiver, at: datetime) -> Shift | None:
    """The shift holding ``at``, else the next one to start (within a week for a rota)."""
    rota = rota_of(caregiver)
    if rota is None:
        shifts = shifts_between(caregiver, at, at + timedelta(days=7))
        return shifts[0] if shifts else None
    here = next((s for s in shifts_between(caregiver, at, at) if s.contains(at)), None)
    return here or rota.next_shift_after(at)


def absence_on(caregiver: Caregiver, at: datetime) -> Absence | None:
    """The leave or sick day covering the local date of ``at``, if any."""
    rota = rota_of(caregiver)
    return rota.absence_on(local_date(caregiver, at)) if rota is not None else None


def local_date(caregiver: Caregiver, at: datetime) -> date:
    """The date of ``at`` in the caregiver's time zone (UTC for a fixed shift)."""
    rota = rota_of(caregiver)
    return at.astimezone(rota.zone).date() if rota is not None else at.date()
