"""Free text on the operator dashboard is shown as text: an elder's name, a login name in the
audit log and a region in the address bar that carry markup come back escaped; every
template is autoescaped and none marks text safe; the page script writes messages with
``textContent`` and only puts the server's escaped board fragment into ``innerHTML``."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import example, given
from markupsafe import escape
from sqlalchemy import select, update

from careline.web.pages import STATIC, TEMPLATES, templates
from db import tables
from db.session import session_factory
from tests.hostile_support import MARKUP, hostile_text
from tests.unit.web_client import _seeded, app, center, login  # noqa: F401 - fixtures

pytestmark = pytest.mark.hostile

SCRIPT = "<script>alert('x')</script>"


def shown_as_text(page: str, text: str) -> bool:
    """``text`` is on the page escaped (as Jinja escapes it), and its markup is not there raw."""
    # markup is a tag ("<" then a letter, "/", "!" or "?") or an attribute break (a quote closing and a ">"):
    # unescaped, that must not appear; a lone "<" or quote is in every page anyway, so only its escaped
    # form tells (hypothesis found name="<"), and a bare "&" is "in" the page once its "&amp;" is
    raw_markup = re.search(r"<[A-Za-z/!?]", text) is not None or (any(q in text for q in "\"'") and ">" in text)
    return str(escape(text)) in page and (not raw_markup or text not in page)


@pytest.fixture
def operator(app):
    return login(app, "op")


@given(name=hostile_text(60).filter(lambda t: t.strip() and "\x00" not in t))
@example(name=SCRIPT)
@example(name="<img src=x onerror=alert(1)>王奶奶")
@example(name='"><svg onload=alert(1)>')
def test_an_elders_name_with_markup_is_shown_as_text_on_the_board(operator, center, hostile_cases, name):
    with session_factory(center.database_url)() as s:
        s.execute(update(tables.elders).where(tables.elders.c.elder_id == "e1").values(name=name))
        s.commit()
    page = operator.get("/dashboard/board").text
    assert shown_as_text(page, name), name
    assert "<script>alert" not in page and "<img src=x" not in page and "<svg onload" not in page
    hostile_cases.record("dashboard free text", "accepted")


@pytest.mark.parametrize("username", [SCRIPT, *MARKUP[1:4], "admin'--", "op\u202e"])
def test_a_login_name_with_markup_that_is_no_account_is_neither_stored_nor_shown(app, center, hostile_cases, username):
    from tests.unit.web_client import TestClient

    client = TestClient(app)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": username, "password": "wrong", "csrf_token": token}, follow_redirects=False)
    page = login(app, "adm").get("/admin/audit").text
    assert username.strip() not in page and str(escape(username.strip())) not in page, username
    with session_factory(center.database_url)() as s:
        stored = [
            r.operator_id
            for r in s.execute(
                select(tables.audit_log).where(
                    tables.audit_log.c.action == "login", tables.audit_log.c.outcome == "refused"
                )
            )
        ]
    assert stored == ["?"]
    hostile_cases.record("dashboard free text", "accepted")


@pytest.mark.parametrize("region", [SCRIPT, "江苏省/南京市/鼓楼区/" + SCRIPT, '"><img src=x onerror=alert(1)>'])
def test_a_region_in_the_address_bar_is_refused_or_shown_as_text(operator, hostile_cases, region):
    response = operator.get(f"/dashboard?region={quote(region)}")
    assert response.status_code < 500
    if response.headers["content-type"].startswith("text/html"):
        assert "<script>alert" not in response.text and "<img src=x" not in response.text
    else:  # a refusal: JSON, which no browser renders as a page
        assert response.headers["content-type"] == "application/json" and response.json()["detail"]
    hostile_cases.http("dashboard free text", response.status_code)


def test_every_dashboard_template_is_autoescaped_and_none_marks_text_safe():
    names = [str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*") if p.is_file()]
    assert names
    for name in names:
        env = templates.env if name.startswith("dashboard/") else None
        if env is not None:
            assert env.autoescape(name) if callable(env.autoescape) else env.autoescape, name
        source = (TEMPLATES / name).read_text()
        assert not re.search(r"\|\s*safe\b|Markup\(|autoescape\s+false", source), name


def test_the_page_script_writes_free_text_with_text_content_only():
    script = (Path(STATIC) / "dashboard.js").read_text()
    assignments = re.findall(r"([\w.]+)\.(innerHTML|outerHTML)\s*=\s*([^;]+);", script)
    assert assignments == [], assignments
    assert 'parseFromString("<body>" + html' in script  # the server's escaped fragment, patched node by node
    assert "insertAdjacentHTML" not in script and "document.write" not in script
    assert "message.textContent = text" in script


def test_the_board_fragment_is_html_escaped_text_not_a_template_of_the_input(operator, center):
    with session_factory(center.database_url)() as s:
        s.execute(update(tables.elders).where(tables.elders.c.elder_id == "e1").values(name="{{ 7*7 }}"))
        s.commit()
    page = operator.get("/dashboard/board").text
    assert "{{ 7*7 }}" in html.unescape(page) and ">49<" not in page
