"""A live day plan through the real broker (issue 18): an area registered in planned mode
with two caregivers on rotas and an elder's daily lunch subscription is planned from the
database for a day ahead; when the recurring service's request then arrives on the intake
topic, the running stream worker offers it first to the caregiver the plan gave it, at the
planned start — not to the caregiver online dispatch would pick (the nearer one)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from kafka import KafkaProducer

from careline.day_plan import plan_area_day
from config import topics
from config.bootstrap import bootstrap
from config.settings import Settings
from db import tables, timers
from db.locations import add_location
from db.register import read_clock
from handlers.channels.subscriptions import Subscription, intake_for
from handlers.model import Caregiver, Elder, ProviderOrganisation
from handlers.register.records import Location
from tests.integration.test_pipeline import wait_for

pytestmark = pytest.mark.integration
ZONE = "Asia/Shanghai"


def test_a_planned_request_arriving_through_the_broker_is_offered_to_its_planned_caregiver(pipeline):
    run = f"lp{uuid.uuid4().hex[:6]}"
    area = f"{run}-gusu"
    with pipeline.sessions() as s:
        now = read_clock(s).now()
        # two elders by 平江路, Suzhou; ``near`` lives beside them, ``far`` 5 km away
        places = {
            name: add_location(s, Location(lat, lon))
            for name, (lat, lon) in {
                "near": (31.3200, 120.6290),
                "far": (31.2800, 120.6000),
                "e1": (31.3204, 120.6291),
                "e2": (31.3180, 120.6310),
            }.items()
        }
        s.execute(
            tables.service_areas.insert().values(
                service_area=area, name=area, travel_matrix=None, shift_end_hard=True, dispatch_mode="planned"
            )
        )
        s.add(ProviderOrganisation(f"{run}.p", "P", area, "meal bathing"))
        s.flush()
        for i, (name, abilities) in enumerate((("near", "meal bathing"), ("far", "meal"))):
            s.add(
                Caregiver(
                    f"{run}.{name}", f"{run}.p", area, abilities, places[name], None, None,
                    phone=f"+861390013{9100 + i}", language="zh", rota="daily 08:00-18:00", time_zone=ZONE,
                    travel_mode="e-bike",
                )
            )  # fmt: skip
        for name in ("e1", "e2"):
            s.add(Elder(f"{run}.{name}", area, places[name], language="zh"))
        s.flush()
        # only the near caregiver bathes: e2's long bath fills her late morning, so the plan
        # gives e1's lunch to the far one, where online dispatch would offer it to the nearest
        lunch = Subscription(f"{run}-lunch", f"{run}.e1", "meal", "*", "11:00", ZONE, 30.0, 30.0, 60.0)
        busy = Subscription(f"{run}-busy", f"{run}.e2", "bathing", "*", "10:30", ZONE, 90.0, 30.0, 60.0)
        timers.save_subscription(s, lunch)
        timers.save_subscription(s, busy)
        s.commit()
    day = (now.astimezone(ZoneInfo(ZONE)) + timedelta(days=2)).date()
    runtime = bootstrap(Settings(database_url=pipeline.database_url, broker=pipeline.bootstrap))
    done = plan_area_day(runtime, area, day, 2.0)
    assert done.problems == ()
    lunch_id = f"sub.{run}-lunch.{day.isoformat()}"
    assert set(done.plan) == {lunch_id, f"sub.{run}-busy.{day.isoformat()}"}
    planned = done.plan[lunch_id]
    assert planned.caregiver_id == f"{run}.far"  # the near one bathes e2 from 10:30 to 12:00 at the earliest

    record = intake_for(lunch, planned.start - timedelta(minutes=lunch.lead_minutes))
    assert record["request_id"] == lunch_id
    producer = KafkaProducer(bootstrap_servers=pipeline.bootstrap, acks="all")
    try:
        producer.send(topics.INTAKE.name, key=record["intake_id"].encode(), value=json.dumps(record).encode()).get(30)
    finally:
        producer.close()
    _, offers = wait_for(pipeline, lunch_id, lambda r, o: len(o) >= 1, timeout=90)
    first = min(offers, key=lambda o: o.created_at)
    assert first.caregiver_id == planned.caregiver_id
    assert abs(first.planned_start - planned.start) <= timedelta(minutes=1)
