"""A notice's words: the texts of ``handlers.channels.notices`` in the person's language.

``render`` gives the SMS to send, each of one segment where the content allows
(``handlers.channels.sms.fit_sms``); an app notice or a voice call carries the
same words as one text. Times are local to the programme's time zone; an
elder's times are rounded to the quarter hour (``handlers.channels.sms.window_text``).
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from handlers.channels import sms
from handlers.channels.notices import Notice
from handlers.channels.texts import Texts, lang_of

#: notices whose text is ``sms.<kind>`` with the job code and the job's time
_JOB = frozenset({"cancelled", "reassigned"})


def render(notice: Notice, texts: Texts, tz: tzinfo, brand: str) -> list[str]:
    """The SMS (one or more, in order) that carry ``notice``; raises ``KeyError``
    for a value its text needs and the notice lacks (a decision bug)."""
    v, lang = notice.values, notice.person.language
    if notice.kind == "offer":
        return [sms.offer_text(texts, v["service_type"], v["place"], v["start"], v["end"], v["code"], lang, tz, brand)]
    if notice.kind == "confirmed":
        return sms.confirmed_texts(
            texts, v["service_type"], v["address"], v["start"], v["end"], v["code"], lang, tz, brand
        )
    if notice.kind in ("day_plan", "day_plan_changed", "day_plan_cleared"):
        return _day_plan(notice, texts, tz, brand)
    fields: dict[str, Any] = {"brand": brand, "code": v.get("code", ""), "number": v.get("number", "")}
    fields["service"] = texts.service(lang, str(v.get("service_type", "")))
    if notice.kind in _JOB:
        fields["when"] = sms.when_text(texts, lang, v["start"], v["end"], tz) if v.get("start") and v.get("end") else ""
    if "start" in v and "end" in v and notice.kind.endswith((".confirmed", ".rescheduled")):
        fields["window"] = sms.window_text(texts, lang, v["start"], v["end"], tz)
    if "time" in v:
        at = v["time"].astimezone(tz)
        fields["time"] = sms.time_text(at, tz) if notice.person.role != "caregiver" else f"{at:%H:%M}"
    if "outcome" in v:
        fields["outcome"] = texts.text(lang, f"outcome.{v['outcome']}")
    return sms.fit_sms([texts.text(lang, f"sms.{notice.kind}", **fields)])


def _day_plan(notice: Notice, texts: Texts, tz: tzinfo, brand: str) -> list[str]:
    """A caregiver's planned day: ``09:00 助浴, 11:00 送餐`` (each visit's start, local to ``tz``), as
    announced (``day_plan``) or after a repair changed it (``day_plan_changed``; ``day_plan_cleared``
    when no planned visit is left: the day is the notice's ``day``)."""
    lang, visits = notice.person.language, notice.values["visits"]
    first = (visits[0]["start"] if visits else notice.values["day"]).astimezone(tz)
    if not visits:
        text = texts.text(lang, "sms.day_plan_cleared", brand=brand, month=first.month, day=first.day,
                          month_name=f"{first:%b}")  # fmt: skip
        return sms.fit_sms([text])
    sep = "，" if lang_of(lang) == "zh" else ", "
    listed = sep.join(f"{v['start'].astimezone(tz):%H:%M} {texts.service(lang, v['service_type'])}" for v in visits)
    text = texts.text(
        lang, f"sms.{notice.kind}", brand=brand, month=first.month, day=first.day, month_name=f"{first:%b}",
        count=len(visits), visits=listed,
    )  # fmt: skip
    return sms.fit_sms([text])


def as_one_text(parts: list[str]) -> str:
    """What an app notice or a voice call says: the SMS parts as one text."""
    return " ".join(parts)
