"""Tables of careline (SQLAlchemy Core). Alembic migrations in ``db/migrations``
create them; times are stored as naive UTC and read back timezone-aware."""
from __future__ import annotations

from datetime import datetime, timezone

from enum import StrEnum

from sqlalchemy import (JSON, Boolean, Column, DateTime, Enum, Float, ForeignKey, Index, Integer,
                        MetaData, String, Table, Text, TypeDecorator)

from handlers.model import OfferStatus, Priority, RequestStatus, SyncType, VisitStatus

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s",
})


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):  # noqa: ANN001
        return value.replace(tzinfo=timezone.utc) if value is not None else None


def _enum(cls: type[StrEnum]) -> Enum:
    """A string column holding the enum's value (no native database enum, so
    adding a status needs no ALTER TYPE)."""
    return Enum(cls, native_enum=False, create_constraint=False, length=20,
                values_callable=lambda e: [m.value for m in e])


def _id(name: str) -> Column:
    return Column(name, String(120), primary_key=True)


service_areas = Table(
    "service_areas", metadata, _id("service_area"), Column("name", String(200), nullable=False),
    Column("travel_matrix", JSON), Column("shift_end_hard", Boolean, nullable=False, default=False),
)

elders = Table(
    "elders", metadata, _id("elder_id"),
    Column("service_area", String(120), nullable=False, index=True),
    Column("location_index", Integer), Column("latitude", Float), Column("longitude", Float),
    Column("phone", String(32)), Column("name", String(200)),
)

provider_organisations = Table(
    "provider_organisations", metadata, _id("provider_id"),
    Column("name", String(300), nullable=False), Column("service_area", String(120), nullable=False),
    Column("service_types", Text, nullable=False, default=""),
    Column("provider_type", String(200)), Column("sponsor", String(300)),
    Column("address", String(300)), Column("phone", String(32)),
    Column("latitude", Float), Column("longitude", Float),
    Column("opening_hours", Text, nullable=False, default="[]"),
)

caregivers = Table(
    "caregivers", metadata, _id("caregiver_id"),
    Column("provider_id", String(120), ForeignKey("provider_organisations.provider_id"), nullable=False),
    Column("service_area", String(120), nullable=False, index=True),
    Column("abilities", Text, nullable=False), Column("home_base_index", Integer),
    Column("shift_start", UTCDateTime, nullable=False), Column("shift_end", UTCDateTime, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

care_requests = Table(
    "care_requests", metadata, _id("request_id"),
    Column("elder_id", String(120), ForeignKey("elders.elder_id"), nullable=False, index=True),
    Column("service_type", String(60), nullable=False), Column("duration_minutes", Float, nullable=False),
    Column("window_start", UTCDateTime, nullable=False), Column("window_end", UTCDateTime, nullable=False),
    Column("service_area", String(120), nullable=False, index=True),
    Column("submitted_at", UTCDateTime, nullable=False),
    Column("priority", _enum(Priority), nullable=False), Column("channel", String(16), nullable=False),
    Column("location_index", Integer), Column("window_hard", Boolean, nullable=False),
    Column("window_at_service_end", Boolean, nullable=False),
    Column("sync_type", _enum(SyncType)), Column("sync_partner_id", String(120), index=True),
    Column("sync_is_follower", Boolean, nullable=False), Column("sync_min_gap", Float, nullable=False),
    Column("sync_max_gap", Float, nullable=False), Column("sync_anchor_start", UTCDateTime),
    Column("status", _enum(RequestStatus), nullable=False, index=True), Column("status_reason", Text),
    Column("received_at", UTCDateTime), Column("assigned_at", UTCDateTime),
    Column("closed_at", UTCDateTime), Column("version", Integer, nullable=False),
)

offers = Table(
    "offers", metadata, _id("offer_id"),
    Column("request_id", String(120), ForeignKey("care_requests.request_id"), nullable=False, index=True),
    Column("caregiver_id", String(120), ForeignKey("caregivers.caregiver_id"), nullable=False, index=True),
    Column("planned_start", UTCDateTime, nullable=False), Column("planned_end", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False), Column("expires_at", UTCDateTime, nullable=False),
    Column("travel_minutes", Float, nullable=False), Column("lateness_minutes", Float, nullable=False),
    Column("short_code", String(8), nullable=False), Column("status", _enum(OfferStatus), nullable=False, index=True),
    Column("responded_at", UTCDateTime), Column("policy_version", String(40), nullable=False),
)

visits = Table(
    "visits", metadata, _id("visit_id"),
    Column("request_id", String(120), ForeignKey("care_requests.request_id"), nullable=False, unique=True),
    Column("caregiver_id", String(120), ForeignKey("caregivers.caregiver_id"), nullable=False, index=True),
    Column("provider_id", String(120), nullable=False), Column("elder_id", String(120), nullable=False),
    Column("service_type", String(60), nullable=False), Column("location_index", Integer),
    Column("planned_start", UTCDateTime, nullable=False), Column("planned_end", UTCDateTime, nullable=False),
    Column("status", _enum(VisitStatus), nullable=False), Column("check_in_at", UTCDateTime),
    Column("check_out_at", UTCDateTime), Column("lateness_minutes", Float, nullable=False),
    Column("travel_minutes", Float, nullable=False),
)

feedback = Table(
    "feedback", metadata, Column("feedback_id", String(120), primary_key=True),
    Column("request_id", String(120), ForeignKey("care_requests.request_id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False), Column("rating", Integer), Column("category", String(40)),
    Column("comment", Text), Column("received_at", UTCDateTime, nullable=False),
)

event_log = Table(
    "event_log", metadata, Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True), Column("type", String(80), nullable=False),
    Column("subject", String(120), nullable=False, index=True), Column("time", UTCDateTime, nullable=False),
    Column("payload", JSON, nullable=False),
)

outbox = Table(
    "outbox", metadata, Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False), Column("topic", String(120), nullable=False),
    Column("key", String(120), nullable=False), Column("value", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False), Column("sent_at", UTCDateTime),
    Index("ix_outbox_unsent", "sent_at", "seq"),
)

processed_events = Table(
    "processed_events", metadata, Column("event_id", String(200), primary_key=True),
    Column("processed_at", UTCDateTime, nullable=False),
)

sim_clock = Table(
    "sim_clock", metadata, Column("clock_id", Integer, primary_key=True),
    Column("wall_origin", UTCDateTime, nullable=False), Column("sim_origin", UTCDateTime, nullable=False),
    Column("speed", Float, nullable=False),
)

evaluation_aggregates = Table(
    "evaluation_aggregates", metadata, Column("scope", String(16), primary_key=True),
    Column("subject_id", String(120), primary_key=True), Column("visits", Integer, nullable=False),
    Column("on_time", Integer, nullable=False), Column("travel_minutes", Float, nullable=False),
    Column("lateness_minutes", Float, nullable=False), Column("max_lateness_minutes", Float, nullable=False),
)
