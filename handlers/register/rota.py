"""A caregiver's weekly rota: shifts by weekday, absences and extra shifts, in the center's time zone.

``parse(text, tz)`` reads a rota as people write it (grammar in ``rota_grammar``), e.g.
``mon-fri 08:00-16:00; sat 09:00-12:00; leave 2026-12-24..2026-12-31`` or
``周一至周五 08:00-16:00；周六 09:00-12:00；病假 2026-12-03``; ``format_rota`` writes the
canonical form (English by default, Chinese with ``language="zh"``), and
``parse(format_rota(r), r.tz) == r`` for every rota.

Rules:

* A weekly shift belongs to the day it starts; ``22:00-06:00`` on Monday runs into Tuesday.
  Clock times are wall-clock times in ``tz`` (an IANA name such as ``Asia/Shanghai``): a
  08:00-16:00 shift on a daylight-saving day still ends at 16:00 local time.
* Shifts of one rota never overlap (a typo like ``mon 08:00-12:00; mon 10:00-14:00`` is an
  error, not a guess); shifts that touch (``08:00-12:00, 12:00-16:00``) stay two shifts, and a
  visit must fit inside one of them.
* Leave and sick days remove every weekly shift that starts on those dates. An extra shift
  adds a shift on a date; it may not overlap a weekly shift nor fall on a day of absence.
* An empty rota is valid and means "never on shift".

The daily maximum of visits is a caregiver attribute, not part of the rota.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handlers.register.rota_grammar import (
    CHINESE_DAYS,
    ENGLISH_DAYS,
    MINUTES_PER_DAY,
    AbsenceClause,
    ExtraClause,
    RotaSyntaxError,
    WeeklyClause,
    read_clauses,
)

__all__ = [
    "Absence",
    "ExtraShift",
    "Rota",
    "RotaConflict",
    "RotaSyntaxError",
    "Shift",
    "WeeklyShift",
    "format_rota",
    "parse",
]

ABSENCE_KINDS = ("leave", "sick")
_WEEK = 7 * MINUTES_PER_DAY


class RotaConflict(ValueError):
    """Shifts that overlap, an extra shift on a day of absence, or a value out of range."""


@dataclass(frozen=True, order=True)
class WeeklyShift:
    """A shift every week: ``weekday`` 0 = Monday .. 6 = Sunday, ``start_minute`` after local
    midnight (0..1439), ``duration_minutes`` 1..1440."""

    weekday: int
    start_minute: int
    duration_minutes: int

    def __post_init__(self) -> None:
        if not (
            0 <= self.weekday <= 6
            and 0 <= self.start_minute < MINUTES_PER_DAY
            and 0 < self.duration_minutes <= MINUTES_PER_DAY
        ):
            raise RotaConflict(f"weekly shift out of range: {self}")


@dataclass(frozen=True, order=True)
class ExtraShift:
    """A shift on one date (``start_minute`` 0..1439 local, ``duration_minutes`` 1..1440)."""

    day: date
    start_minute: int
    duration_minutes: int

    def __post_init__(self) -> None:
        if not (0 <= self.start_minute < MINUTES_PER_DAY and 0 < self.duration_minutes <= MINUTES_PER_DAY):
            raise RotaConflict(f"extra shift out of range: {self}")


@dataclass(frozen=True, order=True)
class Absence:
    """Leave or a sick day (``kind`` ``leave`` | ``sick``) from ``first`` to ``last``, inclusive."""

    first: date
    last: date
    kind: str = "leave"

    def __post_init__(self) -> None:
        if self.kind not in ABSENCE_KINDS or self.last < self.first:
            raise RotaConflict(f"absence out of range: {self}")

    def covers(self, day: date) -> bool:
        """True when local date ``day`` is one of the absence's days."""
        return self.first <= day <= self.last


@dataclass(frozen=True)
class Shift:
    """One shift on the calendar: ``start``/``end`` timezone-aware in the center's zone;
    ``extra`` for an extra shift. Comparisons are on absolute time (UTC)."""

    start: datetime
    end: datetime
    extra: bool = False

    def contains(self, at: datetime) -> bool:
        """True when ``at`` (aware) is in ``[start, end)``."""
        return _utc(self.start) <= _utc(at) < _utc(self.end)

    def covers(self, start: datetime, end: datetime) -> bool:
        """True when ``[start, end]`` (aware) lies inside the shift."""
        return _utc(self.start) <= _utc(start) and _utc(end) <= _utc(self.end)


@dataclass(frozen=True)
class Rota:
    """Weekly shifts, absences and extra shifts in time zone ``tz`` (IANA name).

    The collections are stored sorted and without duplicates, so two rotas with the same
    meaning compare equal. Raises ``RotaConflict`` for overlapping shifts, an extra shift
    on a day of absence, and ``ValueError`` for an unknown time zone.
    """

    tz: str
    weekly: tuple[WeeklyShift, ...] = ()
    absences: tuple[Absence, ...] = ()
    extras: tuple[ExtraShift, ...] = ()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "_zone", ZoneInfo(self.tz))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.tz!r} (an IANA name such as Asia/Shanghai)") from None
        for name in ("weekly", "absences", "extras"):
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name)))))
        _check_weekly(self.weekly)
        _check_extras(self.weekly, self.absences, self.extras)

    @property
    def zone(self) -> ZoneInfo:
        """The rota's time zone (``tz``), checked when the rota was made."""
        return self._zone

    def absence_on(self, day: date) -> Absence | None:
        """The leave or sick day covering local date ``day``, or None."""
        return next((a for a in self.absences if a.covers(day)), None)

    def shifts_on(self, day: date) -> tuple[Shift, ...]:
        """The shifts that start on local date ``day`` (leave applied, extras added), by start."""
        shifts = (
            []
            if self.absence_on(day)
            else [
                self._shift(day, w.start_minute, w.duration_minutes, False)
                for w in self.weekly
                if w.weekday == day.weekday()
            ]
        )
        shifts += [self._shift(day, e.start_minute, e.duration_minutes, True) for e in self.extras if e.day == day]
        return tuple(sorted(shifts, key=lambda s: _utc(s.start)))

    def on_shift(self, at: datetime) -> bool:
        """True when the caregiver is on shift at ``at`` (timezone-aware; naive raises ValueError)."""
        return any(s.contains(at) for s in self._around(at))

    def shift_covering(self, start: datetime, end: datetime) -> Shift | None:
        """The shift that holds the whole of ``[start, end]`` (aware), or None when no shift does
        (a visit that would run past the shift end, or start before it). ``end < start`` raises
        ValueError."""
        if _utc(end) < _utc(start):
            raise ValueError("a visit cannot end before it starts")
        return next((s for s in self._around(start) if s.covers(start, end)), None)

    def next_shift_after(self, t: datetime) -> Shift | None:
        """The first shift starting at or after ``t`` (aware), or None when there is none
        (an empty weekly pattern and no later extra shift)."""
        first = _local_date(t, self._zone) - timedelta(days=1)
        last_listed = max([a.last for a in self.absences] + [e.day for e in self.extras], default=first)
        horizon = max(first, last_listed) + timedelta(days=8)
        day = first
        while day <= horizon:
            for shift in self.shifts_on(day):
                if _utc(shift.start) >= _utc(t):
                    return shift
            day += timedelta(days=1)
        return None

    def _around(self, at: datetime) -> Iterable[Shift]:
        day = _local_date(at, self._zone)
        return (*self.shifts_on(day - timedelta(days=1)), *self.shifts_on(day))

    def _shift(self, day: date, start_minute: int, duration: int, extra: bool) -> Shift:
        end_minute = start_minute + duration
        end_day = day + timedelta(days=end_minute // MINUTES_PER_DAY)
        return Shift(
            datetime.combine(day, _clock(start_minute), self._zone),
            datetime.combine(end_day, _clock(end_minute % MINUTES_PER_DAY), self._zone),
            extra,
        )

    def __str__(self) -> str:
        return format_rota(self)


def parse(text: str, tz: str) -> Rota:
    """The rota written in ``text`` for a center in time zone ``tz`` (IANA name).

    Raises ``RotaSyntaxError`` (a ``ValueError``) with ``column`` (1-based), ``expected`` and
    ``found`` for text that does not follow the grammar, and for overlapping shifts or an
    extra shift on a day of absence (then the column of the later clause).
    """
    weekly: list[WeeklyShift] = []
    absences: list[Absence] = []
    extras: list[ExtraShift] = []
    for clause in read_clauses(text):
        try:
            if isinstance(clause, WeeklyClause):
                weekly += [WeeklyShift(d, s.start, s.end - s.start) for d in clause.days for s in clause.spans]
            elif isinstance(clause, AbsenceClause):
                absences += [Absence(first, last, clause.kind) for first, last, _ in clause.ranges]
            elif isinstance(clause, ExtraClause):
                extras += [ExtraShift(clause.day, s.start, s.end - s.start) for s in clause.spans]
            Rota(tz, tuple(weekly), tuple(absences), tuple(extras))
        except RotaConflict as exc:
            raise RotaSyntaxError(clause.column, "shifts that do not overlap", "", str(exc)) from None
    return Rota(tz, tuple(weekly), tuple(absences), tuple(extras))


def format_rota(rota: Rota, language: str = "en") -> str:
    """The canonical text of ``rota``: weekly clauses (days with the same shifts grouped, by
    first day), then absences, then extra shifts; ``language`` ``en`` or ``zh``."""
    zh = language == "zh"
    if language not in ("en", "zh"):
        raise ValueError(f"language must be 'en' or 'zh', not {language!r}")
    by_day: dict[int, tuple[tuple[int, int], ...]] = {
        d: tuple((w.start_minute, w.duration_minutes) for w in rota.weekly if w.weekday == d) for d in range(7)
    }
    groups: dict[tuple[tuple[int, int], ...], list[int]] = {}
    for day in range(7):
        if by_day[day]:
            groups.setdefault(by_day[day], []).append(day)
    clauses = [f"{_days_text(days, zh)} {_spans_text(spans, zh)}" for spans, days in groups.items()]
    for a in rota.absences:
        word = {"leave": "请假", "sick": "病假"}[a.kind] if zh else a.kind
        span = (
            a.first.isoformat()
            if a.first == a.last
            else f"{a.first.isoformat()}{'至' if zh else '..'}{a.last.isoformat()}"
        )
        clauses.append(f"{word} {span}")
    extra_days: dict[date, list[tuple[int, int]]] = {}
    for e in rota.extras:
        extra_days.setdefault(e.day, []).append((e.start_minute, e.duration_minutes))
    clauses += [f"{'加班' if zh else 'extra'} {d.isoformat()} {_spans_text(s, zh)}" for d, s in extra_days.items()]
    return ("；" if zh else "; ").join(clauses)


def _days_text(days: list[int], zh: bool) -> str:
    if len(days) == 7:
        return "每天" if zh else "daily"
    names = CHINESE_DAYS if zh else ENGLISH_DAYS
    runs: list[list[int]] = []
    for d in days:
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts = [names[r[0]] if len(r) == 1 else f"{names[r[0]]}{'至' if zh else '-'}{names[r[-1]]}" for r in runs]
    return ("、" if zh else ",").join(parts)


def _spans_text(spans: Iterable[tuple[int, int]], zh: bool) -> str:
    def clock(minute: int) -> str:
        minute = minute if minute == MINUTES_PER_DAY else minute % MINUTES_PER_DAY
        return f"{minute // 60:02d}:{minute % 60:02d}"

    return ("，" if zh else ", ").join(f"{clock(s)}-{clock(s + d)}" for s, d in spans)


def _check_weekly(weekly: tuple[WeeklyShift, ...]) -> None:
    spans = [(w.weekday * MINUTES_PER_DAY + w.start_minute, w) for w in weekly]
    for i, (a_start, a) in enumerate(spans):
        for b_start, b in spans[i + 1 :]:
            for shift in (-_WEEK, 0, _WEEK):
                if a_start < b_start + shift + b.duration_minutes and b_start + shift < a_start + a.duration_minutes:
                    raise RotaConflict(f"{_describe(a)} overlaps {_describe(b)}")


def _check_extras(
    weekly: tuple[WeeklyShift, ...], absences: tuple[Absence, ...], extras: tuple[ExtraShift, ...]
) -> None:
    def span(day: date, start: int, duration: int) -> tuple[int, int]:
        begin = day.toordinal() * MINUTES_PER_DAY + start
        return begin, begin + duration

    for i, e in enumerate(extras):
        if any(a.covers(e.day) for a in absences):
            raise RotaConflict(f"extra shift on {e.day.isoformat()}, a day of absence")
        mine = span(e.day, e.start_minute, e.duration_minutes)
        others = [
            (span(o.day, o.start_minute, o.duration_minutes), f"extra shift on {o.day.isoformat()}")
            for o in extras[i + 1 :]
        ]
        for offset in (-1, 0, 1):
            day = e.day + timedelta(days=offset)
            if any(a.covers(day) for a in absences):
                continue
            others += [
                (span(day, w.start_minute, w.duration_minutes), _describe(w))
                for w in weekly
                if w.weekday == day.weekday()
            ]
        for (start, end), what in others:
            if mine[0] < end and start < mine[1]:
                raise RotaConflict(f"extra shift on {e.day.isoformat()} overlaps {what}")


def _describe(w: WeeklyShift) -> str:
    return f"{ENGLISH_DAYS[w.weekday]} {_spans_text([(w.start_minute, w.duration_minutes)], False)}"


def _clock(minute: int) -> time:
    return time(minute // 60, minute % 60)


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is needed (naive times are ambiguous)")
    return t.astimezone(UTC)


def _local_date(t: datetime, zone: ZoneInfo) -> date:
    return _utc(t).astimezone(zone).date()
