"""Fixtures for web tests: a seeded SQLite center and a logged-in TestClient."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from careline.web.app import create_app
from config.settings import Settings
from db.session import engine_for
from tests.unit.dashboard_seed import PASSWORD, Center, seed

SECRET = "test-secret-" + "x" * 32


@pytest.fixture(scope="session")
def _seeded(tmp_path_factory) -> tuple[Center, str]:
    """Seed once (password hashing is slow on purpose), copy per test."""
    path = tmp_path_factory.mktemp("seed") / "center.db"
    center = seed(f"sqlite:///{path}")
    with engine_for(center.database_url).connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine_for(center.database_url).dispose()
    return center, str(path)


@pytest.fixture
def center(_seeded, tmp_path) -> Center:
    seeded, path = _seeded
    copy = tmp_path / "center.db"
    shutil.copy(path, copy)
    return replace(seeded, database_url=f"sqlite:///{copy}")


def settings_for(center: Center, **kw) -> Settings:
    return Settings(
        database_url=center.database_url,
        session_secret=SECRET,
        default_language="en",
        var_dir=center.database_url,
        **kw,
    )


@pytest.fixture
def app(center):
    return create_app(settings_for(center))


def login(app, user: str, password: str = PASSWORD) -> TestClient:
    """A client logged in as ``user``; its ``csrf`` attribute holds the session's CSRF token."""
    client = TestClient(app)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post(
        "/login", data={"username": user, "password": password, "csrf_token": token}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard", answer.text
    board = client.get("/dashboard")
    client.csrf = re.search(r'name="csrf_token" value="([^"]+)"', board.text).group(1)
    return client


def post_action(client: TestClient, path: str, **form):
    return client.post(path, data={"csrf_token": client.csrf, **form}, headers={"Accept": "application/json"})
