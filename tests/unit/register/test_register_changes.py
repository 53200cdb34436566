"""The register's use cases through the message bus with an in-memory unit of work: rotas and
leave kept by a provider for its own caregivers only, the actor's region scope, an elder who
is not active is never dispatched to (its request goes to an operator), heartbeats."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from handlers import messagebus
from handlers import messages as m
from handlers.dispatch.area import AreaContext
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.model import AlarmDevice, Caregiver, Elder, ProviderOrganisation, RequestStatus
from handlers.register import commands as rc
from handlers.register.changes import RegisterRefused, default_service_area
from handlers.register.geo import CoordinateTravelTimes
from handlers.register.records import CaregiverRecord, ElderRecord, Location
from handlers.register.rota import parse
from handlers.register.services import ElderStatus, TravelMode
from handlers.simulation.memory import InMemoryUnitOfWork, _Store

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # Tuesday 09:00 in Shanghai
GUSU = "江苏省/苏州市/姑苏区"


class RegisterMemory(InMemoryUnitOfWork):
    """``InMemoryUnitOfWork`` plus what the register needs: devices, points, areas, audit rows."""

    def __init__(self) -> None:
        super().__init__()
        self.devices: _Store[AlarmDevice] = _Store(lambda d: d.device_id)
        self.points: dict[int, Location] = {}
        self.areas: dict[str, str] = {}
        self.audits: list[tuple] = []

    def locate(self, location):
        self.points[len(self.points)] = location
        return len(self.points) - 1

    def location(self, index):
        return self.points.get(index) if index is not None else None

    def ensure_area(self, service_area, region_path):
        self.areas.setdefault(service_area, default_service_area(region_path) or "")

    def region_of(self, service_area):
        return self.areas.get(service_area)

    def audit(self, operator_id, action, target, at, outcome="done", detail=None, region=None):
        self.audits.append((operator_id, action, target, region))


def run(uow, command):
    return messagebus.handle(command, uow, NOW)


def center() -> RegisterMemory:
    uow = RegisterMemory()
    uow.providers.add(
        ProviderOrganisation("P01", "居家乐", GUSU, "meal cleaning", latitude=31.31, longitude=120.62, region_path=GUSU)
    )
    uow.providers.add(
        ProviderOrganisation("P02", "护理站", GUSU, "bathing", latitude=31.30, longitude=120.63, region_path=GUSU)
    )
    for cid, pid in (("C01", "P01"), ("C02", "P02")):
        record = CaregiverRecord(
            cid,
            pid,
            "护理员",
            "+8613900139001",
            ("meal",),
            parse("mon-fri 08:00-16:00", "Asia/Shanghai"),
            TravelMode.E_BIKE,
            2,
        )
        run(uow, rc.RegisterCaregiver("ev", NOW, record=record))
    return uow


def test_a_caregiver_without_a_home_address_starts_from_its_providers_office():
    uow = center()
    c01 = uow.caregivers.get("C01")
    assert uow.points[c01.home_base_index] == Location(31.31, 120.62)
    assert c01.service_area == GUSU and c01.rota == "mon-fri 08:00-16:00" and c01.shift_start is None


def test_a_provider_keeps_the_rota_and_leave_of_its_own_caregivers_only():
    uow = center()
    change = run(
        uow,
        rc.SetRota(
            "ev",
            NOW,
            actor="provider:P01",
            source="app",
            caregiver_id="C01",
            rota="周一至周五 07:00-15:00",
            provider_id="P01",
        ),
    )
    assert change.changed == ("rota",) and uow.caregivers.get("C01").rota == "mon-fri 07:00-15:00"
    run(
        uow,
        rc.AddAbsence(
            "ev", NOW, caregiver_id="C01", first=date(2026, 12, 24), last=date(2026, 12, 31), provider_id="P01"
        ),
    )
    assert uow.caregivers.get("C01").rota == "mon-fri 07:00-15:00; leave 2026-12-24..2026-12-31"
    with pytest.raises(RegisterRefused, match="no caregiver 'C02' of yours"):
        run(uow, rc.SetRota("ev", NOW, caregiver_id="C02", rota="mon 08:00-12:00", provider_id="P01"))
    with pytest.raises(RegisterRefused, match="column 5: expected a shift like 08:00-16:00"):
        run(uow, rc.SetRota("ev", NOW, caregiver_id="C01", rota="mon 8点-12点", provider_id="P01"))
    run(uow, rc.RemoveAbsence("ev", NOW, caregiver_id="C01", first=date(2026, 12, 24), provider_id="P01"))
    assert uow.caregivers.get("C01").rota == "mon-fri 07:00-15:00"
    assert [e.type for e in uow.events][-3:] == ["register.caregiver.updated"] * 3
    assert uow.audits[-1][:3] == ("cli", "register.caregiver.updated", "C01")


def test_leave_on_a_day_with_an_extra_shift_is_refused():
    uow = center()
    run(uow, rc.SetRota("ev", NOW, caregiver_id="C01", rota="mon-fri 08:00-16:00; extra 2026-12-26 09:00-12:00"))
    with pytest.raises(RegisterRefused, match="a day of absence"):
        run(uow, rc.AddAbsence("ev", NOW, caregiver_id="C01", first=date(2026, 12, 26)))


def test_an_admin_changes_only_what_lies_within_its_region():
    uow = center()
    record = ElderRecord("E1", "王一", 1, location=Location(31.3, 120.6), region_path="江苏省/苏州市/姑苏区/双塔街道")
    with pytest.raises(RegisterRefused, match="outside 江苏省/南京市"):
        run(uow, rc.RegisterElder("ev", NOW, actor="adm", source="page", scope="江苏省/南京市", record=record))
    assert uow.elders.get("E1") is None and uow.events[-1].subject == "C02"
    run(uow, rc.RegisterElder("ev", NOW, actor="adm", source="page", scope=GUSU, record=record))
    assert uow.elders.get("E1").service_area == GUSU


def test_an_elder_in_hospital_is_not_dispatched_to_and_an_operator_decides():
    uow = center()
    record = ElderRecord("E1", "王一", 1, location=Location(31.31, 120.62), region_path=GUSU + "/双塔街道")
    run(uow, rc.RegisterElder("ev", NOW, record=record))
    run(uow, rc.SetElderStatus("ev", NOW, elder_id="E1", status=ElderStatus.IN_HOSPITAL.value))
    area = AreaContext(DispatchPolicy(shift_end_hard=True), CoordinateTravelTimes(uow.points))
    intake = {
        "intake_id": "R1",
        "channel": "hotline",
        "elder_id": "E1",
        "service_type": "meal",
        "duration_minutes": 30,
        "window": {"start": (NOW + timedelta(hours=1)).isoformat(), "end": (NOW + timedelta(hours=2)).isoformat()},
        "submitted_at": NOW.isoformat(),
    }
    messagebus.handle(m.ReceiveRequest("ev-r", NOW, GUSU, intake), uow, NOW, area)
    request = uow.requests.get("R1")
    assert request.status == RequestStatus.FAILED
    assert request.status_reason == "the elder's status is in_hospital: not dispatched, an operator decides"
    assert uow.offers.for_request("R1") == []
    run(uow, rc.SetElderStatus("ev", NOW, elder_id="E1", status="active"))
    messagebus.handle(m.ReceiveRequest("ev-r2", NOW, GUSU, dict(intake, intake_id="R2")), uow, NOW, area)
    [offer] = uow.offers.for_request("R2")
    assert offer.caregiver_id == "C01"


def test_heartbeats_only_move_forward_and_are_not_audited():
    uow = center()
    run(
        uow,
        rc.RegisterElder(
            "ev", NOW, record=ElderRecord("E1", "王一", 1, location=Location(31.3, 120.6), region_path=GUSU)
        ),
    )
    from handlers.register.records import DeviceRecord
    from handlers.register.services import DeviceKind

    run(uow, rc.RegisterDevice("ev", NOW, record=DeviceRecord("D1", "E1", DeviceKind.PENDANT, 2)))
    audits = len(uow.audits)
    run(uow, rc.RecordHeartbeat("hb", NOW, device_id="D1"))
    run(uow, rc.RecordHeartbeat("hb", NOW - timedelta(hours=1), device_id="D1"))
    assert uow.devices.get("D1").last_heartbeat_at == NOW and len(uow.audits) == audits


def test_the_service_area_defaults_to_the_district():
    assert default_service_area("江苏省/苏州市/姑苏区/平江街道/平江路社区") == GUSU
    assert default_service_area("") is None
    uow = center()
    with pytest.raises(RegisterRefused, match="service_area"):
        run(uow, rc.RegisterElder("ev", NOW, record=ElderRecord("E9", "王九", 2, location=Location(31.3, 120.6))))
    run(
        uow,
        rc.RegisterElder(
            "ev",
            NOW,
            record=replace(ElderRecord("E9", "王九", 2, location=Location(31.3, 120.6)), service_area="gusu-east"),
        ),
    )
    assert uow.elders.get("E9").service_area == "gusu-east"


def test_a_second_identical_record_changes_nothing():
    uow = center()
    record = ElderRecord("E1", "王一", 1, location=Location(31.3, 120.6), region_path=GUSU)
    first = run(uow, rc.RegisterElder("ev", NOW, record=record))
    events = len(uow.events)
    again = run(uow, rc.RegisterElder("ev", NOW, record=record))
    assert (first.action, again.action, len(uow.events)) == ("added", "unchanged", events)
    assert isinstance(uow.elders.get("E1"), Elder) and isinstance(uow.caregivers.get("C01"), Caregiver)
