"""Sessions, API tokens and CSRF tokens for the dashboard and the statistics API.

A session is a signed token, ``base64url(json).base64url(HMAC-SHA256)``, in an
HttpOnly, SameSite=Strict cookie (Secure in production); the same token can be
sent as ``Authorization: Bearer``. It carries the operator id, an expiry
(``session_max_age_seconds``, 8 h by default) and the operator's session epoch:
logout and deactivation raise the epoch, which voids every earlier token. Role
and region are read from the database on each request, so a change applies at
once. Forms and fetch calls of a cookie session carry a CSRF token bound to the
session (OWASP "synchronizer token", derived with HMAC so no server state is
needed). The key is ``CARELINE_SESSION_SECRET``; production refuses to start
without it, development makes a random one per process (sessions end at restart).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Callable

from fastapi import HTTPException, Request

from careline.operators import Operator, get_operator
from config.settings import Settings
from db.operator_uow import write_audit
from handlers.operations.access import Permission, Role, allowed
from handlers.operations.regions import narrower

COOKIE = "careline_session"
LOGIN_CSRF_COOKIE = "careline_login_csrf"
log = logging.getLogger("careline.web.auth")
_dev_secret = secrets.token_bytes(32)
_warned = False


class MissingSecret(RuntimeError):
    """Production mode without ``CARELINE_SESSION_SECRET``."""


def secret_key(settings: Settings) -> bytes:
    """The signing key; raises ``MissingSecret`` in production when none is set."""
    global _warned
    if settings.session_secret is not None and settings.session_secret.get_secret_value():
        return settings.session_secret.get_secret_value().encode()
    if settings.environment == "production":
        raise MissingSecret(
            "CARELINE_SESSION_SECRET is not set; the web service will not start "
            "in production without it (use 32+ random bytes, e.g. `openssl rand -hex 32`)"
        )
    if not _warned:
        log.warning("no CARELINE_SESSION_SECRET: using a random key for this process (development only)")
        _warned = True
    return _dev_secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def derive(key: bytes, purpose: str) -> bytes:
    """A key for one ``purpose`` (session, csrf, login-csrf, …) derived from the secret with HMAC."""
    return hmac.new(key, purpose.encode(), hashlib.sha256).digest()


def sign(payload: dict, key: bytes) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(derive(key, "session"), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def unsign(token: str, key: bytes, now: float | None = None) -> dict | None:
    """The payload of a well-signed, unexpired token, else None (forged, altered or expired)."""
    try:
        body, mac = token.split(".")
        expected = hmac.new(derive(key, "session"), body.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac)):
            return None
        payload = json.loads(_unb64(body))
    except (ValueError, TypeError):
        return None
    if not isinstance(payload, dict) or payload.get("exp", 0) <= (now if now is not None else time.time()):
        return None
    return payload


def issue(operator: Operator, settings: Settings, kind: str = "web", now: float | None = None) -> str:
    """A token for ``operator``, valid ``session_max_age_seconds``."""
    issued = int(now if now is not None else time.time())
    return sign(
        {
            "sub": operator.operator_id,
            "ep": operator.session_epoch,
            "sid": secrets.token_urlsafe(12),
            "typ": kind,
            "iat": issued,
            "exp": issued + settings.session_max_age_seconds,
        },
        secret_key(settings),
    )


def csrf_for(sid: str, key: bytes) -> str:
    return _b64(hmac.new(derive(key, "csrf"), sid.encode(), hashlib.sha256).digest())[:32]


LOGIN_CSRF_SECONDS = 3600


def _login_mac(nonce: str, expires: int, key: bytes) -> str:
    return _b64(hmac.new(derive(key, "login-csrf"), f"{nonce}.{expires}".encode(), hashlib.sha256).digest())


def login_csrf(key: bytes, now: float | None = None) -> tuple[str, str]:
    """(cookie, form field) for the login form: a random nonce for the cookie, and for the
    field its expiry and HMAC under the server's key. A page of another site can neither
    read the pair nor make one (OWASP: signed double-submit cookie)."""
    nonce = secrets.token_urlsafe(24)
    expires = int(now if now is not None else time.time()) + LOGIN_CSRF_SECONDS
    return nonce, f"{expires}.{_login_mac(nonce, expires, key)}"


def login_csrf_valid(cookie: str | None, field: str | None, key: bytes, now: float | None = None) -> bool:
    """True when ``field`` is the unexpired token this server issued for ``cookie``."""
    expires, _, mac = (field or "").partition(".")
    if (
        not cookie
        or not (expires.isascii() and expires.isdigit() and len(expires) <= 12)
        or int(expires) <= (now if now is not None else time.time())
    ):
        return False
    return hmac.compare_digest(_login_mac(cookie, int(expires), key).encode(), mac.encode())


@dataclass(frozen=True)
class Principal:
    """The logged-in operator of this request."""

    operator_id: str
    name: str
    role: Role
    region_scope: str
    sid: str
    via: str  # "cookie" or "bearer"
    csrf: str
    expires_at: int

    def can(self, permission: Permission) -> bool:
        return allowed(self.role, permission)


def sessions_of(request: Request):  # noqa: ANN201 - sessionmaker[Session]
    """The web service's database sessions (``config.bootstrap.Runtime.sessions``)."""
    return request.app.state.runtime.sessions


def principal_or_none(request: Request) -> Principal | None:
    """The operator behind the request's bearer token or session cookie, if valid."""
    settings: Settings = request.app.state.settings
    key = secret_key(settings)
    header = request.headers.get("authorization", "")
    token, via = (
        (header[7:].strip(), "bearer")
        if header.lower().startswith("bearer ")
        else (request.cookies.get(COOKIE, ""), "cookie")
    )
    payload = unsign(token, key) if token else None
    if payload is None:
        return None
    with sessions_of(request)() as session:
        op = get_operator(session, str(payload.get("sub")))
    if op is None or not op.active or op.session_epoch != payload.get("ep"):
        return None
    return Principal(
        op.operator_id,
        op.name,
        op.role,
        op.region_scope,
        payload["sid"],
        via,
        csrf_for(payload["sid"], key),
        int(payload["exp"]),
    )


def _deny(request: Request, principal: Principal, permission: Permission) -> HTTPException:
    if not permission.value.startswith("view_"):
        with sessions_of(request)() as session:
            write_audit(
                session,
                principal.operator_id,
                f"denied.{permission.value}",
                request.url.path,
                datetime.now(UTC),
                outcome="denied",
                detail={"role": principal.role.value},
                region=principal.region_scope,
            )
            session.commit()
    return HTTPException(status_code=403, detail=f"role {principal.role.value} may not {permission.value}")


def require(permission: Permission, page: bool = False) -> Callable[[Request], Principal]:
    """A dependency: the principal holding ``permission``. No valid session: 401 for the
    API, a redirect to the login page for pages (``page``). Wrong role: 403 (audited for writes)."""

    def dependency(request: Request) -> Principal:
        principal = principal_or_none(request)
        if principal is None:
            if page:
                raise HTTPException(status_code=303, headers={"Location": "/login"})
            raise HTTPException(status_code=401, detail="login required", headers={"WWW-Authenticate": "Bearer"})
        if not principal.can(permission):
            raise _deny(request, principal, permission)
        return principal

    return dependency


def check_csrf(principal: Principal, submitted: str | None) -> None:
    """Writes by a cookie session must carry its CSRF token (form field or X-CSRF-Token)."""
    if principal.via == "cookie" and not hmac.compare_digest(principal.csrf, submitted or ""):
        raise HTTPException(status_code=403, detail="missing or wrong CSRF token; reload the page")


def cookie_secure(settings: Settings) -> bool:
    if settings.session_cookie_secure is not None:
        return settings.session_cookie_secure
    return settings.environment == "production"


def region_for(principal: Principal, wanted: str | None) -> str:
    """The region path a request may see: ``wanted`` within the operator's
    scope (``handlers.operations.regions.narrower``); 403 outside it, 400 when malformed."""
    try:
        return narrower(principal.region_scope, wanted)
    except PermissionError as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from None
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
