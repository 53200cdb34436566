"""The hotline menu (IVR) as a state machine configured by ``config/ivr.toml``.

A call walks: greeting + service menu -> time menu -> confirmation. Each turn
returns neutral steps (``Say``/``Gather``/``Enqueue``/``Hangup``) that a web
adapter renders as TwiML, and, when the call is decided, an outcome: a
``ServiceChoice`` to record as a care request, or an ``OperatorHandoff``.
The state between turns (language, chosen service, re-prompt count, whether
this is the first prompt) travels in the ``Gather`` action's parameters, which
Twilio signs with the rest of the callback URL.

Rules: silence at the very first prompt (``first_prompt_timeout_seconds``,
8 s in one Chinese programme) is an emergency; an empty or invalid answer
re-prompts at most ``max_reprompts`` times, then an operator takes the call;
unknown callers go straight to the operator queue. Times are aware datetimes;
windows are computed in the programme's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Any, Callable, Mapping

from handlers.model import Priority


@dataclass(frozen=True)
class Say:
    text: str
    language: str
    voice: str


@dataclass(frozen=True)
class Gather:
    """Collect one digit, then request ``action`` (a route name) with ``params``."""

    prompts: tuple[Say, ...]
    action: str
    params: tuple[tuple[str, str], ...]
    timeout_seconds: int
    num_digits: int = 1


@dataclass(frozen=True)
class Enqueue:
    queue: str


@dataclass(frozen=True)
class Hangup:
    pass


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
class OperatorHandoff:
    reason: str
    emergency: bool = False


@dataclass(frozen=True)
class Turn:
    steps: tuple[Step, ...] = ()
    outcome: ServiceChoice | OperatorHandoff | None = None


@dataclass(frozen=True)
class IvrConfig:
    """``config/ivr.toml`` as read; see that file for the meaning of each key."""

    raw: Mapping[str, Any] = field(repr=False)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.raw[name]
        except KeyError:
            raise AttributeError(name) from None

    def text(self, language: str, key: str, **values: Any) -> str:
        template: str = self.raw["languages"][self.lang(language)][key]
        return template.format(**values)

    def lang(self, language: str | None) -> str:
        """The configured language for a caller's preference (``zh-CN`` -> ``zh``)."""
        short = (language or "zh").split("-")[0].lower()
        return short if short in self.raw["languages"] else "zh"

    def service_label(self, language: str, service_type: str) -> str:
        label: str = self.raw["languages"][self.lang(language)]["services"].get(service_type, service_type)
        return label


def _say(cfg: IvrConfig, lang: str, key: str, **values: Any) -> Say:
    spec = cfg.raw["languages"][cfg.lang(lang)]
    return Say(cfg.text(lang, key, **values), spec["say_language"], spec["voice"])


def _tries(params: Mapping[str, str]) -> int:
    """Re-prompts so far, from the ``try`` of our own Gather URL; anything unreadable
    (a URL mangled on the way) counts as none yet rather than failing the call."""
    raw = params.get("try", "0")
    return int(raw) if raw.isdecimal() and len(raw) <= 3 else 0


def _menu(cfg: IvrConfig, lang: str, tries: int, first: bool, lead: tuple[Say, ...]) -> Turn:
    lang = cfg.lang(lang)
    spec = cfg.raw["languages"][lang]
    items = [
        spec["menu_item"].format(name=cfg.service_label(lang, s["service_type"]), digit=d)
        for d, s in sorted(cfg.services.items(), key=lambda kv: (kv[0] == "0", kv[0]))
    ]
    text = ("，" if lang == "zh" else " ").join(items) + ("。" if lang == "zh" else "")
    prompts = lead + (Say(text, spec["say_language"], spec["voice"]),)
    if spec.get("english_option"):
        prompts += (Say(spec["english_option"], "en-US", cfg.raw["languages"]["en"]["voice"]),)
    params = {"lang": lang, "try": str(tries)} | ({"first": "1"} if first else {})
    timeout = cfg.first_prompt_timeout_seconds if first else cfg.prompt_timeout_seconds
    return Turn((Gather(prompts, "menu", tuple(sorted(params.items())), timeout),))


def answer(cfg: IvrConfig, caller_known: bool, language: str | None) -> Turn:
    """First turn of an incoming call: the greeting and service menu, or the
    operator queue for a number that belongs to no registered elder or family."""
    lang = cfg.lang(language)
    if not caller_known:
        return Turn((_say(cfg, lang, "unknown_caller"), Enqueue(cfg.operator_queue)), OperatorHandoff("unknown caller"))
    return _menu(cfg, lang, 0, True, (_say(cfg, lang, "greeting"),))


def _operator(cfg: IvrConfig, lang: str, reason: str) -> Turn:
    return Turn((_say(cfg, lang, "operator"), Enqueue(cfg.operator_queue)), OperatorHandoff(reason))


def _emergency(cfg: IvrConfig, lang: str, now: datetime) -> Turn:
    end = now + timedelta(minutes=cfg.emergency_window_minutes)
    duration = next(s["duration_minutes"] for s in cfg.services.values() if s["service_type"] == "emergency")
    return Turn(outcome=ServiceChoice("emergency", Priority.STAT, now, end, duration, lang))


def on_menu(cfg: IvrConfig, params: Mapping[str, str], digits: str | None, now: datetime) -> Turn:
    """The caller's answer to the service menu (``digits`` empty on a Gather timeout)."""
    lang, tries, first = cfg.lang(params.get("lang")), _tries(params), params.get("first") == "1"
    digits = (digits or "").strip()[:1]
    if not digits and first:
        return _emergency(cfg, lang, now)
    if digits == cfg.english_digit and "en" in cfg.raw["languages"]:
        return _menu(cfg, "en", tries, False, ())
    service = cfg.services.get(digits)
    if service is None:
        return _retry(cfg, lang, tries, lambda n: _menu(cfg, lang, n, False, (_say(cfg, lang, "invalid"),)))
    if service["service_type"] == "emergency":
        return _emergency(cfg, lang, now)
    if service["service_type"] == "operator":
        return _operator(cfg, lang, "caller asked for an operator")
    return _time_menu(cfg, lang, service["service_type"], 0, ())


def _time_menu(cfg: IvrConfig, lang: str, service_type: str, tries: int, lead: tuple[Say, ...]) -> Turn:
    params = {"lang": lang, "service": service_type, "try": str(tries)}
    return Turn(
        (
            Gather(
                lead + (_say(cfg, lang, "time_menu"),),
                "time",
                tuple(sorted(params.items())),
                cfg.prompt_timeout_seconds,
            ),
        )
    )


def _retry(cfg: IvrConfig, lang: str, tries: int, reprompt: Callable[[int], Turn]) -> Turn:
    if tries >= cfg.max_reprompts:
        return _operator(cfg, lang, "no valid choice after re-prompts")
    return reprompt(tries + 1)


def on_time(cfg: IvrConfig, params: Mapping[str, str], digits: str | None, now: datetime, tz: tzinfo) -> Turn:
    """The caller's answer to the time menu: a decided ``ServiceChoice``, a
    re-prompt, or the operator after ``max_reprompts``."""
    lang, tries = cfg.lang(params.get("lang")), _tries(params)
    service_type = params.get("service", "")
    option = cfg.time_options.get((digits or "").strip()[:1])
    known = {s["service_type"]: s for s in cfg.services.values()}
    if service_type not in known:
        return _operator(cfg, lang, "lost the chosen service")
    if option is None:
        return _retry(cfg, lang, tries, lambda n: _time_menu(cfg, lang, service_type, n, (_say(cfg, lang, "invalid"),)))
    start, end = window_for(cfg, option, now, tz)
    return Turn(
        outcome=ServiceChoice(
            service_type,
            Priority(option.get("priority", "routine")),
            start,
            end,
            known[service_type]["duration_minutes"],
            lang,
        )
    )


def window_for(cfg: IvrConfig, option: Mapping[str, Any], now: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """The concrete window of a time option, from the call time ``now``.

    ``within_minutes``: from now. Clock times (``start``/``end``, local to
    ``tz``) on today + ``day_offset``; a same-day window with less than
    ``min_lead_minutes`` left moves to the next day. Returns aware datetimes.
    """
    if "within_minutes" in option:
        return now, now + timedelta(minutes=option["within_minutes"])
    local = now.astimezone(tz)
    day = local.date() + timedelta(days=option.get("day_offset", 0))
    for _ in range(2):
        start = datetime.combine(day, time.fromisoformat(option["start"]), tz)
        end = datetime.combine(day, time.fromisoformat(option["end"]), tz)
        if end - max(start, local) >= timedelta(minutes=cfg.min_lead_minutes):
            return max(start, local), end
        day += timedelta(days=1)
    raise ValueError(f"time option {option.get('key')} has no usable window")


def spoken_window(cfg: IvrConfig, lang: str, start: datetime, end: datetime, tz: tzinfo) -> str:
    s, e = start.astimezone(tz), end.astimezone(tz)
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
    return (
        _say(
            cfg,
            lang,
            "confirmation",
            service=cfg.service_label(lang, choice.service_type),
            number=spoken_number(number),
            window=window,
        ),
        Hangup(),
    )


def rating_prompt(cfg: IvrConfig, language: str | None, service_type: str, tries: int, request_id: str) -> Turn:
    """The satisfaction (回访) call: ask for a 1-5 rating by keypad."""
    lang = cfg.lang(language)
    params = {"lang": lang, "request_id": request_id, "try": str(tries)}
    say = _say(cfg, lang, "rating_prompt", service=cfg.service_label(lang, service_type))
    return Turn((Gather((say,), "rating", tuple(sorted(params.items())), cfg.prompt_timeout_seconds),))


def on_rating(
    cfg: IvrConfig, params: Mapping[str, str], digits: str | None, service_type: str
) -> tuple[Turn, int | None]:
    """(what to say, the rating 1-5 or None). Re-prompts at most ``max_reprompts`` times."""
    lang, tries = cfg.lang(params.get("lang")), _tries(params)
    d = (digits or "").strip()[:1]
    if d in {"1", "2", "3", "4", "5"}:
        return Turn((_say(cfg, lang, "rating_thanks"), Hangup())), int(d)
    if tries >= cfg.max_reprompts:
        return Turn((_say(cfg, lang, "rating_goodbye"), Hangup())), None
    return rating_prompt(cfg, lang, service_type, tries + 1, params.get("request_id", "")), None
