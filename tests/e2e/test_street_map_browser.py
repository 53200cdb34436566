"""The board's street map and a caregiver's day in a real browser (issue 17): Debian's Chromium
through Playwright (``executable_path``), uvicorn serving ``create_app`` on the dashboard seed
placed on Nanjing's streets (``tests.unit.street_map_seed``), at 1440x900 and 390x844, in
Chinese and English.

The tile source is stubbed: ``CARELINE_MAP_TILE_URL`` points at a tile server this test runs on
127.0.0.1 (no internet), so the page must load its tiles from there under the
Content-Security-Policy, and Leaflet from careline itself. axe-core from the npm registry
checks the views; screenshots go to ``test-artifacts/street-map/`` (the path is printed).
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from careline.brokers import free_port
from handlers.model import Priority
from tests.e2e.test_dashboard_browser import ARTIFACTS, ROOT, browser  # noqa: F401
from tests.e2e.test_dashboard_views import DESK, SIZES, open_board
from tests.e2e.web_server import careline_web
from tests.unit.dashboard_seed import XIKANG, _request, new_request_id, receive, seed
from tests.unit.street_map_seed import HOMES, local_noon, place_on_streets

pytestmark = pytest.mark.e2e
SHOTS = ARTIFACTS / "street-map"


def _tile_png() -> bytes:
    """A 256x256 light-grey PNG with a darker street grid, as a tile server would send."""
    rows = b"".join(b"\x00" + bytes(150 if x % 64 < 3 or y % 64 < 3 else 232 for x in range(256)) for y in range(256))
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))  # noqa: E731
    header = struct.pack(">IIBBBBB", 256, 256, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def tiles():
    """A local tile server: every /tiles/{z}/{x}/{y}.png is the same grey street grid; the paths asked are kept."""
    png, asked = _tile_png(), []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            self.send_response(200 if self.path.startswith(("/tiles/", "/labels/")) else 404)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Tiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiles):
    with _served(tmp_path_factory, tiles) as running:
        yield running


@pytest.fixture(scope="module")
def gcj02_server(tmp_path_factory, tiles):
    """The same center drawn for tiles in GCJ-02 (AMap's datum): ``CARELINE_MAP_TILE_DATUM=gcj02``."""
    with _served(tmp_path_factory, tiles, CARELINE_MAP_TILE_DATUM="gcj02") as running:
        yield running


@contextlib.contextmanager
def _served(tmp_path_factory, tiles, **settings: str):
    folder = tmp_path_factory.mktemp("street-map")
    center = seed(f"sqlite:///{folder / 'center.db'}", now=local_noon())
    place_on_streets(center)
    env = dict(
        os.environ,
        **settings,
        CARELINE_DATABASE_URL=center.database_url,
        CARELINE_SESSION_SECRET="e2e-" + "m" * 40,
        CARELINE_DEFAULT_LANGUAGE="zh",
        CARELINE_VAR_DIR=str(folder),
        CARELINE_MAP_TILE_URL=tiles[0] + "/tiles/{z}/{x}/{y}.png",
        CARELINE_MAP_TILE_LABELS_URL=tiles[0] + "/labels/{z}/{x}/{y}.png",  # as Tianditu's street names
        CARELINE_MAP_TILE_ATTRIBUTION="test tiles",
    )
    with careline_web(env, folder) as base:
        yield base, center


@pytest.mark.parametrize("size", ["desk", "phone"])
def test_on_gcj02_tiles_every_marker_is_drawn_where_amap_draws_the_place(gcj02_server, browser, size):
    """AMap's tiles are in GCJ-02: the board draws the moved points (about 500 m east-south-east in
    Nanjing), every marker still on the map and the page still fitting the screen."""
    base, _ = gcj02_server
    page = street_board(browser, base, SIZES[size], "zh")
    homes = sorted(page.eval_on_selector_all(".pin.home", "ps => ps.map(p => p.dataset.marker)"))
    assert homes == ["home:e1", "home:e2", "home:e3", "home:e4"]
    assert page.locator(".pin.caregiver").count() == 2
    drawn = page.evaluate("fetch('/dashboard/map/points?area=gulou-xikang').then(r => r.json())")
    moved = {m["id"]: (m["lat"], m["lon"]) for m in drawn["markers"] if m["kind"] == "home"}
    for elder, (lat, lon) in HOMES.items():
        if elder in moved:
            assert 0.003 < moved[elder][1] - lon < 0.007 and -0.004 < moved[elder][0] - lat < 0, elder
    fits(page, SIZES[size]["width"])
    shot(page, f"board-gcj02-{size}")
    page.context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    print(f"screenshot: {SHOTS / name}.png")


def watch_csp(page) -> list[str]:
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    return refused


def street_board(browser, base: str, size: dict, lang: str, **kw):
    page = open_board(browser, base, size, lang, **kw)
    page.wait_for_selector("#street-map[data-markers]", timeout=10000)
    page.wait_for_function(  # the streets and the street names over them, both from the local tile server
        """() => { const loaded = [...document.querySelectorAll('#street-map img.leaflet-tile-loaded')];
                   return loaded.some(i => i.src.includes('/tiles/')) && loaded.some(i => i.src.includes('/labels/')); }"""
    )
    return page


def fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways"


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", ["desk", "phone"])
def test_the_street_map_shows_homes_caregivers_and_the_emergency_and_a_click_opens_the_card(
    server, tiles, browser, size, lang
):
    base, _ = server
    page = street_board(browser, base, SIZES[size], lang)
    assert any(path.startswith("/tiles/") for path in tiles[1]), "no tile came from the configured source"
    assert any(path.startswith("/labels/") for path in tiles[1]), "the street-name layer was not drawn"
    assert page.locator("#map > svg").count() == 0  # the street map replaced the schematic
    homes = sorted(page.eval_on_selector_all(".pin.home", "ps => ps.map(p => p.dataset.marker)"))
    assert homes == ["home:e1", "home:e2", "home:e3", "home:e4"]  # the four 西康 elders with open requests
    emergencies = page.eval_on_selector_all(".pin.emergency", "ps => ps.map(p => p.dataset.marker)")
    assert "home:e4" in emergencies and not {"home:e1", "home:e3"} & set(emergencies)  # e2 may get one below
    caregivers = sorted(page.eval_on_selector_all(".pin.caregiver", "ps => ps.map(p => p.dataset.marker)"))
    assert caregivers == ["caregiver:cg-li", "caregiver:cg-wu"]  # cg-zhou has no point: counted, not drawn
    unplaced = page.inner_text("#street-map-unplaced")
    assert ("1名护理员" in unplaced) if lang == "zh" else ("1 caregivers" in unplaced), unplaced
    # markers sit where the register puts them: e4's home west of e3's
    e4, e3 = (page.locator(f'[data-marker="home:{e}"]').bounding_box() for e in ("e4", "e3"))
    assert e4["x"] < e3["x"]
    fits(page, SIZES[size]["width"])
    shot(page, f"board-{size}-{lang}")

    page.click('[data-marker="home:e4"]')
    card = page.wait_for_selector('.leaflet-popup [data-card="home:e4"]')
    assert "SOS-2001" in card.inner_text()
    close = page.get_attribute(".leaflet-popup-close-button", "aria-label")
    assert close == ("关闭卡片" if lang == "zh" else "Close the card")  # Leaflet's own words translated too
    assert page.get_attribute(".leaflet-control-zoom-in", "title") == ("放大" if lang == "zh" else "Zoom in")
    assert ("紧急" in card.inner_text() or "特急" in card.inner_text()) if lang == "zh" else "stat" in card.inner_text()
    shot(page, f"card-{size}-{lang}")
    page.click(".leaflet-popup a.card-link")
    page.wait_for_selector("#card")
    assert page.url.endswith("/dashboard/elders/e4")
    page.context.close()


def test_a_markers_card_stays_open_across_live_updates_and_shows_its_row(server, browser):
    base, _ = server
    page = street_board(browser, base, DESK, "en")
    refused = watch_csp(page)
    page.click('[data-marker="home:e1"]')
    page.wait_for_selector('.leaflet-popup [data-card="home:e1"]')
    page.wait_for_timeout(5600)  # the board's 5 s refresh patches the board and reloads the markers
    assert page.locator('.leaflet-popup [data-card="home:e1"]').count() == 1, "the card closed on an update"
    page.click('.leaflet-popup [data-jump="R-1001"]')
    page.wait_for_selector('#requests tr.flash[data-request="R-1001"]')
    assert refused == []
    page.context.close()


def test_a_new_emergency_turns_its_home_red_on_the_map_without_a_reload(server, browser):
    base, center = server
    page = street_board(browser, base, DESK, "zh")
    assert page.locator('[data-marker="home:e2"].emergency').count() == 0
    page.evaluate("window.kept = true")
    rid = "SOS-" + new_request_id()
    receive(center, _request(rid, "e2", XIKANG, "emergency", center.now, 0, Priority.STAT, location=2))
    page.wait_for_selector('[data-marker="home:e2"].emergency', timeout=8000)  # over the live feed
    assert page.evaluate("window.kept") is True  # the same page: patched, not reloaded
    page.click('[data-marker="home:e2"]')
    card = page.wait_for_selector('.leaflet-popup [data-card="home:e2"]')
    assert rid in card.inner_text() and "R-1002" in card.inner_text()
    page.context.close()


def test_a_marker_opens_from_the_keyboard(server, browser):
    base, _ = server
    page = street_board(browser, base, DESK, "zh")
    page.focus('[data-marker="caregiver:cg-li"]')
    page.keyboard.press("Enter")
    card = page.wait_for_selector('.leaflet-popup [data-card="caregiver:cg-li"]')
    assert "位于最近签到地点" in card.inner_text()  # cg-li stands where it checked in, not at its base
    page.context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", ["desk", "phone"])
def test_a_caregivers_day_lists_the_visits_in_order_and_draws_the_numbered_route(server, browser, size, lang):
    base, center = server
    page = street_board(browser, base, SIZES[size], lang)
    refused = watch_csp(page)
    page.click('[data-caregiver="cg-li"] a.day')  # from the board's caregiver list
    page.wait_for_selector("#day-list")
    order = page.eval_on_selector_all("[data-stop-request]", "ls => ls.map(l => l.dataset.stopRequest)")
    assert order == ["R-DONE", "R-1001", "R-1003", "R-PLAN"]  # done this morning, on it now, offered, planned
    numbers = page.eval_on_selector_all("[data-stop-request] .n", "ns => ns.map(n => n.textContent)")
    assert numbers == ["1", "2", "3", "4"]
    times = page.eval_on_selector_all("[data-stop-request] .time", "ts => ts.map(t => t.textContent)")
    assert times[0] == "09:00–09:45" and times[3] == "17:00–17:45"  # the center's time (Shanghai)
    statuses = page.eval_on_selector_all("[data-stop-request] .st", "ss => ss.map(s => s.textContent)")
    assert statuses == (
        ["已完成", "服务中", "待接单", "已计划"] if lang == "zh" else ["completed", "in progress", "pending", "planned"]
    )
    page.wait_for_selector("#day-map .leaflet-marker-icon.stop")
    stops = page.eval_on_selector_all("#day-map .pin.stop", "ps => ps.map(p => p.textContent)")
    assert sorted(stops) == ["1,3", "2", "4"]  # 张建国's home twice (this morning's visit and the offer) is one marker
    assert page.locator("#day-map path.route").count() == 1
    assert page.wait_for_function("() => document.querySelectorAll('#day-map img.leaflet-tile-loaded').length > 0")
    fits(page, SIZES[size]["width"])
    assert refused == []
    shot(page, f"day-{size}-{lang}")
    page.context.close()


def test_the_day_shows_names_masked_to_a_supervisor(server, browser):
    base, _ = server
    page = open_board(browser, base, DESK, "zh", user="sup")
    page.goto(f"{base}/dashboard/caregivers/cg-li/day")
    text = page.inner_text("#day-list")
    assert "王**" in text and "王秀英" not in text
    page.context.close()


@pytest.mark.parametrize("size", ["phone", "desk"])
def test_axe_finds_no_serious_violation_on_the_street_map_or_the_day(server, browser, size):
    from tools.harness.axe import install

    base, _ = server
    axe = install()
    page = street_board(browser, base, SIZES[size], "zh", bypass_csp=True)
    page.click('[data-marker="home:e4"]')  # with a card open
    page.wait_for_selector('.leaflet-popup [data-card="home:e4"]')
    bad = []
    for where in ("board", "day"):
        if where == "day":
            page.goto(f"{base}/dashboard/caregivers/cg-li/day")
            page.wait_for_selector("#day-map .pin.stop")
        page.add_script_tag(path=str(axe))
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        bad += [
            f"{where}: {v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:4]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
    assert bad == [], "\n".join(bad)
    page.context.close()
