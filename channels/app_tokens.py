"""Per-user bearer tokens of the elder/family app, the caregiver app and the
provider organisations' office (which rates the center per visit).

``issue_token`` makes a token for a registered elder, caregiver or provider and returns
it once: only its SHA-256 is stored (``app_tokens``), so a lost token is
replaced, never recovered. ``revoke_tokens`` ends every token of a user (a
lost phone, a caregiver who left). The app sends the token as
``Authorization: Bearer <token>`` (``careline.web.app_api``).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from db import app_api
from db.session import session_factory

#: bytes of randomness in a token (256 bits; URL-safe base64, 43 characters)
TOKEN_BYTES = 32


def issue_token(database_url: str, kind: str, subject_id: str, now: datetime | None = None) -> str:
    """A new bearer token for the elder, caregiver or provider organisation
    ``subject_id`` (``kind``: ``elder`` | ``caregiver`` | ``provider``).
    Earlier tokens stay valid (one per device).
    Raises ``ValueError`` for another kind and ``LookupError`` for an unregistered user."""
    if kind not in app_api.SUBJECT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(app_api.SUBJECT_KINDS)}, got {kind!r}")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with session_factory(database_url)() as session:
        if not app_api.subject_exists(session, kind, subject_id):
            raise LookupError(f"no registered {kind} {subject_id!r}")
        app_api.add_token(session, token, kind, subject_id, now or datetime.now(UTC))
        session.commit()
    return token


def revoke_tokens(database_url: str, kind: str, subject_id: str, now: datetime | None = None) -> int:
    """Revoke every live token of the elder, caregiver or provider ``subject_id``; returns how many."""
    with session_factory(database_url)() as session:
        count = app_api.revoke_tokens(session, kind, subject_id, now or datetime.now(UTC))
        session.commit()
    return count
