"""SMS: segment counting, fitting texts into one segment, the replies we read.

Segments follow 3GPP TS 23.038 / 23.040: a text made only of GSM-7 characters
(the default alphabet; the extension characters ``^{}\\[~]|€`` and form feed take
two septets) fits 160 septets in one segment and 153 per part when
concatenated (the 6-byte user data header takes 7 septets); anything else goes
as UCS-2: 70 UTF-16 code units in one segment, 67 per part. A part never
splits an escape pair or a surrogate pair. Carriers bill per segment and basic
phones show a long text in pieces, so every text is kept to ONE segment where
the content allows: the offer shortens the area, then the service name
(``offer_text``); a text with a long address is sent as several one-segment
SMS split at a sensible point (``fit_sms``).

The words are in the gettext catalogs (``handlers.channels.texts``); replies
are read by ``parse_reply`` (``handlers.channels.replies`` holds its words).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Iterator

from handlers.channels.replies import (
    OPT_OUT_WORDS,
    Reply,
    ReplyKind,
    is_alarm_text,
    normalise,
    parse_rating,
    parse_reply,
)
from handlers.channels.texts import Texts, lang_of

__all__ = [
    "OPT_OUT_WORDS",
    "Reply",
    "ReplyKind",
    "is_alarm_text",
    "normalise",
    "parse_rating",
    "parse_reply",
]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


@dataclass(frozen=True)
class SegmentCount:
    """``encoding`` is ``GSM-7`` or ``UCS-2``; ``units`` are septets or UTF-16 code units."""

    encoding: str
    units: int
    segments: int


def count_segments(text: str) -> SegmentCount:
    """Segments ``text`` needs as one SMS (see the module docstring for the rules)."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        widths = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        return SegmentCount("GSM-7", sum(widths), _parts(widths, 160, 153))
    widths = [len(ch.encode("utf-16-le")) // 2 for ch in text]
    return SegmentCount("UCS-2", sum(widths), _parts(widths, 70, 67))


def _parts(widths: list[int], single: int, per_part: int) -> int:
    if sum(widths) <= single:
        return 1
    parts, used = 1, 0
    for width in widths:  # a character never straddles two parts
        if used + width > per_part:
            parts, used = parts + 1, 0
        used += width
    return parts


def one_segment(text: str) -> bool:
    return count_segments(text).segments == 1


#: where a long text may be cut: after punctuation, a space, or the parts of a Chinese
#: address (路 road, 街 street, 巷 lane, 号 number, 弄 alley, 栋/幢/座/楼 building,
#: 单元 entrance, 层 floor, 室/户 flat, 区 district, 村 village, 小区/社区 estate)
_BREAK_AFTER = re.compile(r"[\s,，;；:：、。.!！?？)）]|(?:路|街|巷|号|弄|栋|幢|座|楼|单元|层|室|户|区|村)")


def split_at_breaks(text: str) -> list[str]:
    """``text`` cut into one-segment pieces, each as long as fits, cut after the
    last sensible break (``_BREAK_AFTER``) inside it, or hard where a piece has none."""
    pieces, rest = [], text.strip()
    while rest and not one_segment(rest):
        fits = max(n for n in range(1, len(rest) + 1) if one_segment(rest[:n]))
        cuts = [m.end() for m in _BREAK_AFTER.finditer(rest[:fits]) if m.end() >= fits // 3]
        cut = cuts[-1] if cuts else fits
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    return pieces + ([rest] if rest else [])


def fit_sms(paragraphs: list[str]) -> list[str]:
    """The fewest SMS that carry ``paragraphs`` in order, each of one segment: all
    of them in one text when it fits, else paragraphs joined while they fit, and a
    paragraph too long alone (a long address) cut at sensible points."""
    messages: list[str] = []
    for paragraph in paragraphs:
        for piece in split_at_breaks(paragraph):
            joined = f"{messages[-1]} {piece}" if messages else piece
            if messages and one_segment(joined):
                messages[-1] = joined
            else:
                messages.append(piece)
    return messages


def _hhmm(at: datetime) -> str:
    return f"{at:%H:%M}"


def quarter_floor(at: datetime) -> datetime:
    """``at`` rounded down to the quarter hour (seconds dropped)."""
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


def quarter_ceil(at: datetime) -> datetime:
    """``at`` rounded up to the quarter hour (unchanged when already on one)."""
    floor = quarter_floor(at)
    return floor if floor == at else floor + timedelta(minutes=15)


def when_text(texts: Texts, language: str | None, start: datetime, end: datetime, tz: tzinfo) -> str:
    """A job's time as a caregiver reads it (``12/01 09:00-09:30``), local to ``tz``."""
    s, e = start.astimezone(tz), end.astimezone(tz)
    last = _hhmm(e) if s.date() == e.date() else f"{e:%m/%d} {_hhmm(e)}"
    return texts.text(language, "sms.when", month=s.month, day=s.day, month_name=f"{s:%b}", start=_hhmm(s), end=last)


def window_text(texts: Texts, language: str | None, start: datetime, end: datetime, tz: tzinfo) -> str:
    """A window an elder is told (``12月1日9:15-9:45``), widened to quarter hours so it
    is easy to remember and still holds the real one."""
    s, e = quarter_floor(start.astimezone(tz)), quarter_ceil(end.astimezone(tz))
    last = _hhmm(e) if s.date() == e.date() else f"{e:%m/%d} {_hhmm(e)}"
    return texts.text(language, "sms.window", month=s.month, day=s.day, month_name=f"{s:%b}", start=_hhmm(s), end=last)


def time_text(at: datetime, tz: tzinfo) -> str:
    """A time an elder is told (``10:45``): rounded up to the quarter hour, so a helper
    expected at 10:38 is promised for 10:45, not 10:30."""
    return _hhmm(quarter_ceil(at.astimezone(tz)))


def offer_text(
    texts: Texts,
    service_type: str,
    area: str,
    start: datetime,
    end: datetime,
    code: str,
    language: str | None,
    tz: tzinfo,
    brand: str,
) -> str:
    """The offer: service, area (never the address: it is sent after acceptance),
    planned window in the programme's time zone, short code. Always ONE segment:
    the area and then the service name are cut until it fits; raises ValueError
    if even that fails (a brand too long)."""
    when = when_text(texts, language, start, end, tz)
    service = texts.service(language, service_type)
    full, compact = "sms.offer", "sms.offer.compact"
    sep = texts.text(language, "sms.place_separator")

    def text(key: str, svc: str, place: str) -> str:
        return texts.text(
            language, key, brand=brand, code=code, service=svc, place=sep + place if place else "", when=when
        )

    for svc in _shortened(service):
        if not one_segment(text(compact, svc, "")):
            continue
        for place in _shortened(area):
            # the full wording only with the whole area; else the compact one with as much as fits
            for key in (full, compact) if place == area else (compact,):
                if one_segment(candidate := text(key, svc, place)):
                    return candidate
    raise ValueError("offer text cannot fit one segment: shorten the SMS brand")


def _shortened(text: str) -> Iterator[str]:
    """``text``, then ever shorter prefixes of it, down to the empty string."""
    return (text[:n].rstrip() for n in range(len(text), -1, -1))


def confirmed_texts(
    texts: Texts,
    service_type: str,
    address: str,
    start: datetime,
    end: datetime,
    code: str,
    language: str | None,
    tz: tzinfo,
    brand: str,
) -> list[str]:
    """Sent once the offer is accepted: the full address, then how to check in and
    out; one SMS when it fits one segment, else more, the address cut at a sensible point."""
    when, service = when_text(texts, language, start, end, tz), texts.service(language, service_type)
    return fit_sms(
        [
            texts.text(language, "sms.confirmed", brand=brand, code=code, service=service, when=when, address=address),
            texts.text(language, "sms.how_to_report", brand=brand, code=code),
        ]
    )


def reply_text(texts: Texts, kind: ReplyKind, code: str | None, language: str | None, brand: str) -> str:
    """The immediate answer to a caregiver's SMS (sent as TwiML ``<Message>``)."""
    return texts.text(language, f"sms.reply.{kind.value}", brand=brand, code=code or "")


def unknown_code_text(texts: Texts, code: str | None, open_codes: list[str], language: str | None, brand: str) -> str:
    """No offer or visit matches the reply: list the caregiver's open codes, if any."""
    if not open_codes:
        return texts.text(language, "sms.reply.no_jobs", brand=brand)
    codes = " ".join(open_codes)
    if code is None:
        return texts.text(language, "sms.reply.which_code", brand=brand, codes=codes)
    return texts.text(language, "sms.reply.unknown_code", brand=brand, code=code, codes=codes)


def is_chinese(language: str | None) -> bool:
    """Chinese texts for Chinese languages and when none is known (the programme's default)."""
    return lang_of(language) == "zh"


def brand_for(language: str | None, brand_zh: str, brand_en: str) -> str:
    """The sender name in the message's language (a Chinese name would make an
    English text UCS-2 and cost a second segment)."""
    return brand_zh if is_chinese(language) else brand_en
