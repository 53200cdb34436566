"""The monthly report's center KPIs (requests served, emergencies answered in time), its
targets (met or missed, change from last month) and its weekly trend: pure rules, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from config.evaluation import DEFAULT_PATH, get_evaluation_config, parse_evaluation_config
from config.files import ConfigFileError
from handlers.evaluation.center_kpis import (
    FAILED,
    NEVER_ASSIGNED,
    RequestOutcome,
    emergencies_answered_within,
    tally,
    why_unserved,
)
from handlers.evaluation.kpis import VisitOutcome
from handlers.evaluation.targets import Target, better, change, met
from handlers.evaluation.trend import month_weeks, weekly_on_time

T0 = datetime(2026, 11, 3, 8, tzinfo=UTC)


def _r(rid: str, status: str, priority: str = "routine", assigned_s: float | None = None, ack_s: float | None = None):
    return RequestOutcome(
        rid,
        "meal",
        priority,
        "gulou",
        T0,
        status,
        T0,
        None if assigned_s is None else T0 + timedelta(seconds=assigned_s),
        None if ack_s is None else T0 + timedelta(seconds=ack_s),
    )


def test_failed_and_never_assigned_requests_are_unserved_and_withdrawn_ones_count_in_neither():
    requests = [
        _r("done", "completed", assigned_s=30),
        _r("done-before-assigned-at-was-kept", "completed"),  # a caregiver served it: served
        _r("on-the-way", "accepted", assigned_s=60),
        _r("ladder-ran-out", "failed"),
        _r("no-show-not-retaken", "failed", assigned_s=20),
        _r("still-waiting", "received"),
        _r("on-hold", "on-hold"),
        _r("elder-cancelled", "cancelled"),
        _r("typo", "entered-in-error"),
    ]
    assert [why_unserved(r) for r in requests] == [None, None, None, FAILED, FAILED, NEVER_ASSIGNED] + [
        NEVER_ASSIGNED,
        None,
        None,
    ]
    t = tally(requests)
    assert (t.requests, t.served, t.unserved, t.withdrawn) == (9, 3, 4, 2)
    assert t.by_reason == {FAILED: 2, NEVER_ASSIGNED: 2}
    assert t.by_service == {"meal": 4} and t.by_priority == {"routine": 4}
    assert t.served_share == pytest.approx(3 / 7)
    assert tally([_r("x", "cancelled")]).served_share is None


def test_an_emergency_is_answered_by_the_first_person_to_take_it_within_the_target_seconds():
    emergencies = [
        _r("ack-fast", "completed", "stat", assigned_s=200, ack_s=30),  # acknowledged in 30 s
        _r("accepted-fast", "completed", "stat", assigned_s=50),
        _r("slow", "completed", "stat", assigned_s=90, ack_s=61),
        _r("nobody", "failed", "stat"),  # never answered: counts against
        _r("typo", "entered-in-error", "stat"),  # not an emergency at all
        _r("routine", "completed", assigned_s=500),  # not an emergency
    ]
    assert emergencies_answered_within(emergencies, 60) == (4, 0.5)
    assert emergencies_answered_within(emergencies, 90) == (4, 0.75)
    assert emergencies_answered_within([_r("routine", "completed")], 60) == (0, None)


def test_a_target_is_met_on_its_side_and_a_change_is_better_toward_it():
    on_time = Target("on_time", 0.9, True, "source")
    complaints = Target("complaints", 2.0, False, "source")
    assert met(0.9, on_time) is True and met(0.89, on_time) is False and met(None, on_time) is None
    assert met(2.0, complaints) is True and met(2.5, complaints) is False
    assert change(0.95, 0.9) == pytest.approx(0.05) and change(0.9, None) is None
    assert better(0.05, on_time) is True and better(-0.05, on_time) is False and better(0.0, on_time) is None
    assert better(-1.0, complaints) is True and better(1.0, complaints) is False
    with pytest.raises(ValueError, match="unknown KPI"):
        Target("speed", 1.0, True, "x")


def test_the_shipped_targets_cover_every_scored_kpi_and_the_centers_own_with_a_source():
    targets = get_evaluation_config().targets
    assert set(targets) == {
        "on_time",
        "completion",
        "evv_compliance",
        "acceptance",
        "satisfaction",
        "complaints",
        "served",
        "emergencies_answered",
    }
    assert targets["emergencies_answered"].within_seconds == 60 and targets["emergencies_answered"].value == 0.975
    assert not targets["complaints"].at_least and all(t.source for t in targets.values())


def _with_targets(block: str) -> str:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    return text.split("[targets.on_time]")[0] + block


@pytest.mark.parametrize(
    ("block", "named"),
    [
        ('[targets.speed]\nat_least = 1\nsource = "x"\n', "unknown KPIs"),
        ('[targets.on_time]\nat_least = 0.9\nat_most = 1\nsource = "x"\n', "not both"),
        ('[targets.served]\nat_least = 0.9\nwithin_seconds = 5\nsource = "x"\n', "within_seconds"),
    ],
)
def test_a_bad_target_is_refused_naming_it(block, named):
    with pytest.raises((ConfigFileError, ValueError), match=named):
        parse_evaluation_config(_with_targets(block))


def _visit(provider: str, planned: datetime, late: float) -> VisitOutcome:
    return VisitOutcome(provider, f"{provider}-cg", planned, planned + timedelta(minutes=late), late, True, False)


def test_the_weekly_trend_cuts_the_month_in_the_centers_days():
    shanghai = ZoneInfo("Asia/Shanghai")
    start, end = datetime(2026, 10, 31, 16, tzinfo=UTC), datetime(2026, 11, 30, 16, tzinfo=UTC)  # November there
    weeks = month_weeks(start, end)
    assert weeks == [(1, 7), (8, 14), (15, 21), (22, 28), (29, 30)]
    rome = ZoneInfo("Europe/Rome")  # October has 31 days and a clock change
    assert month_weeks(datetime(2026, 10, 1, tzinfo=rome), datetime(2026, 11, 1, tzinfo=rome))[-1] == (29, 31)
    visits = [
        _visit("p", datetime(2026, 11, 7, 15, 30, tzinfo=UTC), 30),  # 23:30 on the 7th: week 1, late
        _visit("p", datetime(2026, 11, 7, 16, 30, tzinfo=UTC), 0),  # 00:30 on the 8th in Shanghai: week 2
        _visit("p", datetime(2026, 10, 31, 17, tzinfo=UTC), 0),  # 1 November 01:00 there: week 1
    ]
    assert weekly_on_time(visits, weeks, 5.0, shanghai) == {"p": [0.5, 1.0, None, None, None]}
    assert weekly_on_time(visits, weeks, 5.0, UTC)["p"][:2] == [0.5, None]  # in UTC both fall on the 7th
