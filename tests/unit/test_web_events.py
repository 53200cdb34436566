"""The live feed: new event_log rows reach the dashboard as Server-Sent Events, by region."""

import json
import threading
import time

from careline.web import auth
from tests.unit.dashboard_seed import MEIYUAN, XIKANG, _request, receive
from tests.unit.web_client import _seeded, app, center, login  # noqa: F401 - fixtures


def first_events(client, count, after, timeout=5.0):
    """Read ``count`` data events from the feed; ``after`` runs once the feed is open."""
    seen = []
    with client.stream("GET", "/dashboard/events") as feed:
        started = time.monotonic()
        for line in feed.iter_lines():
            if line.startswith("data:"):
                data = json.loads(line[5:])
                if data.get("type") == "hello":
                    threading.Timer(0.1, after).start()
                else:
                    seen.append(data)
            if len(seen) >= count or time.monotonic() - started > timeout:
                break
    return seen


def test_a_new_request_reaches_the_feed_of_its_region_only(app, center):
    op = login(app, "op")

    def two_calls():
        receive(center, _request("R-far", "e7", MEIYUAN, "meal", center.now, 0, location=7))
        receive(center, _request("R-new", "e1", XIKANG, "meal", center.now, 0, location=1))

    events = first_events(op, 1, two_calls)
    assert events[0]["subject"] == "R-new" and events[0]["service_area"] == XIKANG
    assert "elder_id" not in events[0]


def test_the_feed_needs_a_session(app):
    from fastapi.testclient import TestClient

    answer = TestClient(app, cookies={auth.COOKIE: "forged.token"}).get("/dashboard/events", follow_redirects=False)
    assert answer.status_code == 303
