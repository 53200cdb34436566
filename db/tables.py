"""Tables of careline (SQLAlchemy Core). Alembic migrations in ``db/migrations``
create them; times are stored as naive UTC and read back timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.engine import Dialect

from handlers.model import OfferStatus, Priority, RequestStatus, SyncType, VisitStatus

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def _enum(cls: type[StrEnum]) -> Enum:
    """A string column holding the enum's value (no native database enum, so
    adding a status needs no ALTER TYPE)."""
    return Enum(
        cls, native_enum=False, create_constraint=False, length=20, values_callable=lambda e: [m.value for m in e]
    )


def _id(name: str) -> Column:
    return Column(name, String(120), primary_key=True)


service_areas = Table(
    "service_areas",
    metadata,
    _id("service_area"),
    Column("name", String(200), nullable=False),
    Column("travel_matrix", JSON),
    Column("shift_end_hard", Boolean, nullable=False, default=False),
    Column("dispatch_mode", String(16), nullable=False, server_default="online"),
    Column("batch_interval_seconds", Float, nullable=False, server_default="60"),
)
"""A service area: its travel matrix (minutes, UHHC replays), whether a shift's end is hard,
and how its requests are first offered (``online``, ``batched`` every ``batch_interval_seconds``,
``planned``; ``handlers.dispatch.area``)."""

elders = Table(
    "elders",
    metadata,
    _id("elder_id"),
    Column("service_area", String(120), nullable=False, index=True),
    Column("location_index", Integer),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("phone", String(32), index=True),
    Column("name", String(200)),
    Column("family_phones", JSON),
    Column("language", String(16)),
    Column("family_updates", Boolean, nullable=False, server_default=sa_false()),
    Column("preferred_gender", String(8)),
    Column("excluded_caregivers", Text, nullable=False, server_default=""),
    # the register (migration 0016)
    Column("preferred_caregivers", Text, nullable=False, server_default=""),
    Column("gender", String(8)),
    Column("birth_year", Integer),
    Column("landline", String(32), index=True),
    Column("family_contacts", JSON),
    Column("address", Text),
    Column("region_path", String(500), index=True),
    Column("location_provenance", String(16)),
    Column("location_precision", String(16)),
    Column("notes", Text),
    Column("access_notes", Text),
    Column("status", String(20), nullable=False, server_default="active"),
)
"""A registered elder. Phones are E.164; ``family_phones`` the family contacts' numbers, who get
SMS on assignment, arrival and completion when ``family_updates`` is on (emergencies always);
``preferred_gender`` and ``excluded_caregivers`` (space-separated ids) shape eligibility.
The register (migration 0016) adds the landline, ``family_contacts`` ([{name, relation, phone,
sms_opt_in}]; ``family_phones`` holds the numbers of those who opted in to SMS), the address and
how its point was obtained (``location_provenance`` given / geocoded / approximate, the point in
``locations`` by ``location_index``), the region path, health, care and access notes and
``status`` (active, in_hospital, moved, deceased: only active elders are dispatched to)."""

locations = Table(
    "locations",
    metadata,
    Column("location_id", Integer, primary_key=True, autoincrement=True),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("provenance", String(16), nullable=False),
    Column("precision", String(16)),
    Column("created_at", UTCDateTime, nullable=False),
)
"""Points of the register (elders' homes, caregivers' home bases, providers), WGS84 degrees,
with how each was obtained (given, geocoded, approximate and its region level). A row never
changes: a new address is a new row, so a cached point is never stale (``db.locations``).
Outside UHHC replays an elder's ``location_index`` is a ``location_id`` (migration 0016)."""

provider_organisations = Table(
    "provider_organisations",
    metadata,
    _id("provider_id"),
    Column("name", String(300), nullable=False),
    Column("service_area", String(120), nullable=False),
    Column("service_types", Text, nullable=False, default=""),
    Column("score", Float),
    Column("provider_type", String(200)),
    Column("sponsor", String(300)),
    Column("address", String(300)),
    Column("phone", String(32)),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("opening_hours", Text, nullable=False, default="[]"),
    Column("region_path", String(500), index=True),
    Column("location_provenance", String(16)),
    Column("active", Boolean, nullable=False, server_default=sa_true()),
)

caregivers = Table(
    "caregivers",
    metadata,
    _id("caregiver_id"),
    Column("provider_id", String(120), ForeignKey("provider_organisations.provider_id"), nullable=False),
    Column("service_area", String(120), nullable=False, index=True),
    Column("abilities", Text, nullable=False),
    Column("home_base_index", Integer),
    Column("shift_start", UTCDateTime),
    Column("shift_end", UTCDateTime),
    Column("active", Boolean, nullable=False, default=True),
    Column("phone", String(32), index=True),
    Column("language", String(120)),
    Column("display_name", String(200)),
    Column("gender", String(8)),
    # the register (migration 0016)
    Column("rota", Text, nullable=False, server_default=""),
    Column("time_zone", String(64), nullable=False, server_default="UTC"),
    Column("travel_mode", String(10)),
    Column("max_visits_per_day", Integer),
    Column("home_address", Text),
    Column("region_path", String(500), index=True),
)
"""A caregiver of a provider. ``display_name`` is what the elder's app shows ("Li Mei"; NULL:
"your caregiver"); ``language`` space-separated languages spoken; ``gender`` for elders' preferences.
When it works: ``rota`` (canonical text, ``handlers.register.rota``, in ``time_zone``), or the one
fixed shift ``shift_start``..``shift_end`` of a UHHC day when ``rota`` is empty; ``travel_mode``
(walk, e-bike, car) sets its speed; ``home_base_index`` a ``locations`` row (migration 0016)."""

care_requests = Table(
    "care_requests",
    metadata,
    _id("request_id"),
    Column("elder_id", String(120), ForeignKey("elders.elder_id"), nullable=False, index=True),
    Column("service_type", String(60), nullable=False),
    Column("duration_minutes", Float, nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("service_area", String(120), nullable=False, index=True),
    Column("submitted_at", UTCDateTime, nullable=False),
    Column("priority", _enum(Priority), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("location_index", Integer),
    Column("window_hard", Boolean, nullable=False),
    Column("window_at_service_end", Boolean, nullable=False),
    Column("sync_type", _enum(SyncType)),
    Column("sync_partner_id", String(120), index=True),
    Column("sync_is_follower", Boolean, nullable=False),
    Column("sync_min_gap", Float, nullable=False),
    Column("sync_max_gap", Float, nullable=False),
    Column("sync_anchor_start", UTCDateTime),
    Column("escalation_step", Integer, nullable=False, default=0),
    Column("status", _enum(RequestStatus), nullable=False, index=True),
    Column("status_reason", Text),
    Column("received_at", UTCDateTime),
    Column("assigned_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Column("promised_start", UTCDateTime),
    Column("promised_end", UTCDateTime),
    Column("version", Integer, nullable=False),
    Index("ix_care_requests_area_status", "service_area", "status"),
)

offers = Table(
    "offers",
    metadata,
    _id("offer_id"),
    Column("request_id", String(120), ForeignKey("care_requests.request_id"), nullable=False, index=True),
    Column("caregiver_id", String(120), ForeignKey("caregivers.caregiver_id"), nullable=False, index=True),
    Column("planned_start", UTCDateTime, nullable=False),
    Column("planned_end", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("travel_minutes", Float, nullable=False),
    Column("lateness_minutes", Float, nullable=False),
    Column("short_code", String(8), nullable=False),
    Column("status", _enum(OfferStatus), nullable=False, index=True),
    Column("responded_at", UTCDateTime),
    Column("policy_version", String(40), nullable=False),
    Column("cancel_reason", String(20)),  # handlers.model.CancelReason of a canceled offer
)

visits = Table(
    "visits",
    metadata,
    _id("visit_id"),
    Column("request_id", String(120), ForeignKey("care_requests.request_id"), nullable=False, index=True),
    Column("caregiver_id", String(120), ForeignKey("caregivers.caregiver_id"), nullable=False, index=True),
    Column("provider_id", String(120), nullable=False),
    Column("elder_id", String(120), nullable=False),
    Column("service_type", String(60), nullable=False),
    Column("location_index", Integer),
    Column("planned_start", UTCDateTime, nullable=False),
    Column("planned_end", UTCDateTime, nullable=False),
    Column("status", _enum(VisitStatus), nullable=False),
    Column("check_in_at", UTCDateTime),
    Column("check_out_at", UTCDateTime),
    Column("lateness_minutes", Float, nullable=False),
    Column("travel_minutes", Float, nullable=False),
    Column("evv_flags", JSON),
    Column("expected_at", UTCDateTime),
    Column("evv_method", String(16)),
    Index("ix_visits_caregiver_end", "caregiver_id", "planned_end"),
    Index("ix_visits_elder_start", "elder_id", "planned_start"),
)
"""A visit: who, when, where, and its EVV mismatches kept for operator review (``evv_flags``);
``expected_at`` when a late visit is now expected (``handlers.visits.lateness``); ``evv_method``
how the check-in was verified (``handlers.visits.evv.CHECK_IN_METHODS``; NULL: not verified)."""

feedback = Table(
    "feedback",
    metadata,
    Column("feedback_id", String(120), primary_key=True),
    Column("request_id", String(120), ForeignKey("care_requests.request_id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("rating", Integer),
    Column("category", String(40)),
    Column("comment", Text),
    Column("received_at", UTCDateTime, nullable=False),
    # the visit it is about, fixed when received (handlers.evaluation.feedback.visit_concerned)
    Column("visit_id", String(120), ForeignKey("visits.visit_id"), index=True),
    Column("followup_due_at", UTCDateTime),
    Column("followup_closed_at", UTCDateTime),
    Column("followup_closed_by", String(120)),
    Column("followup_note", Text),
    Column("channel", String(16)),
)
"""Ratings and complaints. A complaint's follow-up call is due at ``followup_due_at`` and stays
on the operator's board until an operator closes it (``followup_closed_*``, migration 0017);
``channel``: where it came from (sms, hotline, app, dashboard, survey)."""

event_log = Table(
    "event_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("type", String(80), nullable=False),
    Column("subject", String(120), nullable=False, index=True),
    Column("time", UTCDateTime, nullable=False),
    Column("payload", JSON, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("topic", String(120), nullable=False),
    Column("key", String(120), nullable=False),
    Column("value", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Index("ix_outbox_unsent", "sent_at", "seq"),
    Index("ix_outbox_created_at", "created_at"),
)

area_versions = Table(
    "area_versions",
    metadata,
    _id("service_area"),
    Column("version", Integer, nullable=False),
)
"""One counter per service area, raised by every transaction that changes the area's dispatch
state (requests, offers, visits, caregivers, elders). The worker that owns the area's partition
keeps that state in memory (``db.partition_state``) and raises the counter from the value it
loaded, in the same transaction as its writes: a counter moved by anyone else (an operator's
action, a register import, another worker after a rebalance) refuses that transaction, and the
worker reloads the area from the database and does the work again."""

processed_events = Table(
    "processed_events",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("processed_at", UTCDateTime, nullable=False),
)

sim_clock = Table(
    "sim_clock",
    metadata,
    Column("clock_id", Integer, primary_key=True),
    Column("wall_origin", UTCDateTime, nullable=False),
    Column("sim_origin", UTCDateTime, nullable=False),
    Column("speed", Float, nullable=False),
)

# the one timer service per database (careline.scheduler): who holds it, renewed every few seconds
service_leases = Table(
    "service_leases",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("broker", Text, nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("renewed_at", UTCDateTime, nullable=False),
)

# --- operator dashboard: regions, accounts, audit, emergency acknowledgements (migration 0003) ---

service_area_regions = Table(
    "service_area_regions",
    metadata,
    _id("service_area"),
    Column("region_path", String(500), nullable=False, index=True),
)
"""Where a service area sits in the region hierarchy, as ``province/city/district/street/community``
(see ``handlers.operations.regions``). No foreign key: areas come from replays and provider imports alike."""

operators = Table(
    "operators",
    metadata,
    _id("operator_id"),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("region_scope", String(500), nullable=False, default=""),
    Column("active", Boolean, nullable=False, default=True),
    Column("session_epoch", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
)
"""Center staff who log in. ``region_scope`` is a region path prefix ('' = everywhere);
``session_epoch`` grows at logout and deactivation, which voids every token issued before."""

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("operator_id", String(120), nullable=False, index=True),
    Column("action", String(60), nullable=False),
    Column("target", String(200), nullable=False),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("outcome", String(20), nullable=False),
    Column("detail", JSON),
    Column("region_path", String(500)),
)
"""Who did what to which request, caregiver or account, and when; ``outcome`` is done,
refused (the domain said no) or denied (the role may not). No personal data in ``detail``.
``region_path`` (migration 0014) is the region the action touched (the request's or
caregiver's area, the account's scope, the placed area's path): a scoped auditor sees
the rows inside its scope; a row without one (older rows, unknown accounts) only the
unscoped auditors see. ``operator_id`` of a failed login is ``?`` unless it names an account."""

login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", UTCDateTime, nullable=False),
    Column("blocked_until", UTCDateTime),
    Column("version", Integer, nullable=False),
)
"""Counted login attempts per ``account:<id>`` and ``address:<ip>`` (``handlers.operations.login_throttle``),
kept in the database so every web replica and a restart see the same counts (migration 0014).
A user name that is no account is keyed by its HMAC, never stored as typed. ``version``
grows with each write: a write that finds another version lost a race and is refused."""

elder_emergencies = Table(
    "elder_emergencies",
    metadata,
    _id("elder_id"),
    Column("request_id", String(120), nullable=False),
    Column("raised_at", UTCDateTime, nullable=False),
    Column("last_press_at", UTCDateTime, nullable=False),
    Column("presses", Integer, nullable=False),
)
"""Each elder's latest emergency, written where an alarm enters (button, SOS text, hotline,
app): a second emergency within ``emergency_merge_minutes`` while it is open joins it
(``handlers.channels.emergencies``) instead of opening another (migration 0014)."""

request_outcomes = Table(
    "request_outcomes",
    metadata,
    Column("request_id", String(120), ForeignKey("care_requests.request_id"), primary_key=True),
    Column("code", String(40), nullable=False),
    Column("note", Text, nullable=False),
    Column("operator_id", String(120), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)
"""What an operator recorded to close a request the system could not: an emergency (resolved by
phone, helper on site, family attended, ambulance called, false alarm) or a request nobody took
(``handlers.operations.outcomes``); until then it stays on the board (migration 0017)."""

loose_ends = Table(
    "loose_ends",
    metadata,
    Column("loose_end_id", String(200), primary_key=True),
    Column("kind", String(30), nullable=False),
    Column("subject", String(120)),
    Column("service_area", String(120)),
    Column("phone", String(32)),
    Column("detail", Text, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Column("closed_by", String(120)),
    Column("outcome", String(40)),
    Column("note", Text),
    Index("ix_loose_ends_open", "closed_at", "opened_at"),
)
"""What the channels could not settle on their own, for an operator to close: a caller who hung
up in the menu (call back), an unknown caller, a check-in texted from a phone that is no
caregiver's, a complaint that names no request (``db.loose_ends``, migration 0017)."""

notices = Table(
    "notices",
    metadata,
    Column("notice_id", String(300), primary_key=True),
    Column("event_id", String(64), nullable=False),
    Column("request_id", String(120), index=True),
    Column("kind", String(40), nullable=False),
    Column("recipient_role", String(16), nullable=False),
    Column("recipient_id", String(120), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("to_phone", String(32)),
    Column("language", String(16)),
    Column("body", Text, nullable=False),
    Column("messages", Integer, nullable=False),
    Column("segments", Integer, nullable=False),
    Column("sid", String(64)),
    Column("status", String(20), nullable=False),
    Column("error", Text),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("sent_at", UTCDateTime),
    Index("ix_notices_recipient", "recipient_role", "recipient_id", "channel"),
)
"""Every notice sent (``handlers.channels.notices``, ``channels.notices``): to whom, on which
channel (sms, app, voice), the text, how many SMS and segments it took, the first message's
``sid`` (its delivery status is in ``message_status``) and ``status``: ``sending``, ``sent``,
``failed`` or ``opted_out``; an app notice is ``queued`` until the app fetched it
(``delivered``). Personal data: kept like the register, never logged (migration 0017)."""

emergency_acknowledgements = Table(
    "emergency_acknowledgements",
    metadata,
    Column("request_id", String(120), ForeignKey("care_requests.request_id"), primary_key=True),
    Column("operator_id", String(120), nullable=False),
    Column("acknowledged_at", UTCDateTime, nullable=False),
)


# --- channels: Twilio hotline and SMS, one-key alarms, callback surveys (migration 0002) ---
elder_addresses = Table(
    "elder_addresses",
    metadata,
    Column("elder_id", String(120), ForeignKey("elders.elder_id"), primary_key=True),
    Column("address", Text, nullable=False),
    Column("neighbourhood", String(120)),
)

sms_opt_outs = Table(
    "sms_opt_outs",
    metadata,
    Column("phone", String(32), primary_key=True),
    Column("opted_out_at", UTCDateTime, nullable=False),
    Column("source", String(20), nullable=False),
)

message_status = Table(
    "message_status",
    metadata,
    Column("sid", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("status", String(20), nullable=False),
    Column("rank", Integer, nullable=False),
    Column("error_code", String(10)),
    Column("to_phone", String(32)),
    Column("purpose", String(20)),
    Column("request_id", String(120)),
    Column("updated_at", UTCDateTime, nullable=False),
)

hotline_calls = Table(
    "hotline_calls",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("call_sid", String(64), nullable=False, unique=True),
    Column("from_phone", String(32)),
    Column("elder_id", String(120), ForeignKey("elders.elder_id")),
    Column("language", String(16)),
    Column("started_at", UTCDateTime, nullable=False),
    Column("outcome", String(20)),
    Column("reason", String(120)),
    Column("service_type", String(60)),
    Column("priority", String(20)),
    Column("window_start", UTCDateTime),
    Column("window_end", UTCDateTime),
    Column("request_id", String(120)),
    Column("completed_at", UTCDateTime),
    Index("ix_hotline_calls_unfinished", "outcome", "started_at"),
)

alarm_devices = Table(
    "alarm_devices",
    metadata,
    Column("device_id", String(120), primary_key=True),
    Column("elder_id", String(120), ForeignKey("elders.elder_id"), nullable=False, index=True),
    Column("token_sha256", String(64)),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_alarm_at", UTCDateTime),
    Column("kind", String(20)),
    Column("phone", String(32), index=True),
    Column("last_heartbeat_at", UTCDateTime),
)
"""One-key phones, pendants and watches (``kind``) of elders. A device registered from a file has
no token until one is issued (``careline tokens``/``db.alarms.register_device``); ``phone`` is the
E.164 number its SIM calls from; ``last_heartbeat_at`` when it last said it is alive (migration 0016)."""

callback_surveys = Table(
    "callback_surveys",
    metadata,
    Column("request_id", String(120), ForeignKey("care_requests.request_id"), primary_key=True),
    Column("elder_id", String(120), nullable=False),
    Column("phone", String(32), nullable=False, index=True),
    Column("language", String(16)),
    Column("service_type", String(60), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("call_sid", String(64)),
    Column("sms_sid", String(64)),
    Column("rating", Integer),
    Column("updated_at", UTCDateTime, nullable=False),
)

# --- recurring services (migration 0004) ---

care_subscriptions = Table(
    "care_subscriptions",
    metadata,
    _id("subscription_id"),
    Column("elder_id", String(120), ForeignKey("elders.elder_id"), nullable=False, index=True),
    Column("service_type", String(60), nullable=False),
    Column("days", String(60), nullable=False),
    Column("at_time", String(5), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("duration_minutes", Float, nullable=False),
    Column("window_minutes", Float, nullable=False),
    Column("lead_minutes", Float, nullable=False),
    Column("active", Boolean, nullable=False),
)
"""Recurring services (e.g. weekday lunch at 11:00 in the elder's zone); the timer service
turns each active row into a cron job (``careline.scheduler``)."""

# --- app channel: per-user bearer tokens, app submissions, caregiver display names (migration 0005) ---

app_tokens = Table(
    "app_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("subject_kind", String(16), nullable=False),
    Column("subject_id", String(120), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Index("ix_app_tokens_subject", "subject_kind", "subject_id"),
)
"""Bearer tokens of the elder/family and caregiver apps, one or more per user; only the SHA-256
(hex) of a token is kept. ``subject_kind`` is ``elder``, ``caregiver`` or ``provider`` (a provider
organisation's office, which rates the center); a revoked token stays for the record (``channels.app_tokens``)."""

app_submissions = Table(
    "app_submissions",
    metadata,
    _id("request_id"),
    Column("elder_id", String(120), ForeignKey("elders.elder_id"), nullable=False, index=True),
    Column("idempotency_key", String(120)),
    Column("body_sha256", String(64), nullable=False),
    Column("service_type", String(60), nullable=False),
    Column("priority", String(20), nullable=False),
    Column("duration_minutes", Float, nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("notes", Text),
    Column("submitted_at", UTCDateTime, nullable=False),
)
"""Requests submitted in the app, written with their intake record: the idempotency key's
request id (the same key twice gives the same request) and the status ``requested`` the app
shows until the stream worker has stored the care request. ``notes`` never leaves this table."""

# --- dispatch modes per service area and the day plan (migration 0006) ---

planned_visits = Table(
    "planned_visits",
    metadata,
    Column("request_id", String(120), primary_key=True),
    Column("caregiver_id", String(120), ForeignKey("caregivers.caregiver_id"), nullable=False),
    Column("planned_start", UTCDateTime, nullable=False),
    Column("planned_end", UTCDateTime, nullable=False),
    Column("location_index", Integer),
    Column("announced_at", UTCDateTime),
    # what the plan knew of the request before it arrived, so a repair may move the slot (0020)
    Column("service_type", String(60)),
    Column("window_start", UTCDateTime),
    Column("latest_start", UTCDateTime),
    Column("window_hard", Boolean, nullable=False, default=False, server_default=sa_false()),
    Column("synchronised", Boolean, nullable=False, default=False, server_default=sa_false()),
)
"""The day plan (``careline plan`` / a planned replay): request id -> caregiver and start;
dispatch offers a request of a ``planned`` area to its planned caregiver first. A slot with a
``window_start`` may be moved by a repair within ``window_start``..``latest_start`` before its
request arrives (``handlers.dispatch.planned.PlannedVisit``); one without (stored before
migration 0020) stays put."""

# --- EVV flag reviews and providers' ratings of the center (migration 0010) ---

evv_reviews = Table(
    "evv_reviews",
    metadata,
    Column("visit_id", String(120), ForeignKey("visits.visit_id"), primary_key=True),
    Column("code", String(40), primary_key=True),
    Column("outcome", String(20), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("operator_id", String(120), nullable=False),
    Column("reviewed_at", UTCDateTime, nullable=False, index=True),
)
"""An operator's decision on one EVV flag of a visit (``handlers.visits.evv_review``): accepted,
rejected (not payable) or corrected. One row per (visit, flag code): a flag is decided once."""

center_ratings = Table(
    "center_ratings",
    metadata,
    Column("visit_id", String(120), ForeignKey("visits.visit_id"), primary_key=True),
    Column("request_id", String(120), ForeignKey("care_requests.request_id"), nullable=False, index=True),
    Column("provider_id", String(120), nullable=False, index=True),
    Column("information_correct", Boolean, nullable=False),
    Column("notice_sufficient", Boolean, nullable=False),
    Column("stars", Integer),
    Column("comment", Text),
    Column("rated_at", UTCDateTime, nullable=False),
)
"""A provider's rating of the center for one visit its caregiver did (``handlers.evaluation.center_ratings``):
was the information right, was the notice enough, 1–5 stars. One per visit; the visit has one provider."""

# --- live KPIs from the stream worker's windowed table (migration 0011) ---

live_kpis = Table(
    "live_kpis",
    metadata,
    Column("scope", String(16), primary_key=True),
    Column("subject_id", String(120), primary_key=True),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("kpis", JSON, nullable=False),
    Column("score", Float),
    Column("updated_at", UTCDateTime, nullable=False),
)
"""The latest rolling-window KPIs of each provider and caregiver (``handlers.evaluation.kpis.Kpis`` as a
JSON object), written by the worker from its live windows (``streams.live_kpis``) for the
dashboard to read; ``score`` is the composite 0–100 (providers only). A read model: the
windows are rebuilt from the outbox, the state is the events."""
