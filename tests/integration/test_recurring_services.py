"""Recurring services become cron jobs of the timer service, in the elder's time zone."""

from datetime import UTC, datetime

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from careline.scheduler import sync_subscriptions
from db import tables
from db.migrate import upgrade
from db.session import session_factory

pytestmark = pytest.mark.integration


def test_weekday_lunch_is_scheduled_an_hour_ahead_at_ten_shanghai_time_and_removed_when_paused(tmp_path):
    url = f"sqlite:///{tmp_path / 'subs.db'}"
    upgrade(url)
    with session_factory(url)() as session:
        session.execute(tables.elders.insert().values(elder_id="e1", service_area="gulou"))
        session.execute(
            tables.care_subscriptions.insert().values(
                subscription_id="lunch-e1",
                elder_id="e1",
                service_type="meal",
                days="mon-fri",
                at_time="11:00",
                timezone="Asia/Shanghai",
                duration_minutes=20,
                window_minutes=60,
                lead_minutes=60,
                active=True,
            )
        )
        session.commit()
    scheduler = BackgroundScheduler(timezone=UTC)
    assert sync_subscriptions(scheduler, url) == 1
    [job] = scheduler.get_jobs()
    friday_noon = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)
    nxt = job.trigger.get_next_fire_time(None, friday_noon)
    assert nxt.astimezone(UTC) == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 10:00 CST
    with session_factory(url)() as session:
        session.execute(tables.care_subscriptions.update().values(active=False))
        session.commit()
    assert sync_subscriptions(scheduler, url) == 0
    assert scheduler.get_jobs() == []
