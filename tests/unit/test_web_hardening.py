"""The web service's outer shell: security headers on every answer, /metrics behind a token in
production, and malformed input from strangers answered with a 4xx and a reason, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from careline.web.app import create_app
from tests.unit.dashboard_seed import PASSWORD
from tests.unit.web_client import _seeded, app, center, login, settings_for  # noqa: F401 - fixtures


def _production(center, **kw):
    return create_app(settings_for(center, environment="production", **kw))


@pytest.mark.parametrize("path", ["/login", "/healthz", "/api/stats/realtime", "/dashboard", "/static/dashboard.js"])
def test_every_answer_carries_the_security_headers(app, path):
    response = TestClient(app).get(path, follow_redirects=False)
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in response.headers  # development: plain HTTP on loopback


def test_production_adds_hsts_and_serves_no_cdn_api_viewer(center):
    with TestClient(_production(center, metrics_token="m" * 32)) as client:
        answer = client.get("/login")
        assert answer.headers["strict-transport-security"].startswith("max-age=31536000")
        assert client.get("/docs").status_code == 404
        assert client.get("/openapi.json").status_code == 200


def test_an_oversized_body_is_refused_with_the_headers_too(app):
    response = TestClient(app).post(
        "/api/auth/token", content=b"x" * (70 * 1024), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413 and response.headers["x-content-type-options"] == "nosniff"


def test_no_template_or_script_needs_inline_code_that_the_policy_forbids():
    from careline.web.pages import STATIC, TEMPLATES

    for page in TEMPLATES.rglob("*.html"):
        text = page.read_text()
        assert "<script>" not in text and "<style" not in text and " style=" not in text, page
        assert not any(f" on{event}=" in text for event in ("click", "submit", "load", "change", "error")), page
    script = (STATIC / "dashboard.js").read_text()
    assert "eval(" not in script and "new Function" not in script and ".style." not in script


def test_production_refuses_to_start_with_metrics_open_and_no_token(center):
    from careline.web.metrics import MetricsExposed

    with pytest.raises(MetricsExposed, match="CARELINE_METRICS_TOKEN"):
        with TestClient(_production(center)):
            pass


def test_production_metrics_want_the_token(center):
    with TestClient(_production(center, metrics_token="m" * 32)) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer \xe9".encode("latin-1")}).status_code == 401
        scraped = client.get("/metrics", headers={"Authorization": f"Bearer {'m' * 32}"})
        assert scraped.status_code == 200 and "careline_emergencies_unacknowledged" in scraped.text


def test_production_starts_with_metrics_turned_off_and_serves_none(center):
    with TestClient(_production(center, metrics_enabled=False)) as client:
        assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize(
    "body,content_type",
    [
        (b'{"username": "op", "password": ', "application/json"),  # malformed JSON
        (b'["op", "secret"]', "application/json"),  # a list
        (b'"op:secret"', "application/json"),  # a string
        (b'{"username": "\xff\xfe", "password": "x"}', "application/json"),  # not UTF-8
        (b'{"username": 7, "password": ["x"]}', "application/json"),  # not strings
        (b"", "application/json"),
        (b"username=op", "application/x-www-form-urlencoded"),  # no password
        (
            b'--x\r\nContent-Disposition: form-data; name="username"; filename="a"\r\n\r\nop\r\n--x--\r\n',
            "multipart/form-data; boundary=x",
        ),  # a file for a user name
    ],
)
def test_a_malformed_token_request_is_a_4xx_with_a_reason(app, body, content_type):
    response = TestClient(app).post("/api/auth/token", content=body, headers={"Content-Type": content_type})
    assert 400 <= response.status_code < 500 and response.json()["detail"], (response.status_code, response.text)


def test_a_token_request_as_a_form_still_works(app):
    response = TestClient(app).post("/api/auth/token", data={"username": "sup", "password": PASSWORD})
    assert response.status_code == 200 and response.json()["token_type"] == "bearer"


@pytest.mark.parametrize("offset", ["99999999999999999999", "-99999999999999999999", "1441", "-100000"])
def test_an_overflowing_time_zone_offset_on_the_operator_form_is_a_422(app, offset):
    op = login(app, "op")
    response = op.post(
        "/dashboard/actions/requests",
        headers={"Accept": "application/json"},
        data={
            "elder_id": "e1",
            "service_type": "meal",
            "duration_minutes": "30",
            "window_start": "2026-12-01T09:00",
            "window_end": "2026-12-01T11:00",
            "tz_offset_minutes": offset,
            "csrf_token": op.csrf,
        },
    )
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "tz_offset_minutes"
