"""What the register's use cases need from storage: ``RegisterUnitOfWork``.

``db.register_uow.SqlRegisterUnitOfWork`` is the real one (state, event log, outbox and audit
row in one transaction); tests use an in-memory fake.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, TypeVar

from handlers.model import AlarmDevice, Caregiver, DomainEvent, Elder, ProviderOrganisation
from handlers.register.records import Location

T = TypeVar("T")


class Repository(Protocol[T]):
    """Register objects of one kind by id; an object returned is tracked, so changing it changes
    the register when the unit of work commits."""

    def get(self, key: str) -> T | None:
        """The object with id ``key``, or None (never raises for a missing id)."""

    def add(self, obj: T) -> None:
        """Store a new object, readable by ``get`` within the same unit of work."""


class RegisterUnitOfWork(Protocol):
    """Elders, caregivers, providers and devices by id; the points of the register; the
    service areas; the event log and outbox (``emit``) and the audit log (``audit``)."""

    @property
    def elders(self) -> Repository[Elder]:
        """Elders by ``elder_id``."""

    @property
    def caregivers(self) -> Repository[Caregiver]:
        """Caregivers by ``caregiver_id``."""

    @property
    def providers(self) -> Repository[ProviderOrganisation]:
        """Provider organisations by ``provider_id``."""

    @property
    def devices(self) -> Repository[AlarmDevice]:
        """One-key alarm devices by ``device_id``."""

    def locate(self, location: Location) -> int:
        """Store a point (with its provenance) and return its location index."""

    def location(self, index: int | None) -> Location | None:
        """The point stored under ``index``, if any."""

    def ensure_area(self, service_area: str, region_path: str) -> None:
        """Make ``service_area`` exist (travel from coordinates, shift end as the policy says),
        placed at ``region_path`` when it is new and a path is known."""

    def region_of(self, service_area: str) -> str | None:
        """Where ``service_area`` is placed in the region tree, if anywhere."""

    def emit(self, event: DomainEvent) -> None:
        """Record a ``register.*`` event for the event log and the outbox (``care.register.v1``),
        written with the state when the unit of work commits."""

    def audit(
        self,
        operator_id: str,
        action: str,
        target: str,
        at: datetime,
        outcome: str = "done",
        detail: dict[str, Any] | None = None,
        region: str | None = None,
    ) -> None:
        """Append an audit row (who, what, on which id, when, outcome) in the same transaction as
        the change. ``detail`` holds ids, field names and reasons, never personal data; ``region``
        the region path touched (None: only unscoped auditors see the row)."""
