"""Operator accounts (``tables.operators``) read and written as rows.

Hashing passwords and the accounts' rules (who may manage whom, the last
unscoped admin) stay with the callers (``careline.operators``,
``handlers.operations.access``): these functions only read and write rows in
the caller's transaction; the caller commits. Rows carry ``operator_id``,
``name``, ``role``, ``password_hash``, ``region_scope``, ``active``,
``session_epoch`` and ``created_at``. Login throttling is ``db.login_throttle``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from db import tables
from handlers.operations.access import Role

_T = tables.operators
_C = _T.c


def exists(session: Session, operator_id: str) -> bool:
    """True if an account named ``operator_id`` exists (active or not)."""
    return session.execute(select(_C.operator_id).where(_C.operator_id == operator_id)).first() is not None


def insert(
    session: Session,
    operator_id: str,
    name: str,
    role: str,
    password_hash: str,
    region_scope: str,
    created_at: datetime,
) -> None:
    """Add an active account with session epoch 0. Raises ``db.session.DatabaseError`` when the id is taken."""
    session.execute(
        _T.insert().values(
            operator_id=operator_id,
            name=name,
            role=role,
            password_hash=password_hash,
            region_scope=region_scope,
            active=True,
            session_epoch=0,
            created_at=created_at,
        )
    )


def get(session: Session, operator_id: str) -> Row | None:
    """The account's row (every column, the password hash included), None if there is none."""
    return session.execute(select(_T).where(_C.operator_id == operator_id)).first()


def all_accounts(session: Session) -> list[Row]:
    """Every account's row, by ``operator_id``."""
    return list(session.execute(select(_T).order_by(_C.operator_id)).all())


def set_password_hash(session: Session, operator_id: str, password_hash: str) -> None:
    """Replace the stored hash (a rehash with current parameters)."""
    session.execute(update(_T).where(_C.operator_id == operator_id).values(password_hash=password_hash))


def set_active(session: Session, operator_id: str, active: bool) -> None:
    """Mark the account active or inactive; sessions stay valid until ``end_sessions``."""
    session.execute(update(_T).where(_C.operator_id == operator_id).values(active=active))


def end_sessions(session: Session, operator_id: str) -> None:
    """Void every session and token of the account (logout, deactivation): ``session_epoch`` + 1."""
    session.execute(update(_T).where(_C.operator_id == operator_id).values(session_epoch=_C.session_epoch + 1))


def active_global_admins(session: Session) -> int:
    """How many active admins are scoped to every region (``region_scope`` '')."""
    return len(
        session.execute(
            select(_C.operator_id).where(_C.role == Role.ADMIN.value, _C.region_scope == "", _C.active.is_(True))
        ).all()
    )
