"""Black-box security probe: start ``careline web`` in production mode and attack it over HTTP.

Seeds a fresh SQLite file (two Nanjing districts, accounts of every role and scope,
elders with app tokens, alarm buttons), starts ``python -m careline.cli web`` as a
subprocess on a free loopback port with ``CARELINE_ENVIRONMENT=production``, and
checks each finding of issue 12 from outside: the event loop under password
guesses (with /healthz and alarm latency and the server's peak memory), brute-force
throttling, the login form's CSRF, region scope of admins and auditors, 500s from
malformed input, security headers, /metrics, strict app input, rate limits and
emergency joining. Prints one line per check and exits 1 if any failed.

Clients are told apart by ``X-Forwarded-For`` loopback addresses (127.x.y.z): careline
trusts it from 127.0.0.1, as it does from the TLS proxy in front of it. Cookies are not
marked Secure (``CARELINE_SESSION_COOKIE_SECURE=false``) because the probe speaks plain
HTTP where production has the proxy's TLS. Every request goes to 127.0.0.1 only; loops
are bounded.

    .venv/bin/python tools/security_probe.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
PASSWORD, SECRET, METRICS = "probe-password-1", "s" * 64, "m" * 40
GULOU, XUANWU = "江苏省/南京市/鼓楼区", "江苏省/南京市/玄武区"
ACCOUNTS = (
    ("adm", "admin", ""),
    ("gl-adm", "admin", GULOU),
    ("gl-sup", "supervisor", GULOU),
    ("sup", "supervisor", ""),
    ("op", "operator", GULOU),
    ("far", "operator", XUANWU),
)
ELDERS = ("e1", "e2", "e3", "e4", "e5")
results: list[tuple[str, bool, str]] = []


def seed(url: str) -> dict[str, str]:
    """The probe's center; returns app tokens and device tokens by name."""
    from careline.operators import create_operator, place_area
    from channels.app_tokens import issue_token
    from db import alarms, tables
    from db.migrate import upgrade
    from db.session import session_factory

    upgrade(url)
    now = datetime.now(UTC)
    with session_factory(url)() as s:
        for area, path in (("gulou", GULOU + "/宁海路街道/西康社区"), ("xuanwu", XUANWU + "/梅园新村街道")):
            s.execute(
                tables.service_areas.insert().values(
                    service_area=area, name=area, shift_end_hard=False, travel_matrix=[[0, 10], [10, 0]]
                )
            )
            place_area(s, area, path)
        s.execute(
            tables.provider_organisations.insert().values(
                provider_id="p-1",
                name="Gulou Care",
                service_area="gulou",
                service_types="meal emergency",
                opening_hours="[]",
            )
        )
        s.execute(
            tables.caregivers.insert().values(
                caregiver_id="cg-1",
                provider_id="p-1",
                service_area="gulou",
                abilities="meal emergency",
                home_base_index=0,
                shift_start=now - timedelta(hours=1),
                shift_end=now + timedelta(hours=9),
                active=True,
            )
        )
        for elder in ELDERS:
            s.execute(
                tables.elders.insert().values(
                    elder_id=elder,
                    service_area="gulou",
                    location_index=1,
                    latitude=32.06,
                    longitude=118.79,
                    name="王奶奶",
                )
            )
        for user, role, scope in ACCOUNTS:
            create_operator(s, user, role, PASSWORD, region_scope=scope, created_by="probe")
        tokens = {f"btn-{e}": alarms.register_device(s, f"btn-{e}", e, now) for e in ("e1", "e2")}
        s.commit()
    tokens.update({e: issue_token(url, "elder", e, now) for e in ELDERS})
    tokens["cg-1"] = issue_token(url, "caregiver", "cg-1", now)
    return tokens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(url: str, var: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "CARELINE_ENVIRONMENT": "production",
        "CARELINE_DATABASE_URL": url,
        "CARELINE_SESSION_SECRET": SECRET,
        "CARELINE_METRICS_TOKEN": METRICS,
        "CARELINE_VAR_DIR": str(var),
        "CARELINE_SESSION_COOKIE_SECURE": "false",
        "CARELINE_LOG_LEVEL": "WARNING",
        "CARELINE_TWILIO_AUTH_TOKEN": "probe-twilio-auth-token",  # webhooks check signatures against it
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        **extra,
    }


def start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "careline.cli", "web", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )


def wait_up(base: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"careline web exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("careline web did not answer /healthz in time")


def check(name: str, ok: bool, detail: str = "") -> None:
    results.append((name, ok, detail))
    print(f"{'PASS' if ok else 'FAIL'}  {name}{': ' + detail if detail else ''}", flush=True)


def client(base: str, address: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"X-Forwarded-For": address}, timeout=60)


def bearer(base: str, user: str, address: str) -> httpx.Client:
    c = client(base, address)
    answer = c.post("/api/auth/token", json={"username": user, "password": PASSWORD})
    c.headers["Authorization"] = f"Bearer {answer.json().get('access_token', '-')}"
    return c


def peak_rss_mib(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", text)
    if found is None:  # a process that has exited (a zombie) has no memory figures
        raise RuntimeError(f"no VmHWM in /proc/{pid}/status")
    return int(found.group(1)) / 1024


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def probe_event_loop(base: str, pid: int, tokens: dict[str, str]) -> None:
    """Finding 1: 48 guesses from 24 clients (half the token API, half the form); meanwhile
    /healthz and an alarm press are timed, and the server's peak memory read."""
    probe = client(base, "127.9.0.1")
    press = {"Authorization": f"Bearer {tokens['btn-e2']}"}
    calm = [timed(lambda: probe.get("/healthz")) for _ in range(5)]
    calm_alarm = timed(lambda: probe.post("/alarms/btn-e2", json={"alarm_id": "calm"}, headers=press))
    # one wrong guess alone: its time is one password hash on this machine, now. Hashing on the
    # event loop would queue /healthz behind ~24 of them; off the loop it waits at most ~1.
    one_guess = timed(lambda: probe.post("/api/auth/token", json={"username": "nobody-calm", "password": "x"}))
    bound = max(1.0, 3 * one_guess)
    rss_before = peak_rss_mib(pid)

    def guesses(i: int) -> None:
        c = client(base, f"127.1.0.{i + 1}")
        c.post("/api/auth/token", json={"username": f"nobody-{i}", "password": "wrong-guess"})
        field = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
        c.post(
            "/login",
            data={"username": f"nobody-{i}", "password": "wrong-guess", "csrf_token": field.group(1) if field else ""},
        )

    threads = [threading.Thread(target=guesses, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    loaded, alarm = [], []
    for k in range(10):
        loaded.append(timed(lambda: probe.get("/healthz")))
        if k % 3 == 0:
            alarm.append(timed(lambda k=k: probe.post("/alarms/btn-e2", json={"alarm_id": f"load-{k}"}, headers=press)))
    overlapped = any(t.is_alive() for t in threads)
    for t in threads:
        t.join()
    grown = peak_rss_mib(pid) - rss_before
    check(
        "1 guesses do not stall /healthz",
        overlapped and max(loaded) < bound,
        f"healthz calm median {statistics.median(calm) * 1000:.0f} ms; under 48 guesses median "
        f"{statistics.median(loaded) * 1000:.0f} ms, max {max(loaded) * 1000:.0f} ms "
        f"(bound {bound * 1000:.0f} ms: 1 s or 3 lone guesses of {one_guess * 1000:.0f} ms)",
    )
    check(
        "1 guesses do not stall an alarm press",
        max(alarm) < bound,
        f"calm {calm_alarm * 1000:.0f} ms, under guesses max {max(alarm) * 1000:.0f} ms (bound {bound * 1000:.0f} ms)",
    )
    check("1 memory stays flat under the burst", grown < 300, f"peak RSS grew {grown:.0f} MiB")


def probe_brute_force(base: str) -> None:
    attacker = client(base, "127.2.0.1")
    codes = [attacker.post("/api/auth/token", json={"username": "op", "password": f"guess-{i}"}) for i in range(30)]
    limited = [a for a in codes if a.status_code == 429]
    check(
        "2 30 wrong passwords end in 429 + Retry-After",
        bool(limited) and all(a.headers.get("retry-after") for a in limited),
        f"{len(limited)} x 429 of 30",
    )
    right = attacker.post("/api/auth/token", json={"username": "op", "password": PASSWORD})
    check("2 the right password waits too", right.status_code == 429, f"HTTP {right.status_code}")
    adm = bearer(base, "adm", "127.2.0.2")
    unlocked = adm.post("/admin/operators/op/unlock", follow_redirects=False)
    again = client(base, "127.2.0.3").post("/api/auth/token", json={"username": "op", "password": PASSWORD})
    check(
        "2 an admin unlocks the account",
        unlocked.status_code == 303 and again.status_code == 200,
        f"unlock HTTP {unlocked.status_code}, then login HTTP {again.status_code}",
    )
    audit = adm.get("/admin/audit").text
    check("2 throttling is in the audit log", "login.throttled" in audit or "login.locked" in audit)
    forged = client(base, "127.2.0.4")
    forged.cookies.set("careline_login_csrf", "chosen")
    answer = forged.post("/login", data={"username": "op", "password": PASSWORD, "csrf_token": "chosen"})
    check("2 a script-made login CSRF pair is refused", answer.status_code == 403, f"HTTP {answer.status_code}")


def probe_scope(base: str) -> None:
    gl = bearer(base, "gl-adm", "127.3.0.1")
    wide = gl.post(
        "/admin/operators",
        data={"username": "probe-wide", "role": "operator", "password": PASSWORD, "region_scope": ""},
        follow_redirects=False,
    )
    check("3 a district admin cannot create an unscoped operator", wide.status_code == 403, f"HTTP {wide.status_code}")
    gone = gl.post("/admin/operators/adm/deactivate", follow_redirects=False)
    check("3 a district admin cannot deactivate the global admin", gone.status_code == 403, f"HTTP {gone.status_code}")
    moved = gl.post(
        "/admin/regions", data={"service_area": "xuanwu", "region_path": GULOU + "/x"}, follow_redirects=False
    )
    check(
        "3 a district admin cannot move another district's area", moved.status_code == 403, f"HTTP {moved.status_code}"
    )
    adm = bearer(base, "adm", "127.3.0.2")
    last = adm.post("/admin/operators/adm/deactivate", follow_redirects=False)
    check("3 the last global admin cannot be deactivated", last.status_code == 409, f"HTTP {last.status_code}")
    off = adm.post("/admin/operators/far/deactivate", follow_redirects=False).status_code
    on = adm.post("/admin/operators/far/reactivate", follow_redirects=False).status_code
    back = client(base, "127.3.0.3").post("/api/auth/token", json={"username": "far", "password": PASSWORD})
    check(
        "3 an admin reactivates an account",
        (off, on, back.status_code) == (303, 303, 200),
        f"deactivate {off}, reactivate {on}, login {back.status_code}",
    )


def probe_audit(base: str) -> None:
    typed = "Probe-Passw0rd-in-the-user-field"
    client(base, "127.4.0.1").post("/api/auth/token", json={"username": typed, "password": "x"})
    local = bearer(base, "gl-sup", "127.4.0.2").get("/admin/audit").text
    everything = bearer(base, "sup", "127.4.0.3").get("/admin/audit").text
    check(
        "4 a district supervisor reads only its district's audit rows",
        "<td>far</td>" not in local and "<td>far</td>" in everything and "<td>op</td>" in local,
    )
    check("4 a failed login's unknown user name is not stored", typed not in everything)


def status(send) -> int:
    """The HTTP status of ``send()``, or -1 when the server dropped the connection."""
    try:
        return send().status_code
    except httpx.HTTPError:
        return -1


def probe_500s(base: str) -> None:
    c = client(base, "127.5.0.1")
    bodies = [b'{"username": ', b'["op", "x"]', b'"op"', b'{"username": "\xff", "password": "x"}']
    codes = [
        status(lambda b=b: c.post("/api/auth/token", content=b, headers={"Content-Type": "application/json"}))
        for b in bodies
    ]
    check("5 malformed token requests are 4xx", all(400 <= x < 500 for x in codes), f"HTTP {codes}")
    files = [
        status(
            lambda path=path: c.post(
                path,
                data={"MessageSid": "SM" + "a" * 32, "CallSid": "CA" + "a" * 32},
                files={"Body": ("x.txt", b"1", "text/plain")},
                headers={"X-Twilio-Signature": "any"},
            )
        )
        for path in ("/twilio/sms", "/twilio/voice")
    ]
    check("5 multipart webhooks with a file are 4xx", all(400 <= x < 500 for x in files), f"HTTP {files}")
    op = bearer(base, "op", "127.5.0.2")
    tz = op.post(
        "/dashboard/actions/requests",
        headers={"Accept": "application/json"},
        data={
            "elder_id": "e1",
            "service_type": "meal",
            "duration_minutes": "30",
            "window_start": "2026-12-01T09:00",
            "window_end": "2026-12-01T11:00",
            "tz_offset_minutes": "99999999999999999999",
        },
    )
    check("5 an overflowing tz_offset_minutes is 4xx", 400 <= tz.status_code < 500, f"HTTP {tz.status_code}")


def probe_headers_and_metrics(base: str) -> None:
    h = client(base, "127.6.0.1").get("/login").headers
    csp = h.get("content-security-policy", "")
    check(
        "6 security headers",
        "frame-ancestors 'none'" in csp
        and "unsafe-inline" not in csp
        and h.get("x-content-type-options") == "nosniff"
        and bool(h.get("referrer-policy"))
        and h.get("strict-transport-security", "").startswith("max-age="),
        f"CSP: {csp[:60]}…",
    )
    c = client(base, "127.6.0.2")
    bare, good = c.get("/metrics").status_code, c.get("/metrics", headers={"Authorization": f"Bearer {METRICS}"})
    check(
        "7 /metrics wants its token",
        bare == 401 and good.status_code == 200,
        f"without {bare}, with {good.status_code}",
    )


def probe_app_input(base: str, tokens: dict[str, str]) -> None:
    c = client(base, "127.8.0.1")
    c.headers["Authorization"] = f"Bearer {tokens['e4']}"
    start = datetime.now(UTC) + timedelta(hours=2)
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}
    meal = {"service_type": "meal", "duration_minutes": 30, "window": window}
    bad = [
        {**meal, "duration_minutes": True},
        {**meal, "duration_minutes": "30"},
        {**meal, "window": {"start": window["start"], "end": (start + timedelta(days=3650)).isoformat()}},
    ]
    codes = [c.post("/api/v1/requests", json=b).status_code for b in bad]
    stars = c.post("/api/v1/requests/none/rating", json={"stars": "5"}).status_code
    cg = client(base, "127.8.0.2")
    cg.headers["Authorization"] = f"Bearer {tokens['cg-1']}"
    lat = cg.post("/api/v1/visits/none/check-in", json={"latitude": "32", "longitude": 118.79}).status_code
    check(
        "8 the app API refuses coerced types and far windows",
        codes + [stars, lat] == [422] * 5,
        f"HTTP {codes + [stars, lat]}",
    )


def probe_rate_limits(base: str, tokens: dict[str, str]) -> None:
    start = datetime.now(UTC) + timedelta(hours=2)
    meal = {
        "service_type": "meal",
        "duration_minutes": 30,
        "window": {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()},
    }

    def send(i: int) -> httpx.Response:
        c = client(base, "127.7.0.1")
        return c.post("/api/v1/requests", json=meal, headers={"Authorization": f"Bearer {tokens[ELDERS[i % 3]]}"})

    began = time.monotonic()
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(send, range(500)))
    took = time.monotonic() - began
    accepted = sum(a.status_code == 202 for a in answers)
    refused = [a for a in answers if a.status_code == 429]
    clear = all(a.headers.get("retry-after") and a.json().get("code") == "rate_limited" for a in refused)
    # 6 new requests per elder in any 60 s (CARELINE_APP_INTAKE_RATE_LIMIT's default), moving window:
    # a burst that lasts into a second minute may take 6 more per elder
    allowed = 3 * 6 * math.ceil(took / 60)
    check(
        "9 500 app requests from 3 elder tokens are limited",
        accepted <= allowed and len(refused) >= 500 - allowed and clear,
        f"{accepted} accepted (at most {allowed} in {took:.1f} s), {len(refused)} x 429",
    )
    c = client(base, "127.7.0.2")
    stat = {**meal, "priority": "stat"}
    first, second = (
        c.post("/api/v1/requests", json=stat, headers={"Authorization": f"Bearer {tokens['e5']}"}).json()
        for _ in range(2)
    )
    check(
        "9 a second stat request joins the open emergency",
        first.get("request_id") == second.get("request_id") and second.get("joined") is True,
        str(second),
    )
    press = {"Authorization": f"Bearer {tokens['btn-e1']}"}
    p1, p2 = (c.post("/alarms/btn-e1", json={"alarm_id": f"p{i}"}, headers=press).json() for i in (1, 2))
    check(
        "9 a second press joins the open emergency",
        p1.get("request_id") == p2.get("request_id") and p2.get("joined") is True,
        str(p2),
    )


def probe_refuses_open_metrics(url: str, var: Path) -> None:
    env = server_env(url, var)
    env.pop("CARELINE_METRICS_TOKEN")
    port = free_port()
    proc = start(env, port, var / "no-token.log")
    try:
        code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.terminate()
        code = None
    said = (var / "no-token.log").read_text()
    check(
        "7 production refuses to start with /metrics open and no token",
        code not in (None, 0) and "CARELINE_METRICS_TOKEN" in said,
        f"exit {code}",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="folder for the database and the server log (default: temporary)")
    args = parser.parse_args()
    var = args.keep or Path(tempfile.mkdtemp(prefix="careline-probe-"))
    var.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{var / 'probe.db'}"
    tokens = seed(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(server_env(url, var), port, var / "web.log")
    try:
        wait_up(base, proc)
        for probe in (
            lambda: probe_event_loop(base, proc.pid, tokens),
            lambda: probe_brute_force(base),
            lambda: probe_scope(base),
            lambda: probe_audit(base),
            lambda: probe_500s(base),
            lambda: probe_headers_and_metrics(base),
            lambda: probe_app_input(base, tokens),
            lambda: probe_rate_limits(base, tokens),
        ):
            try:
                probe()
            except Exception as exc:  # noqa: BLE001 - a probe that breaks is a failed check, the others go on
                check("probe ended early", False, repr(exc)[:160])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    probe_refuses_open_metrics(url, var)
    failed = [name for name, ok, _ in results if not ok]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed (server log: {var / 'web.log'})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
