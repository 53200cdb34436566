"""Who may do what on the operator dashboard, and who sees personal data.

Roles follow the design card: **operators** take calls, call elders back and
acknowledge emergencies, so they see names and phone numbers; **supervisors**
watch the service, step in on assignments and read the audit log, without
personal data; both review EVV flags (``handlers.visits.evv_review``); **admins** keep
the accounts and read the audit log, without personal data or dispatch rights.
Data minimisation (GDPR art. 5(1)(c); China's PIPL art. 6) is the rule behind
showing personal data only to the role that needs it.
"""
from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Permission(StrEnum):
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


_P = Permission
GRANTS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset({_P.VIEW_DASHBOARD, _P.VIEW_STATS, _P.VIEW_PERSONAL_DATA, _P.CREATE_REQUEST,
                              _P.ASSIGN_REQUEST, _P.CANCEL_REQUEST, _P.ACKNOWLEDGE_EMERGENCY,
                              _P.MARK_CAREGIVER, _P.REVIEW_EVV}),
    Role.SUPERVISOR: frozenset({_P.VIEW_DASHBOARD, _P.VIEW_STATS, _P.ASSIGN_REQUEST, _P.CANCEL_REQUEST,
                                _P.MARK_CAREGIVER, _P.VIEW_AUDIT, _P.REVIEW_EVV}),
    Role.ADMIN: frozenset({_P.VIEW_DASHBOARD, _P.VIEW_STATS, _P.MANAGE_OPERATORS, _P.VIEW_AUDIT}),
}


class Forbidden(PermissionError):
    """The role lacks ``permission``."""

    def __init__(self, role: Role | str, permission: Permission):
        super().__init__(f"role {role} may not {permission.value}")
        self.role, self.permission = role, permission


def role_of(value: str) -> Role:
    """The ``Role`` named ``value``; raises ``ValueError`` for an unknown one."""
    return Role(value)


def allowed(role: Role | str, permission: Permission) -> bool:
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
