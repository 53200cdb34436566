from datetime import UTC, datetime

import pytest

from handlers.channels.intake import validate_intake
from handlers.channels.subscriptions import InvalidSubscription, Subscription, intake_for, next_services
from handlers.model import Elder

LUNCH = Subscription("s1", "e1", "meal", "mon-fri", "11:00", "Asia/Shanghai")


def test_weekday_lunch_comes_at_eleven_local_time_and_skips_the_weekend():
    friday_noon_utc = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # Fri 12:00 in Shanghai
    starts = next_services(LUNCH, friday_noon_utc, 2)
    assert [s.strftime("%a %H:%M %Z") for s in starts] == ["Mon 11:00 CST", "Tue 11:00 CST"]
    assert starts[0].astimezone(UTC).hour == 3


def test_a_firing_submits_an_ordinary_request_for_that_days_window():
    fired = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, one hour ahead
    record = intake_for(LUNCH, fired)
    request = validate_intake(record, {"e1": Elder("e1", "gulou")}.get, {"meal"})
    assert request.window_start == datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    assert request.request_id == "sub.s1.2026-11-30"


@pytest.mark.parametrize(
    "change,field",
    [({"days": "weekdays"}, "days"), ({"at_time": "25:00"}, "at_time"), ({"timezone": "Mars/Olympus"}, "timezone")],
)
def test_a_bad_subscription_is_refused_naming_the_field(change, field):
    bad = Subscription(**{**LUNCH.__dict__, **change})
    with pytest.raises(InvalidSubscription, match=field):
        next_services(bad, datetime(2026, 11, 30, tzinfo=UTC))
