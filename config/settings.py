"""Settings from the environment (prefix ``CARELINE_``), typed and validated.

``get_settings()`` is cached; tests override by environment and
``get_settings.cache_clear()``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Every ``CARELINE_*`` setting, typed and validated; units are in the names and descriptions."""

    model_config = SettingsConfigDict(env_prefix="CARELINE_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{REPO_ROOT / 'var' / 'careline.db'}",
        description="SQLAlchemy URL; SQLite file by default, PostgreSQL in production",
    )
    broker: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap host:port[,host:port]")
    topic_partitions: int = Field(default=3, ge=1, description="partitions of every careline topic")
    offer_timeout_seconds: float | None = Field(
        default=None, gt=0, description="override the policy file's offer timeout (seconds)"
    )
    policy_file: Path = Field(
        default=REPO_ROOT / "config" / "policy.toml",
        description="the routing policy (weights, ladder, SLAs, skill hierarchy)",
    )
    evaluation_file: Path = Field(
        default=REPO_ROOT / "config" / "evaluation.toml",
        description="the evaluation policy (EVV, KPIs, score weights, exploration)",
    )
    score_interval_seconds: float = Field(default=2.0, gt=0, description="wall seconds between provider score updates")
    score_window_hours: float = Field(
        default=24.0, gt=0, description="the window provider scores are computed over (event time)"
    )
    kpi_step_minutes: float = Field(
        default=60.0,
        gt=0,
        description="the step of the rolling KPI window (event time): the window "
        "is the last score_window_hours, advancing every step",
    )
    worker_stall_exit_seconds: float = Field(
        default=120.0,
        ge=0,
        description="a worker whose intake and dispatch offsets stay put "
        "this long with records waiting exits (status 75) for "
        "its supervisor to restart; 0: never (streams.watchdog)",
    )
    timer_grace_seconds: float = Field(
        default=5.0, ge=0, description="wall seconds a deadline waits for replies in flight"
    )
    consumer_fetch_max_wait_ms: int = Field(
        default=100, ge=1, le=1500, description="longest a worker's fetch waits on the broker"
    )
    area_state_idle_seconds: float = Field(
        default=600.0,
        gt=0,
        description="a worker drops a service area's dispatch state it has not used this long (db.partition_state)",
    )
    area_state_max_areas: int = Field(
        default=2000, ge=1, description="most service areas a worker keeps in memory (least recently used go first)"
    )
    batch_max_records: int = Field(
        default=500, ge=1, description="most records an agent takes from its partitions for one transaction"
    )
    batch_wait_ms: float = Field(
        default=5.0, ge=0, description="how long an agent waits for more records before it handles what it has"
    )
    worker_stats_seconds: float = Field(
        default=0.0, ge=0, description="log the worker's batches and records every this many seconds (0: never)"
    )
    worker_web_port: int = Field(default=6066, ge=0, description="faust web port, 0 disables the web server")
    shared_data: Path = Field(
        default=REPO_ROOT.parent / "shared" / "data", description="folder of the shared real input data"
    )
    var_dir: Path = Field(default=REPO_ROOT / "var", description="state of local runs: logs, databases")
    log_level: str = "WARNING"
    max_request_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="largest request body the web app reads (bytes); 413 above it"
    )

    # --- operator dashboard, accounts, statistics (careline.web.dashboard / stats / metrics) ---
    environment: Literal["development", "production"] = Field(
        default="development", description="production: the web service refuses to start without a session secret"
    )
    session_secret: SecretStr | None = Field(
        default=None, description="HMAC key signing session cookies and API tokens (32+ random bytes)"
    )
    session_max_age_seconds: int = Field(
        default=8 * 3600, ge=60, description="a login lasts one 8-hour shift, then expires"
    )
    session_cookie_secure: bool | None = Field(
        default=None, description="Secure flag on the session cookie; None: on in production"
    )
    emergency_ack_seconds: float = Field(
        default=60.0, gt=0, description="an emergency not acknowledged after this raises an alert"
    )
    emergency_services_number: str = Field(
        default="120",
        min_length=2,
        max_length=20,
        description="the number the emergency card tells an operator to dial (China's ambulance: 120)",
    )
    late_visit_alert_seconds: float = Field(
        default=300.0, ge=0, description="no check-in this long after the planned start: no-show alert"
    )
    default_language: Literal["zh", "en"] = Field(default="zh", description="dashboard language before a choice")
    dashboard_poll_seconds: float = Field(
        default=0.5, gt=0, le=2, description="how often the live feed reads new event_log rows"
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="if set, /metrics wants 'Authorization: Bearer <token>'; "
        "production refuses to start with metrics on and no token",
    )
    metrics_enabled: bool = Field(default=True, description="serve /metrics (off: 404, no token needed)")
    metrics_broker: bool = Field(
        default=False, description="read dead-letter counts and consumer lag from the broker on scrape"
    )

    # --- login protection (careline.web.login, handlers.operations.login_throttle) ---
    password_hash_concurrency: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Argon2 verifications at once (each holds 64 MiB); the rest wait off the event loop",
    )
    password_hash_queue: int = Field(
        default=32, ge=0, description="logins waiting for a verification slot; more: 503 + Retry-After"
    )
    login_free_failures: int = Field(
        default=5, ge=1, description="failed logins per account before each further one is delayed (1 s, doubling)"
    )
    login_lock_failures: int = Field(
        default=10, ge=2, description="failed logins per account that lock it for login_lock_minutes"
    )
    login_address_free_failures: int = Field(
        default=20, ge=1, description="failed logins per client address before delays start"
    )
    login_address_lock_failures: int = Field(
        default=50, ge=2, description="failed logins per client address that lock the address"
    )
    login_lock_minutes: float = Field(
        default=15.0, gt=0, le=24 * 60, description="how long a lock lasts; an admin may lift it earlier"
    )
    login_forget_minutes: float = Field(
        default=60.0, gt=0, description="failures older than this (and no lock) are forgotten"
    )

    # --- app API and alarm limits (careline.web.app_api, careline.web.rate_limits) ---
    app_rate_limit: str = Field(
        default="60/minute;600/hour",
        description="every app API call per token (`limits` notation; the short window is the burst)",
    )
    app_intake_rate_limit: str = Field(
        default="6/minute;30/hour", description="new care requests per elder (all the elder's tokens together)"
    )
    alarm_rate_limit: str = Field(default="10/minute;60/hour", description="alarm presses per device")
    rate_limit_storage: str = Field(
        default="memory://",
        description="`limits` storage URI: memory:// counts per web process; "
        "redis://host:6379 shares counts between replicas",
    )
    app_booking_horizon_days: int = Field(
        default=30,
        ge=1,
        le=366,
        description="an app request's window must start and end within this many days from now",
    )
    emergency_merge_minutes: float = Field(
        default=30.0,
        ge=0,
        description="a second emergency from an elder within this many minutes of an open one joins it; 0: never join",
    )

    # --- channels: Twilio hotline and SMS, one-key alarms, callback surveys (careline.web.twilio_routes) ---
    web_clock: Literal["wall", "replay"] = Field(
        default="wall",
        description="the clock the web side stamps events with: the wall clock, or the replay "
        "clock when one is set (db.register.read_clock), for replays and "
        "`careline bench faults` driving webhooks in simulated time",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="scheme://host[/prefix] Twilio calls, as the public sees it (behind a TLS proxy: the https "
        "URL); webhook signatures are checked against it and callback URLs built from it",
    )
    twilio_account_sid: str | None = Field(default=None, description="AC…; without it SMS and calls are only logged")
    twilio_auth_token: SecretStr | None = Field(
        default=None, description="signs the REST calls and checks X-Twilio-Signature"
    )
    twilio_webhook_secret: SecretStr | None = Field(
        default=None, description="secret of Twilio's SharedKey (HMAC-SHA256) webhook signatures; default: auth token"
    )
    twilio_from_number: str | None = Field(default=None, description="E.164 number SMS and calls are sent from")
    twilio_api_base_url: str | None = Field(
        default=None, description="instead of https://api.twilio.com (tests: a Prism mock)"
    )
    twilio_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="seconds per Twilio REST request before it counts as "
        "failed and is retried (channels.notify.RetryPolicy)",
    )
    default_phone_region: str = Field(default="CN", description="ISO 3166 region of numbers without country code")
    programme_timezone: str = Field(default="Asia/Shanghai", description="IANA zone of spoken and texted times")
    plan_announce_hour: int = Field(
        default=18,
        ge=0,
        le=23,
        description="hour (programme time zone) the timer service plans tomorrow for planned areas and tells caregivers",
    )
    plan_time_limit_seconds: float = Field(
        default=20.0, gt=0, le=3600, description="solver wall seconds per area of the evening day plan"
    )
    ivr_config: Path = Field(default=REPO_ROOT / "config" / "ivr.toml", description="hotline menu (TOML)")
    sms_brand_zh: str = Field(default="关爱", description="sender name in Chinese SMS, shown as 【…】")
    sms_brand_en: str = Field(default="careline", description="sender name in English SMS (GSM-7 only)")
    alarm_sms_keywords: list[str] = Field(
        default=["SOS", "救命", "求救"], description="an elder texting one of these raises an emergency"
    )
    rating_call_delay_minutes: float = Field(
        default=30.0, ge=0, description="minutes after check-out before the satisfaction call"
    )

    # --- the register and its geography (issue 15: handlers.register, db.areas) ---
    center_region: str = Field(
        default="",
        description="the center's region path (江苏省/苏州市): resolves district names found in several "
        "cities when addresses are placed",
    )
    landline_area_code: str | None = Field(
        default=None, description="area code of landlines written without one in register files (0512)"
    )
    road_network: Path | None = Field(
        default=None,
        description="a Valhalla configuration (valhalla.json from adapters.road_network.build_graph): travel "
        "by road instead of geodesic distance x circuity (needs the 'roads' extra)",
    )

    # --- the board's street map (issue 17: careline.web.street_map; docs/STREET_MAP.md) ---
    map_tile_url: str | None = Field(
        default=None,
        description="tile URL template with {z} {x} {y} (and {s} for map_tile_subdomains), e.g. "
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png; unset: the board keeps its schematic map",
    )
    map_tile_labels_url: str | None = Field(
        default=None,
        description="a second tile template drawn over the first, for sources that keep street names "
        "apart (Tianditu's cva_w over vec_w); same placeholders and subdomains",
    )
    map_tile_attribution: str = Field(
        default="© OpenStreetMap contributors", description="the tile source's credit, shown on the map"
    )
    map_tile_subdomains: str = Field(default="", description="letters or digits {s} takes in map_tile_url (abc)")
    map_tile_max_zoom: int = Field(default=19, ge=1, le=22, description="the tile source's highest zoom level")
    map_tile_datum: Literal["wgs84", "gcj02"] = Field(
        default="wgs84",
        description="the datum the tile source draws in: wgs84 (OpenStreetMap, Tianditu) or gcj02 (AMap/高德, "
        "Tencent): the register's WGS-84 points are moved onto GCJ-02 tiles inside China",
    )

    @field_validator("map_tile_url", "map_tile_labels_url")
    @classmethod
    def _tile_template(cls, value: str | None) -> str | None:
        """An http(s) URL naming {z}, {x} and {y}; an empty value means no street map."""
        if not value:
            return None
        if not value.startswith(("https://", "http://")) or not all(f in value for f in ("{z}", "{x}", "{y}")):
            raise ValueError(f"{value!r} is not an http(s) tile template with {{z}}, {{x}} and {{y}}")
        return value

    @field_validator("app_rate_limit", "app_intake_rate_limit", "alarm_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        """A ``limits`` rate, e.g. ``10/minute;60/hour`` (several windows: all must allow)."""
        try:
            if not parse_many(value):
                raise ValueError
        except ValueError:
            raise ValueError(f"{value!r} is not a rate such as '10/minute;60/hour'") from None
        return value

    @model_validator(mode="after")
    def _locks_after_delays(self) -> Settings:
        if self.login_lock_failures <= self.login_free_failures:
            raise ValueError("login_lock_failures must exceed login_free_failures")
        if self.login_address_lock_failures <= self.login_address_free_failures:
            raise ValueError("login_address_lock_failures must exceed login_address_free_failures")
        return self

    @property
    def faust_broker(self) -> str:
        return ";".join(f"kafka://{hp.strip()}" for hp in self.broker.split(","))


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once; tests clear the cache to override."""
    return Settings()
