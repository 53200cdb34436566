"""A small center for dashboard tests: two Nanjing districts, elders, caregivers,
operators of every role, and requests put through the real dispatch use cases
(``handlers.dispatch.offers`` via ``db.uow.SqlUnitOfWork``), as the stream worker would.
Names and phone numbers are invented."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from careline.operators import create_operator, place_area
from db import tables
from db.session import engine_for, session_factory
from db.uow import SqlUnitOfWork
from handlers.dispatch import offers
from handlers.dispatch.scheduling import DispatchPolicy, MatrixTravelTimes
from handlers.model import Caregiver, CareRequest, Elder, Priority, ProviderOrganisation

PASSWORD = "correct-horse-battery"
XIKANG, QINGYUN, MEIYUAN = "gulou-xikang", "gulou-qingyun", "xuanwu-meiyuan"
REGIONS = {
    XIKANG: "江苏省/南京市/鼓楼区/宁海路街道/西康社区",
    QINGYUN: "江苏省/南京市/鼓楼区/湖南路街道/青云巷社区",
    MEIYUAN: "江苏省/南京市/玄武区/梅园新村街道/大悲巷社区",
}
GULOU, XUANWU = "江苏省/南京市/鼓楼区", "江苏省/南京市/玄武区"  # two districts of Nanjing
GRID = [(x, y) for y in range(3) for x in range(3)]  # 9 homes on a 3 x 3 street grid, index 0 = home base
MATRIX = [[5.0 * (abs(a[0] - b[0]) + abs(a[1] - b[1])) for b in GRID] for a in GRID]
NAMES = ["王秀英", "李桂兰", "张建国", "刘淑珍", "陈玉梅", "杨德福", "赵凤英", "黄志强"]


@dataclass
class Center:
    database_url: str
    now: datetime
    policy: DispatchPolicy
    travel: MatrixTravelTimes


def _request(
    rid: str,
    elder: str,
    area: str,
    service: str,
    now: datetime,
    minutes_ago: float,
    priority: Priority = Priority.ROUTINE,
    location: int = 1,
) -> CareRequest:
    at = now - timedelta(minutes=minutes_ago)
    return CareRequest(
        rid,
        elder,
        service,
        45.0,
        now + timedelta(minutes=30),
        now + timedelta(hours=3),
        area,
        at,
        priority=priority,
        channel="hotline",
        location_index=location,
    )


def receive(center: Center, request: CareRequest, at: datetime | None = None) -> None:
    """Put a request through ``offers.receive_request`` as the worker does, and commit."""
    with SqlUnitOfWork(session_factory(center.database_url)) as uow:
        offers.receive_request(request, uow, at or request.submitted_at, center.policy, center.travel)
        uow.commit()


def seed(database_url: str, now: datetime | None = None) -> Center:
    """Create the schema and the center; returns what tests need to add more."""
    now = now or datetime.now(UTC)
    tables.metadata.create_all(engine_for(database_url))
    factory = session_factory(database_url)
    with factory() as s:
        for area in REGIONS:
            s.execute(
                tables.service_areas.insert().values(
                    service_area=area, name=area, travel_matrix=MATRIX, shift_end_hard=False
                )
            )
            place_area(s, area, REGIONS[area])
        for pid, area in (("p-gulou", XIKANG), ("p-xuanwu", MEIYUAN)):
            s.add(ProviderOrganisation(pid, f"provider {pid}", area, "meal bathing cleaning emergency"))
        s.flush()
        for i, name in enumerate(NAMES):
            area = (XIKANG, XIKANG, XIKANG, XIKANG, QINGYUN, QINGYUN, MEIYUAN, MEIYUAN)[i]
            s.add(Elder(f"e{i + 1}", area, 1 + i % 8, phone=f"1380000{i + 1:04d}", name=name))
        shift = (now - timedelta(hours=2), now + timedelta(hours=8))
        for cid, area, abilities, home in (
            ("cg-li", XIKANG, "meal cleaning", 0),
            ("cg-wu", XIKANG, "meal bathing", 4),
            ("cg-zhou", XIKANG, "emergency meal", 8),
            ("cg-sun", QINGYUN, "cleaning", 0),
            ("cg-ma", MEIYUAN, "meal", 0),
        ):
            s.add(Caregiver(cid, "p-xuanwu" if area == MEIYUAN else "p-gulou", area, abilities, home, *shift))
        s.flush()
        for user, role, scope in (
            ("op", "operator", GULOU),
            ("sup", "supervisor", ""),
            ("adm", "admin", ""),
            ("far", "operator", XUANWU),
            ("gl-adm", "admin", GULOU),
            ("gl-sup", "supervisor", GULOU),
        ):
            create_operator(s, user, role, PASSWORD, name=f"{role} {user}", region_scope=scope, created_by="seed")
        s.commit()
    center = Center(database_url, now, DispatchPolicy(), MatrixTravelTimes(MATRIX))
    receive(center, _request("R-1001", "e1", XIKANG, "meal", now, 12, location=1))
    receive(center, _request("R-1002", "e2", XIKANG, "bathing", now, 30, Priority.URGENT, location=2))
    receive(center, _request("R-1003", "e3", XIKANG, "cleaning", now, 4, location=3))
    receive(center, _request("R-1004", "e5", QINGYUN, "bathing", now, 50, location=5))  # nobody can: escalated
    receive(center, _request("R-1005", "e7", MEIYUAN, "meal", now, 8, location=7))
    receive(center, _request("SOS-2001", "e4", XIKANG, "emergency", now, 3, Priority.STAT, location=4))
    with SqlUnitOfWork(factory) as uow:  # cg-li accepted the meal 10 minutes ago
        offers.accept_offer(
            uow.offers.for_request("R-1001")[0].offer_id,
            "cg-li",
            uow,
            now - timedelta(minutes=10),
            center.policy,
            center.travel,
        )
        uow.commit()
    return center


def new_request_id() -> str:
    return f"R-{uuid.uuid4().hex[:6]}"
