"""The dashboard seed's 西康 area placed on real streets (Nanjing, 鼓楼区 around 西康路) for the
street map and a caregiver's day: elders' homes and caregivers' home bases get WGS-84 points,
cg-li has checked in at 王秀英's (R-1001), finished a cleaning for 张建国 this morning (R-DONE)
and has a meal for 李桂兰 in the day plan this evening (R-PLAN). Points are invented."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from db import tables
from db.locations import add_location
from db.session import session_factory
from handlers.model import Caregiver, CareRequest, Elder, Priority, RequestStatus, Visit, VisitStatus
from handlers.register.records import Location
from tests.unit.dashboard_seed import XIKANG, Center

ZONE = ZoneInfo("Asia/Shanghai")
HOMES = {"e1": (32.0603, 118.7712), "e2": (32.0588, 118.7745), "e3": (32.0621, 118.7760), "e4": (32.0570, 118.7690)}
BASES = {"cg-li": (32.0640, 118.7680), "cg-wu": (32.0560, 118.7790)}  # cg-zhou has none


def local_noon(day: datetime | None = None) -> datetime:
    """Today's noon in Shanghai (UTC): a seed ``now`` whose day of visits lies inside one local day."""
    local = (day or datetime.now(UTC)).astimezone(ZONE).date()
    return datetime.combine(local, time(12), ZONE).astimezone(UTC)


def place_on_streets(center: Center) -> None:
    """Points for 西康's elders and two caregivers, and cg-li's day (see the module docstring)."""
    now = center.now
    with session_factory(center.database_url)() as s:
        for elder_id, (lat, lon) in HOMES.items():
            elder = s.get(Elder, elder_id)
            elder.latitude, elder.longitude = lat, lon
        for caregiver_id, point in BASES.items():
            s.get(Caregiver, caregiver_id).home_base_index = add_location(s, Location(*point), now)
        visit = s.scalars(select(Visit).where(tables.visits.c.request_id == "R-1001")).one()
        visit.status, visit.check_in_at = VisitStatus.IN_PROGRESS, now - timedelta(minutes=5)
        done = CareRequest(
            "R-DONE",
            "e3",
            "cleaning",
            45.0,
            now - timedelta(hours=4),
            now - timedelta(hours=2),
            XIKANG,
            now - timedelta(hours=5),
            Priority.ROUTINE,
            "hotline",
            3,
        )
        done.status, done.received_at, done.closed_at = (
            RequestStatus.COMPLETED,
            done.submitted_at,
            now - timedelta(hours=2),
        )
        planned = CareRequest(
            "R-PLAN",
            "e2",
            "meal",
            45.0,
            now + timedelta(hours=5),
            now + timedelta(hours=6),
            XIKANG,
            now - timedelta(hours=1),
            Priority.ROUTINE,
            "app",
            2,
        )
        planned.status, planned.received_at = RequestStatus.RECEIVED, planned.submitted_at
        s.add_all([done, planned])
        s.flush()
        s.add(
            Visit(
                "V-DONE",
                "R-DONE",
                "cg-li",
                "p-gulou",
                "e3",
                "cleaning",
                3,
                now - timedelta(hours=3),
                now - timedelta(hours=2, minutes=15),
                VisitStatus.COMPLETED,
                check_in_at=now - timedelta(hours=3, minutes=-2),
                check_out_at=now - timedelta(hours=2, minutes=14),
            )
        )
        s.execute(
            tables.planned_visits.insert().values(
                request_id="R-PLAN",
                caregiver_id="cg-li",
                planned_start=now + timedelta(hours=5),
                planned_end=now + timedelta(hours=5, minutes=45),
                location_index=2,
            )
        )
        s.commit()
