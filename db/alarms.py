"""One-key alarm devices: each device has its own bearer token, stored only as
a SHA-256 hash (tokens are 32 random bytes, so a fast hash suffices: there is
nothing to brute-force as there would be with a chosen password)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db import tables


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def register_device(session: Session, device_id: str, elder_id: str, now: datetime | None = None) -> str:
    """Create (or re-key) a device for ``elder_id``; returns its new bearer token,
    shown once: only its hash is kept."""
    token = secrets.token_urlsafe(32)
    values = {"elder_id": elder_id, "token_sha256": _digest(token), "active": True}
    c = tables.alarm_devices.c
    if session.execute(select(c.device_id).where(c.device_id == device_id)).first():
        session.execute(update(tables.alarm_devices).where(c.device_id == device_id).values(**values))
    else:
        session.execute(
            tables.alarm_devices.insert().values(device_id=device_id, created_at=now or datetime.now(UTC), **values)
        )
    return token


def authenticate(session: Session, device_id: str, token: str | None) -> str | None:
    """The elder id of an active device whose token matches (constant-time), else None."""
    if not token:
        return None
    c = tables.alarm_devices.c
    row = session.execute(
        select(c.elder_id, c.token_sha256).where(c.device_id == device_id, c.active.is_(True))
    ).first()
    if row is None or row.token_sha256 is None or not hmac.compare_digest(row.token_sha256, _digest(token)):
        return None
    return row.elder_id


def touch(session: Session, device_id: str, now: datetime) -> None:
    c = tables.alarm_devices.c
    session.execute(
        update(tables.alarm_devices).where(c.device_id == device_id).values(last_alarm_at=now, last_heartbeat_at=now)
    )
