"""The register's pages through the web app: an admin adds, edits and deactivates the records
of its region by the same rules as a file, keeps caregivers' rotas and leave, sees who is on
shift and on leave, and imports a file; other roles and other regions are refused."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from db import tables
from db.session import session_factory
from handlers.model import Caregiver, Elder, ProviderOrganisation
from tests.unit.web_client import _seeded, app, center, login  # noqa: F401

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "sample-register"

NEW_ELDER = {
    "elder_id": "e-new",
    "name": "赵玉兰",
    "gender": "女",
    "birth_year": "1940",
    "phone": "１３９ ０１２３-４５６７",  # full-width digits, spaces and a dash
    "landline": "025-8330 5678",
    "family_contacts": "赵刚(儿子) 13911112233 短信",
    "address": "南京市鼓楼区宁海路街道西康路8号",
    "region_path": "江苏省/南京市/鼓楼区/宁海路街道/西康社区",
    "service_area": "gulou-xikang",
    "notes": "独居",
}


def form(client, path: str, **fields):
    return client.post(path, data={"csrf_token": client.csrf, **fields}, follow_redirects=False)


def events(center, key: str) -> int:
    with session_factory(center.database_url)() as s:
        return len(
            s.execute(
                select(tables.outbox.c.seq).where(
                    tables.outbox.c.topic == "care.register.v1", tables.outbox.c.key == key
                )
            ).all()
        )


def test_an_admin_adds_and_edits_an_elder_by_the_files_rules(app, center):
    adm = login(app, "gl-adm")
    answer = form(adm, "/admin/register/elders", **NEW_ELDER)
    assert answer.status_code == 303, answer.text
    page = adm.get(answer.headers["location"])
    assert 'data-id="e-new"' in page.text and "赵玉兰" in page.text
    with session_factory(center.database_url)() as s:
        elder = s.get(Elder, "e-new")
        assert elder.phone == "+8613901234567" and elder.landline == "+862583305678"
        assert elder.family_contacts[0]["sms_opt_in"] is True
    assert events(center, "e-new") == 1

    edit = adm.get("/admin/register/elders", params={"edit": "e-new"})
    assert 'value="+8613901234567"' in edit.text and "readonly" in edit.text
    assert form(adm, "/admin/register/elders", **{**NEW_ELDER, "notes": "独居，听力差"}).status_code == 303
    with session_factory(center.database_url)() as s:
        assert s.get(Elder, "e-new").notes == "独居，听力差"
    assert events(center, "e-new") == 2

    bad = form(adm, "/admin/register/elders", **{**NEW_ELDER, "elder_id": "e-bad", "birth_year": "abc"})
    assert bad.status_code == 400 and "birth_year" in bad.text and 'value="abc"' in bad.text
    with session_factory(center.database_url)() as s:
        assert s.get(Elder, "e-bad") is None


def test_an_admin_cannot_register_outside_its_region_and_an_operator_not_at_all(app, center):
    adm = login(app, "gl-adm")  # 鼓楼区
    elsewhere = {**NEW_ELDER, "region_path": "江苏省/南京市/玄武区/梅园新村街道", "service_area": "xuanwu-meiyuan"}
    answer = form(adm, "/admin/register/elders", **elsewhere)
    assert answer.status_code == 400 and "region" in answer.text
    assert 'data-id="e7"' not in adm.get("/admin/register/elders").text  # an elder of 玄武区
    assert 'data-id="e1"' in adm.get("/admin/register/elders").text
    op = login(app, "op")
    assert op.get("/admin/register/elders", follow_redirects=False).status_code == 403


def test_an_elder_in_hospital_and_a_caregiver_who_left(app, center):
    adm = login(app, "adm")
    assert form(adm, "/admin/register/elders/e2/status", status="in_hospital").status_code == 303
    assert form(adm, "/admin/register/caregivers/cg-wu/active", active="false").status_code == 303
    with session_factory(center.database_url)() as s:
        assert s.get(Elder, "e2").status == "in_hospital"
        assert s.get(Caregiver, "cg-wu").active is False
    page = adm.get("/admin/register/caregivers")
    assert re.search(r'<tr data-id="cg-wu" class="inactive">', page.text)


def test_a_rota_and_leave_show_who_is_on_shift_and_on_leave(app, center):
    adm = login(app, "adm")
    assert form(adm, "/admin/register/caregivers/cg-li/rota", rota="每天 00:00-24:00").status_code == 303
    assert form(adm, "/admin/register/caregivers/cg-zhou/rota", rota="每天 00:00-24:00").status_code == 303
    today = center.now.date()
    answer = form(adm, "/admin/register/caregivers/cg-zhou/leave", kind="sick", first=today.isoformat(), last="")
    assert answer.status_code == 303, answer.text
    page = adm.get("/admin/register/caregivers", params={"lang": "en"})
    zhou = page.text.split('data-id="cg-zhou"')[1].split("</tr>")[0]
    assert "Sick" in zhou
    assert re.search(r'id="count-on-leave">On leave 1<', page.text)
    assert "On shift" in page.text.split('data-id="cg-li"')[1].split("</tr>")[0]
    board = login(app, "op").get("/dashboard", params={"lang": "en"}).text  # the operators' board too
    assert "Sick" in board.split('data-caregiver="cg-zhou"')[1].split("</li>")[0]
    assert re.search(r'id="on-leave-now">On leave 1<', board)
    assert "Shift now / next" in board.split('data-caregiver="cg-li"')[1].split("</li>")[0]

    refused = form(adm, "/admin/register/caregivers/cg-li/rota", rota="mon-fri 25:00-26:00")
    assert refused.status_code == 409 and "rota" in refused.text
    assert form(adm, "/admin/register/caregivers/cg-zhou/leave/remove", first=today.isoformat()).status_code == 303
    with session_factory(center.database_url)() as s:
        assert "sick" not in (s.get(Caregiver, "cg-zhou").rota or "")
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert form(adm, "/admin/register/caregivers/cg-zhou/leave", first=tomorrow, last="not a day").status_code == 400


def test_a_file_imported_from_the_page_reports_each_rejected_row(app, center):
    adm = login(app, "adm")
    data = (SAMPLES / "providers.csv").read_bytes()
    checked = adm.post(
        "/admin/register/providers/import",
        data={"csrf_token": adm.csrf, "dry_run": "true"},
        files={"file": ("providers.csv", data, "text/csv")},
    )
    assert checked.status_code == 200 and 'id="report"' in checked.text and "+2" in checked.text
    with session_factory(center.database_url)() as s:  # a dry run changes nothing
        assert s.get(ProviderOrganisation, "P01") is None
    bad = "编号,姓名,出生年份,住址\nE9,甲,18,南京市鼓楼区宁海路\n".encode("gb18030")
    answer = adm.post(
        "/admin/register/elders/import",
        data={"csrf_token": adm.csrf},
        files={"file": ("elders.csv", bad, "text/csv")},
    )
    assert answer.status_code == 400 and "line 2, column 出生年份" in answer.text
    real = adm.post(
        "/admin/register/providers/import",
        data={"csrf_token": adm.csrf},
        files={"file": ("providers.csv", data, "text/csv")},
    )
    assert real.status_code == 200 and 'data-id="P02"' in real.text
    with session_factory(center.database_url)() as s:
        assert s.get(ProviderOrganisation, "P01").name == "姑苏居家乐养老服务中心"
