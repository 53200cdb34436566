"""The commands that change a center's register, typed and frozen.

Files (``careline register import``), the dashboard's register pages, the providers' app API
and the city replay all change the register by these commands, run by
``handlers.messagebus.handle`` in a register unit of work (``handlers.register.ports``): each
change is an event on ``care.register.v1`` (through the outbox) and an audit row naming
``actor`` (an operator id, ``cli``, ``provider:<id>``, ``replay``) and ``source`` (``file``,
``page``, ``app``, ``replay``). An add or edit carries the whole record as the register's
parser read it (``handlers.register.rows``), so a page and a file are checked by the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from handlers.messages import Command
from handlers.register.records import CaregiverRecord, DeviceRecord, ElderRecord, ProviderRecord


@dataclass(frozen=True)
class RegisterCommand(Command):
    """Who asks (``actor``), through what (``source``) and within which region it may act
    (``scope``, a region path; ``""`` everywhere: the command line, the replay)."""

    actor: str = "cli"
    source: str = "file"
    scope: str = ""


@dataclass(frozen=True)
class RegisterProvider(RegisterCommand):
    """Add a provider organisation, or update it by id."""

    record: ProviderRecord | None = None


@dataclass(frozen=True)
class RegisterElder(RegisterCommand):
    """Add an elder, or update it by id (every field as given; blank fields are cleared)."""

    record: ElderRecord | None = None


@dataclass(frozen=True)
class RegisterCaregiver(RegisterCommand):
    """Add a caregiver of a registered provider, or update it by id."""

    record: CaregiverRecord | None = None


@dataclass(frozen=True)
class RegisterDevice(RegisterCommand):
    """Add an alarm device of a registered elder, or update it by id."""

    record: DeviceRecord | None = None


@dataclass(frozen=True)
class SetElderStatus(RegisterCommand):
    """``active``, ``in_hospital``, ``moved`` or ``deceased`` (not active: no dispatch)."""

    elder_id: str = ""
    status: str = "active"


@dataclass(frozen=True)
class SetCaregiverActive(RegisterCommand):
    """Deactivate a caregiver who left (or reactivate one who came back)."""

    caregiver_id: str = ""
    active: bool = True


@dataclass(frozen=True)
class SetDeviceActive(RegisterCommand):
    """Deactivate an alarm device (lost, returned: its presses are no longer accepted,
    ``db.alarms``) or reactivate it."""

    device_id: str = ""
    active: bool = True


@dataclass(frozen=True)
class SetProviderActive(RegisterCommand):
    """Deactivate a provider organisation (or reactivate it); its caregivers keep their own
    ``active`` flag, each changed by ``SetCaregiverActive``."""

    provider_id: str = ""
    active: bool = True


@dataclass(frozen=True)
class SetRota(RegisterCommand):
    """Replace a caregiver's weekly rota with ``rota`` (rota text as people write it; its
    leave and extra shifts included). ``provider_id`` when a provider asks: refused for
    another provider's caregiver."""

    caregiver_id: str = ""
    rota: str = ""
    provider_id: str | None = None


@dataclass(frozen=True)
class AddAbsence(RegisterCommand):
    """Leave or a sick day (``kind`` ``leave`` | ``sick``) from ``first`` to ``last`` inclusive."""

    caregiver_id: str = ""
    first: date | None = None
    last: date | None = None
    kind: str = "leave"
    provider_id: str | None = None


@dataclass(frozen=True)
class RemoveAbsence(RegisterCommand):
    """Take back the leave or sick day that starts on ``first``."""

    caregiver_id: str = ""
    first: date | None = None
    provider_id: str | None = None


@dataclass(frozen=True)
class RecordHeartbeat(RegisterCommand):
    """An alarm device said it is alive (at the command's ``at``)."""

    device_id: str = ""
