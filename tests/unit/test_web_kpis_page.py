"""The live evaluation page over HTTP, on the seeded SQLite center: providers and
caregivers of the operator's region with the KPIs the worker's windowed table
wrote into the ``live_kpis`` read model, best provider first."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from db import live_kpis, tables
from db.session import session_factory
from handlers.evaluation.kpis import DEFAULT_WEIGHTS, KpiPolicy, composite_score
from handlers.evaluation.live_kpis import kpis_from_counts
from tests.unit.web_client import _seeded, app, center, login  # noqa: F401 - fixtures

GOOD = {
    "offers": 10,
    "accepted": 9,
    "accept_le_60": 9,
    "visits": 8,
    "completed": 8,
    "arrived": 8,
    "on_time": 8,
    "evv_clean": 8,
    "ratings": 4,
    "stars": 19,
}
POOR = {
    "offers": 10,
    "accepted": 4,
    "accept_le_600": 4,
    "visits": 4,
    "completed": 3,
    "no_shows": 1,
    "arrived": 3,
    "on_time": 1,
    "evv_clean": 2,
    "ratings": 3,
    "stars": 6,
    "complaints": 1,
}


@pytest.fixture
def evaluated(center):
    policy = KpiPolicy()
    rows = []
    for scope, subject, counts in (
        ("provider", "p-gulou", GOOD),
        ("provider", "p-xuanwu", POOR),
        ("caregiver", "cg-li", GOOD),
        ("caregiver", "cg-ma", POOR),
    ):
        kpis = kpis_from_counts(subject, counts, policy)
        rows.append(
            (scope, kpis, round(composite_score(kpis, DEFAULT_WEIGHTS, policy), 2) if scope == "provider" else None)
        )
    with session_factory(center.database_url)() as s:
        live_kpis.save(s, rows, center.now - timedelta(hours=23), center.now + timedelta(hours=1), center.now)
        s.execute(
            tables.provider_organisations.update()
            .where(tables.provider_organisations.c.provider_id == "p-xuanwu")
            .values(name="<b>玄武</b> care")
        )
        s.commit()
    return center


def rows(page: str, section: str, attr: str) -> list[str]:
    part = page.split(f'id="{section}"')[1].split("</section>")[0]
    return re.findall(rf'<tr data-{attr}="([^"]+)"', part)


def test_a_supervisor_sees_every_provider_best_score_first_with_its_kpis(app, evaluated):
    page = login(app, "sup").get("/dashboard/kpis").text
    assert rows(page, "kpi-providers", "provider") == ["p-gulou", "p-xuanwu"]
    good = page.split('data-provider="p-gulou"')[1].split("</tr>")[0]
    assert "90%" in good and "100%" in good and "4.8" in good  # 9 of 10 accepted; all on time; 19/4 stars
    poor = page.split('data-provider="p-xuanwu"')[1].split("</tr>")[0]
    assert "40%" in poor and "33%" in poor and "25.0" in poor  # 4 of 10; 1 of 3 on time; 1 complaint in 4 visits
    assert "&lt;b&gt;玄武&lt;/b&gt; care" in page and "<b>玄武</b>" not in page
    assert rows(page, "kpi-caregivers", "caregiver") == ["cg-li", "cg-ma"]  # most visits due first


def test_the_window_is_shown_in_the_centers_time_zone(app, evaluated):
    page = login(app, "sup").get("/dashboard/kpis").text
    window = page.split('id="kpi-window"')[1].split("</span>")[0]
    zone = ZoneInfo(app.state.settings.programme_timezone)
    assert zone.key != "UTC"  # the seeded center is in Nanjing
    start = (evaluated.now - timedelta(hours=23)).astimezone(zone)
    assert f"{start:%Y-%m-%d %H:%M}" in window and f"({zone.key})" in window and "UTC" not in window


def test_an_operator_sees_only_the_providers_and_caregivers_of_the_region(app, evaluated):
    page = login(app, "op").get("/dashboard/kpis").text
    assert rows(page, "kpi-providers", "provider") == ["p-gulou"]
    assert rows(page, "kpi-caregivers", "caregiver") == ["cg-li"]


def test_choosing_a_provider_lists_its_caregivers(app, evaluated):
    page = login(app, "sup").get("/dashboard/kpis", params={"provider": "p-xuanwu"}).text
    assert rows(page, "kpi-caregivers", "caregiver") == ["cg-ma"]


def test_before_the_worker_wrote_any_kpis_the_page_says_so(app, center):
    page = login(app, "sup").get("/dashboard/kpis").text
    assert rows(page, "kpi-providers", "provider") == [] and "Nothing to evaluate in the window yet" in page
