"""The monthly report speaks Chinese: every text it shows (template, tables, plots, the
targets' sources, services and priorities) has a translation in careline/locale/zh, with the
same placeholders; months and zones are named by CLDR."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_file
from jinja2.ext import babel_extract

from careline import report_tables
from careline.report_i18n import ReportLanguage, translations
from config.evaluation import DEFAULT_PATH

ROOT = Path(__file__).resolve().parents[2]
CODE = ["careline/report_tables.py", "careline/report_figures.py", "careline/reports.py"]
TEMPLATE = ROOT / "careline/templates/provider_report.html.j2"


def _msgids() -> set[str]:
    found: set[str] = set()
    for path in CODE:
        for _, msg, _, _ in extract_from_file("python", ROOT / path, keywords={"_": None, "N_": None}):
            found.add(msg if isinstance(msg, str) else msg[0])
    with TEMPLATE.open("rb") as template:
        for _, _, msg, _ in babel_extract(template, ["_"], [], {"extensions": "jinja2.ext.i18n"}):
            found.add(msg if isinstance(msg, str) else msg[0])
    targets = tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8"))["targets"]
    return found | {t["source"] for t in targets.values()}


def test_every_text_of_the_report_has_a_chinese_translation_with_the_same_placeholders():
    zh = translations("zh")
    msgids = _msgids()
    assert len(msgids) > 90  # the extraction found the template's, the code's and the sources' texts
    missing = sorted(m for m in msgids if zh.gettext(m) == m)
    assert missing == []
    for m in msgids:
        assert sorted(re.findall(r"%\(\w+\)s", zh.gettext(m))) == sorted(re.findall(r"%\(\w+\)s", m)), m


def test_every_service_type_and_priority_has_a_label():
    from handlers.model import Priority
    from handlers.register.services import SERVICE_TYPES

    assert set(report_tables.SERVICE_LABELS) == set(SERVICE_TYPES)
    assert set(report_tables.PRIORITY_LABELS) == {p.value for p in Priority}


def test_months_and_zones_are_named_in_the_reports_language_and_times_shown_in_the_centers_zone():
    at = datetime(2026, 10, 31, 17, 30, tzinfo=UTC)  # already 1 November in Shanghai
    zh, en = ReportLanguage("zh", ZoneInfo("Asia/Shanghai")), ReportLanguage("en", ZoneInfo("Asia/Shanghai"))
    assert zh.moment(at) == "2026-11-01 01:30"
    assert zh.month(at.astimezone(zh.zone)) == "2026年11月" and en.month(at.astimezone(en.zone)) == "November 2026"
    assert "Asia/Shanghai" in zh.zone_name(at) and "中国" in zh.zone_name(at)
    assert zh._("%(n)s pts", n="+3") == "+3 个百分点"


def test_an_unknown_language_is_refused_naming_the_option():
    with pytest.raises(ValueError, match="--lang"):
        translations("fr")
