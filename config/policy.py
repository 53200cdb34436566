"""The routing policy file (``config/policy.toml``, or ``CARELINE_POLICY_FILE``).

Read with ``tomllib``, validated with pydantic, returned as the domain's
``handlers.dispatch.scheduling.DispatchPolicy``. A bad file raises ``PolicyError``
naming the line and the key, e.g. ``policy.toml:14: offers.timeout_seconds:
Input should be greater than 0`` (``config.files``). Every decision records the
file's ``version``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from config.files import ConfigFileError, line_of, read_toml, validated
from handlers.dispatch.scheduling import DispatchPolicy, LadderStep

DEFAULT_PATH = Path(__file__).resolve().parent / "policy.toml"
PRIORITIES = ("stat", "asap", "urgent", "routine")


class PolicyError(ConfigFileError):
    """The policy file is unreadable or a key is missing, unknown or out of range."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Scoring(_Strict):
    travel_weight: float = Field(ge=0)
    lateness_weight: float = Field(ge=0)
    sync_weight: float = Field(ge=0)
    continuity_bonus_minutes: float = Field(ge=0)
    provider_score_weight: float = Field(ge=0)
    fairness_weight: float = Field(ge=0)


class _Offers(_Strict):
    timeout_seconds: float = Field(gt=0)
    max_offers_per_request: int = Field(ge=1)
    parallel: dict[str, int] = Field(default_factory=dict)


class _Visits(_Strict):
    no_show_minutes: float = Field(gt=0)


class _Eligibility(_Strict):
    daily_capacity: int | None = Field(default=None, ge=1)
    skill_hierarchy: dict[str, list[str]] = Field(default_factory=dict)


class _Shifts(_Strict):
    end_hard: bool = True
    overtime_minutes: float = Field(default=0.0, ge=0, le=24 * 60)
    overtime_weight: float = Field(default=1.0, ge=0)


class _Step(_Strict):
    step: str = Field(pattern="^(best|widen|emergency_services)$")
    deadline_seconds: float = Field(ge=0)


class _Planned(_Strict):
    repair_seconds: float = Field(default=3.0, ge=0, le=60)
    repair_caregivers: int = Field(default=12, ge=1, le=200)
    rounds: int = Field(default=0, ge=0, le=10)
    round_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    round_seconds: float = Field(default=10.0, ge=0, le=600)
    keep_minutes: int = Field(default=20, ge=0, le=24 * 60)
    round_lead_minutes: float = Field(default=60.0, ge=0, le=24 * 60)


class _Promise(_Strict):
    before_minutes: float = Field(default=15.0, ge=0, le=24 * 60)
    after_minutes: float = Field(default=45.0, ge=0, le=24 * 60)


class _File(_Strict):
    version: str = Field(min_length=1)
    scoring: _Scoring
    offers: _Offers
    visits: _Visits
    eligibility: _Eligibility
    shifts: _Shifts = Field(default_factory=_Shifts)
    planned: _Planned = Field(default_factory=_Planned)
    promise: _Promise = Field(default_factory=_Promise)
    sla_minutes: dict[str, float]
    ladder: dict[str, list[_Step]]


def load_policy(path: Path = DEFAULT_PATH, shift_end_hard: bool | None = None) -> DispatchPolicy:
    """The dispatch policy in ``path``; raises ``PolicyError`` naming the line and the bad key.
    ``shift_end_hard`` overrides the file's ``[shifts] end_hard`` (a benchmark day states its own)."""
    try:
        raw, text = read_toml(Path(path))
        f = validated(_File, raw, text, path)
    except ConfigFileError as exc:
        raise PolicyError(exc.path, exc.reason, exc.line, exc.field) from None
    for table in ("sla_minutes", "ladder"):
        unknown = sorted(set(getattr(f, table)) - set(PRIORITIES))
        if unknown:
            raise PolicyError(
                path,
                f"unknown priority {unknown[0]!r} (one of {', '.join(PRIORITIES)})",
                line_of(text, (table, unknown[0])),
                f"{table}.{unknown[0]}",
            )
    policy = DispatchPolicy(
        version=f.version,
        travel_weight=f.scoring.travel_weight,
        lateness_weight=f.scoring.lateness_weight,
        sync_weight=f.scoring.sync_weight,
        offer_timeout_seconds=f.offers.timeout_seconds,
        shift_end_hard=f.shifts.end_hard if shift_end_hard is None else shift_end_hard,
        overtime_minutes=f.shifts.overtime_minutes,
        overtime_weight=f.shifts.overtime_weight,
        max_offers_per_request=f.offers.max_offers_per_request,
        no_show_minutes=f.visits.no_show_minutes,
        continuity_bonus_minutes=f.scoring.continuity_bonus_minutes,
        provider_score_weight=f.scoring.provider_score_weight,
        fairness_weight=f.scoring.fairness_weight,
        daily_capacity=f.eligibility.daily_capacity,
        repair_seconds=f.planned.repair_seconds,
        repair_caregivers=f.planned.repair_caregivers,
        confirm_rounds=f.planned.rounds,
        confirm_round_minutes=f.planned.round_minutes,
        confirm_round_seconds=f.planned.round_seconds,
        confirm_keep_minutes=f.planned.keep_minutes,
        confirm_lead_minutes=f.planned.round_lead_minutes,
        promise_before_minutes=f.promise.before_minutes,
        promise_after_minutes=f.promise.after_minutes,
        parallel_offers=dict(f.offers.parallel),
        skill_hierarchy={k: tuple(v) for k, v in f.eligibility.skill_hierarchy.items()},
        sla_minutes=dict(f.sla_minutes),
        ladder={p: tuple(LadderStep(s.step, s.deadline_seconds) for s in steps) for p, steps in f.ladder.items()},
    )
    if policy.confirm_rounds:
        from handlers.dispatch.rounds import answer_wait

        awaited = answer_wait(policy).total_seconds() / 60.0
        if policy.confirm_lead_minutes < awaited:
            raise PolicyError(
                path,
                f"round_lead_minutes ({policy.confirm_lead_minutes:g}) is shorter than the wait for the last "
                f"round's answer ({awaited:g} min: half a round, at least the planner's budget plus 30 s): a "
                "visit could begin before its elder is told her window",
                line_of(text, ("planned", "round_lead_minutes")),
                "planned.round_lead_minutes",
            )
    return policy
