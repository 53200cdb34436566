"""Operator accounts: create, verify passwords, deactivate, place service areas in regions.

Passwords are hashed with Argon2id (argon2-cffi's defaults, the RFC 9106
low-memory profile); a hash made with older parameters is replaced at the next
successful login. ``careline operators add USER --role ROLE`` calls
``add_operator``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db import tables
from db.operator_uow import write_audit
from db.session import session_factory
from handlers.operations.access import Role
from handlers.operations.regions import normalise

MIN_PASSWORD_LENGTH = 12  # NIST SP 800-63B rev. 4 asks at least 8, 15 for single-factor; we take 12
_hasher = PasswordHasher()


class AccountError(ValueError):
    """A user name taken, an unknown role, a short password or a bad region."""


@dataclass(frozen=True)
class Operator:
    operator_id: str
    name: str
    role: Role
    region_scope: str
    active: bool
    session_epoch: int


def _row_to_operator(row) -> Operator:  # noqa: ANN001
    return Operator(row.operator_id, row.name, Role(row.role), row.region_scope, row.active, row.session_epoch)


def create_operator(session: Session, user: str, role: str, password: str, name: str | None = None,
                    region_scope: str = "", created_by: str = "cli") -> Operator:
    """Insert an account (not committed). Raises ``AccountError``."""
    user = user.strip()
    if not user or len(user) > 120 or any(c.isspace() for c in user):
        raise AccountError("the user name must be 1-120 characters without spaces")
    try:
        role_value = Role(role)
    except ValueError:
        raise AccountError(f"role must be one of {', '.join(r.value for r in Role)}") from None
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    try:
        scope = normalise(region_scope)
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    if session.execute(select(tables.operators.c.operator_id).where(
            tables.operators.c.operator_id == user)).first():
        raise AccountError(f"user {user!r} exists")
    now = datetime.now(timezone.utc)
    session.execute(tables.operators.insert().values(
        operator_id=user, name=name or user, role=role_value.value, password_hash=_hasher.hash(password),
        region_scope=scope, active=True, session_epoch=0, created_at=now))
    write_audit(session, created_by, "operator.add", user, now, detail={"role": role_value.value, "scope": scope})
    return Operator(user, name or user, role_value, scope, True, 0)


def add_operator(database_url: str, user: str, role: str, password: str, name: str | None = None,
                 region_scope: str = "") -> Operator:
    """Create an account in the database at ``database_url`` and commit. Raises ``AccountError``."""
    with session_factory(database_url)() as session:
        op = create_operator(session, user, role, password, name, region_scope)
        session.commit()
        return op


def get_operator(session: Session, user: str) -> Operator | None:
    row = session.execute(select(tables.operators).where(tables.operators.c.operator_id == user)).first()
    return _row_to_operator(row) if row else None


def verify_login(session: Session, user: str, password: str) -> Operator | None:
    """The active operator whose password matches, else None. Rehashes outdated hashes
    (the caller commits)."""
    row = session.execute(select(tables.operators).where(tables.operators.c.operator_id == user)).first()
    if row is None:
        _hasher.hash(password)  # spend the same time as for a real account
        return None
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if not row.active:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        session.execute(update(tables.operators).where(tables.operators.c.operator_id == user)
                        .values(password_hash=_hasher.hash(password)))
    return _row_to_operator(row)


def end_sessions(session: Session, user: str) -> None:
    """Void every session and token of ``user`` (logout, deactivation)."""
    session.execute(update(tables.operators).where(tables.operators.c.operator_id == user)
                    .values(session_epoch=tables.operators.c.session_epoch + 1))


def set_active(session: Session, user: str, active: bool) -> None:
    session.execute(update(tables.operators).where(tables.operators.c.operator_id == user).values(active=active))
    if not active:
        end_sessions(session, user)


def list_operators(session: Session) -> list[Operator]:
    rows = session.execute(select(tables.operators).order_by(tables.operators.c.operator_id)).all()
    return [_row_to_operator(r) for r in rows]


def place_area(session: Session, service_area: str, region_path: str) -> None:
    """Put ``service_area`` at ``region_path`` (replacing an earlier placement)."""
    path = normalise(region_path)
    t = tables.service_area_regions
    session.execute(t.delete().where(t.c.service_area == service_area))
    session.execute(t.insert().values(service_area=service_area, region_path=path))
