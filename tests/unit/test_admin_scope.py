"""A district admin manages its district only, a district supervisor reads its district's audit
log only; the last admin for all regions stays; deactivated accounts can come back."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from db import tables
from db.session import session_factory
from tests.unit.dashboard_seed import GULOU, MEIYUAN, PASSWORD, XIKANG, XUANWU
from tests.unit.web_client import _seeded, app, center, login  # noqa: F401 - fixtures

NEW_PASSWORD = "a-long-password-1"


def _add(client, user: str, scope: str, role: str = "operator"):
    return client.post(
        "/admin/operators",
        data={
            "username": user,
            "role": role,
            "password": NEW_PASSWORD,
            "region_scope": scope,
            "csrf_token": client.csrf,
        },
        follow_redirects=False,
    )


def _post(client, path: str, **form):
    return client.post(path, data={"csrf_token": client.csrf, **form}, follow_redirects=False)


def _account(center, user: str):
    with session_factory(center.database_url)() as s:
        return s.execute(select(tables.operators).where(tables.operators.c.operator_id == user)).first()


def _placed(center, area: str) -> str | None:
    t = tables.service_area_regions.c
    with session_factory(center.database_url)() as s:
        return s.execute(select(t.region_path).where(t.service_area == area)).scalar_one_or_none()


def test_a_district_admin_cannot_create_an_unscoped_or_other_district_account(app, center):
    admin = login(app, "gl-adm")
    for scope in ("", "江苏省/南京市", XUANWU):
        answer = _add(admin, f"x{len(scope)}", scope)
        assert answer.status_code == 403 and "cannot manage" in answer.text, scope
        assert _account(center, f"x{len(scope)}") is None
    assert _add(admin, "gl-new", GULOU + "/宁海路街道").status_code == 303
    assert _add(admin, "gl-peer", GULOU, role="admin").status_code == 303  # the same scope, not wider


def test_a_district_admin_cannot_deactivate_the_global_admin_or_another_districts_operator(app, center):
    admin = login(app, "gl-adm")
    for user in ("adm", "far", "sup"):
        assert _post(admin, f"/admin/operators/{user}/deactivate").status_code == 403, user
        assert _account(center, user).active, user
    assert _post(admin, "/admin/operators/op/deactivate").status_code == 303
    assert not _account(center, "op").active


def test_a_district_admin_sees_only_its_districts_accounts(app):
    page = login(app, "gl-adm").get("/admin/operators").text
    listed = set(re.findall(r"<tr><td>([^<]+)</td>", page))
    assert listed == {"op", "gl-adm", "gl-sup"}


def test_a_district_admin_cannot_move_another_districts_area_nor_place_one_outside(app, center):
    admin = login(app, "gl-adm")
    assert _post(admin, "/admin/regions", service_area=MEIYUAN, region_path=GULOU + "/x街道").status_code == 403
    assert _placed(center, MEIYUAN).startswith(XUANWU)
    assert _post(admin, "/admin/regions", service_area=XIKANG, region_path=XUANWU + "/y街道").status_code == 403
    assert _post(admin, "/admin/regions", service_area="new-area", region_path=GULOU + "/z街道").status_code == 403
    assert _post(admin, "/admin/regions", service_area=XIKANG, region_path=GULOU + "/宁海路街道").status_code == 303
    assert _placed(center, XIKANG) == GULOU + "/宁海路街道"


def test_the_last_active_global_admin_cannot_be_deactivated(app, center):
    adm = login(app, "adm")
    answer = _post(adm, "/admin/operators/adm/deactivate")
    assert answer.status_code == 409 and "last active admin" in answer.text
    assert _account(center, "adm").active
    assert _add(adm, "adm2", "", role="admin").status_code == 303
    assert _post(adm, "/admin/operators/adm/deactivate").status_code == 303  # another one is there now


def test_a_deactivated_account_can_be_reactivated_and_log_in_again(app, center):
    adm = login(app, "adm")
    assert _post(adm, "/admin/operators/far/deactivate").status_code == 303
    client = TestClient(app)
    assert client.post("/api/auth/token", json={"username": "far", "password": PASSWORD}).status_code == 401
    assert "/admin/operators/far/reactivate" in adm.get("/admin/operators").text
    assert _post(adm, "/admin/operators/far/reactivate").status_code == 303
    assert client.post("/api/auth/token", json={"username": "far", "password": PASSWORD}).status_code == 200
    gl = login(app, "gl-adm")
    assert _post(gl, "/admin/operators/far/reactivate").status_code == 403  # another district's


def test_a_district_supervisor_reads_only_its_districts_audit_rows(app, center):
    login(app, "far")  # a Xuanwu operator's login
    op = login(app, "op")
    op.post(
        "/dashboard/actions/requests/R-1003/cancel",
        data={"csrf_token": op.csrf},
        headers={"Accept": "application/json"},
    )  # a Gulou request
    far = login(app, "far")
    far.post(
        "/dashboard/actions/requests/R-1005/cancel",
        data={"csrf_token": far.csrf},
        headers={"Accept": "application/json"},
    )  # a Xuanwu request
    TestClient(app).post("/api/auth/token", json={"username": "password-in-user-field", "password": "x"})
    page = login(app, "gl-sup").get("/admin/audit").text
    targets = set(re.findall(r"<td>([^<]*)</td>", page))
    assert "R-1003" in targets and "op" in targets
    assert "R-1005" not in targets and "far" not in targets and "?" not in targets
    everything = login(app, "sup").get("/admin/audit").text
    assert "R-1005" in everything and "R-1003" in everything
    assert "password-in-user-field" not in everything


def test_a_district_admin_reads_only_its_districts_audit_rows_too(app):
    login(app, "far")
    page = login(app, "gl-adm").get("/admin/audit").text
    assert ">far<" not in page and ">gl-adm<" in page
