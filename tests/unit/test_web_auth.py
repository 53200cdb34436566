"""Sessions, roles and secrets of the dashboard."""

import re
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from careline.operators import AccountError, add_operator, get_operator
from careline.web import auth
from careline.web.app import create_app
from db import tables
from db.session import session_factory
from tests.unit.dashboard_seed import PASSWORD
from tests.unit.web_client import SECRET, _seeded, app, center, login, settings_for  # noqa: F401 - fixtures


def test_a_forged_session_cookie_is_refused(app):
    client = TestClient(
        app, cookies={auth.COOKIE: auth.sign({"sub": "adm", "ep": 0, "sid": "x", "exp": 2e9}, b"not-the-secret")}
    )
    assert client.get("/dashboard", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/api/stats/realtime").status_code == 401


def test_an_expired_session_cookie_is_refused(app, center):
    settings = settings_for(center)
    with session_factory(center.database_url)() as s:
        op = get_operator(s, "op")
    stale = auth.issue(op, settings, now=time.time() - settings.session_max_age_seconds - 1)
    fresh = auth.issue(op, settings)
    assert TestClient(app, cookies={auth.COOKIE: stale}).get("/api/stats/realtime").status_code == 401
    assert TestClient(app, cookies={auth.COOKIE: fresh}).get("/api/stats/realtime").status_code == 200


def test_a_session_ends_at_logout_even_for_a_copied_cookie(app):
    op = login(app, "op")
    copied = op.cookies.get(auth.COOKIE)
    op.post("/logout", data={"csrf_token": op.csrf}, follow_redirects=False)
    assert TestClient(app, cookies={auth.COOKIE: copied}).get("/api/stats/realtime").status_code == 401


def test_an_operator_cannot_reach_admin_pages(app):
    op = login(app, "op")
    assert op.get("/admin/operators").status_code == 403
    assert op.get("/admin/audit").status_code == 403


def test_a_supervisor_reads_the_audit_log_but_does_not_manage_accounts(app):
    sup = login(app, "sup")
    assert sup.get("/admin/audit").status_code == 200
    assert sup.get("/admin/operators").status_code == 403


def test_an_admin_adds_an_operator_who_can_then_log_in(app):
    adm = login(app, "adm")
    answer = adm.post(
        "/admin/operators",
        data={
            "username": "new",
            "name": "New One",
            "role": "operator",
            "password": "a-long-password-1",
            "region_scope": "",
            "csrf_token": adm.csrf,
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert "New One" in adm.get("/admin/operators").text
    login(app, "new", "a-long-password-1")


def test_a_wrong_password_is_refused_and_audited(app, center):
    client = TestClient(app)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post(
        "/login", data={"username": "op", "password": "wrong", "csrf_token": token}, follow_redirects=False
    )
    assert answer.headers["location"] == "/login?failed=1" and page.status_code == 200
    with session_factory(center.database_url)() as s:
        last = s.execute(select(tables.audit_log).order_by(tables.audit_log.c.seq.desc())).first()
    assert (last.operator_id, last.action, last.outcome) == ("op", "login", "refused")


def test_a_login_form_from_another_site_is_refused(app):
    answer = TestClient(app).post("/login", data={"username": "op", "password": PASSWORD, "csrf_token": "guess"})
    assert answer.status_code == 403


def test_production_refuses_to_start_without_a_session_secret(center):
    settings = settings_for(center).model_copy(update={"environment": "production", "session_secret": None})
    with pytest.raises(auth.MissingSecret, match="CARELINE_SESSION_SECRET"):
        with TestClient(create_app(settings)):
            pass


def test_a_bearer_token_opens_the_statistics_api(app):
    client = TestClient(app)
    assert client.post("/api/auth/token", json={"username": "sup", "password": "nope"}).status_code == 401
    token = client.post("/api/auth/token", json={"username": "sup", "password": PASSWORD}).json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 8 * 3600
    stats = client.get("/api/stats/realtime", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert stats.status_code == 200


def test_accounts_need_a_known_role_and_a_long_password(center):
    with pytest.raises(AccountError, match="role"):
        add_operator(center.database_url, "x", "boss", "a-long-password-1")
    with pytest.raises(AccountError, match="12 characters"):
        add_operator(center.database_url, "x", "operator", "short")
    assert add_operator(center.database_url, "x", "supervisor", "a-long-password-1").role.value == "supervisor"
