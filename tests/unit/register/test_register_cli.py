"""``careline register import|export`` as a center's clerk runs it: exit 0 when every row went
in, 1 when some were rejected (each printed as line N, column C: reason), --dry-run changes
nothing, and the export is CSV with location provenance."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from careline.cli import app
from config.settings import get_settings

FOLDER = Path(__file__).resolve().parents[3] / "docs" / "sample-register"


@pytest.fixture
def center(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELINE_DATABASE_URL", f"sqlite:///{tmp_path / 'center.db'}")
    monkeypatch.setenv("CARELINE_LANDLINE_AREA_CODE", "0512")
    monkeypatch.setenv("CARELINE_CENTER_REGION", "江苏省/苏州市")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def run(*args):
    return CliRunner().invoke(app, list(args))


def test_a_center_is_set_up_from_the_sample_files_with_exit_status_0(center):
    for kind, name in (("providers", "providers.csv"), ("elders", "elders.csv"), ("caregivers", "caregivers.csv")):
        result = run("register", "import", kind, str(FOLDER / name))
        assert result.exit_code == 0, result.output
        assert "0 rows rejected" in result.output
    devices = run("register", "import", "devices", str(FOLDER / "devices.xlsx"))
    assert devices.exit_code == 0 and "3 devices were added" in devices.output
    export = run("register", "export", "elders")
    lines = export.output.splitlines()
    assert lines[0].startswith("elder_id,name,gender,birth_year,phone,landline,family_contacts,address")
    assert len(lines) == 11 and sum("approximate" in line for line in lines) == 4


def test_rejected_rows_give_exit_status_1_and_a_dry_run_changes_nothing(center):
    bad = center / "elders.csv"
    bad.write_text(
        "编号,姓名,住址,联系电话\nE1,王一,苏州市姑苏区十全街1号,13800138000\nE2,王二,苏州市姑苏区十全街2号,138-0013\n"
    )
    dry = run("register", "import", "elders", str(bad), "--dry-run")
    assert dry.exit_code == 1
    assert "line 3, column 联系电话: a mobile number has 11 digits, this one 7" in dry.output
    assert "1 elders would be added" in dry.output and "dry run: nothing was changed" in dry.output
    assert run("register", "export", "elders").output.count("\n") == 1  # the header only
    real = run("register", "import", "elders", str(bad))
    assert real.exit_code == 1 and "1 elders were added" in real.output


def test_a_file_that_cannot_be_read_and_an_unknown_kind_are_refused(center):
    missing = run("register", "import", "elders", str(center / "nowhere.csv"))
    assert missing.exit_code == 1 and "cannot read the file" in missing.output
    assert run("register", "import", "pets", str(FOLDER / "elders.csv")).exit_code == 2
