"""A small world for the channel tests: one area, a provider, a caregiver with a
phone, an elder with phone, family phone, address, a request with a pending
offer; the web app with the Twilio routes; signed form posts as Twilio sends them.

Ids carry a random suffix so the tests can share the session's PostgreSQL database.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Iterator

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, select, text

from careline.web.app import create_app
from careline.web.twilio_security import sign
from channels.context import ChannelContext, callback_url
from channels.notify import ConsoleNotifier
from config.settings import Settings
from db import tables
from db.migrate import upgrade
from db.session import engine_for

BASE = "https://careline.example.org"
TOKEN = "test-auth-token-0123456789abcdef"
NOW = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai


@dataclass
class World:
    url: str
    suffix: str
    client: TestClient
    ctx: ChannelContext
    notifier: ConsoleNotifier = field(default_factory=ConsoleNotifier)

    @property
    def sessions(self):
        return self.ctx.sessions

    def id(self, name: str) -> str:
        return f"{name}-{self.suffix}"

    @property
    def elder_phone(self) -> str:
        return "+86139" + self.suffix_digits

    @property
    def family_phone(self) -> str:
        return "+86137" + self.suffix_digits

    @property
    def caregiver_phone(self) -> str:
        return "+86138" + self.suffix_digits

    @property
    def suffix_digits(self) -> str:
        return str(int(self.suffix, 16) % 10**8).zfill(8)

    def post(
        self,
        path: str,
        form: dict[str, str],
        query: dict[str, str] | None = None,
        secret: str = TOKEN,
        signature: str | None = None,
    ):
        """POST ``form`` to ``path`` signed the way Twilio signs the public URL."""
        public = callback_url(BASE, path, **(query or {}))
        local = public.removeprefix(BASE)
        sig = signature if signature is not None else sign(public, form, secret)
        return self.client.post(local, data=form, headers={"X-Twilio-Signature": sig})

    def outbox(self, topic: str) -> list:
        with self.sessions() as s:
            return [
                r.value
                for r in s.execute(
                    select(tables.outbox).where(tables.outbox.c.topic == topic).order_by(tables.outbox.c.seq)
                )
                if self.suffix in str(r.value)
            ]


def build_world(url: str, now: datetime | None = None, with_offer: bool = True, **settings: object) -> World:
    """Seed a world around ``now`` (default: the fixed ``NOW``, also the web clock);
    with a real ``now`` the web clock is the wall clock. ``settings`` override the defaults."""
    upgrade(url, "heads")
    suffix = uuid.uuid4().hex[:8]
    settings = Settings(
        **{
            "database_url": url,
            "public_base_url": BASE,
            "twilio_auth_token": TOKEN,
            "programme_timezone": "Asia/Shanghai",
            "rating_call_delay_minutes": 30,
            **settings,
        }
    )
    ctx = ChannelContext.from_settings(settings)
    if now is None:
        ctx.clock = lambda: NOW
    world = World(url, suffix, None, ctx)  # type: ignore[arg-type]  # client set below
    ctx.notifier = world.notifier
    app = create_app(settings)
    app.state.channels = ctx
    world.client = TestClient(app)
    _seed(world, now or NOW, with_offer)
    return world


def _seed(w: World, NOW: datetime, with_offer: bool) -> None:
    area, provider, caregiver, elder = w.id("gulou"), w.id("p"), w.id("cg"), w.id("e")
    request = w.id("r1")
    with w.sessions() as s:
        s.execute(
            tables.service_areas.insert().values(
                service_area=area, name="鼓楼", shift_end_hard=False, travel_matrix=[[0, 10], [10, 0]]
            )
        )
        s.execute(
            tables.provider_organisations.insert().values(
                provider_id=provider, name="P", service_area=area, service_types="meal", opening_hours="[]"
            )
        )
        s.execute(
            tables.caregivers.insert().values(
                caregiver_id=caregiver,
                provider_id=provider,
                service_area=area,
                abilities="meal cleaning",
                home_base_index=0,
                shift_start=NOW - timedelta(hours=2),
                shift_end=NOW + timedelta(hours=8),
                active=True,
                phone=w.caregiver_phone,
                language="zh-CN",
            )
        )
        s.execute(
            tables.elders.insert().values(
                elder_id=elder,
                service_area=area,
                location_index=1,
                phone=w.elder_phone,
                family_phones=[w.family_phone],
                language="zh-CN",
                name="王奶奶",
            )
        )
        s.execute(
            tables.elder_addresses.insert().values(
                elder_id=elder, address="青岛路12号3单元401", neighbourhood="青岛路社区"
            )
        )
        values = dict(
            request_id=request,
            elder_id=elder,
            service_type="meal",
            duration_minutes=30,
            window_start=NOW + timedelta(hours=1),
            window_end=NOW + timedelta(hours=2),
            service_area=area,
            submitted_at=NOW,
            priority="routine",
            channel="hotline",
            location_index=1,
            window_hard=False,
            window_at_service_end=False,
            sync_is_follower=False,
            sync_min_gap=0,
            sync_max_gap=0,
            status="received",
            version=1,
        )
        if "escalation_step" in tables.care_requests.c:  # the emergency ladder's column, when present
            values["escalation_step"] = 0
        s.execute(tables.care_requests.insert().values(**values))
        if with_offer:
            s.execute(
                tables.offers.insert().values(
                    offer_id=f"{request}.o1",
                    request_id=request,
                    caregiver_id=caregiver,
                    planned_start=NOW + timedelta(hours=1),
                    planned_end=NOW + timedelta(hours=1, minutes=30),
                    created_at=NOW,
                    expires_at=NOW + timedelta(minutes=2),
                    travel_minutes=10,
                    lateness_minutes=0,
                    short_code="4821",
                    status="pending",
                    policy_version="test",
                )
            )
        s.commit()


@contextlib.contextmanager
def own_postgres_database(url: str) -> Iterator[str]:
    """A throwaway database beside ``url``'s on the same server: the session's stream
    worker relays the shared database's outbox, and these tests' records must not reach it."""
    name = f"careline_channels_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        engine_for.cache_clear()  # close pooled connections before dropping
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sqlite_world(tmp_path) -> World:
    return build_world(f"sqlite:///{tmp_path / 'channels.db'}")
