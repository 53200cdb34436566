"""The monthly report's words and formats in Chinese and English.

Words: a gettext catalogue, ``careline/locale/zh/LC_MESSAGES/report.po`` (domain ``report``,
msgids in English, so English needs none), read with Babel and compiled in memory; the
template marks text with ``_()`` (Jinja2's i18n extension), the code with ``_()`` and ``N_()``
(marked now, translated when shown). ``pybabel extract`` finds every msgid, and a unit test
checks each has a Chinese translation. Issue 16's SMS and IVR catalogues are the same kind
of file, so this one can join them as a domain of its own.

Formats: Babel's CLDR data for the month's name and the time zone's name; every time is
shown in the center's zone (``CARELINE_PROGRAMME_TIMEZONE``).
"""

from __future__ import annotations

import gettext
import io
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "report"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("zh", "en")
_LOCALES = {"zh": Locale.parse("zh_Hans_CN"), "en": Locale.parse("en_GB")}


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it here."""
    return message


@lru_cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of ``lang`` (``zh`` or ``en``); English is the msgids themselves.

    :raises ValueError: another language.
    """
    if lang not in LANGUAGES:
        raise ValueError(f"--lang: zh, en or both, not {lang!r}")
    if lang == "en":
        return gettext.NullTranslations()
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po", "rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@dataclass(frozen=True)
class ReportLanguage:
    """How one copy of the report speaks: ``lang`` and the center's ``zone``."""

    lang: str
    zone: ZoneInfo

    def _(self, message: str, **values: object) -> str:
        """``message`` translated, then ``%(name)s`` placeholders filled from ``values``."""
        text = translations(self.lang).gettext(message)
        return text % values if values else text

    def month(self, first_day: datetime) -> str:
        """The month's name with its year: "November 2026", "2026年11月"."""
        return format_skeleton("yMMMM", first_day, locale=_LOCALES[self.lang])

    def moment(self, at: datetime) -> str:
        """``at`` in the center's zone: "2026-11-30 08:05"."""
        return at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    def zone_name(self, at: datetime) -> str:
        """The zone's name at ``at``, with its IANA id: "China Standard Time (Asia/Shanghai)"."""
        name = format_datetime(at, "zzzz", tzinfo=self.zone, locale=_LOCALES[self.lang])
        return f"{name} ({self.zone.key})"
