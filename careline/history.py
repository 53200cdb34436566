"""A request's history in the center's words: the ``Words`` of ``handlers.dispatch.explain``
for one language and the center's time zone, shared by ``careline explain`` and the
dashboard's history page (``careline.web.request_history``).

Sentences are the ``history.*`` keys of the gettext catalogs (``config/locale``); statuses,
ladder steps and dispatch's refusal reasons are the board's words (``careline.web.board_i18n``),
so the page and the board say the same; a status reason the domain wrote in English is
translated by ``REASONS`` (patterns of ``handlers.dispatch.offers``, ``handlers.visits`` and
``handlers.operations``), an unknown one is kept as written. Phone numbers are always masked
(``handlers.operations.access.mask_phone``): the history shows whose phone, never the number.
Times are the center's clock (``Settings.programme_timezone``), ``HH:MM``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from careline.web import board_i18n
from config.locale import get_texts
from handlers.channels.texts import KEYS
from handlers.dispatch.explain import Told, describe, history
from handlers.operations.access import mask_phone

#: status reasons the domain writes (``request.status_reason``), as patterns -> Chinese
REASONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^offer (?P<o>\S+) accepted$"), "派单 {o} 已接单"),
    (re.compile(r"^caregiver checked in$"), "护理员已签到"),
    (re.compile(r"^caregiver checked out$"), "护理员已签退"),
    (re.compile(r"^offered by an operator$"), "操作员派单"),
    (re.compile(r"^waiting for the anchor visit$"), "等待关联服务"),
    (re.compile(r"^anchor visit assigned$"), "关联服务已派定"),
    (re.compile(r"^no eligible caregiver accepted$"), "符合条件的护理员均未接单"),
    (re.compile(r"^no eligible caregiver$"), "没有符合条件的护理员"),
    (re.compile(r"^the caregiver is running late$"), "护理员将迟到"),
    (re.compile(r"^re-dispatch$"), "重新派单"),
    (re.compile(r"^dispatched without synchronisation$"), "未同步派单"),
    (re.compile(r"^cancelled by an operator$"), "操作员取消"),
]


def reason(text: str, lang: str) -> str:
    """A reason the domain wrote in English, in ``lang``: each part (split at ``: `` or ``; ``)
    by ``REASONS`` or dispatch's refusals (``board_i18n.REFUSALS``), else as written."""
    return board_i18n.reason(text, lang, REASONS + board_i18n.REFUSALS)


@dataclass(frozen=True)
class CenterWords:
    """``handlers.dispatch.explain.Words`` in ``lang`` (``zh`` or ``en``) on the clock of ``zone``."""

    lang: str
    zone: ZoneInfo

    def text(self, key: str, **values: Any) -> str:
        return get_texts().text(self.lang, key, **values)

    def _keyed(self, prefix: str, value: str) -> str:
        key = f"history.{prefix}.{value}"
        return self.text(key) if key in KEYS else value

    def term(self, kind: str, value: str) -> str:
        if kind == "status":
            entry = board_i18n.STATUS_TEXT.get(f"status.{value}")
            return entry[self.lang] if entry else value
        if kind == "step":
            return board_i18n.step(value, self.lang)
        if kind == "service":
            return board_i18n.service(value, self.lang)
        if kind == "reason":
            return reason(value, self.lang)
        if kind == "phone":
            return mask_phone(value)
        if kind == "outcome":
            from careline.web.i18n import CATALOGUE

            return CATALOGUE.get(f"outcome.{value}", {}).get(self.lang, value)
        if kind == "notice":
            return self._keyed("notice", value.split(".", 1)[-1] if "." in value else value)
        return self._keyed(kind, value)  # answer, visit, role, channel, delivery

    def time(self, at: datetime | None) -> str:
        return at.astimezone(self.zone).strftime("%H:%M") if at is not None else "?"


def told(events: list[dict[str, Any]], notices: list[dict[str, Any]], lang: str, zone: ZoneInfo) -> list[dict]:
    """The history as the page shows it: per entry its kind, the day (``YYYY-MM-DD`` in
    ``zone``, to head each new day), and ``describe``'s words."""
    words = CenterWords(lang, zone)
    out = []
    for entry in history(events, notices):
        said: Told = describe(entry, words)
        out.append(
            {
                "kind": entry.kind,
                "what": entry.what,
                "day": entry.at.astimezone(zone).strftime("%Y-%m-%d") if entry.at else "",
                "at": said.at,
                "head": said.head,
                "details": said.details,
                "excluded": said.excluded,
            }
        )
    return out
