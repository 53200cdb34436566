"""``careline whatif`` on PostgreSQL: a day recorded through the repositories and the event log
is reproduced exactly under the same policy, and another policy's differences are printed."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from careline.cli import app
from config.policy import DEFAULT_PATH
from config.settings import get_settings
from tests.integration.twilio_world import own_postgres_database
from tests.unit.test_whatif import recorded, store  # noqa: F401 - the recorded day fixture

pytestmark = pytest.mark.integration


@pytest.fixture
def center(services, recorded, monkeypatch):
    instance, day, run, _, _ = recorded
    with own_postgres_database(services.database_url) as url:
        store(url, day, instance, run)
        monkeypatch.setenv("CARELINE_DATABASE_URL", url)
        monkeypatch.setenv("CARELINE_PROGRAMME_TIMEZONE", "UTC")
        monkeypatch.setenv("CARELINE_POLICY_FILE", str(DEFAULT_PATH))
        get_settings.cache_clear()
        try:
            yield url
        finally:
            get_settings.cache_clear()


def test_whatif_on_postgresql_reproduces_the_day_and_shows_another_policy(center, tmp_path):
    same = tmp_path / "same.json"
    result = CliRunner().invoke(
        app, ["whatif", "--date", "2026-11-30", "--policy", str(DEFAULT_PATH), "--json", str(same)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(same.read_text())
    assert doc["area"] == "t.area" and doc["changed_caregivers"] == [] and doc["answered_by_model"] == 0
    assert all(d["recorded"] == d["whatif"] for d in doc["differences"])

    other = tmp_path / "other.toml"
    other.write_text(
        DEFAULT_PATH.read_text(encoding="utf-8").replace("fairness_weight = 2.0 ", "fairness_weight = 30.0 "),
        encoding="utf-8",
    )
    changed = tmp_path / "other.json"
    result = CliRunner().invoke(app, ["whatif", "--date", "2026-11-30", "--policy", str(other), "--json", str(changed)])
    assert result.exit_code == 0, result.output
    doc = json.loads(changed.read_text())
    assert doc["changed_caregivers"], result.output
    assert any(d["recorded"] != d["whatif"] for d in doc["differences"])
