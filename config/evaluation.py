"""The evaluation policy file (``config/evaluation.toml``): EVV thresholds,
care-plan checklists, KPI thresholds, composite weights, the dispatch
exploration share and the monthly report's targets, read with ``tomllib`` and
validated with pydantic.

``load_evaluation_config(path)`` returns the domain's own policy objects
(``handlers.visits.evv.EvvPolicy``, ``handlers.evaluation.kpis.KpiPolicy``), so handlers never
read files. A bad file raises ``EvaluationConfigError`` naming the line and the
key, e.g. ``evaluation.toml:31: kpis.weights: KPI weights must sum to 1, they
sum to 0.9000`` (``config.files``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.files import ConfigFileError, parse_toml, validated
from handlers.evaluation.kpis import KpiPolicy, check_weights
from handlers.evaluation.targets import TARGET_KPIS, Target
from handlers.register.services import SERVICE_TYPES
from handlers.visits.evv import EvvPolicy

DEFAULT_PATH = Path(__file__).resolve().parent / "evaluation.toml"


class EvaluationConfigError(ConfigFileError):
    """The policy file is unreadable or a key is missing, unknown or out of range."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Evv(_Strict):
    geofence_metres: float = Field(gt=0)
    too_early_minutes: float = Field(ge=0)
    short_visit_share: float = Field(gt=0, le=1)
    checklists: dict[str, list[str]]

    @field_validator("checklists")
    @classmethod
    def _known_service_types(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(value) - set(SERVICE_TYPES))
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: not a service type, so never checked; known: {', '.join(SERVICE_TYPES)}"
            )
        return value


class _Kpis(_Strict):
    on_time_minutes: float = Field(ge=0)
    prior_mean: float = Field(ge=1, le=5)
    prior_weight: float = Field(ge=0)
    complaint_ceiling_per_100: float = Field(gt=0)
    neutral: float = Field(ge=0, le=1)
    weights: dict[str, float]

    @field_validator("weights")
    @classmethod
    def _weights_sum_to_one(cls, value: dict[str, float]) -> dict[str, float]:
        check_weights(value)
        return value


class _Dispatch(_Strict):
    exploration_share: float = Field(ge=0, le=1)


class _Target(_Strict):
    at_least: float | None = Field(default=None, ge=0)
    at_most: float | None = Field(default=None, ge=0)
    within_seconds: float | None = Field(default=None, gt=0)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one_bound(self) -> _Target:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("give at_least or at_most, not both")
        return self


class _File(_Strict):
    evv: _Evv
    kpis: _Kpis
    dispatch: _Dispatch
    targets: dict[str, _Target]

    @field_validator("targets")
    @classmethod
    def _known_kpis(cls, value: dict[str, _Target]) -> dict[str, _Target]:
        unknown = set(value) - set(TARGET_KPIS)
        if unknown:
            raise ValueError(f"unknown KPIs {sorted(unknown)}; known: {', '.join(TARGET_KPIS)}")
        for kpi, t in value.items():
            if (t.within_seconds is not None) != (kpi == "emergencies_answered"):
                raise ValueError(f"{kpi}: within_seconds belongs to emergencies_answered, and it needs one")
        return value


@dataclass(frozen=True)
class EvaluationConfig:
    """The loaded policy: ``weights`` of the composite score (sum 1),
    ``exploration_share`` (0..1) of offers dispatch gives regardless of score, and the
    monthly report's ``targets`` by KPI (``handlers.evaluation.targets``)."""

    evv: EvvPolicy
    kpis: KpiPolicy
    weights: Mapping[str, float]
    exploration_share: float
    targets: Mapping[str, Target]


def parse_evaluation_config(text: str, source: Path | str = "evaluation.toml") -> EvaluationConfig:
    """Validate TOML text; raises ``EvaluationConfigError`` naming ``source``, the line and the key."""
    try:
        f = validated(_File, parse_toml(text, source), text, source)
    except ConfigFileError as exc:
        raise EvaluationConfigError(exc.path, exc.reason, exc.line, exc.field) from None
    evv = EvvPolicy(
        geofence_metres=f.evv.geofence_metres,
        too_early_minutes=f.evv.too_early_minutes,
        short_visit_share=f.evv.short_visit_share,
        checklists={k: tuple(v) for k, v in f.evv.checklists.items()},
    )
    kpis = KpiPolicy(**f.kpis.model_dump(exclude={"weights"}))
    targets = {
        kpi: Target(kpi, t.at_least if t.at_least is not None else t.at_most or 0.0, t.at_least is not None,
                    t.source, t.within_seconds)
        for kpi, t in f.targets.items()
    }  # fmt: skip
    return EvaluationConfig(evv, kpis, dict(f.kpis.weights), f.dispatch.exploration_share, targets)


def load_evaluation_config(path: Path | None = None) -> EvaluationConfig:
    """Read the policy file (default: the shipped ``config/evaluation.toml``)."""
    path = path or DEFAULT_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationConfigError(path, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_evaluation_config(text, path)


@lru_cache
def get_evaluation_config() -> EvaluationConfig:
    """The shipped policy, read once; tests call ``cache_clear()`` to reload."""
    return load_evaluation_config()
