"""The hotline menu (IVR) as a state machine, built for a caller of 80.

A call walks: greeting + first menu (emergency, a home service, a complaint,
an operator: four choices) -> service menu (three services a page, "other
services" on the fourth key) -> time menu (four) -> the request read back,
confirmed with one key -> the confirmation with its number and window. Each
turn returns neutral steps (``Say``/``Gather``/``Enqueue``/``Hangup``) that a
web adapter renders as TwiML, and, when the call is decided, an outcome: a
``ServiceChoice`` to record as a care request, a ``ComplaintChoice``, a
``CaregiverCode`` (a caregiver checking in from the elder's home phone) or an
``OperatorHandoff``. The state between turns (language, stage, page, chosen
service and window, re-prompt count, whether this is the first prompt)
travels in the ``Gather`` action's parameters, which Twilio signs with the
rest of the callback URL.

Rules: the first prompt offers emergency first and says that pressing nothing
calls for help; silence there (``first_prompt_timeout_seconds``, 8 s in one
Chinese programme) is an emergency. At most four choices per prompt. ``*``
repeats a prompt at any stage (and is no wrong answer). An empty or invalid
answer re-prompts at most ``max_reprompts`` times, then an operator takes the
call; unknown callers go straight to the operator queue. Windows are computed
in the programme's time zone and rounded outwards to the quarter hour (start
down, end up), so what the caller hears (09:15 to 11:30, not 09:22 to 11:22)
is easy to keep and still holds the window dispatch works to. The words are
the ``ivr.*`` texts of the catalogs (``handlers.channels.texts``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Any, Callable, Mapping

from handlers.channels.sms import quarter_ceil, quarter_floor
from handlers.channels.texts import Texts, lang_of
from handlers.model import Priority


@dataclass(frozen=True)
class Say:
    """Speak ``text`` with a text-to-speech ``voice`` (``Polly.Zhiyu``) in ``language`` (a TwiML
    ``<Say>`` language such as ``cmn-CN``), both from ``[languages.*]`` of config/ivr.toml."""

    text: str
    language: str
    voice: str


@dataclass(frozen=True)
class Gather:
    """Collect ``num_digits`` keys, then request ``action`` (a stage name) with ``params``."""

    prompts: tuple[Say, ...]
    action: str
    params: tuple[tuple[str, str], ...]
    timeout_seconds: int
    num_digits: int = 1


@dataclass(frozen=True)
class Enqueue:
    """Put the call through to an operator queue (``operator_queue`` or ``emergency_queue`` of
    config/ivr.toml); the caller waits there for a person."""

    queue: str


@dataclass(frozen=True)
class Hangup:
    """End the call (after the last ``Say``)."""


Step = Say | Gather | Enqueue | Hangup


@dataclass(frozen=True)
class ServiceChoice:
    """A decided request: service, FHIR priority, window (aware), duration in minutes."""

    service_type: str
    priority: Priority
    window_start: datetime
    window_end: datetime
    duration_minutes: float
    language: str


@dataclass(frozen=True)
class ComplaintChoice:
    """A complaint keyed in the complaint menu (``category`` of ``handlers.evaluation.feedback``)."""

    category: str
    language: str


@dataclass(frozen=True)
class CaregiverCode:
    """A caregiver keyed a job's short code on the elder's home phone (telephony EVV)."""

    code: str
    language: str


@dataclass(frozen=True)
class OperatorHandoff:
    """The call went to the operator queue: ``reason`` in English for the operator (an unknown
    caller, no valid choice after ``max_reprompts``, the caller asked, a lost menu state).
    ``emergency`` marks a handoff to treat as one; the menu's own handoffs leave it False (the
    emergency key or silence at the first prompt become a ``stat`` ``ServiceChoice`` instead)."""

    reason: str
    emergency: bool = False


Outcome = ServiceChoice | ComplaintChoice | CaregiverCode | OperatorHandoff


@dataclass(frozen=True)
class Turn:
    """One answer of the menu: the ``steps`` to render as TwiML, in order, and the ``outcome`` once
    the call is decided (None while the caller is still choosing)."""

    steps: tuple[Step, ...] = ()
    outcome: Outcome | None = None


@dataclass(frozen=True)
class IvrConfig:
    """``config/ivr.toml`` as read (see that file for the meaning of each key) and the text catalogs."""

    raw: Mapping[str, Any] = field(repr=False)
    texts: Texts = field(repr=False)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.raw[name]
        except KeyError:
            raise AttributeError(name) from None

    def key(self, name: str) -> str:
        """The phone key of a menu choice (``[keys]``: ``emergency`` -> ``"1"``); KeyError for a
        name the file lacks (the loader checks every name at start)."""
        value: str = self.raw["keys"][name]
        return value

    def text(self, language: str, key: str, **values: Any) -> str:
        """The catalog text ``ivr.<key>`` in the caller's language, fields filled from ``values``;
        raises ``handlers.channels.texts.MissingText`` for a key no catalog has."""
        return self.texts.text(self.lang(language), f"ivr.{key}", **values)

    def lang(self, language: str | None) -> str:
        """The configured language for a caller's preference (``zh-CN`` -> ``zh``)."""
        short = lang_of(language)
        return short if short in self.raw["languages"] else "zh"

    def service_label(self, language: str, service_type: str) -> str:
        """The spoken name of a service type (catalog key ``spoken.<type>``; an unknown type as written)."""
        return self.texts.service(self.lang(language), service_type, spoken=True)

    def services_on(self, page: int) -> list[Mapping[str, Any]]:
        """The ``[[services]]`` entries on menu page ``page`` (0-based, ``services_per_page`` a page,
        file order); [] past the last page."""
        per = int(self.raw["services_per_page"])
        services: list[Mapping[str, Any]] = self.raw["services"]
        return services[page * per : (page + 1) * per]

    @property
    def pages(self) -> int:
        """How many service-menu pages there are (at least one)."""
        per = int(self.raw["services_per_page"])
        return max(1, -(-len(self.raw["services"]) // per))

    def duration_of(self, service_type: str) -> float | None:
        """The service's ``duration_minutes`` from ``[[services]]``, or None when the menu lacks it."""
        return next(
            (float(s["duration_minutes"]) for s in self.raw["services"] if s["service_type"] == service_type), None
        )


def _say_text(cfg: IvrConfig, lang: str, text: str) -> Say:
    spec = cfg.raw["languages"][cfg.lang(lang)]
    return Say(text, spec["say_language"], spec["voice"])


def _say(cfg: IvrConfig, lang: str, key: str, **values: Any) -> Say:
    return _say_text(cfg, lang, cfg.text(lang, key, **values))


def _tries(params: Mapping[str, str]) -> int:
    """Re-prompts so far, from the ``try`` of our own Gather URL; anything unreadable
    (a URL mangled on the way) counts as none yet rather than failing the call."""
    raw = params.get("try", "0")
    return int(raw) if raw.isdecimal() and len(raw) <= 3 else 0


def _gather(
    cfg: IvrConfig,
    stage: str,
    prompts: tuple[Say, ...],
    params: Mapping[str, str],
    first: bool = False,
    digits: int = 1,
) -> Turn:
    timeout = cfg.first_prompt_timeout_seconds if first else cfg.prompt_timeout_seconds
    return Turn((Gather(prompts, stage, tuple(sorted(params.items())), int(timeout), digits),))


def _main_menu(cfg: IvrConfig, lang: str, tries: int, first: bool, lead: tuple[Say, ...] = ()) -> Turn:
    keys = {k: cfg.key(k) for k in ("emergency", "service", "complaint", "operator")}
    prompts = lead + (_say(cfg, lang, "main_menu", **keys), _say(cfg, lang, "repeat"))
    params = {"lang": lang, "try": str(tries)} | ({"first": "1"} if first else {})
    return _gather(cfg, "menu", prompts, params, first)


def answer(cfg: IvrConfig, caller_known: bool, language: str | None) -> Turn:
    """First turn of an incoming call: the greeting and the first menu, or the
    operator queue for a number that belongs to no registered elder or family."""
    lang = cfg.lang(language)
    if not caller_known:
        return Turn((_say(cfg, lang, "unknown_caller"), Enqueue(cfg.operator_queue)), OperatorHandoff("unknown caller"))
    return _main_menu(cfg, lang, 0, True, (_say(cfg, lang, "greeting"),))


def _operator(cfg: IvrConfig, lang: str, reason: str) -> Turn:
    return Turn((_say(cfg, lang, "operator"), Enqueue(cfg.operator_queue)), OperatorHandoff(reason))


def emergency_choice(cfg: IvrConfig, lang: str, now: datetime) -> ServiceChoice:
    """The request an emergency stands for: ``emergency``, ``stat``, help within ``emergency_window_minutes``."""
    end = now + timedelta(minutes=cfg.emergency_window_minutes)
    return ServiceChoice("emergency", Priority.STAT, now, end, float(cfg.emergency_duration_minutes), cfg.lang(lang))


def _retry(cfg: IvrConfig, lang: str, tries: int, reprompt: Callable[[int, tuple[Say, ...]], Turn]) -> Turn:
    if tries >= cfg.max_reprompts:
        return _operator(cfg, lang, "no valid choice after re-prompts")
    return reprompt(tries + 1, (_say(cfg, lang, "invalid"),))


def _key(digits: str | None) -> str:
    return (digits or "").strip()[:1]


def on_menu(cfg: IvrConfig, params: Mapping[str, str], digits: str | None, now: datetime) -> Turn:
    """The caller's answer to the first menu (``digits`` empty on a Gather timeout)."""
    lang, tries, first = cfg.lang(params.get("lang")), _tries(params), params.get("first") == "1"
    key = _key(digits)
    if not key and first:
        return Turn(outcome=emergency_choice(cfg, lang, now))
    if key == cfg.key("repeat"):
        return _main_menu(cfg, lang, tries, False)
    if key == cfg.key("emergency"):
        return Turn(outcome=emergency_choice(cfg, lang, now))
    if key == cfg.key("service"):
        return _service_menu(cfg, lang, 0, 0)
    if key == cfg.key("complaint"):
        return _complaint_menu(cfg, lang, 0)
    if key == cfg.key("operator"):
        return _operator(cfg, lang, "caller asked for an operator")
    if key == cfg.key("caregiver"):
        return _gather(cfg, "checkin", (_say(cfg, lang, "checkin_code"),), {"lang": lang, "try": "0"}, digits=4)
    if key == cfg.key("english") and "en" in cfg.raw["languages"]:
        return _main_menu(cfg, "en", tries, False)
    return _retry(cfg, lang, tries, lambda n, lead: _main_menu(cfg, lang, n, False, lead))


def _service_menu(cfg: IvrConfig, lang: str, page: int, tries: int, lead: tuple[Say, ...] = ()) -> Turn:
    sep = cfg.text(lang, "item_separator")
    items = [
        cfg.text(lang, "menu_item", name=cfg.service_label(lang, s["service_type"]), digit=i + 1)
        for i, s in enumerate(cfg.services_on(page))
    ]
    if cfg.pages > 1:
        more = len(items) + 1
        items.append(cfg.text(lang, "more" if page + 1 < cfg.pages else "first_page", digit=more))
    text = sep.join(items) + ("。" if lang == "zh" else "")
    prompts = lead + (_say_text(cfg, lang, text), _say(cfg, lang, "repeat"))
    return _gather(cfg, "service", prompts, {"lang": lang, "page": str(page), "try": str(tries)})


def _page(params: Mapping[str, str], cfg: IvrConfig) -> int:
    raw = params.get("page", "0")
    return int(raw) if raw.isdecimal() and int(raw) < cfg.pages else 0


def on_service(cfg: IvrConfig, params: Mapping[str, str], digits: str | None) -> Turn:
    """The caller's answer to a page of the service menu."""
    lang, tries, page = cfg.lang(params.get("lang")), _tries(params), _page(params, cfg)
    key, services = _key(digits), cfg.services_on(page)
    if key == cfg.key("repeat"):
        return _service_menu(cfg, lang, page, tries)
    if key.isdecimal() and 1 <= int(key) <= len(services):
        return _time_menu(cfg, lang, services[int(key) - 1]["service_type"], 0)
    if key.isdecimal() and int(key) == len(services) + 1 and cfg.pages > 1:
        return _service_menu(cfg, lang, (page + 1) % cfg.pages, 0)
    return _retry(cfg, lang, tries, lambda n, lead: _service_menu(cfg, lang, page, n, lead))


def _time_menu(cfg: IvrConfig, lang: str, service_type: str, tries: int, lead: tuple[Say, ...] = ()) -> Turn:
    prompts = lead + (_say(cfg, lang, "time_menu"), _say(cfg, lang, "repeat"))
    return _gather(cfg, "time", prompts, {"lang": lang, "service": service_type, "try": str(tries)})


def on_time(cfg: IvrConfig, params: Mapping[str, str], digits: str | None, now: datetime, tz: tzinfo) -> Turn:
    """The caller's answer to the time menu: the request read back for confirmation,
    a re-prompt, or the operator after ``max_reprompts``."""
    lang, tries = cfg.lang(params.get("lang")), _tries(params)
    service_type = params.get("service", "")
    if cfg.duration_of(service_type) is None:
        return _operator(cfg, lang, "lost the chosen service")
    key = _key(digits)
    if key == cfg.key("repeat"):
        return _time_menu(cfg, lang, service_type, tries)
    option = cfg.time_options.get(key)
    if option is None:
        return _retry(cfg, lang, tries, lambda n, lead: _time_menu(cfg, lang, service_type, n, lead))
    start, end = window_for(cfg, option, now, tz)
    chosen = {"service": service_type, "start": start.isoformat(), "end": end.isoformat()}
    return _read_back(cfg, lang, chosen | {"priority": option.get("priority", "routine")}, 0, tz)


def _read_back(
    cfg: IvrConfig, lang: str, chosen: Mapping[str, str], tries: int, tz: tzinfo, lead: tuple[Say, ...] = ()
) -> Turn:
    start, end = datetime.fromisoformat(chosen["start"]), datetime.fromisoformat(chosen["end"])
    said = _say(
        cfg,
        lang,
        "read_back",
        service=cfg.service_label(lang, chosen["service"]),
        window=spoken_window(cfg, lang, start, end, tz),
    )
    params = {**chosen, "lang": lang, "try": str(tries)}
    return _gather(cfg, "confirm", lead + (said, _say(cfg, lang, "repeat")), params)


def on_confirm(cfg: IvrConfig, params: Mapping[str, str], digits: str | None, tz: tzinfo) -> Turn:
    """The caller's answer to the read-back: 1 submits the request, 2 chooses again."""
    lang, tries = cfg.lang(params.get("lang")), _tries(params)
    service_type = params.get("service", "")
    duration = cfg.duration_of(service_type)
    try:
        start, end = datetime.fromisoformat(params.get("start", "")), datetime.fromisoformat(params.get("end", ""))
        priority = Priority(params.get("priority", "routine"))
    except ValueError:
        return _operator(cfg, lang, "lost the chosen window")
    if duration is None or start.tzinfo is None or end.tzinfo is None:
        return _operator(cfg, lang, "lost the chosen service")
    key = _key(digits)
    chosen = {k: params[k] for k in ("service", "start", "end", "priority") if k in params}
    if key == "1":
        return Turn(outcome=ServiceChoice(service_type, priority, start, end, duration, lang))
    if key == "2":
        return _service_menu(cfg, lang, 0, 0)
    if key == cfg.key("repeat"):
        return _read_back(cfg, lang, chosen, tries, tz)
    return _retry(cfg, lang, tries, lambda n, lead: _read_back(cfg, lang, chosen, n, tz, lead))


def _complaint_menu(cfg: IvrConfig, lang: str, tries: int, lead: tuple[Say, ...] = ()) -> Turn:
    prompts = lead + (_say(cfg, lang, "complaint_menu"), _say(cfg, lang, "repeat"))
    return _gather(cfg, "complaint", prompts, {"lang": lang, "try": str(tries)})


def on_complaint(cfg: IvrConfig, params: Mapping[str, str], digits: str | None) -> Turn:
    """The caller's answer to the complaint menu: a ``ComplaintChoice``."""
    lang, tries, key = cfg.lang(params.get("lang")), _tries(params), _key(digits)
    if key == cfg.key("repeat"):
        return _complaint_menu(cfg, lang, tries)
    category = cfg.complaint_options.get(key)
    if category is None:
        return _retry(cfg, lang, tries, lambda n, lead: _complaint_menu(cfg, lang, n, lead))
    return Turn(outcome=ComplaintChoice(category, lang))


def complaint_recorded(cfg: IvrConfig, lang: str) -> tuple[Step, ...]:
    """What the caller hears once a complaint is stored: a call back within
    ``complaint_followup_hours`` (config/ivr.toml, 24 h), then the call ends."""
    return (_say(cfg, lang, "complaint_recorded", hours=cfg.complaint_followup_hours), Hangup())


def on_checkin(cfg: IvrConfig, params: Mapping[str, str], digits: str | None) -> Turn:
    """A caregiver's job code keyed on the elder's phone: a ``CaregiverCode``, or a re-prompt."""
    lang, tries = cfg.lang(params.get("lang")), _tries(params)
    code = (digits or "").strip()
    if len(code) == 4 and code.isdecimal() and code.isascii():
        return Turn(outcome=CaregiverCode(code, lang))
    prompt = (_say(cfg, lang, "checkin_code"),)
    return _retry(
        cfg,
        lang,
        tries,
        lambda n, lead: _gather(cfg, "checkin", lead + prompt, {"lang": lang, "try": str(n)}, digits=4),
    )


def checked(cfg: IvrConfig, lang: str, code: str | None, check_out: bool) -> tuple[Step, ...]:
    """What the caregiver hears after keying a code: checked in, checked out, or not found."""
    if code is None:
        return (_say(cfg, lang, "unknown_code"), Hangup())
    return (_say(cfg, lang, "checked_out" if check_out else "checked_in", code=" ".join(code)), Hangup())


def window_for(cfg: IvrConfig, option: Mapping[str, Any], now: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """The concrete window of a time option, from the call time ``now``, rounded
    outwards to the quarter hour.

    ``within_minutes``: from now. Clock times (``start``/``end``, local to
    ``tz``) on today + ``day_offset``; a same-day window with less than
    ``min_lead_minutes`` left moves to the next day. Returns aware datetimes.
    """
    if "within_minutes" in option:
        local = now.astimezone(tz)
        return quarter_floor(local), quarter_ceil(local + timedelta(minutes=option["within_minutes"]))
    local = now.astimezone(tz)
    day = local.date() + timedelta(days=option.get("day_offset", 0))
    for _ in range(2):
        start = datetime.combine(day, time.fromisoformat(option["start"]), tz)
        end = datetime.combine(day, time.fromisoformat(option["end"]), tz)
        if end - max(start, local) >= timedelta(minutes=cfg.min_lead_minutes):
            return quarter_floor(max(start, local)), quarter_ceil(end)
        day += timedelta(days=1)
    raise ValueError(f"time option {option.get('key')} has no usable window")


def spoken_window(cfg: IvrConfig, lang: str, start: datetime, end: datetime, tz: tzinfo) -> str:
    """The window as the caller hears it, in quarter hours (``12月1日9:15到11:30之间``)."""
    s, e = quarter_floor(start.astimezone(tz)), quarter_ceil(end.astimezone(tz))
    return cfg.text(
        lang, "window", month=s.month, day=s.day, month_name=f"{s:%B}", start=f"{s:%H:%M}", end=f"{e:%H:%M}"
    )


def spoken_number(number: str) -> str:
    """Digits apart (``1024`` -> ``1 0 2 4``) so text-to-speech reads them one by one."""
    return " ".join(number)


def confirm(cfg: IvrConfig, choice: ServiceChoice, number: str, tz: tzinfo) -> tuple[Step, ...]:
    """What the caller hears once the request is recorded: its number and
    window, then hang up; an emergency is put through to the emergency queue."""
    lang = choice.language
    if choice.priority == Priority.STAT:
        return (_say(cfg, lang, "emergency", number=spoken_number(number)), Enqueue(cfg.emergency_queue))
    window = spoken_window(cfg, lang, choice.window_start, choice.window_end, tz)
    service = cfg.service_label(lang, choice.service_type)
    return (_say(cfg, lang, "confirmation", service=service, number=spoken_number(number), window=window), Hangup())


def notice_call(cfg: IvrConfig, language: str | None, text: str) -> tuple[Step, ...]:
    """A notice read to a landline: said twice, then goodbye."""
    lang = cfg.lang(language)
    body = _say_text(cfg, lang, text)
    return (
        _say(cfg, lang, "notice_intro"),
        body,
        _say(cfg, lang, "notice_again"),
        body,
        _say(cfg, lang, "goodbye"),
        Hangup(),
    )


def rating_prompt(cfg: IvrConfig, language: str | None, service_type: str, tries: int, request_id: str) -> Turn:
    """The satisfaction (回访) call: ask for a 1-5 rating by keypad."""
    lang = cfg.lang(language)
    params = {"lang": lang, "request_id": request_id, "try": str(tries)}
    say = _say(cfg, lang, "rating_prompt", service=cfg.service_label(lang, service_type))
    return _gather(cfg, "rating", (say,), params)


def on_rating(
    cfg: IvrConfig, params: Mapping[str, str], digits: str | None, service_type: str
) -> tuple[Turn, int | None]:
    """(what to say, the rating 1-5 or None). Re-prompts at most ``max_reprompts`` times."""
    lang, tries = cfg.lang(params.get("lang")), _tries(params)
    d = _key(digits)
    if d in {"1", "2", "3", "4", "5"}:
        return Turn((_say(cfg, lang, "rating_thanks"), Hangup())), int(d)
    if tries >= cfg.max_reprompts:
        return Turn((_say(cfg, lang, "rating_goodbye"), Hangup())), None
    return rating_prompt(cfg, lang, service_type, tries + 1, params.get("request_id", "")), None
