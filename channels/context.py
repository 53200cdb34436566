"""What the Twilio webhooks, the alarm endpoint and the survey job share: settings,
database sessions, the IVR configuration, the programme's time zone, the
notifier, callback URLs, and the two ways a channel creates a care request
(an intake record on the outbox, plus an operator alert for emergencies). An
emergency of an elder who has one open joins it (``handlers.channels.emergencies``).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Callable
from urllib.parse import urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from channels.notify import Notifier, build_notifier
from config.ivr import load_ivr_config
from config.locale import get_texts
from config.settings import Settings
from db import channels, emergencies
from db.session import Row, Session, session_factory, sessionmaker
from handlers.channels import channel_events, ivr
from handlers.channels.emergencies import again_reason
from handlers.channels.ivr import IvrConfig, ServiceChoice
from handlers.channels.phone import try_e164
from handlers.channels.sms import brand_for
from handlers.channels.texts import Texts
from handlers.model import Priority

log = logging.getLogger("channels.context")


def callback_url(base: str, path: str, **params: str) -> str:
    """``base`` + ``path`` with query parameters sorted and no default port
    (``:443`` for https, ``:80`` for http), the exact form Twilio signs."""
    parts = urlsplit(base.rstrip("/"))
    host = parts.hostname or ""
    if parts.port and (parts.scheme, parts.port) not in {("https", 443), ("http", 80)}:
        host = f"{host}:{parts.port}"
    query = urlencode(sorted((k, str(v)) for k, v in params.items() if v is not None))
    return urlunsplit((parts.scheme, host, parts.path + path, query, ""))


@dataclass
class ChannelContext:
    """Shared by every channel entry point; ``clock`` returns aware UTC now."""

    settings: Settings
    sessions: sessionmaker[Session]
    ivr: IvrConfig
    tz: ZoneInfo
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _notifier: Notifier | None = field(default=None, repr=False)
    #: every SMS, notice and hotline text (``config.locale``: the Babel catalogs)
    texts: Texts = field(default_factory=get_texts, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> ChannelContext:
        """A context of its own for ``settings`` (tests and tools; processes take
        theirs from ``config.bootstrap``)."""
        return cls.build(settings, session_factory(settings.database_url), load_ivr_config(settings.ivr_config))

    @classmethod
    def build(cls, settings: Settings, sessions: sessionmaker[Session], ivr: IvrConfig) -> ChannelContext:
        """The context of a process: its sessions and checked hotline file; the
        clock reads the replay clock when ``CARELINE_WEB_CLOCK=replay``."""
        ctx = cls(settings, sessions, ivr, ZoneInfo(settings.programme_timezone), texts=ivr.texts)
        if settings.web_clock == "replay":
            from db.register import read_clock

            def replay_now() -> datetime:
                with sessions() as session:
                    return read_clock(session).now()

            ctx.clock = replay_now
        return ctx

    @property
    def notifier(self) -> Notifier:
        if self._notifier is None:
            self._notifier = build_notifier(self.settings)
        return self._notifier

    @notifier.setter
    def notifier(self, value: Notifier) -> None:
        self._notifier = value

    def url(self, path: str, **params: str) -> str:
        return callback_url(self.settings.public_base_url, path, **params)

    def phone(self, raw: str | None) -> str | None:
        return try_e164(raw, self.settings.default_phone_region)

    def brand(self, language: str | None) -> str:
        return brand_for(language, self.settings.sms_brand_zh, self.settings.sms_brand_en)


def short_id(prefix: str, seed: str) -> str:
    """A stable request id from an inbound id (48 bits of SHA-256: unique enough
    for a programme's lifetime of alarms, and the same for a redelivered one)."""
    return prefix + hashlib.sha256(seed.encode()).hexdigest()[:12].upper()


def join_open_emergency(
    session: Session, request_id: str, elder: Row, channel: str, now: datetime, merge_minutes: float
) -> str | None:
    """The id of the elder's open emergency when this one (``request_id``) joins it
    (``handlers.channels.emergencies.joins``), after alerting the operators on it ("again"); None when
    ``request_id`` opens a new emergency (it is then the elder's latest). Not committed."""
    used, presses = emergencies.open_or_join(session, elder.elder_id, request_id, now, merge_minutes)
    if used == request_id:
        return None
    channels.publish(
        session,
        channel_events.operator_alert(
            used, elder.elder_id, elder.service_area, again_reason(channel, presses), Priority.STAT, channel, now
        ),
    )
    log.warning("emergency %s of elder %s joined the open %s (alarm %d)", request_id, elder.elder_id, used, presses)
    return used


def record_request(
    session: Session,
    request_id: str,
    elder: Row,
    channel: str,
    choice: ServiceChoice,
    now: datetime,
    merge_minutes: float = 0.0,
) -> str:
    """Put the intake record of a decided request on the outbox (``care.intake.v1``);
    a ``stat`` request also alerts the operators at once (``care.operator.alert``). Returns
    the request id the caller is told: ``request_id``, or for an emergency of an elder who
    has one open within ``merge_minutes`` that one's (``join_open_emergency``; 0: never join)."""
    if choice.priority == Priority.STAT and merge_minutes > 0:
        joined = join_open_emergency(session, request_id, elder, channel, now, merge_minutes)
        if joined is not None:
            return joined
    channels.enqueue_intake(
        session,
        channel_events.intake_record(
            request_id,
            request_id,
            channel,
            elder.elder_id,
            choice.service_type,
            choice.duration_minutes,
            choice.window_start,
            choice.window_end,
            choice.priority,
            now,
        ),
    )
    if choice.priority == Priority.STAT:
        channels.publish(
            session,
            channel_events.operator_alert(
                request_id, elder.elder_id, elder.service_area, f"emergency by {channel}", Priority.STAT, channel, now
            ),
        )
    return request_id


def emergency_choice(cfg: IvrConfig, language: str | None, now: datetime) -> ServiceChoice:
    """The request an alarm (button or SOS text) stands for: ``emergency``, ``stat``,
    a window of ``emergency_window_minutes`` from now."""
    return ivr.emergency_choice(cfg, cfg.lang(language), now)
