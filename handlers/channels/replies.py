"""What a caregiver's or an elder's SMS says: forgiving reading of one short reply.

Caregivers (many with basic phones, typing in a hurry at a door) answer in
many ways. ``parse_reply`` reads the common Chinese and English words for yes,
no, arrived and done, an optional four-digit job code before or after the
word, in any mix of full-width and half-width characters and digits of any
script (NFKC, then ``unicodedata.decimal``), with spaces, quotes (the SMS shows
the code as ``“到4821”``), dashes and end punctuation ignored. Without a code
the SMS inbox picks the caregiver's only open job (``channels.sms_inbox``).
``STOP``/``退订`` opt out; ``投诉 …``/``COMPLAINT …`` is a complaint with its
words; anything else gets the help text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class ReplyKind(StrEnum):
    """What a reply asks for: answer an offer (accept, decline), report a visit (check in, check
    out), opt out of SMS (``STOP``, Twilio's reserved word), complain, or anything else (help)."""

    ACCEPT = "accept"
    DECLINE = "decline"
    CHECK_IN = "check_in"
    CHECK_OUT = "check_out"
    OPT_OUT = "opt_out"
    COMPLAINT = "complaint"
    HELP = "help"


@dataclass(frozen=True)
class Reply:
    """``code``: the four ASCII digits of a job code, if given; ``text``: the words of a complaint."""

    kind: ReplyKind
    code: str | None = None
    text: str | None = None


#: the words of each reply, as ``normalise`` leaves them (upper case, no spaces)
WORDS: dict[ReplyKind, tuple[str, ...]] = {
    ReplyKind.ACCEPT: (
        "1", "Y", "YES", "OK", "ACCEPT", "SURE", "接", "接单", "接受", "好", "好的", "可以", "行", "是",
        "同意", "确认", "收到",
    ),
    ReplyKind.DECLINE: (
        "2", "N", "NO", "DECLINE", "REJECT", "拒", "拒绝", "不", "不接", "不行", "不去", "不要", "没空", "不能",
    ),
    ReplyKind.CHECK_IN: (
        "到", "已到", "到了", "到达", "已到达", "我到了", "签到", "开始",
        "ARRIVE", "ARRIVED", "HERE", "IN", "CHECKIN", "START",
    ),
    ReplyKind.CHECK_OUT: (
        "完", "完成", "已完成", "完了", "做完", "做完了", "结束", "签退",
        "DONE", "FINISHED", "FINISH", "OUT", "CHECKOUT", "COMPLETE", "COMPLETED", "END",
    ),
}  # fmt: skip
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "退订", "TD"})
COMPLAINT_WORDS = ("投诉", "COMPLAINT", "COMPLAIN")
_QUOTES = "\"'`“”‘’„‟«»‹›「」『』〈〉《》【】〔〕（）()[]{}"
_IGNORED = re.compile(r"[\s\-_~·.,，、。!！?？:：;；…]+")
_CODE = r"(\d{4})"


def _word_group(words: tuple[str, ...]) -> str:
    return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")"


#: first every word then an optional code (``到4821``), then a code then a word (``4821到``):
#: ``24821`` is "2" (no) with code 4821, never code 2482 with "1" (yes)
_PATTERNS = tuple((kind, re.compile(f"{_word_group(words)}{_CODE}?")) for kind, words in WORDS.items()) + tuple(
    (kind, re.compile(f"{_CODE}{_word_group(words)}")) for kind, words in WORDS.items()
)


def normalise(text: str) -> str:
    """NFKC (full-width ``１`` -> ``1``), decimal digits of any script as ASCII
    (``٤`` and ``४`` -> ``4``), upper case, one space, no trailing punctuation."""
    t = unicodedata.normalize("NFKC", text or "").upper()
    t = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in t)
    return re.sub(r"\s+", " ", t).strip().rstrip(".!。！")


def compact(text: str) -> str:
    """``normalise`` with quotes, spaces, dashes and punctuation taken out (``“到 4821”。`` -> ``到4821``)."""
    t = normalise(text)
    return _IGNORED.sub("", t.translate({ord(q): None for q in _QUOTES}))


def parse_reply(text: str) -> Reply:
    """What an SMS asks for; ``code`` is the job's 4-digit short code if given (before or after the word)."""
    t = compact(text)
    if t in OPT_OUT_WORDS:
        return Reply(ReplyKind.OPT_OUT)
    plain = unicodedata.normalize("NFKC", text or "").strip().lstrip(_QUOTES).strip()
    for word in COMPLAINT_WORDS:
        if plain.upper().startswith(word):
            return Reply(ReplyKind.COMPLAINT, text=plain[len(word) :].strip(" :,;" + _QUOTES) or None)
    for kind, pattern in _PATTERNS:
        if m := pattern.fullmatch(t):
            return Reply(kind, m.group(1))
    return Reply(ReplyKind.HELP)


_CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}


def parse_rating(text: str) -> int | None:
    """A 1-5 rating from an elder's SMS (``4``, ``４``, ``四``, ``4分``, ``⓸``), else None."""
    t = normalise(text).removesuffix("分").strip()
    value = _CHINESE_DIGITS.get(t) or (unicodedata.digit(t, None) if len(t) == 1 else None)  # ⓸ and ፬ too
    return value if value is not None and 1 <= value <= 5 else None


def is_alarm_text(text: str, keywords: frozenset[str]) -> bool:
    """True when an elder's SMS is one of the alarm keywords (``SOS``, ``救命`` …)."""
    return normalise(text) in {normalise(k) for k in keywords}
