"""The written form of a weekly rota, read clause by clause with the column of every part.

A rota is what a provider's office writes in a spreadsheet cell: clauses separated by
``;`` (``；``) or a new line, each one of

* a weekly clause, days then one or more shifts:
  ``mon-fri 08:00-16:00``, ``周一至周五 08:00-12:00，14:00-18:00``, ``周二、周四 13:00-21:00``,
  ``每天 08:00-12:00``, ``sat,sun 22:00-06:00`` (ends next morning);
* an absence, ``leave`` / ``sick`` and dates or date ranges:
  ``leave 2026-12-24..2026-12-31``, ``请假 2026年12月24日至2026年12月31日``, ``病假 2026-12-03``;
* an extra shift on a date: ``extra 2026-12-25 09:00-12:00``, ``加班 2026-12-25 09:00-12:00``.

Words (case-insensitive): days ``mon``..``sun`` or full English names, ``周一``..``周日``
(``星期``/``礼拜`` + 一..六/日/天); ``daily``/``every day``/``每天``/``每日``; ``weekdays``/
``工作日`` (Mon-Fri); ``weekends``/``周末`` (Sat-Sun). Ranges with ``-``, ``~``, ``至``,
``到`` or ``to`` (``周一至五`` too; a range may wrap, ``fri-mon``); lists with ``,``, ``、``,
``/`` or spaces. Times ``H:MM`` or ``HH:MM`` from ``00:00`` to ``24:00`` (only as an end); an
end not after its start means the next day (``22:00-06:00``). Dates ``YYYY-MM-DD``,
``YYYY/MM/DD``, ``YYYY.MM.DD`` or ``YYYY年M月D日``; ranges with ``..`` or the range words.
Full-width digits and punctuation are read as their ASCII forms (Unicode NFKC).

``read_clauses`` returns the clauses with 1-based columns of the original text; a text
that does not follow this grammar raises ``RotaSyntaxError`` naming the column, what was
expected and what was found.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

MINUTES_PER_DAY = 1440
ENGLISH_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CHINESE_DAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")

_EN_DAY = re.compile(
    r"(monday|mon|tuesday|tues|tue|wednesday|wed|thursday|thurs|thu|friday|fri|"
    r"saturday|sat|sunday|sun)(?![a-z])"
)
_CN_DAY = re.compile(r"(?:周|星期|礼拜)([一二三四五六日天七])")
_CN_NUMERAL = re.compile(r"([一二三四五六日天七])")
_GROUP = re.compile(r"(daily|every ?day|每天|每日|天天|weekdays|workdays|工作日|weekends?|周末)(?![a-z])")
_RANGE = re.compile(r"\s*(?:-|–|—|~|至|到|to(?![a-z]))\s*")
_DATE_RANGE = re.compile(r"\s*(?:\.\.|-|–|—|~|至|到|to(?![a-z]))\s*")
_LIST = re.compile(r"\s*(?:,|、|/|&)\s*|\s+")
_CLAUSE_END = re.compile(r"(?:\s*;)+\s*|\s*[\r\n]\s*")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?!\d)")
_DATE = re.compile(r"(\d{4})(?:([-/.])(\d{1,2})\2(\d{1,2})(?!\d)|年(\d{1,2})月(\d{1,2})日?)")
_ABSENCE = re.compile(
    r"(sick leave|sick day|sick|病假|annual leave|leave|vacation|holiday|day off|off|"
    r"请假|休假|年假|事假|调休|休息)(?![a-z])"
)
_EXTRA = re.compile(r"(extra shift|extra|overtime|加班|补班|增班)(?![a-z])")
_SICK_WORDS = ("sick leave", "sick day", "sick", "病假")
_CN_NUMERALS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_GROUP_DAYS = {
    "weekdays": (0, 1, 2, 3, 4),
    "workdays": (0, 1, 2, 3, 4),
    "工作日": (0, 1, 2, 3, 4),
    "weekend": (5, 6),
    "weekends": (5, 6),
    "周末": (5, 6),
}

EXPECTED_CLAUSE = "a day (mon..sun, 周一..周日, daily/每天, weekdays/工作日), leave/请假, sick/病假 or extra/加班"
EXPECTED_TIME = "a time like 08:00"
EXPECTED_DATE = "a date like 2026-12-24"


class RotaSyntaxError(ValueError):
    """A rota text that does not follow the grammar; ``column`` is 1-based in the original text."""

    def __init__(self, column: int, expected: str, found: str, reason: str | None = None) -> None:
        self.column, self.expected, self.found = column, expected, found
        shown = f"'{found}'" if found else "the end of the text"
        super().__init__(f"column {column}: {reason or f'expected {expected}, found {shown}'}")


@dataclass(frozen=True)
class Span:
    """A shift's clock times: minutes after midnight, ``end`` in ``(start, start + 1440]``
    (past 1440 means the next day); ``column`` where it was written."""

    start: int
    end: int
    column: int


@dataclass(frozen=True)
class WeeklyClause:
    """``mon-fri 08:00-12:00 14:00-18:00``: the same spans on each of ``days``."""

    days: tuple[int, ...]  # 0 = Monday .. 6 = Sunday
    spans: tuple[Span, ...]
    column: int


@dataclass(frozen=True)
class AbsenceClause:
    """``leave 2026-12-24..2026-12-26`` or ``sick 2026-12-24``: absence date ranges (a single
    date is a range of one day)."""

    kind: str  # "leave" | "sick"
    ranges: tuple[tuple[date, date, int], ...]  # first, last (inclusive), column
    column: int


@dataclass(frozen=True)
class ExtraClause:
    """``extra 2026-12-27 09:00-13:00``: shifts on one date besides the weekly ones."""

    day: date
    spans: tuple[Span, ...]
    column: int


Clause = WeeklyClause | AbsenceClause | ExtraClause


class _Cursor:
    """The NFKC-normalised, lower-cased text and, per character, its column in the original."""

    def __init__(self, text: str) -> None:
        chars: list[str] = []
        columns: list[int] = []
        for index, ch in enumerate(text):
            for out in unicodedata.normalize("NFKC", ch).lower():
                chars.append(out)
                columns.append(index + 1)
        self.text = "".join(chars)
        self.columns = columns
        self.end_column = len(text) + 1
        self.pos = 0

    def column(self, pos: int | None = None) -> int:
        pos = self.pos if pos is None else pos
        return self.columns[pos] if pos < len(self.columns) else self.end_column

    def match(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        found = pattern.match(self.text, self.pos)
        if found:
            self.pos = found.end()
        return found

    def looking_at(self, pattern: re.Pattern[str]) -> bool:
        return pattern.match(self.text, self.pos) is not None

    def skip_blanks(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def fail(self, expected: str, pos: int | None = None) -> RotaSyntaxError:
        pos = self.pos if pos is None else pos
        found = re.match(r"\S{1,12}", self.text[pos:])
        return RotaSyntaxError(self.column(pos), expected, found.group(0) if found else "")


def read_clauses(text: str) -> list[Clause]:
    """The clauses of ``text`` in order; raises ``RotaSyntaxError``. Blank text gives ``[]``."""
    cur = _Cursor(text)
    clauses: list[Clause] = []
    cur.match(re.compile(r"(?:\s*;)*\s*"))
    while not cur.at_end():
        clauses.append(_clause(cur))
        cur.skip_blanks()
        if cur.at_end():
            break
        if cur.match(_CLAUSE_END):
            continue
        comma = cur.pos
        if cur.match(re.compile(r"\s*[,、]\s*")) and _starts_clause(cur):
            continue
        raise cur.fail("';' between clauses", comma)
    return clauses


def _starts_clause(cur: _Cursor) -> bool:
    return any(cur.looking_at(p) for p in (_EN_DAY, _CN_DAY, _GROUP, _ABSENCE, _EXTRA))


def _clause(cur: _Cursor) -> Clause:
    column = cur.column()
    if word := cur.match(_ABSENCE):
        kind = "sick" if word.group(1) in _SICK_WORDS else "leave"
        return AbsenceClause(kind, _date_ranges(cur), column)
    if cur.match(_EXTRA):
        cur.skip_blanks()
        day = _date(cur)
        return ExtraClause(day, _spans(cur), column)
    days = _days(cur)
    return WeeklyClause(days, _spans(cur), column)


def _days(cur: _Cursor) -> tuple[int, ...]:
    days: list[int] = []
    while True:
        days.extend(_day_item(cur))
        mark = cur.pos
        if cur.match(_LIST) and (cur.looking_at(_EN_DAY) or cur.looking_at(_CN_DAY) or cur.looking_at(_GROUP)):
            continue
        cur.pos = mark
        return tuple(sorted(set(days)))


def _day_item(cur: _Cursor) -> tuple[int, ...]:
    if group := cur.match(_GROUP):
        return _GROUP_DAYS.get(group.group(1).replace(" ", ""), tuple(range(7)))
    first = _one_day(cur, EXPECTED_CLAUSE)
    mark = cur.pos
    if cur.match(_RANGE):
        last = _one_day(cur, "a day to end the range (fri, 周五)", bare_numeral=True)
        return tuple((first + k) % 7 for k in range((last - first) % 7 + 1))
    cur.pos = mark
    return (first,)


def _one_day(cur: _Cursor, expected: str, bare_numeral: bool = False) -> int:
    if found := cur.match(_EN_DAY):
        return ENGLISH_DAYS.index(found.group(1)[:3])
    if found := cur.match(_CN_DAY):
        return _CN_NUMERALS[found.group(1)]
    if bare_numeral and (found := cur.match(_CN_NUMERAL)):
        return _CN_NUMERALS[found.group(1)]
    raise cur.fail(expected)


def _spans(cur: _Cursor) -> tuple[Span, ...]:
    cur.skip_blanks()
    spans = [_span(cur)]
    while True:
        mark = cur.pos
        if cur.match(_LIST) and cur.looking_at(_TIME):
            spans.append(_span(cur))
            continue
        cur.pos = mark
        return tuple(spans)


def _span(cur: _Cursor) -> Span:
    column = cur.column()
    start = _time(cur, "a shift like 08:00-16:00")
    if start == MINUTES_PER_DAY:
        raise RotaSyntaxError(column, "a start time before 24:00", "24:00")
    if not cur.match(_RANGE):
        raise cur.fail("'-' and the end time (08:00-16:00)")
    end_column = cur.column()
    end = _time(cur, "an end time like 16:00")
    if end == start:
        raise RotaSyntaxError(end_column, "an end time different from the start", cur.text[cur.pos - 5 : cur.pos])
    return Span(start, end if end > start else end + MINUTES_PER_DAY, column)


def _time(cur: _Cursor, expected: str) -> int:
    pos = cur.pos
    found = cur.match(_TIME)
    if not found:
        raise cur.fail(expected)
    hours, minutes = int(found.group(1)), int(found.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise cur.fail(f"{EXPECTED_TIME} (hours 00-24, minutes 00-59)", pos)
    return hours * 60 + minutes


def _date_ranges(cur: _Cursor) -> tuple[tuple[date, date, int], ...]:
    ranges = []
    while True:
        cur.skip_blanks()
        column = cur.column()
        first = _date(cur)
        last = first
        mark = cur.pos
        if cur.match(_DATE_RANGE) and cur.looking_at(_DATE):
            last_pos = cur.pos
            last = _date(cur)
            if last < first:
                raise RotaSyntaxError(
                    cur.column(last_pos), f"a last day not before {first.isoformat()}", last.isoformat()
                )
        else:
            cur.pos = mark
        ranges.append((first, last, column))
        mark = cur.pos
        if cur.match(_LIST) and cur.looking_at(_DATE):
            continue
        cur.pos = mark
        return tuple(ranges)


def _date(cur: _Cursor) -> date:
    pos = cur.pos
    found = cur.match(_DATE)
    if not found:
        raise cur.fail(EXPECTED_DATE)
    year = int(found.group(1))
    month, day = (found.group(3), found.group(4)) if found.group(2) else (found.group(5), found.group(6))
    try:
        return date(year, int(month), int(day))
    except ValueError as exc:
        raise cur.fail(f"{EXPECTED_DATE} ({exc})", pos) from None
