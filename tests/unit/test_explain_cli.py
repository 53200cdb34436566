"""``careline explain`` prints a request's history on the center's clock
(``CARELINE_PROGRAMME_TIMEZONE``), with the same words as the dashboard's history page."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from careline.cli import app
from config.settings import get_settings
from db.migrate import upgrade
from tests.unit.dashboard_seed import seed


@pytest.fixture(scope="module")
def center(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('explain') / 'center.db'}"
    upgrade(url)
    return seed(url)


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York"])
def test_explain_prints_the_decision_and_its_exclusions_on_the_centers_clock(center, zone, monkeypatch):
    monkeypatch.setenv("CARELINE_DATABASE_URL", center.database_url)
    monkeypatch.setenv("CARELINE_PROGRAMME_TIMEZONE", zone)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["explain", "R-1002"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    received = (center.now - timedelta(minutes=30)).astimezone(ZoneInfo(zone))
    lines = result.output.splitlines()
    assert lines[0] == f"request R-1002 (times in {zone})"
    assert lines[1] == f"{received:%H:%M} status received"
    assert "  not cg-li: lacks the ability bathing" in lines and any("offered to cg-wu" in line for line in lines)
