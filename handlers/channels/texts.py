"""Every text careline sends or speaks, looked up by key in gettext catalogs.

The catalogs are Babel ``.po`` files, one per language
(``config/locale/<zh|en>/LC_MESSAGES/careline.po``), compiled to ``.mo`` by
``scripts/setup`` and loaded once by ``config.locale.load_texts``; the domain
only sees a ``Catalog`` (anything with ``gettext``). Message ids are keys
(``sms.offer``), so both languages are written out in full, and a text longer
in one language than the other can change without touching code.

``KEYS`` is the one list of texts with the ``str.format`` fields each may use:
the loader refuses a catalog that lacks a key or whose text names a field
its key does not have, naming the file and the line (``config.locale``). Issue 17 extends the
same catalogs to the dashboard.

Language: ``zh`` for Chinese (``zh``, ``zh-CN``, ``zh-Hant``, the Chinese
languages ``yue``, ``wuu``, ``nan``, ``hak``, ``cmn``) and when none is known
(the programme's default), else ``en``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol

from handlers.dispatch.explain import HISTORY_KEYS
from handlers.register.services import SERVICE_TYPES

LANGUAGES = ("zh", "en")
DOMAIN = "careline"
_CHINESE = ("zh", "yue", "wuu", "nan", "hak", "cmn", "gan", "hsn")


class Catalog(Protocol):
    """One language's compiled catalog (Babel's ``Translations``, loaded by ``config.locale``)."""

    def gettext(self, message: str) -> str:
        """The text for message id ``message`` (a key of ``KEYS``), or ``message`` itself when the
        catalog lacks it (gettext's rule; ``Texts.text`` turns that into ``MissingText``)."""


class MissingText(KeyError):
    """A key no catalog has (a programming error: every key is in ``KEYS``)."""


def lang_of(language: str | None) -> str:
    """``zh`` or ``en`` for a person's language (``zh-CN`` -> ``zh``; none -> ``zh``).

    The register keeps the languages a person speaks as written, first language first
    (``苏州话 普通话``, ``普通话 English``, ``zh en``): the first one counts, and a name written
    in Chinese characters (a Chinese language or dialect) or ``Chinese``/``Mandarin``/
    ``Cantonese`` is ``zh``. Before 2026-12-06 only codes were read, so ``苏州话`` got English."""
    words = (language or "").replace(",", " ").replace("，", " ").replace("、", " ").split()
    first = words[0] if words else "zh"
    if any("\u4e00" <= ch <= "\u9fff" for ch in first):
        return "zh"
    short = first.replace("_", "-").split("-")[0].lower()
    return "zh" if short in _CHINESE or short in ("chinese", "mandarin", "cantonese", "putonghua") else "en"


def _fields(*names: str) -> frozenset[str]:
    return frozenset(names)


_SMS = _fields("brand")
#: every key with the fields its text may use (``str.format`` names; a language may leave one out)
KEYS: dict[str, frozenset[str]] = {
    # caregivers' SMS
    "sms.offer": _SMS | {"code", "service", "place", "when"},
    "sms.offer.compact": _SMS | {"code", "service", "place", "when"},
    "sms.place_separator": frozenset(),
    "sms.confirmed": _SMS | {"code", "service", "when", "address"},
    "sms.how_to_report": _SMS | {"code"},
    "sms.withdrawn": _SMS | {"code"},
    "sms.refused": _SMS | {"code"},
    "sms.cancelled": _SMS | {"code", "service", "when"},
    "sms.reassigned": _SMS | {"code", "service", "when"},
    "sms.no_show_taken": _SMS | {"code", "time"},
    "sms.late_taken": _SMS | {"code"},
    "sms.plan_changed": _SMS | {"code", "time"},
    "sms.visit_moved": _SMS | {"code", "time"},
    "sms.day_plan": _SMS | {"month", "day", "month_name", "count", "visits"},
    "sms.day_plan_changed": _SMS | {"month", "day", "month_name", "count", "visits"},
    "sms.day_plan_cleared": _SMS | {"month", "day", "month_name"},
    "sms.reply.accept": _SMS | {"code"},
    "sms.reply.decline": _SMS | {"code"},
    "sms.reply.check_in": _SMS | {"code"},
    "sms.reply.check_out": _SMS | {"code"},
    "sms.reply.opt_out": _SMS,
    "sms.reply.help": _SMS,
    "sms.reply.unknown_code": _SMS | {"code", "codes"},
    "sms.reply.which_code": _SMS | {"codes"},
    "sms.reply.no_jobs": _SMS,
    "sms.reply.not_registered": _SMS,
    # elders' and families' SMS
    "sms.elder.confirmed": _SMS | {"service", "window", "number"},
    "sms.elder.on_the_way": _SMS | {"time"},
    "sms.elder.late": _SMS | {"time"},
    "sms.elder.late_replaced": _SMS,
    "sms.elder.rescheduled": _SMS | {"service", "window", "number"},
    "sms.elder.no_show": _SMS,
    "sms.elder.called_off": _SMS,
    "sms.elder.unserved": _SMS | {"service"},
    "sms.elder.cancelled": _SMS | {"service", "number"},
    "sms.elder.emergency_handled": _SMS | {"outcome"},
    "sms.elder.complaint": _SMS | {"deadline"},
    "sms.elder.help": _SMS,
    "sms.elder.rating_request": _SMS,
    "sms.elder.thanks": _SMS,
    "sms.elder.alarm_ack": _SMS | {"number"},
    "sms.family.emergency": _SMS,
    "sms.family.confirmed": _SMS | {"window"},
    "sms.family.on_the_way": _SMS | {"time"},
    "sms.family.arrived": _SMS,
    "sms.family.completed": _SMS,
    "sms.family.late": _SMS | {"time"},
    "sms.family.late_replaced": _SMS,
    "sms.family.rescheduled": _SMS | {"window"},
    "sms.family.no_show": _SMS,
    "sms.family.called_off": _SMS,
    "sms.family.unserved": _SMS,
    "sms.family.cancelled": _SMS,
    "sms.family.emergency_handled": _SMS | {"outcome"},
    "sms.window": _fields("month", "day", "month_name", "start", "end"),
    "sms.when": _fields("month", "day", "month_name", "start", "end"),
    # what emergencies ended with (handlers.operations.outcomes)
    "outcome.resolved_by_phone": frozenset(),
    "outcome.helper_on_site": frozenset(),
    "outcome.family_attended": frozenset(),
    "outcome.ambulance_called": frozenset(),
    "outcome.false_alarm": frozenset(),
    # the hotline (handlers.channels.ivr)
    "ivr.greeting": frozenset(),
    "ivr.main_menu": _fields("emergency", "service", "complaint", "operator"),
    "ivr.menu_item": _fields("name", "digit"),
    "ivr.more": _fields("digit"),
    "ivr.first_page": _fields("digit"),
    "ivr.repeat": frozenset(),
    "ivr.item_separator": frozenset(),
    "ivr.time_menu": frozenset(),
    "ivr.read_back": _fields("service", "window"),
    "ivr.invalid": frozenset(),
    "ivr.operator": frozenset(),
    "ivr.unknown_caller": frozenset(),
    "ivr.emergency": _fields("number"),
    "ivr.confirmation": _fields("service", "number", "window"),
    "ivr.window": _fields("month", "day", "month_name", "start", "end"),
    "ivr.complaint_menu": frozenset(),
    "ivr.complaint_recorded": _fields("hours"),
    "ivr.checkin_code": frozenset(),
    "ivr.checked_in": _fields("code"),
    "ivr.checked_out": _fields("code"),
    "ivr.unknown_code": frozenset(),
    "ivr.rating_prompt": _fields("service"),
    "ivr.rating_thanks": frozenset(),
    "ivr.rating_goodbye": frozenset(),
    "ivr.notice_intro": frozenset(),
    "ivr.notice_again": frozenset(),
    "ivr.goodbye": frozenset(),
    # the board's street map and a caregiver's day (careline.web.street_map)
    "map.street": frozenset(),
    "map.home": frozenset(),
    "map.open_requests": frozenset(),
    "map.elder_card": frozenset(),
    "map.show_in_list": frozenset(),
    "map.at_check_in": frozenset(),
    "map.at_home_base": frozenset(),
    "map.day_link": frozenset(),
    "map.unplaced": _fields("caregivers", "requests"),
    "map.emergency": frozenset(),
    "day.title": _fields("caregiver"),
    "day.date": frozenset(),
    "day.previous": frozenset(),
    "day.next": frozenset(),
    "day.back": frozenset(),
    "day.none": frozenset(),
    "day.number": frozenset(),
    "day.time": frozenset(),
    "day.actual": frozenset(),
    "day.source": frozenset(),
    "day.source.visit": frozenset(),
    "day.source.offer": frozenset(),
    "day.source.plan": frozenset(),
    "day.planned": frozenset(),
    "day.route": frozenset(),
    "day.home_base": frozenset(),
    "day.no_route": frozenset(),
    "day.times_in": _fields("zone"),
    "map.zoom_in": frozenset(),
    "map.zoom_out": frozenset(),
    "map.close": frozenset(),
}
for _service in (*SERVICE_TYPES, "operator"):
    KEYS[f"service.{_service}"] = frozenset()  # the short name in an SMS
    KEYS[f"spoken.{_service}"] = frozenset()  # the name the hotline says
del _service
KEYS.update(HISTORY_KEYS)  # the dashboard's history of a request (issue 17), as ``careline explain`` says it


@dataclass(frozen=True)
class Texts:
    """The loaded catalogs, ``catalogs[lang]`` for each of ``LANGUAGES``."""

    catalogs: Mapping[str, Catalog]

    def text(self, language: str | None, key: str, **values: Any) -> str:
        """The text of ``key`` in ``language`` (see ``lang_of``), its fields
        filled from ``values``. Raises ``MissingText`` for a key no catalog has."""
        template = self.catalogs[lang_of(language)].gettext(key)
        if template == key:
            raise MissingText(key)
        return template.format(**values)

    def service(self, language: str | None, service_type: str, spoken: bool = False) -> str:
        """The name of a service type (the SMS's short one, or the one the hotline says);
        an unknown type is shown as it is."""
        key = f"{'spoken' if spoken else 'service'}.{service_type}"
        return self.text(language, key) if key in KEYS else service_type.replace("_", " ")
