"""The hotline file (``config/ivr.toml``, or ``CARELINE_IVR_CONFIG``): menus,
prompts per language and the callback survey, validated before the hotline
uses it. A bad file raises ``IvrConfigError`` naming the line and the key
(``config.files``); the domain reads the result as
``handlers.channels.ivr.IvrConfig``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from config.files import ConfigFileError, read_toml, validated
from handlers.channels.ivr import IvrConfig

DEFAULT_PATH = Path(__file__).resolve().parent / "ivr.toml"
DIGIT = r"^[0-9]$"


class IvrConfigError(ConfigFileError):
    """The hotline file is unreadable or a key is missing, unknown or out of range."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Service(_Strict):
    service_type: str = Field(min_length=1)
    duration_minutes: float = Field(ge=0)


class _TimeOption(_Strict):
    key: str = Field(min_length=1)
    within_minutes: float | None = Field(default=None, gt=0)
    priority: str | None = None
    start: str | None = Field(default=None, pattern=r"^\d\d:\d\d$")
    end: str | None = Field(default=None, pattern=r"^\d\d:\d\d$")
    day_offset: int = Field(default=0, ge=0)


class _Language(_Strict):
    say_language: str
    voice: str
    greeting: str
    menu_item: str
    english_option: str = ""
    time_menu: str
    invalid: str
    operator: str
    unknown_caller: str
    emergency: str
    confirmation: str
    window: str
    rating_prompt: str
    rating_thanks: str
    rating_goodbye: str
    services: dict[str, str]


class _File(_Strict):
    first_prompt_timeout_seconds: float = Field(gt=0, le=60)
    prompt_timeout_seconds: float = Field(gt=0, le=60)
    max_reprompts: int = Field(ge=0, le=5)
    english_digit: str = Field(pattern=DIGIT)
    operator_queue: str = Field(min_length=1)
    emergency_queue: str = Field(min_length=1)
    emergency_window_minutes: float = Field(gt=0)
    min_lead_minutes: float = Field(ge=0)
    services: dict[str, _Service]
    time_options: dict[str, _TimeOption]
    languages: dict[str, _Language]


def load_ivr_config(path: Path = DEFAULT_PATH) -> IvrConfig:
    """The hotline configuration in ``path``; raises ``IvrConfigError`` naming the line and the key."""
    try:
        raw, text = read_toml(Path(path))
        validated(_File, raw, text, path)
    except ConfigFileError as exc:
        raise IvrConfigError(exc.path, exc.reason, exc.line, exc.field) from None
    if "zh" not in raw["languages"] or "en" not in raw["languages"]:
        raise IvrConfigError(path, "both zh and en prompts are needed", None, "languages")
    return IvrConfig(raw)
