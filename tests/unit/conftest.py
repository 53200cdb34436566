"""The unit tests' own settings.

Argon2 at its production cost (``careline.operators``: 64 MiB, 3 passes) takes 0.1–0.8 s per
hash or check on this 2-core machine, and the dashboard's tests log in hundreds of times. They
test who may see and do what, not the hash: they use Argon2 at its lowest cost. The tests of
password guessing (``test_web_login_security.py``) put the production hasher back, because
they measure what real hashing does to the service.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from careline import operators
from db.migrate import upgrade

LOW_COST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def pytest_configure() -> None:
    """Before any fixture seeds an account."""
    operators.use_password_hasher(LOW_COST)


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("migrated") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def migrated_sqlite(_migrated_template, tmp_path) -> Callable[[str], str]:
    """``fresh(name) -> url``: an SQLite file in the test's folder at the head of the migrations.

    The Alembic upgrade (0.4 s) runs once per worker and each test gets a copy of its result;
    ``tests/unit/test_operator_migration.py`` still tests the upgrade itself.
    """

    def fresh(name: str) -> str:
        copy = tmp_path / name
        shutil.copy(_migrated_template, copy)
        return f"sqlite:///{copy}"

    return fresh
