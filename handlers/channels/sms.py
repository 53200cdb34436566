"""SMS to and from caregivers: segment counting, the texts we send, the replies we read.

Segments follow 3GPP TS 23.038 / 23.040: a text made only of GSM-7 characters
(the default alphabet; the extension characters ``^{}\\[~]|€`` and form feed take
two septets) fits 160 septets in one segment and 153 per part when
concatenated (the 6-byte user data header takes 7 septets); anything else goes
as UCS-2: 70 UTF-16 code units in one segment, 67 per part. A part never
splits an escape pair or a surrogate pair. Carriers bill per segment, so the
offer is kept to ONE segment (area, then service name are shortened to fit).

Caregivers answer with one short reply (many have basic phones): ``1``/``Y``/``接``
accept, ``2``/``N``/``拒`` decline, ``到 CODE``/``ARRIVE CODE`` check in,
``完 CODE``/``DONE CODE`` check out, ``STOP``/``退订`` opt out; anything else
gets the help text. Texts are Chinese for ``zh*`` languages, English otherwise.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Iterator

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


def is_chinese(language: str | None) -> bool:
    """Chinese texts for ``zh*`` languages and when none is known (the programme's default)."""
    return (language or "zh").lower().startswith("zh")


def brand_for(language: str | None, brand_zh: str, brand_en: str) -> str:
    """The sender name in the message's language (a Chinese name would make an
    English text UCS-2 and cost a second segment)."""
    return brand_zh if is_chinese(language) else brand_en


SERVICE_NAMES = {
    "meal": ("送餐", "meal"),
    "cleaning": ("保洁", "cleaning"),
    "bathing": ("助浴", "bathing"),
    "medical_escort": ("陪同就医", "medical escort"),
    "companionship": ("陪伴", "companionship"),
    "repair": ("维修", "repair"),
    "emergency": ("紧急求助", "EMERGENCY"),
}


def service_name(service_type: str, language: str | None) -> str:
    zh, en = SERVICE_NAMES.get(service_type, (service_type, service_type))
    return zh if is_chinese(language) else en


def _window(start: datetime, end: datetime, tz: tzinfo) -> str:
    s, e = start.astimezone(tz), end.astimezone(tz)
    return f"{s:%m/%d %H:%M}-{e:%H:%M}" if s.date() == e.date() else f"{s:%m/%d %H:%M}-{e:%m/%d %H:%M}"


def offer_text(
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
    zh = is_chinese(language)
    when = _window(start, end, tz)
    service = service_name(service_type, language)

    templates: tuple[str, ...]
    if zh:
        templates = (f"【{brand}】新单{code}:{{svc}}{{place}} {when} 回1接单 回2拒绝",)
    else:  # the compact form keeps a Chinese area name inside 70 UCS-2 units
        templates = (
            f"{brand}: new job {code}: {{svc}}{{place}}, {when}. Reply 1 to accept, 2 to decline.",
            f"{brand} job {code} {{svc}}{{place}} {when} 1=accept 2=decline",
        )
    sep = " " if zh else ", "
    for svc in _shortened(service):
        if count_segments(templates[-1].format(svc=svc, place="")).segments > 1:
            continue
        for place in _shortened(area):
            # the full wording only with the whole area; else the compact one with as much as fits
            for template in templates if place == area else templates[-1:]:
                text = template.format(svc=svc, place=sep + place if place else "")
                if count_segments(text).segments == 1:
                    return text
    raise ValueError("offer text cannot fit one segment: shorten the SMS brand")


def _shortened(text: str) -> Iterator[str]:
    """``text``, then ever shorter prefixes of it, down to the empty string."""
    return (text[:n].rstrip() for n in range(len(text), -1, -1))


def accepted_text(
    service_type: str,
    address: str,
    start: datetime,
    end: datetime,
    code: str,
    language: str | None,
    tz: tzinfo,
    brand: str,
) -> str:
    """Sent once the offer is accepted: the full address and how to check in and out."""
    when, service = _window(start, end, tz), service_name(service_type, language)
    if is_chinese(language):
        return f"【{brand}】已确认{code}:{service} {when} 地址:{address} 到达回复“到{code}”，完成回复“完{code}”"
    return (
        f"{brand}: confirmed {code}: {service}, {when}. Address: {address}. "
        f"On arrival reply ARRIVE {code}, when done reply DONE {code}."
    )


def rescinded_text(code: str, language: str | None, brand: str) -> str:
    if is_chinese(language):
        return f"【{brand}】单{code}已取消，无需前往。"
    return f"{brand}: job {code} was withdrawn. No need to go."


def refused_text(code: str, language: str | None, brand: str) -> str:
    """An accept that came too late or for an offer that moved on."""
    if is_chinese(language):
        return f"【{brand}】单{code}已失效(超时或已改派)，请勿前往。"
    return f"{brand}: job {code} is no longer yours (expired or reassigned). Do not go."


class ReplyKind(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    CHECK_IN = "check_in"
    CHECK_OUT = "check_out"
    OPT_OUT = "opt_out"
    HELP = "help"


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    code: str | None = None


OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "退订", "TD"})
_PATTERNS = (
    (ReplyKind.ACCEPT, re.compile(r"(?:1|Y|YES|接|接单)\s*(\d{4})?")),
    (ReplyKind.DECLINE, re.compile(r"(?:2|N|NO|拒|拒绝)\s*(\d{4})?")),
    (ReplyKind.CHECK_IN, re.compile(r"(?:到|ARRIVE|ARRIVED)\s*(\d{4})")),
    (ReplyKind.CHECK_OUT, re.compile(r"(?:完|DONE)\s*(\d{4})")),
)


def normalise(text: str) -> str:
    """NFKC (full-width ``１`` -> ``1``), decimal digits of any script as ASCII
    (``٤`` and ``४`` -> ``4``), upper case, one space, no trailing punctuation."""
    t = unicodedata.normalize("NFKC", text or "").upper()
    t = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in t)
    return re.sub(r"\s+", " ", t).strip().rstrip(".!。！")


def parse_reply(text: str) -> Reply:
    """What a caregiver's SMS asks for; ``code`` is the offer's 4-digit short code if given."""
    t = normalise(text)
    if t in OPT_OUT_WORDS:
        return Reply(ReplyKind.OPT_OUT)
    for kind, pattern in _PATTERNS:
        if m := pattern.fullmatch(t):
            return Reply(kind, m.group(1))
    return Reply(ReplyKind.HELP)


def reply_text(kind: ReplyKind, code: str | None, language: str | None, brand: str) -> str:
    """The immediate answer to a caregiver's SMS (sent as TwiML ``<Message>``)."""
    zh = is_chinese(language)
    texts = {
        ReplyKind.ACCEPT: (
            f"【{brand}】已收到接单{code}，确认后发送地址。",
            f"{brand}: accept {code} received; the address follows once confirmed.",
        ),
        ReplyKind.DECLINE: (f"【{brand}】已拒绝{code}。", f"{brand}: declined {code}."),
        ReplyKind.CHECK_IN: (f"【{brand}】已签到{code}。", f"{brand}: check-in {code} received."),
        ReplyKind.CHECK_OUT: (f"【{brand}】已签退{code}，辛苦了。", f"{brand}: check-out {code} received. Thank you."),
        ReplyKind.OPT_OUT: (f"【{brand}】已退订，不再发送短信。", f"{brand}: unsubscribed, no more SMS."),
        ReplyKind.HELP: (
            f"【{brand}】回1接单 回2拒绝；到达回“到+码”，完成回“完+码”；退订回“退订”。",
            f"{brand}: reply 1 accept, 2 decline; ARRIVE CODE on arrival, DONE CODE when done; STOP to opt out.",
        ),
    }
    zh_text, en_text = texts[kind]
    return zh_text if zh else en_text


def unknown_code_text(code: str | None, open_codes: list[str], language: str | None, brand: str) -> str:
    """No offer or visit matches the reply: list the caregiver's open codes, if any."""
    codes = " ".join(open_codes)
    if is_chinese(language):
        lead = f"未找到单{code}。" if code else "请在回复中加上单号。"
        return f"【{brand}】{lead}" + (f"您的单号:{codes}" if codes else "您当前没有待处理的单。")
    lead = f"No job {code}. " if code else "Please add the job code. "
    return f"{brand}: {lead}" + (f"Your codes: {codes}" if codes else "You have no open jobs.")


_CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}


def parse_rating(text: str) -> int | None:
    """A 1-5 rating from an elder's SMS (``4``, ``４``, ``四``, ``4分``, ``⓸``), else None."""
    t = normalise(text).removesuffix("分").strip()
    value = _CHINESE_DIGITS.get(t) or (unicodedata.digit(t, None) if len(t) == 1 else None)  # ⓸ and ፬ too
    return value if value is not None and 1 <= value <= 5 else None


def is_alarm_text(text: str, keywords: frozenset[str]) -> bool:
    """True when an elder's SMS is one of the alarm keywords (``SOS``, ``救命`` …)."""
    return normalise(text) in {normalise(k) for k in keywords}


def rating_request_text(language: str | None, brand: str) -> str:
    if is_chinese(language):
        return f"【{brand}】请为今天的上门服务打分：回复1到5(5最满意)。"
    return f"{brand}: how was today's visit? Reply 1 to 5 (5 = very good)."


def thanks_text(language: str | None, brand: str) -> str:
    return f"【{brand}】谢谢您的评价。" if is_chinese(language) else f"{brand}: thank you for your rating."


def alarm_ack_text(number: str, language: str | None, brand: str) -> str:
    if is_chinese(language):
        return f"【{brand}】已收到您的求助(请求号{number})，接线员马上联系您。"
    return f"{brand}: help request {number} received; an operator will call you now."


def elder_help_text(language: str | None, brand: str) -> str:
    if is_chinese(language):
        return f"【{brand}】如需服务请拨打热线；紧急求助请回复SOS。"
    return f"{brand}: call the hotline for a service; reply SOS in an emergency."


#: What family contacts are told, per event (zh, en); {brand} is filled in.
FAMILY_TEXTS = {
    "emergency": (
        "【{brand}】您的家人刚发出紧急呼叫，中心已派最近的护理员并通知值班员。",
        "{brand}: your relative just raised an emergency; the nearest caregivers are on their way "
        "and the duty operator is alerted.",
    ),
    "accepted": ("【{brand}】您家人的服务已安排护理员上门。", "{brand}: a caregiver is booked for your relative."),
    "in-progress": (
        "【{brand}】护理员已到达您家人家中。",
        "{brand}: the caregiver has arrived at your relative's home.",
    ),
    "completed": ("【{brand}】您家人的本次服务已完成。", "{brand}: today's visit to your relative is done."),
}


def family_text(event: str, language: str | None, brand: str) -> str:
    """The SMS to an elder's family contacts for ``event`` (see ``FAMILY_TEXTS``);
    one segment in either language. Raises ``KeyError`` for an unknown event."""
    zh, en = FAMILY_TEXTS[event]
    return (zh if is_chinese(language) else en).format(brand=brand)
