"""Who may do what on the operator dashboard, and who sees personal data.

Roles follow the design card: **operators** take calls, call elders back and
acknowledge emergencies, so they see names and phone numbers; **supervisors**
watch the service, step in on assignments and read the audit log, without
personal data; both review EVV flags (``handlers.visits.evv_review``); **admins** keep
the accounts and read the audit log, without personal data or dispatch rights, and keep the register of their region (elders, caregivers
and their rotas, devices, providers): on the register's own pages they see the personal
data they keep, nowhere else.
Data minimisation (GDPR art. 5(1)(c); China's PIPL art. 6) is the rule behind
showing personal data only to the role that needs it.

Scope: every account has a region scope (``handlers.operations.regions``; ``""`` is
everywhere). An admin manages only what lies inside its own scope: it may
create, deactivate, reactivate or unlock an account whose scope lies within
its own (the same scope included, a wider one never), and place a service area
only from and to a region inside its scope (an area not placed yet is visible
at the root only, so only an unscoped admin places it). The last active
unscoped admin cannot be deactivated: someone must be able to reach every region.
This is least privilege (NIST SP 800-53 AC-6) applied to the region tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handlers.operations.regions import within


class Role(StrEnum):
    """An operator account's role; what each may do is ``GRANTS``."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Permission(StrEnum):
    """One thing a role may do (``GRANTS``), checked with ``require`` or ``allowed`` before the action."""

    VIEW_DASHBOARD = "view_dashboard"
    VIEW_STATS = "view_stats"
    VIEW_PERSONAL_DATA = "view_personal_data"
    CREATE_REQUEST = "create_request"
    ASSIGN_REQUEST = "assign_request"
    CANCEL_REQUEST = "cancel_request"
    ACKNOWLEDGE_EMERGENCY = "acknowledge_emergency"
    MARK_CAREGIVER = "mark_caregiver"
    MANAGE_OPERATORS = "manage_operators"
    VIEW_AUDIT = "view_audit"
    REVIEW_EVV = "review_evv"
    MANAGE_REGISTER = "manage_register"


_P = Permission
GRANTS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset(
        {
            _P.VIEW_DASHBOARD,
            _P.VIEW_STATS,
            _P.VIEW_PERSONAL_DATA,
            _P.CREATE_REQUEST,
            _P.ASSIGN_REQUEST,
            _P.CANCEL_REQUEST,
            _P.ACKNOWLEDGE_EMERGENCY,
            _P.MARK_CAREGIVER,
            _P.REVIEW_EVV,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            _P.VIEW_DASHBOARD,
            _P.VIEW_STATS,
            _P.ASSIGN_REQUEST,
            _P.CANCEL_REQUEST,
            _P.MARK_CAREGIVER,
            _P.VIEW_AUDIT,
            _P.REVIEW_EVV,
        }
    ),
    Role.ADMIN: frozenset({_P.VIEW_DASHBOARD, _P.VIEW_STATS, _P.MANAGE_OPERATORS, _P.VIEW_AUDIT, _P.MANAGE_REGISTER}),
}


class Forbidden(PermissionError):
    """The role lacks ``permission``."""

    def __init__(self, role: Role | str, permission: Permission) -> None:
        super().__init__(f"role {role} may not {permission.value}")
        self.role, self.permission = role, permission


def role_of(value: str) -> Role:
    """The ``Role`` named ``value``; raises ``ValueError`` for an unknown one."""
    return Role(value)


def allowed(role: Role | str, permission: Permission) -> bool:
    """True when ``role`` holds ``permission`` in ``GRANTS``; False, never an error, for an unknown role name."""
    try:
        return permission in GRANTS[Role(role)]
    except ValueError:
        return False


def require(role: Role | str, permission: Permission) -> None:
    """Raise ``Forbidden`` unless ``role`` holds ``permission``."""
    if not allowed(role, permission):
        raise Forbidden(role, permission)


def mask_name(name: str | None) -> str:
    """First character and a star per further character: 王秀英 → 王**, Anna → A***."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


def can_see_personal(role: Role | str) -> bool:
    """True for roles that see names, phones, addresses and notes in full."""
    return allowed(role, Permission.VIEW_PERSONAL_DATA)


def mask_phone(phone: str | None) -> str:
    """Keep the first three and last two digits: 13812345678 → 138******78."""
    if not phone:
        return ""
    if len(phone) <= 5:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 5) + phone[-2:]


def personal(role: Role | str, name: str | None, phone: str | None) -> dict[str, str]:
    """Name and phone as the role may see them: in full for roles holding
    ``VIEW_PERSONAL_DATA``, masked for the others."""
    if allowed(role, Permission.VIEW_PERSONAL_DATA):
        return {"name": name or "", "phone": phone or ""}
    return {"name": mask_name(name), "phone": mask_phone(phone)}


class OutOfScope(PermissionError):
    """The account or area lies outside the acting admin's region scope."""


class LastGlobalAdmin(ValueError):
    """Deactivating this account would leave no active admin for all regions."""


@dataclass(frozen=True)
class Account:
    """What the scope rules need of an account: id, role, region scope, whether active."""

    operator_id: str
    role: Role
    region_scope: str
    active: bool


def _where(scope: str) -> str:
    return scope or "all regions"


def check_manages(actor_scope: str, target_scope: str) -> None:
    """Raise ``OutOfScope`` unless an admin scoped to ``actor_scope`` may create or change an
    account scoped to ``target_scope`` (within it, never wider)."""
    if not within(target_scope, actor_scope):
        raise OutOfScope(f"an admin for {_where(actor_scope)} cannot manage an account for {_where(target_scope)}")


def visible_accounts(actor_scope: str, accounts: list[Account]) -> list[Account]:
    """The accounts an admin scoped to ``actor_scope`` sees on the accounts page."""
    return [a for a in accounts if within(a.region_scope, actor_scope)]


def check_deactivation(actor_scope: str, target: Account, active_global_admins: int) -> None:
    """Raise ``OutOfScope`` for an account outside the admin's scope and ``LastGlobalAdmin``
    for the last active unscoped admin (``active_global_admins`` counts them, target included)."""
    check_manages(actor_scope, target.region_scope)
    if target.active and target.role == Role.ADMIN and target.region_scope == "" and active_global_admins <= 1:
        raise LastGlobalAdmin("the last active admin for all regions cannot be deactivated; add another first")


def check_placement(actor_scope: str, current_path: str | None, new_path: str) -> None:
    """Raise ``OutOfScope`` unless an admin scoped to ``actor_scope`` may put a service area
    now at ``current_path`` (None: not placed yet) at ``new_path``."""
    if actor_scope == "":
        return
    if current_path is None:
        raise OutOfScope("this area is not placed in any region yet: an admin for all regions places it")
    if not within(current_path, actor_scope):
        raise OutOfScope(f"the area lies in {current_path}, outside {actor_scope}")
    if not within(new_path, actor_scope):
        raise OutOfScope(f"{new_path or 'the root'} is outside {actor_scope}")
