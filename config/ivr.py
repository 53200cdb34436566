"""The hotline file (``config/ivr.toml``, or ``CARELINE_IVR_CONFIG``): menus, keys,
voices per language and the callback survey, validated before the hotline uses
it; the words are in the text catalogs (``config.locale``). A bad file raises ``IvrConfigError`` naming the line and the key
(``config.files``); the domain reads the result as
``handlers.channels.ivr.IvrConfig``."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.files import ConfigFileError, read_toml, validated
from config.locale import get_texts
from handlers.channels.ivr import IvrConfig
from handlers.channels.texts import Texts
from handlers.evaluation.feedback import COMPLAINT_CATEGORIES

DEFAULT_PATH = Path(__file__).resolve().parent / "ivr.toml"
DIGIT = r"^[1-9]$"
KEY = r"^[0-9*#]$"


class IvrConfigError(ConfigFileError):
    """The hotline file is unreadable or a key is missing, unknown or out of range."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Service(_Strict):
    service_type: str = Field(min_length=1)
    duration_minutes: float = Field(gt=0)


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


class _Keys(_Strict):
    emergency: str = Field(pattern=KEY)
    service: str = Field(pattern=KEY)
    complaint: str = Field(pattern=KEY)
    operator: str = Field(pattern=KEY)
    repeat: str = Field(pattern=KEY)
    caregiver: str = Field(pattern=KEY)
    english: str = Field(pattern=KEY)

    @model_validator(mode="after")
    def _distinct(self) -> _Keys:
        keys = list(self.model_dump().values())
        if len(set(keys)) != len(keys):
            raise ValueError("every key of the first menu must be a different key")
        return self


class _File(_Strict):
    first_prompt_timeout_seconds: float = Field(gt=0, le=60)
    prompt_timeout_seconds: float = Field(gt=0, le=60)
    max_reprompts: int = Field(ge=0, le=5)
    operator_queue: str = Field(min_length=1)
    emergency_queue: str = Field(min_length=1)
    emergency_window_minutes: float = Field(gt=0)
    emergency_duration_minutes: float = Field(gt=0)
    min_lead_minutes: float = Field(ge=0)
    complaint_followup_hours: float = Field(gt=0)
    services_per_page: int = Field(ge=1, le=3)
    keys: _Keys
    languages: dict[str, _Language]
    services: list[_Service] = Field(min_length=1)
    time_options: dict[str, _TimeOption] = Field(max_length=4)
    complaint_options: dict[str, str] = Field(min_length=1, max_length=4)

    @field_validator("time_options", "complaint_options")
    @classmethod
    def _single_digits(cls, value: dict) -> dict:
        for key in value:
            if not re.fullmatch(DIGIT, key):
                raise ValueError(f"{key!r} is not one key 1-9")
        return value

    @field_validator("complaint_options")
    @classmethod
    def _known_categories(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value.values()) - set(COMPLAINT_CATEGORIES))
        if unknown:
            raise ValueError(f"unknown complaint categories {unknown}; known: {', '.join(COMPLAINT_CATEGORIES)}")
        return value


def load_ivr_config(path: Path = DEFAULT_PATH, texts: Texts | None = None) -> IvrConfig:
    """The hotline configuration in ``path`` with the text catalogs (``texts``, default the
    shipped ones); raises ``IvrConfigError`` naming the line and the key. At most four
    choices per prompt: three services a page (the fourth key is "other services"),
    four time options, four complaint options."""
    try:
        raw, text = read_toml(Path(path))
        validated(_File, raw, text, path)
    except ConfigFileError as exc:
        raise IvrConfigError(exc.path, exc.reason, exc.line, exc.field) from None
    if "zh" not in raw["languages"] or "en" not in raw["languages"]:
        raise IvrConfigError(path, "both zh and en voices are needed", None, "languages")
    return IvrConfig(raw, texts or get_texts())
