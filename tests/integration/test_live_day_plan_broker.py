"""A live day plan through the real broker (issue 18): an area registered in planned mode
with two caregivers on rotas and an elder's daily lunch subscription is planned from the
database for a day ahead; when the recurring service's request then arrives on the intake
topic, the running stream worker offers it first to the caregiver the plan gave it, at the
planned start — not to the caregiver online dispatch would pick (the nearer one)."""

from __future__ import annotations

import contextlib
import json
import time as _time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from kafka import KafkaProducer
from sqlalchemy import select

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


def _event_rows(pipeline, subjects: list[str]) -> list:
    e = tables.event_log.c
    with pipeline.sessions() as s:
        return s.execute(
            select(e.seq, e.type, e.subject, e.payload).where(e.subject.in_(subjects)).order_by(e.seq)
        ).all()


def _outcomes(rows) -> list[tuple[int, str, str | None]]:
    return [
        (r.seq, r.payload["data"]["outcome"], r.payload["data"].get("reason"))
        for r in rows
        if r.type == "care.dispatch.repaired"
    ]


@contextlib.contextmanager
def _clock_at(pipeline, at: datetime) -> Iterator[None]:
    """The database clock at ``at`` (speed 1) while the block runs, restored after."""
    from db.register import clear_clock, set_clock
    from handlers.clock import SimClock

    with pipeline.sessions() as s:
        saved = s.execute(select(tables.sim_clock)).first()
    set_clock(pipeline.sessions, SimClock(datetime.now(UTC), at, 1.0))
    try:
        yield
    finally:
        if saved is None:
            clear_clock(pipeline.sessions)
        else:
            set_clock(pipeline.sessions, SimClock(saved.wall_origin, saved.sim_origin, saved.speed))


def _two_areas(pipeline, run: str, phones: str) -> tuple[str, str, Subscription, Subscription]:
    """A planned area (``<run>-gusu``: caregivers ``c1``, nearer the elder ``e1``, and ``c2``, daily
    08:00-18:00 on e-bikes) with ``e1``'s daily 11:00 lunch subscription stored, and an online
    area (``<run>-wuzhong``: caregiver ``o1``, elder ``oe``); phone numbers ``<phones>9100`` on.
    Returns (planned area, online area, the lunch, ``oe``'s 09:00 breakfast, not stored)."""
    area, other = f"{run}-gusu", f"{run}-wuzhong"
    with pipeline.sessions() as s:
        places = {
            name: add_location(s, Location(lat, lon))
            for name, (lat, lon) in {
                "c1": (31.3000, 120.6200), "c2": (31.2800, 120.6000), "e1": (31.3204, 120.6291),
                "o1": (31.2700, 120.6300), "oe": (31.2710, 120.6310),
            }.items()
        }  # fmt: skip
        for name, mode in ((area, "planned"), (other, "online")):
            s.execute(
                tables.service_areas.insert().values(
                    service_area=name, name=name, travel_matrix=None, shift_end_hard=True, dispatch_mode=mode
                )
            )
            s.add(ProviderOrganisation(f"{name}.p", "P", name, "meal"))
        s.flush()
        for i, (cid, where) in enumerate((("c1", area), ("c2", area), ("o1", other))):
            s.add(
                Caregiver(
                    f"{run}.{cid}", f"{where}.p", where, "meal", places[cid], None, None,
                    phone=f"{phones}{9100 + i}", language="zh", rota="daily 08:00-18:00", time_zone=ZONE,
                    travel_mode="e-bike",
                )
            )  # fmt: skip
        s.add(Elder(f"{run}.e1", area, places["e1"], language="zh"))
        s.add(Elder(f"{run}.oe", other, places["oe"], language="zh"))
        s.flush()
        lunch = Subscription(f"{run}-lunch", f"{run}.e1", "meal", "*", "11:00", ZONE, 30.0, 60.0, 60.0)
        breakfast = Subscription(f"{run}-bf", f"{run}.oe", "meal", "*", "09:00", ZONE, 30.0, 60.0, 60.0)
        timers.save_subscription(s, lunch)
        s.commit()
    return area, other, lunch, breakfast


def _lunch_declined_by_c1(pipeline, send, run: str, area: str, lunch: Subscription, start: datetime) -> None:
    """The lunch (planned to start at ``start``) arrives on the intake topic, is offered to its
    planned caregiver ``c1`` first, and she declines (no time: the worker stamps it with the
    clock); ``send(topic, key, value)`` produces a record."""
    lunch_id = f"sub.{run}-lunch.{start.astimezone(ZoneInfo(ZONE)).date().isoformat()}"
    record = intake_for(lunch, start - timedelta(minutes=60))
    send(topics.INTAKE.name, record["intake_id"], record)
    _, offers = wait_for(pipeline, lunch_id, lambda r, o: len(o) >= 1, timeout=90)
    [first] = offers
    assert first.caregiver_id == f"{run}.c1"
    decline = {
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": "test", "type": "caregiver.offer.declined",
        "data": {"offer_id": first.offer_id, "caregiver_id": first.caregiver_id, "service_area": area},
    }  # fmt: skip
    send(topics.CAREGIVER_EVENTS.name, area, decline)


def test_a_declined_planned_visit_is_repaired_beside_the_worker_while_another_area_is_dispatched(pipeline):
    """Issue 18: "the worker keeps deciding other areas meanwhile". A planned area's lunch is
    planned for ``c1`` (the nearer); she declines; the repair's search (3 s of solver time in
    config/policy.toml) runs in the solver agent, and a request of another area that arrives
    once the search has started is offered before the repair's answer places the lunch with
    ``c2``. The clock is set to 07:00 of the planned day (speed 1) and restored after."""
    run = f"bg{uuid.uuid4().hex[:6]}"
    zone = ZoneInfo(ZONE)
    day = (datetime.now(UTC) + timedelta(days=30)).astimezone(zone).date()
    with _clock_at(pipeline, datetime.combine(day, time(7, 0), zone)):
        area, other, lunch, breakfast = _two_areas(pipeline, run, "+861390014")
        runtime = bootstrap(Settings(database_url=pipeline.database_url, broker=pipeline.bootstrap))
        done = plan_area_day(runtime, area, day, 2.0)
        lunch_id = f"sub.{run}-lunch.{day.isoformat()}"
        assert done.plan[lunch_id].caregiver_id == f"{run}.c1"

        producer = KafkaProducer(bootstrap_servers=pipeline.bootstrap, acks="all")
        try:

            def send(topic: str, key: str, value: dict) -> None:
                producer.send(topic, key=key.encode(), value=json.dumps(value).encode()).get(30)

            _lunch_declined_by_c1(pipeline, send, run, area, lunch, done.plan[lunch_id].start)
            deadline = _time.monotonic() + 60
            while not any(o == "solving" for _, o, _ in _outcomes(_event_rows(pipeline, [lunch_id]))):
                assert _time.monotonic() < deadline, f"no repair started; worker log {pipeline.worker_log}"
                _time.sleep(0.1)
            # the search has begun: the other area's request arrives now
            other_record = intake_for(breakfast, datetime.combine(day, time(8, 0), zone))
            send(topics.INTAKE.name, other_record["intake_id"], other_record)
        finally:
            producer.close()
        other_id = other_record["request_id"]
        wait_for(pipeline, other_id, lambda r, o: len(o) >= 1, timeout=60)
        _, offers = wait_for(pipeline, lunch_id, lambda r, o: len(o) >= 2, timeout=60)
        rows = _event_rows(pipeline, [lunch_id, other_id])
        outcomes = _outcomes(rows)
        assert [o for _, o, _ in outcomes] == ["solving", "repaired"], outcomes
        offered_other = min(r.seq for r in rows if r.subject == other_id and r.type == "dispatch.offer.created")
        assert outcomes[0][0] < offered_other < outcomes[1][0]  # decided while the repair searched
        again = max(offers, key=lambda o: o.created_at)
        assert again.caregiver_id == f"{run}.c2"
        at = {(r.subject, r.type, r.payload["data"].get("outcome")): r.payload["time"] for r in rows}
        fell = datetime.fromisoformat(at[(lunch_id, "care.dispatch.repaired", "solving")])
        print(
            f"\nrepair beside the worker: answered and offered {(again.created_at - fell).total_seconds():.1f} s "
            f"after the fall; the other area's request offered in between"
        )
        slot = done.plan[lunch_id]
        assert slot.window_start <= again.planned_start <= slot.latest_start  # inside its window


def test_a_confirmation_round_re_plans_beside_the_worker_while_another_area_is_dispatched(pipeline):
    """Issue 18: a round's re-plan (10 s of planner time in config/policy.toml) is not searched in
    the dispatch batch either. A planned area's lunch is announced the evening before for ``c1``;
    she declines and the decline is held for round 1; when round 1 closes (its timer sent as the
    timer service sends it) the re-plan goes to the solver agent, a request of another area that
    arrives meanwhile is offered, and then the round offers the lunch to ``c2`` inside its window.
    The clock is set to 21:00 the evening before (speed 1) and restored after."""
    from careline.day_plan import announce
    from config.bootstrap import load_configuration
    from handlers.dispatch import rounds

    run = f"rd{uuid.uuid4().hex[:6]}"
    zone = ZoneInfo(ZONE)
    day = (datetime.now(UTC) + timedelta(days=40)).astimezone(zone).date()
    with _clock_at(pipeline, datetime.combine(day - timedelta(days=1), time(21, 0), zone)):
        area, other, lunch, breakfast = _two_areas(pipeline, run, "+861390015")
        runtime = bootstrap(Settings(database_url=pipeline.database_url, broker=pipeline.bootstrap))
        policy = load_configuration(runtime.settings).policy
        done = plan_area_day(runtime, area, day, 2.0)
        lunch_id = f"sub.{run}-lunch.{day.isoformat()}"
        assert done.plan[lunch_id].caregiver_id == f"{run}.c1"
        with pipeline.sessions() as s:
            announced = read_clock(s).now()
        done = announce(runtime, done, announced)
        assert rounds.takes_part(done.plan[lunch_id], policy)

        producer = KafkaProducer(bootstrap_servers=pipeline.bootstrap, acks="all")
        try:

            def send(topic: str, key: str, value: dict) -> None:
                producer.send(topic, key=key.encode(), value=json.dumps(value).encode()).get(30)

            _lunch_declined_by_c1(pipeline, send, run, area, lunch, done.plan[lunch_id].start)

            def wait_outcome(outcome: str) -> None:
                deadline = _time.monotonic() + 60
                while not any(o == outcome for _, o, _ in _outcomes(_event_rows(pipeline, [lunch_id]))):
                    assert _time.monotonic() < deadline, f"no {outcome!r}; worker log {pipeline.worker_log}"
                    _time.sleep(0.1)

            wait_outcome("held")  # no repair: the round places it
            target = rounds.round_target(area, announced, 1)
            due = policy.round_closes_at(announced, 1)
            fired = {
                "id": f"fired-{rounds.KIND}-{target}", "type": "timer.fired", "time": due.isoformat(),
                "data": {"kind": rounds.KIND, "target_id": target, "service_area": area, "due": due.isoformat()},
            }  # fmt: skip
            send(topics.TIMERS.name, area, fired)
            wait_outcome("solving")
            # the round's search has begun: the other area's request arrives now
            other_record = intake_for(breakfast, datetime.combine(day, time(8, 0), zone))
            send(topics.INTAKE.name, other_record["intake_id"], other_record)
        finally:
            producer.close()
        other_id = other_record["request_id"]
        wait_for(pipeline, other_id, lambda r, o: len(o) >= 1, timeout=60)
        _, offers = wait_for(pipeline, lunch_id, lambda r, o: len(o) >= 2, timeout=90)
        rows = _event_rows(pipeline, [lunch_id, other_id])
        outcomes = _outcomes(rows)
        assert [o for _, o, _ in outcomes] == ["held", "solving", "round"], outcomes
        offered_other = min(r.seq for r in rows if r.subject == other_id and r.type == "dispatch.offer.created")
        assert outcomes[1][0] < offered_other < outcomes[2][0]  # decided while the round searched
        again = max(offers, key=lambda o: o.created_at)
        assert again.caregiver_id == f"{run}.c2"
        slot = done.plan[lunch_id]
        assert slot.window_start <= again.planned_start <= slot.latest_start  # inside its window


def test_a_repair_is_answered_while_another_areas_confirmation_round_searches(pipeline):
    """Issue 18: "a repair decides within 5 s". The evening's confirmation rounds of every planned
    area search ten seconds each; a day-of repair must not wait behind them. Area A's lunch is
    announced and declined, and its round 1 starts searching; then area B's planned lunch (planned,
    not announced: a decline there is repaired at once) is declined, and B's repair is answered
    while A's round still searches. With one solver process for both it came after the round."""
    from careline.day_plan import announce
    from config.bootstrap import load_configuration
    from handlers.dispatch import rounds

    run_a, run_b = f"ra{uuid.uuid4().hex[:6]}", f"rb{uuid.uuid4().hex[:6]}"
    zone = ZoneInfo(ZONE)
    day = (datetime.now(UTC) + timedelta(days=50)).astimezone(zone).date()
    with _clock_at(pipeline, datetime.combine(day - timedelta(days=1), time(21, 0), zone)):
        area_a, _, lunch_a, _ = _two_areas(pipeline, run_a, "+861390016")
        area_b, _, lunch_b, _ = _two_areas(pipeline, run_b, "+861390017")
        runtime = bootstrap(Settings(database_url=pipeline.database_url, broker=pipeline.bootstrap))
        policy = load_configuration(runtime.settings).policy
        done_a = plan_area_day(runtime, area_a, day, 2.0)
        done_b = plan_area_day(runtime, area_b, day, 2.0)
        id_a, id_b = f"sub.{run_a}-lunch.{day.isoformat()}", f"sub.{run_b}-lunch.{day.isoformat()}"
        assert done_a.plan[id_a].caregiver_id == f"{run_a}.c1" and done_b.plan[id_b].caregiver_id == f"{run_b}.c1"
        with pipeline.sessions() as s:
            announced = read_clock(s).now()
        done_a = announce(runtime, done_a, announced)

        producer = KafkaProducer(bootstrap_servers=pipeline.bootstrap, acks="all")
        try:

            def send(topic: str, key: str, value: dict) -> None:
                producer.send(topic, key=key.encode(), value=json.dumps(value).encode()).get(30)

            def wait_outcome(request_id: str, outcome: str) -> None:
                deadline = _time.monotonic() + 60
                while not any(o == outcome for _, o, _ in _outcomes(_event_rows(pipeline, [request_id]))):
                    assert _time.monotonic() < deadline, f"no {outcome!r}; worker log {pipeline.worker_log}"
                    _time.sleep(0.1)

            _lunch_declined_by_c1(pipeline, send, run_a, area_a, lunch_a, done_a.plan[id_a].start)
            wait_outcome(id_a, "held")
            # B's lunch is offered to its planned caregiver now; she answers once A's round searches
            record_b = intake_for(lunch_b, done_b.plan[id_b].start - timedelta(minutes=60))
            send(topics.INTAKE.name, record_b["intake_id"], record_b)
            _, offers_b = wait_for(pipeline, id_b, lambda r, o: len(o) >= 1, timeout=90)
            due = policy.round_closes_at(announced, 1)
            target = rounds.round_target(area_a, announced, 1)
            fired = {
                "id": f"fired-{rounds.KIND}-{target}", "type": "timer.fired", "time": due.isoformat(),
                "data": {"kind": rounds.KIND, "target_id": target, "service_area": area_a, "due": due.isoformat()},
            }  # fmt: skip
            send(topics.TIMERS.name, area_a, fired)
            wait_outcome(id_a, "solving")  # A's round searches (10 s of planner time)
            decline = {
                "specversion": "1.0", "id": str(uuid.uuid4()), "source": "test", "type": "caregiver.offer.declined",
                "data": {"offer_id": offers_b[0].offer_id, "caregiver_id": offers_b[0].caregiver_id,
                         "service_area": area_b},
            }  # fmt: skip
            send(topics.CAREGIVER_EVENTS.name, area_b, decline)
        finally:
            producer.close()
        _, offers_b = wait_for(pipeline, id_b, lambda r, o: len(o) >= 2, timeout=60)
        wait_for(pipeline, id_a, lambda r, o: len(o) >= 2, timeout=90)
        rows = _event_rows(pipeline, [id_a, id_b])
        a = [(seq, o) for seq, o, _ in _outcomes([r for r in rows if r.subject == id_a])]
        b = [(seq, o) for seq, o, _ in _outcomes([r for r in rows if r.subject == id_b])]
        assert [o for _, o in a] == ["held", "solving", "round"], a
        assert [o for _, o in b] == ["solving", "repaired"], b
        assert a[1][0] < b[0][0] and b[1][0] < a[2][0]  # B fell and was repaired while A's round searched
        at = {
            (r.subject, r.payload["data"].get("outcome")): r.payload["time"]
            for r in rows
            if r.type == "care.dispatch.repaired"
        }
        fell = datetime.fromisoformat(at[(id_b, "solving")])
        again = max(offers_b, key=lambda o: o.created_at)
        took = (again.created_at - fell).total_seconds()
        print(f"\nrepair during another area's round: answered and offered {took:.1f} s after the fall")
        assert again.caregiver_id == f"{run_b}.c2"
