"""Use cases of the register: add, edit, deactivate elders, caregivers, providers and devices;
keep rotas and leave.

Each takes its command (``handlers.register.commands``), a ``RegisterUnitOfWork`` and the
time, changes state, emits ``register.<kind>.<added|updated>`` on ``care.register.v1`` and
writes an audit row (who, through what, which fields changed: names only, never values, so no
personal data travels on Kafka or sits in the audit log). Applying the same record twice
changes nothing the second time and emits nothing (an import is idempotent by id).

Refusals raise ``RegisterRefused(field, reason)``: an unknown provider or elder, no service
area, a rota that does not read, a region outside the actor's scope (``scope``: the
operator's region path, ``""`` everywhere; ``handlers.operations.regions.within``). Every
check runs before the first write, so a refused command has changed nothing (an import goes
on with the next row).

Defaults: a record without a service area takes its provider's (caregivers), else the region
path cut to the district (``江苏省/苏州市/姑苏区``), a new area being placed there; a caregiver
without a home address or coordinates starts from its provider's office.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable, Mapping, TypeVar

from handlers.dispatch.shifts import rota_of_text
from handlers.model import AlarmDevice, Caregiver, DomainEvent, Elder, ProviderOrganisation
from handlers.operations.regions import SEPARATOR, within
from handlers.register import commands as c
from handlers.register.ports import RegisterUnitOfWork, Repository
from handlers.register.records import Location, Provenance
from handlers.register.rota import Absence, Rota, RotaConflict, RotaSyntaxError, format_rota
from handlers.register.rota import parse as parse_rota
from handlers.register.services import ElderStatus

T = TypeVar("T")
DISTRICT_LEVELS = 3


class RegisterRefused(ValueError):
    """A register change refused; ``field`` is the column key (``provider_id``, ``rota``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class Change:
    """What a command did: ``action`` added, updated or unchanged, and the fields changed."""

    kind: str
    subject: str
    action: str
    changed: tuple[str, ...] = ()


def default_service_area(region_path: str) -> str | None:
    """The service area of a record that names none: its region path cut to the district."""
    parts = [p for p in region_path.split(SEPARATOR) if p] if region_path else []
    return SEPARATOR.join(parts[:DISTRICT_LEVELS]) if parts else None


def register_provider(cmd: c.RegisterProvider, uow: RegisterUnitOfWork, now: datetime) -> Change:
    """Add a provider organisation or update it by ``provider_id``; emits ``register.provider.added``
    or ``.updated``. The service area is the record's, else its region cut to the district, else the
    one it had. Raises ``RegisterRefused`` for no record, no service area (``service_area``) or a
    region outside ``cmd.scope`` (``region_path``)."""
    r = _required(cmd.record)
    existing = uow.providers.get(r.provider_id)
    area = r.service_area or default_service_area(r.region_path) or (existing.service_area if existing else None)
    if not area:
        raise RegisterRefused("service_area", "no service area: give service_area/服务区域 or the district's region")
    region = r.region_path or uow.region_of(area) or ""
    _check_scope(cmd.scope, region, existing.region_path if existing else None)
    uow.ensure_area(area, region)
    point = r.location
    values = dict(
        name=r.name,
        service_area=area,
        service_types=" ".join(r.service_types),
        address=r.address or None,
        phone=r.phone,
        latitude=point.latitude if point else None,
        longitude=point.longitude if point else None,
        location_provenance=point.provenance.value if point else None,
        region_path=r.region_path or None,
    )
    return _apply(
        uow,
        uow.providers,
        "provider",
        r.provider_id,
        existing,
        lambda: ProviderOrganisation(r.provider_id, r.name, area),
        values,
        cmd,
        now,
        area,
        region,
    )


def register_elder(cmd: c.RegisterElder, uow: RegisterUnitOfWork, now: datetime) -> Change:
    """Add an elder or update one by ``elder_id``; emits ``register.elder.added`` or ``.updated``.
    Family contacts who opted in to SMS become ``family_phones`` and turn family updates on. A
    point equal to the stored one keeps its location index. Raises ``RegisterRefused`` for no
    record, no service area (``service_area``) or a region outside ``cmd.scope`` (``region_path``)."""
    r = _required(cmd.record)
    existing = uow.elders.get(r.elder_id)
    area = r.service_area or (existing.service_area if existing else None) or default_service_area(r.region_path)
    if not area:
        raise RegisterRefused(
            "service_area",
            "no service area: give service_area/服务区域, or an address or region path with its district",
        )
    region = r.region_path or uow.region_of(area) or ""
    _check_scope(cmd.scope, region, existing.region_path if existing else None)
    uow.ensure_area(area, region)
    index, point = _locate(uow, r.location, existing.location_index if existing else None)
    contacts = [
        {"name": k.name, "relation": k.relation, "phone": k.phone, "sms_opt_in": k.sms_opt_in}
        for k in r.family_contacts
    ]
    sms = [k.phone for k in r.family_contacts if k.sms_opt_in]
    values: dict[str, Any] = dict(
        service_area=area,
        name=r.name,
        gender=r.gender.value if r.gender else None,
        birth_year=r.birth_year,
        phone=r.phone,
        landline=r.landline,
        family_contacts=contacts,
        family_phones=sms,
        family_updates=bool(sms),
        address=r.address or None,
        region_path=r.region_path or None,
        location_index=index,
        latitude=point.latitude if point else None,
        longitude=point.longitude if point else None,
        location_provenance=point.provenance.value if point else None,
        location_precision=point.precision if point else None,
        language=r.language,
        preferred_gender=r.preferred_caregiver_gender.value if r.preferred_caregiver_gender else None,
        preferred_caregivers=" ".join(r.preferred_caregivers),
        excluded_caregivers=" ".join(r.excluded_caregivers),
        notes=r.notes or None,
        access_notes=r.access_notes or None,
        status=r.status.value,
    )
    return _apply(
        uow, uow.elders, "elder", r.elder_id, existing, lambda: Elder(r.elder_id, area), values, cmd, now, area, region
    )


def register_caregiver(cmd: c.RegisterCaregiver, uow: RegisterUnitOfWork, now: datetime) -> Change:
    """Add a caregiver or update one by ``caregiver_id``; emits ``register.caregiver.added`` or
    ``.updated``. Area and region default to the provider's; the home base to the provider's office.
    Raises ``RegisterRefused`` for no record, an unknown provider (``provider_id``), no home base
    (``address``) or a region outside ``cmd.scope`` (``region_path``)."""
    r = _required(cmd.record)
    provider = uow.providers.get(r.provider_id)
    if provider is None:
        raise RegisterRefused("provider_id", f"no registered provider {r.provider_id!r}: import the providers first")
    existing = uow.caregivers.get(r.caregiver_id)
    area = r.service_area or provider.service_area
    region = r.region_path or provider.region_path or uow.region_of(area) or ""
    _check_scope(cmd.scope, region, existing.region_path if existing else None)
    home = r.home_location or _office(provider)
    if home is None:
        raise RegisterRefused(
            "address", "no home base: give the caregiver's address or coordinates, or the provider's coordinates"
        )
    uow.ensure_area(area, region)
    values: dict[str, Any] = dict(
        provider_id=r.provider_id,
        service_area=area,
        abilities=" ".join(r.skills),
        display_name=r.name,
        phone=r.phone,
        rota=format_rota(r.rota),
        time_zone=r.rota.tz,
        travel_mode=r.travel_mode.value,
        max_visits_per_day=r.max_visits_per_day,
        gender=r.gender.value if r.gender else None,
        language=" ".join(r.languages) or None,
        home_address=r.home_address or None,
        region_path=r.region_path or None,
        home_base_index=_locate(uow, home, existing.home_base_index if existing else None)[0],
        active=r.active,
    )
    return _apply(
        uow,
        uow.caregivers,
        "caregiver",
        r.caregiver_id,
        existing,
        lambda: Caregiver(r.caregiver_id, r.provider_id, area, "", None, None, None),
        values,
        cmd,
        now,
        area,
        region,
    )


def register_device(cmd: c.RegisterDevice, uow: RegisterUnitOfWork, now: datetime) -> Change:
    """Add a one-key alarm device or update one by ``device_id``, in its elder's service area;
    emits ``register.device.added`` or ``.updated``. Raises ``RegisterRefused`` for no record, an
    unknown elder (``elder_id``) or an elder outside ``cmd.scope`` (``region_path``)."""
    r = _required(cmd.record)
    elder = uow.elders.get(r.elder_id)
    if elder is None:
        raise RegisterRefused("elder_id", f"no registered elder {r.elder_id!r}: import the elders first")
    region = elder.region_path or uow.region_of(elder.service_area) or ""
    _check_scope(cmd.scope, region, None)
    existing = uow.devices.get(r.device_id)
    values = dict(elder_id=r.elder_id, kind=r.kind.value, phone=r.phone)
    return _apply(
        uow,
        uow.devices,
        "device",
        r.device_id,
        existing,
        lambda: AlarmDevice(r.device_id, r.elder_id, now),
        values,
        cmd,
        now,
        elder.service_area,
        region,
    )


def set_elder_status(cmd: c.SetElderStatus, uow: RegisterUnitOfWork, now: datetime) -> Change:
    """Set an elder's ``ElderStatus`` (a request for an elder not active goes to an operator);
    emits ``register.elder.updated`` unless unchanged. Raises ``RegisterRefused`` for an unknown
    elder (``elder_id``), a status not in ``ElderStatus`` (``status``) or scope (``region_path``)."""
    elder = _found(uow.elders, cmd.elder_id, "elder_id", "elder")
    try:
        status = ElderStatus(cmd.status).value
    except ValueError:
        raise RegisterRefused("status", f"not one of {', '.join(s.value for s in ElderStatus)}") from None
    region = elder.region_path or uow.region_of(elder.service_area) or ""
    _check_scope(cmd.scope, region, None)
    return _apply(
        uow, uow.elders, "elder", cmd.elder_id, elder, _never, {"status": status}, cmd, now, elder.service_area, region
    )


def set_caregiver_active(cmd: c.SetCaregiverActive, uow: RegisterUnitOfWork, now: datetime) -> Change:
    """Activate or deactivate a caregiver (an inactive one is offered nothing); emits
    ``register.caregiver.updated`` unless unchanged. Raises ``RegisterRefused`` for an unknown
    caregiver (``caregiver_id``) or one outside ``cmd.scope`` (``region_path``)."""
    caregiver = _found(uow.caregivers, cmd.caregiver_id, "caregiver_id", "caregiver")
    region = caregiver.region_path or uow.region_of(caregiver.service_area) or ""
    _check_scope(cmd.scope, region, None)
    return _apply(
        uow,
        uow.caregivers,
        "caregiver",
        cmd.caregiver_id,
        caregiver,
        _never,
        {"active": cmd.active},
        cmd,
        now,
        caregiver.service_area,
        region,
    )


def set_device_active(cmd: c.SetDeviceActive, uow: RegisterUnitOfWork, now: datetime) -> Change:
    """Activate or deactivate an alarm device; emits ``register.device.updated`` unless unchanged.
    Raises ``RegisterRefused`` for an unknown device (``device_id``) or one whose elder is outside
    ``cmd.scope`` (``region_path``)."""
    device = _found(uow.devices, cmd.device_id, "device_id", "device")
    elder = uow.elders.get(device.elder_id)
    area = elder.service_area if elder else ""
    region = (elder.region_path if elder else None) or uow.region_of(area) or ""
    _check_scope(cmd.scope, region, None)
    return _apply(
        uow, uow.devices, "device", cmd.device_id, device, _never, {"active": cmd.active}, cmd, now, area, region
    )


def set_provider_active(cmd: c.SetProviderActive, uow: RegisterUnitOfWork, now: datetime) -> Change:
    """Activate or deactivate a provider organisation; emits ``register.provider.updated`` unless
    unchanged. Raises ``RegisterRefused`` for an unknown provider (``provider_id``) or one outside
    ``cmd.scope`` (``region_path``)."""
    provider = _found(uow.providers, cmd.provider_id, "provider_id", "provider")
    region = provider.region_path or uow.region_of(provider.service_area) or ""
    _check_scope(cmd.scope, region, None)
    return _apply(
        uow,
        uow.providers,
        "provider",
        cmd.provider_id,
        provider,
        _never,
        {"active": cmd.active},
        cmd,
        now,
        provider.service_area,
        region,
    )


def set_rota(cmd: c.SetRota, uow: RegisterUnitOfWork, now: datetime) -> Change:
    """Replace a caregiver's weekly rota with ``cmd.rota`` (the grammar of
    ``handlers.register.rota_grammar``, in the caregiver's time zone, UTC when none is stored);
    emits ``register.caregiver.updated`` unless unchanged. Raises ``RegisterRefused`` for a
    caregiver unknown or not of ``cmd.provider_id`` (``caregiver_id``), a rota that does not read
    (``rota``, the parser's message) or scope (``region_path``)."""
    caregiver = _own_caregiver(uow, cmd.caregiver_id, cmd.provider_id, cmd.scope)
    try:
        rota = parse_rota(cmd.rota, _zone(caregiver))
    except (RotaSyntaxError, ValueError) as exc:
        raise RegisterRefused("rota", str(exc)) from None
    return _rota_change(uow, caregiver, rota, cmd, now)


def add_absence(cmd: c.AddAbsence, uow: RegisterUnitOfWork, now: datetime) -> Change:
    """Add leave or a sick day (``cmd.first``..``cmd.last`` inclusive, one day when ``last`` is
    None) to a caregiver's rota; emits ``register.caregiver.updated``. Raises ``RegisterRefused``
    for a caregiver unknown or not of ``cmd.provider_id`` (``caregiver_id``), no first day
    (``first``), a caregiver without a weekly rota or an absence that does not fit (``rota``: an
    unknown kind, ``last`` before ``first``, an extra shift on one of its days), or scope
    (``region_path``)."""
    caregiver = _own_caregiver(uow, cmd.caregiver_id, cmd.provider_id, cmd.scope)
    if cmd.first is None:
        raise RegisterRefused("first", "the first day of the absence is required")
    rota = _rota(caregiver)
    try:
        absence = Absence(cmd.first, cmd.last or cmd.first, cmd.kind)
        changed = replace(rota, absences=(*rota.absences, absence))
    except RotaConflict as exc:
        raise RegisterRefused("rota", str(exc)) from None
    return _rota_change(uow, caregiver, changed, cmd, now)


def remove_absence(cmd: c.RemoveAbsence, uow: RegisterUnitOfWork, now: datetime) -> Change:
    """Remove the absence starting on ``cmd.first`` from a caregiver's rota; emits
    ``register.caregiver.updated``. Raises ``RegisterRefused`` for a caregiver unknown or not of
    ``cmd.provider_id`` (``caregiver_id``), no weekly rota (``rota``), no absence starting that day
    (``first``), or scope (``region_path``)."""
    caregiver = _own_caregiver(uow, cmd.caregiver_id, cmd.provider_id, cmd.scope)
    rota = _rota(caregiver)
    kept = tuple(a for a in rota.absences if a.first != cmd.first)
    if len(kept) == len(rota.absences):
        raise RegisterRefused("first", f"no leave or sick day starts on {cmd.first}")
    return _rota_change(uow, caregiver, replace(rota, absences=kept), cmd, now)


def record_heartbeat(cmd: c.RecordHeartbeat, uow: RegisterUnitOfWork, now: datetime) -> Change:
    """The device's last heartbeat moves forward (never back: heartbeats may arrive out of
    order). Not audited: a device, not a person, changed it."""
    device = _found(uow.devices, cmd.device_id, "device_id", "device")
    at = cmd.at or now
    if device.last_heartbeat_at is None or at > device.last_heartbeat_at:
        device.last_heartbeat_at = at
        return Change("device", cmd.device_id, "updated", ("last_heartbeat_at",))
    return Change("device", cmd.device_id, "unchanged")


def _rota_change(
    uow: RegisterUnitOfWork, caregiver: Caregiver, rota: Rota, cmd: c.RegisterCommand, now: datetime
) -> Change:
    region = caregiver.region_path or uow.region_of(caregiver.service_area) or ""
    values = {"rota": format_rota(rota), "time_zone": rota.tz}
    return _apply(
        uow,
        uow.caregivers,
        "caregiver",
        caregiver.caregiver_id,
        caregiver,
        _never,
        values,
        cmd,
        now,
        caregiver.service_area,
        region,
    )


def _own_caregiver(uow: RegisterUnitOfWork, caregiver_id: str, provider_id: str | None, scope: str) -> Caregiver:
    caregiver = uow.caregivers.get(caregiver_id)
    if caregiver is None or (provider_id is not None and caregiver.provider_id != provider_id):
        raise RegisterRefused("caregiver_id", f"no caregiver {caregiver_id!r}" + (" of yours" if provider_id else ""))
    _check_scope(scope, caregiver.region_path or uow.region_of(caregiver.service_area) or "", None)
    return caregiver


def _zone(caregiver: Caregiver) -> str:
    return caregiver.time_zone or "UTC"


def _rota(caregiver: Caregiver) -> Rota:
    if not caregiver.rota:
        raise RegisterRefused("rota", "this caregiver works a fixed shift, not a weekly rota: give a rota first")
    return rota_of_text(caregiver.rota, _zone(caregiver))


def _office(provider: ProviderOrganisation) -> Location | None:
    if provider.latitude is None or provider.longitude is None:
        return None
    provenance = Provenance(provider.location_provenance or Provenance.GIVEN.value)
    return Location(provider.latitude, provider.longitude, provenance)


def _locate(uow: RegisterUnitOfWork, point: Location | None, current: int | None) -> tuple[int | None, Location | None]:
    """The location index of ``point`` and the point as stored: the current ones when it is the
    same point (same degrees and provenance: an exported approximate point read back keeps its
    index and precision), else a new row."""
    if point is None:
        return current, uow.location(current)
    stored = uow.location(current) if current is not None else None
    if stored is not None and (stored.latitude, stored.longitude, stored.provenance) == (
        point.latitude,
        point.longitude,
        point.provenance,
    ):
        return current, stored
    return uow.locate(point), point


def _check_scope(scope: str, region: str, old_region: str | None) -> None:
    for path in (region, old_region):
        if path is not None and scope and not within(path, scope):
            raise RegisterRefused("region_path", f"{path or 'a record without a region'} is outside {scope}")


def _required(record: T | None) -> T:
    if record is None:
        raise RegisterRefused("record", "no record given")
    return record


def _found(repository: Repository[T], key: str, field: str, what: str) -> T:
    found = repository.get(key)
    if found is None:
        raise RegisterRefused(field, f"no registered {what} {key!r}")
    return found


def _never() -> Any:
    raise AssertionError("an existing record is changed, never made")


def _apply(
    uow: RegisterUnitOfWork,
    repository: Repository[T],
    kind: str,
    ident: str,
    existing: T | None,
    make: Callable[[], T],
    values: Mapping[str, Any],
    cmd: c.RegisterCommand,
    now: datetime,
    area: str,
    region: str,
) -> Change:
    obj = existing if existing is not None else make()
    changed = tuple(sorted(k for k, v in values.items() if existing is None or getattr(obj, k, None) != v))
    if existing is not None and not changed:
        return Change(kind, ident, "unchanged")
    for key, value in values.items():
        setattr(obj, key, value)
    if existing is None:
        repository.add(obj)
    action = "added" if existing is None else "updated"
    payload = {"service_area": area, "changed": list(changed), "actor": cmd.actor, "source": cmd.source}
    uow.emit(DomainEvent(f"register.{kind}.{action}", ident, now, "register", ident, payload))
    uow.audit(
        cmd.actor,
        f"register.{kind}.{action}",
        ident,
        now,
        detail={"changed": list(changed), "source": cmd.source},
        region=region or None,
    )
    return Change(kind, ident, action, changed)
