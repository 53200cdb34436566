"""A small world for the app API tests: one service area in Nanjing, a provider
(``p-1``), two caregivers (``cg-li`` with a display name and the meal skill, ``cg-wu``
without either), two elders with homes and tokens for each (the provider's too); the web app on a
SQLite file migrated to head; the stream worker's own steps to process what
the app wrote to the outbox (``streams.steps``, no broker needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from careline.web.app import create_app
from channels.app_tokens import issue_token
from channels.context import ChannelContext
from config import topics
from config.settings import Settings, get_settings
from db import tables
from db.migrate import upgrade

NOW = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)  # 08:30 in Nanjing
AREA = "gulou"
HOME = (32.0603, 118.7969)  # the elder's home, WGS84 degrees
ADDRESS = "青岛路12号3单元401"


@dataclass
class AppWorld:
    url: str
    settings: Settings
    ctx: ChannelContext
    client: TestClient
    tokens: dict[str, str]

    @property
    def sessions(self):
        return self.ctx.sessions

    def auth(self, who: str) -> dict[str, str]:
        """Headers of ``who``: elder ``e-wang`` / ``e-zhao``, caregiver ``cg-li`` / ``cg-wu``, provider ``p-1``."""
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def outbox(self, topic: str) -> list[dict]:
        o = tables.outbox.c
        with self.sessions() as s:
            return [r.value for r in s.execute(select(tables.outbox).where(o.topic == topic).order_by(o.seq))]

    def rows(self, table, **where) -> list:
        with self.sessions() as s:
            return list(s.execute(select(table).filter_by(**where)))


def build_app_world(tmp_path, monkeypatch, url: str | None = None, **settings: object) -> AppWorld:
    """Migrate, seed, issue tokens; the worker steps read the same database (a SQLite
    file under ``tmp_path`` unless ``url`` names an empty database). ``settings`` override the
    defaults."""
    url = url or f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    _seed(url)
    monkeypatch.setenv("CARELINE_DATABASE_URL", url)
    _clear_worker_caches()
    settings = Settings(**{"database_url": url, **settings})
    ctx = ChannelContext.from_settings(settings)
    ctx.clock = lambda: NOW
    app = create_app(settings)
    app.state.channels = ctx
    tokens = {
        who: issue_token(url, kind, who, NOW)
        for who, kind in (
            ("e-wang", "elder"),
            ("e-zhao", "elder"),
            ("cg-li", "caregiver"),
            ("cg-wu", "caregiver"),
            ("p-1", "provider"),
        )
    }
    return AppWorld(url, settings, ctx, TestClient(app), tokens)


def _clear_worker_caches() -> None:
    from streams import runtime

    get_settings.cache_clear()
    runtime.install(None)


def _seed(url: str) -> None:
    from db.session import session_factory

    with session_factory(url)() as s:
        s.execute(
            tables.service_areas.insert().values(
                service_area=AREA, name="鼓楼", shift_end_hard=False, travel_matrix=[[0, 10], [10, 0]]
            )
        )
        s.execute(
            tables.sim_clock.insert().values(clock_id=1, wall_origin=datetime.now(UTC), sim_origin=NOW, speed=1.0)
        )
        s.execute(
            tables.provider_organisations.insert().values(
                provider_id="p-1",
                name="Gulou Care",
                service_area=AREA,
                service_types="meal cleaning",
                opening_hours="[]",
            )
        )
        for caregiver_id, abilities, name in (("cg-li", "meal cleaning", "Li Mei"), ("cg-wu", "cleaning", None)):
            s.execute(
                tables.caregivers.insert().values(
                    caregiver_id=caregiver_id,
                    provider_id="p-1",
                    service_area=AREA,
                    abilities=abilities,
                    home_base_index=0,
                    shift_start=NOW - timedelta(hours=1),
                    shift_end=NOW + timedelta(hours=9),
                    active=True,
                    display_name=name,
                )
            )
        for elder_id in ("e-wang", "e-zhao"):
            s.execute(
                tables.elders.insert().values(
                    elder_id=elder_id,
                    service_area=AREA,
                    location_index=1,
                    latitude=HOME[0],
                    longitude=HOME[1],
                    name="王奶奶",
                )
            )
            s.execute(
                tables.elder_addresses.insert().values(elder_id=elder_id, address=ADDRESS, neighbourhood="青岛路社区")
            )
        s.commit()


def seed_visit(
    world: AppWorld,
    request_id: str,
    caregiver_id: str = "cg-li",
    elder_id: str = "e-wang",
    request_status: str = "accepted",
    visit_status: str = "scheduled",
    planned_start: datetime = NOW + timedelta(hours=1),
    provider_id: str = "p-1",
) -> None:
    """A request of ``elder_id`` with an accepted offer and a visit held by ``caregiver_id``
    of ``provider_id``."""
    offer_id = f"{request_id}.o1"
    with world.sessions() as s:
        s.execute(
            tables.care_requests.insert().values(
                request_id=request_id,
                elder_id=elder_id,
                service_type="meal",
                duration_minutes=30,
                window_start=NOW + timedelta(minutes=30),
                window_end=NOW + timedelta(hours=2),
                service_area=AREA,
                submitted_at=NOW,
                priority="routine",
                channel="hotline",
                location_index=1,
                window_hard=False,
                window_at_service_end=False,
                sync_is_follower=False,
                sync_min_gap=0,
                sync_max_gap=0,
                escalation_step=0,
                status=request_status,
                version=1,
            )
        )
        s.execute(
            tables.offers.insert().values(
                offer_id=offer_id,
                request_id=request_id,
                caregiver_id=caregiver_id,
                planned_start=planned_start,
                planned_end=planned_start + timedelta(minutes=30),
                created_at=NOW,
                expires_at=NOW + timedelta(minutes=2),
                travel_minutes=10,
                lateness_minutes=0,
                short_code="4821",
                status="accepted",
                policy_version="test",
            )
        )
        s.execute(
            tables.visits.insert().values(
                visit_id=f"{offer_id}.v",
                request_id=request_id,
                caregiver_id=caregiver_id,
                provider_id=provider_id,
                elder_id=elder_id,
                service_type="meal",
                location_index=1,
                planned_start=planned_start,
                planned_end=planned_start + timedelta(minutes=30),
                status=visit_status,
                check_in_at=NOW if visit_status != "scheduled" else None,
                check_out_at=NOW + timedelta(minutes=30) if visit_status == "completed" else None,
                lateness_minutes=0,
                travel_minutes=10,
            )
        )
        s.commit()


def seed_offer(world: AppWorld, offer_id: str, caregiver_id: str = "cg-li", elder_id: str = "e-wang") -> None:
    """A received request of ``elder_id`` with a pending offer ``offer_id`` (``<request>.o1``)."""
    request_id = offer_id.rsplit(".", 1)[0]
    seed_visit(world, request_id, caregiver_id, elder_id, request_status="received")
    with world.sessions() as s:
        s.execute(tables.visits.delete().where(tables.visits.c.request_id == request_id))
        s.execute(
            tables.offers.update()
            .where(tables.offers.c.request_id == request_id)
            .values(offer_id=offer_id, status="pending", expires_at=NOW + timedelta(minutes=2))
        )
        s.commit()


def run_worker_on_intake(world: AppWorld) -> None:
    """What the stream worker does with every intake record on the outbox: validate, then dispatch."""
    from streams import steps

    for record in world.outbox(topics.INTAKE.name):
        validated = steps.accept_intake_record(record)
        if validated is not None:  # None: accepted before
            steps.handle_dispatch_event(validated)


def run_worker_on(event: dict) -> bool:
    """The worker's dispatch step on one caregiver event (as relayed from the outbox)."""
    from streams import steps

    return steps.handle_dispatch_event(event)


def teardown_worker_caches() -> None:
    _clear_worker_caches()
