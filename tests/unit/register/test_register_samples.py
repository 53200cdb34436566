"""The sample register in docs/sample-register/ imports without a single rejected row."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.register.files import read_table
from handlers.register.records import Provenance
from handlers.register.rows import RegisterContext, parse_caregivers, parse_devices, parse_elders, parse_providers
from tools import register_samples

FOLDER = Path(__file__).resolve().parents[3] / "docs" / "sample-register"
CENTER = RegisterContext(tz="Asia/Shanghai", region_hint="江苏省/苏州市")


@pytest.mark.parametrize(
    ("name", "parse", "count", "encoding"),
    [
        ("elders.csv", parse_elders, 10, "utf-8-sig"),
        ("caregivers.csv", parse_caregivers, 6, "gb18030"),
        ("providers.csv", parse_providers, 2, "utf-8"),
        ("devices.xlsx", parse_devices, 3, "xlsx"),
    ],
)
def test_every_sample_file_imports_cleanly(name, parse, count, encoding):
    table = read_table((FOLDER / name).read_bytes(), name)
    result = parse(table, CENTER)
    assert table.encoding == encoding
    assert [str(e) for e in result.errors] == [] and result.ignored_columns == ()
    assert len(result.records) == count


def test_sample_elders_without_coordinates_are_approximate_and_all_are_in_the_centers_district():
    elders = parse_elders(read_table((FOLDER / "elders.csv").read_bytes(), "elders.csv"), CENTER).records
    assert sum(e.location.provenance is Provenance.APPROXIMATE for e in elders) == 4
    assert all(e.region_path.startswith("江苏省/苏州市/姑苏区/") for e in elders)


@pytest.mark.parametrize("name", ["elders.csv", "caregivers.csv", "providers.csv"])
def test_the_committed_csv_files_are_what_the_tool_writes(name):
    assert (FOLDER / name).read_bytes() == register_samples.files()[name]
