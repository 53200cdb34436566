"""Operator accounts: create, verify passwords, deactivate and reactivate, unlock,
place service areas in regions.

Passwords are hashed with Argon2id (argon2-cffi's defaults, the RFC 9106
low-memory profile: 64 MiB and about 0.1-0.2 s per hash, which is why the web
service runs verifications in a small pool, ``careline.web.login``); a hash made
with older parameters is replaced at the next successful login. Changes made by
an admin are checked against its region scope (``handlers.operations.access``: within it,
never wider; not the last unscoped admin) and audited with the region they touch.
The rows are read and written by ``db.operators`` and ``db.regions``; hashing and the rules stay here.
``careline operators add|deactivate|reactivate|unlock`` call these with the unscoped ``cli`` actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from db import login_throttle, regions
from db import operators as accounts
from db.operator_uow import region_of_area, write_audit
from db.session import Row, Session, session_factory
from handlers.operations.access import (
    Account,
    Role,
    check_deactivation,
    check_manages,
    check_placement,
    visible_accounts,
)
from handlers.operations.regions import normalise

MIN_PASSWORD_LENGTH = 12  # NIST SP 800-63B rev. 4 asks at least 8, 15 for single-factor; we take 12
_hasher = PasswordHasher()


def use_password_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Hash and check passwords with ``hasher`` from now on; returns the one it replaces
    (the unit tests lower Argon2's cost: they test access rules, not the hash)."""
    global _hasher
    previous, _hasher = _hasher, hasher
    return previous


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


def _row_to_operator(row: Row) -> Operator:
    return Operator(row.operator_id, row.name, Role(row.role), row.region_scope, row.active, row.session_epoch)


def create_operator(
    session: Session,
    user: str,
    role: str,
    password: str,
    name: str | None = None,
    region_scope: str = "",
    created_by: str = "cli",
    actor_scope: str = "",
) -> Operator:
    """Insert an account (not committed). Raises ``AccountError``, and
    ``handlers.operations.access.OutOfScope`` when ``region_scope`` is not within ``actor_scope``."""
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
    check_manages(actor_scope, scope)
    if accounts.exists(session, user):
        raise AccountError(f"user {user!r} exists")
    now = datetime.now(UTC)
    accounts.insert(session, user, name or user, role_value.value, _hasher.hash(password), scope, now)
    write_audit(
        session, created_by, "operator.add", user, now, detail={"role": role_value.value, "scope": scope}, region=scope
    )
    return Operator(user, name or user, role_value, scope, True, 0)


def add_operator(
    database_url: str, user: str, role: str, password: str, name: str | None = None, region_scope: str = ""
) -> Operator:
    """Create an account in the database at ``database_url`` and commit. Raises ``AccountError``."""
    with session_factory(database_url)() as session:
        op = create_operator(session, user, role, password, name, region_scope)
        session.commit()
        return op


def get_operator(session: Session, user: str) -> Operator | None:
    """The account ``user`` (active or not), None if there is none."""
    row = accounts.get(session, user)
    return _row_to_operator(row) if row else None


def verify_login(session: Session, user: str, password: str) -> Operator | None:
    """The active operator whose password matches, else None. Rehashes outdated hashes
    (the caller commits)."""
    row = accounts.get(session, user)
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
        accounts.set_password_hash(session, user, _hasher.hash(password))
    return _row_to_operator(row)


def _account(op: Operator) -> Account:
    return Account(op.operator_id, op.role, op.region_scope, op.active)


def _existing(session: Session, user: str) -> Operator:
    op = get_operator(session, user)
    if op is None:
        raise AccountError(f"no account {user!r}")
    return op


def set_active(session: Session, user: str, active: bool, actor_id: str = "cli", actor_scope: str = "") -> Operator:
    """Deactivate (ends every session) or reactivate ``user`` and audit it (not committed).
    Raises ``AccountError`` (no such account), ``handlers.operations.access.OutOfScope``,
    ``handlers.operations.access.LastGlobalAdmin``."""
    op = _existing(session, user)
    if active:
        check_manages(actor_scope, op.region_scope)
    else:
        check_deactivation(actor_scope, _account(op), accounts.active_global_admins(session))
    accounts.set_active(session, user, active)
    if not active:
        accounts.end_sessions(session, user)
    write_audit(
        session,
        actor_id,
        "operator.reactivate" if active else "operator.deactivate",
        user,
        datetime.now(UTC),
        region=op.region_scope,
    )
    return Operator(op.operator_id, op.name, op.role, op.region_scope, active, op.session_epoch)


def unlock(session: Session, user: str, actor_id: str = "cli", actor_scope: str = "") -> bool:
    """Lift a login lock or delay on ``user`` (``handlers.operations.login_throttle``) and audit it (not
    committed); True if there was one. Raises ``AccountError``, ``handlers.operations.access.OutOfScope``."""
    op = _existing(session, user)
    check_manages(actor_scope, op.region_scope)
    cleared = login_throttle.clear(session, login_throttle.account_key(user))
    write_audit(
        session,
        actor_id,
        "operator.unlock",
        user,
        datetime.now(UTC),
        detail={"was_throttled": cleared},
        region=op.region_scope,
    )
    return cleared


def unlock_address(session: Session, address: str, actor_id: str = "cli") -> bool:
    """Lift a login lock or delay on a client address (not committed); True if there was one."""
    cleared = login_throttle.clear(session, login_throttle.address_key(address))
    write_audit(
        session,
        actor_id,
        "login.unlock_address",
        address,
        datetime.now(UTC),
        detail={"was_throttled": cleared},
    )
    return cleared


def list_operators(session: Session, scope: str = "") -> list[Operator]:
    """The accounts an admin scoped to ``scope`` manages (``handlers.operations.access.visible_accounts``)."""
    ops = [_row_to_operator(r) for r in accounts.all_accounts(session)]
    shown = {a.operator_id for a in visible_accounts(scope, [_account(o) for o in ops])}
    return [o for o in ops if o.operator_id in shown]


def place_area(session: Session, service_area: str, region_path: str, actor_scope: str = "") -> str:
    """Put ``service_area`` at ``region_path`` (replacing an earlier placement); returns the
    normalised path. Raises ``handlers.operations.regions.InvalidRegion`` and ``handlers.operations.access.OutOfScope``
    (``check_placement``: from and to a region inside ``actor_scope`` only)."""
    path = normalise(region_path)
    check_placement(actor_scope, region_of_area(session, service_area), path)
    regions.place_area(session, service_area, path)
    return path
