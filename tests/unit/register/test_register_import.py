"""Importing register files into the database: the sample register sets up a center with no
UHHC file, a re-import changes nothing, a dry run changes nothing, every rejected row is
reported as line N, column C (as the file writes the column), each change is an event on
care.register.v1 and an audit row, and the export reads back unchanged."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from channels.register import import_file
from db import tables
from db.session import session_factory
from handlers.model import AlarmDevice, Caregiver, Elder
from handlers.register.export import caregiver_row, elder_row, header
from handlers.register.files import RegisterFileError
from handlers.register.rows import RegisterContext

FOLDER = Path(__file__).resolve().parents[3] / "docs" / "sample-register"
CENTER = RegisterContext(tz="Asia/Shanghai", area_code="0512", region_hint="江苏省/苏州市")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ORDER = (
    ("providers", "providers.csv"),
    ("elders", "elders.csv"),
    ("caregivers", "caregivers.csv"),
    ("devices", "devices.xlsx"),
)


@pytest.fixture
def sessions(migrated_sqlite):
    return session_factory(migrated_sqlite("center.db"))


def load(sessions, kind, name, **kw):
    return import_file(sessions, kind, (FOLDER / name).read_bytes(), name, CENTER, now=NOW, **kw)


def count(sessions, table, *where):
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(table).where(*where))


def register_events(sessions):
    with sessions() as s:
        return list(s.scalars(select(tables.outbox.c.value).where(tables.outbox.c.topic == "care.register.v1")))


def test_the_sample_register_sets_up_a_center_from_files_alone(sessions):
    for kind, name in ORDER:
        report = load(sessions, kind, name)
        assert [str(e) for e in report.errors] == []
    with sessions() as s:
        e001 = s.get(Elder, "E001")
        c05 = s.get(Caregiver, "C05")
        devices = list(s.scalars(select(AlarmDevice)))
        areas = s.execute(select(tables.service_areas)).all()
        placed = {row.service_area: row.region_path for row in s.execute(select(tables.service_area_regions))}
    assert e001.landline == "+8651265123401" and e001.access_notes == "钥匙在门口密码箱"
    assert e001.family_contacts == [{"name": "张伟", "relation": "son", "phone": "+8613800138101", "sms_opt_in": True}]
    assert e001.family_phones == ["+8613800138101"] and e001.location_provenance == "given"
    assert c05.rota == "mon-fri 22:00-06:00; extra 2027-01-02 09:00-13:00" and c05.time_zone == "Asia/Shanghai"
    assert c05.travel_mode == "car" and c05.home_base_index is not None and c05.shift_start is None
    assert {d.kind for d in devices} == {"one_key_phone", "pendant", "watch"}
    assert [(a.service_area, a.travel_matrix) for a in areas] == [("江苏省/苏州市/姑苏区", None)]
    assert placed == {"江苏省/苏州市/姑苏区": "江苏省/苏州市/姑苏区"}
    assert count(sessions, tables.elders, tables.elders.c.location_provenance == "approximate") == 4


def test_every_change_is_an_event_without_personal_data_and_an_audit_row(sessions):
    load(sessions, "providers", "providers.csv")
    load(sessions, "elders", "elders.csv")
    events = register_events(sessions)
    assert len(events) == 12
    added = next(e for e in events if e["subject"] == "E001")
    assert added["type"] == "register.elder.added" and added["data"]["actor"] == "cli"
    assert "张桂英" not in str(events) and "13800138001" not in str(events)
    assert count(sessions, tables.audit_log, tables.audit_log.c.action == "register.elder.added") == 10


def test_importing_the_same_file_twice_changes_nothing_the_second_time(sessions):
    load(sessions, "providers", "providers.csv")
    first = load(sessions, "elders", "elders.csv")
    before = len(register_events(sessions))
    again = load(sessions, "elders", "elders.csv")
    assert (first.added, again.added, again.updated, again.unchanged) == (10, 0, 0, 10)
    assert len(register_events(sessions)) == before


def test_a_changed_row_updates_the_elder_by_id_naming_what_changed(sessions):
    load(sessions, "providers", "providers.csv")
    load(sessions, "elders", "elders.csv")
    text = (FOLDER / "elders.csv").read_text(encoding="utf-8-sig").replace("高血压，行动不便", "高血压，已能自行走动")
    report = import_file(sessions, "elders", text.encode(), "elders.csv", CENTER, now=NOW)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 9)
    assert register_events(sessions)[-1]["data"]["changed"] == ["notes"]


def test_a_dry_run_reports_the_same_and_changes_nothing(sessions):
    load(sessions, "providers", "providers.csv")
    dry = load(sessions, "elders", "elders.csv", dry_run=True)
    assert (dry.added, dry.errors) == (10, [])
    assert count(sessions, tables.elders) == 0
    assert len(register_events(sessions)) == 2


def test_a_caregiver_of_an_unknown_provider_is_refused_naming_the_files_column_and_the_others_go_in(sessions):
    load(sessions, "providers", "providers.csv")
    text = "工号,服务商编号,姓名,联系电话,技能,排班,出行方式\nX1,P01,张三,13900000001,助餐,周一至周五 08:00-12:00,步行\nX2,P09,李四,13900000002,助餐,周一 08:00-12:00,步行\nX3,P01,王五,13900000003,助洁,周二、周四 13:00-21:00,电动车\n"
    report = import_file(sessions, "caregivers", text.encode("gb18030"), "护理员.csv", CENTER, now=NOW)
    assert [str(e) for e in report.errors] == [
        "line 3, column 服务商编号: no registered provider 'P09': import the providers first"
    ]
    assert (report.added, report.rejected_lines) == (2, 1)
    with sessions() as s:
        assert sorted(s.scalars(select(tables.caregivers.c.caregiver_id))) == ["X1", "X3"]
    assert [e["subject"] for e in register_events(sessions)][-2:] == ["X1", "X3"]


def test_bad_rows_are_each_reported_and_nothing_is_dropped_silently(sessions):
    text = (
        "elder_id,name,phone,address,latitude,longitude\n"
        "E1,王一,13800138000,苏州市姑苏区十全街1号,31.3,120.6\n"
        "E2,王二,12345,苏州市姑苏区十全街2号,31.3,120.6\n"
        "E3,王三,,,,\n"
        "E4,,13800138004,苏州市姑苏区十全街4号,91,120.6\n"
    )
    report = import_file(sessions, "elders", text.encode(), "elders.csv", CENTER, now=NOW)
    assert [str(e) for e in report.errors] == [
        "line 3, column phone: a mobile number has 11 digits, this one 5",
        "line 4, column address: an address or latitude and longitude are required",
        "line 5, column name: required",
        "line 5, column latitude: 91.0 is outside -90..90 degrees",
    ]
    assert (report.read, report.added, report.rejected_lines) == (4, 1, 3)
    assert count(sessions, tables.elders) == 1


def test_an_elder_row_without_district_or_service_area_is_refused(sessions):
    text = "elder_id,name,latitude,longitude\nE1,王一,31.3,120.6\n"
    report = import_file(sessions, "elders", text.encode(), "elders.csv", CENTER, now=NOW)
    assert [str(e) for e in report.errors] == [
        "line 2, column service_area: no service area: give service_area/服务区域, or an address or region path with its district"
    ]


def test_a_file_that_cannot_be_read_is_refused_whole(sessions):
    with pytest.raises(RegisterFileError, match="neither UTF-8"):
        import_file(
            sessions,
            "elders",
            "编号,姓名\nE1,王一\n".encode("big5", errors="ignore") + b"\xff\xfe\xfa",
            "x.csv",
            CENTER,
        )


def test_the_export_reads_back_unchanged(sessions):
    for kind, name in ORDER[:3]:
        load(sessions, kind, name)
    with sessions() as s:
        from db import register_views as views

        elders = io.StringIO()
        w = csv.writer(elders)
        w.writerow(header("elders"))
        w.writerows(elder_row(e) for e in views.elders(s))
        cgs = io.StringIO()
        w = csv.writer(cgs)
        w.writerow(header("caregivers"))
        w.writerows(caregiver_row(v.caregiver, v.latitude, v.longitude, v.provenance) for v in views.caregivers(s))
    assert "approximate" in elders.getvalue() and "location_provenance" in elders.getvalue().splitlines()[0]
    for kind, text in (("elders", elders.getvalue()), ("caregivers", cgs.getvalue())):
        report = import_file(sessions, kind, text.encode(), f"{kind}.csv", CENTER, now=NOW)
        assert (report.errors, report.added, report.updated) == ([], 0, 0)
