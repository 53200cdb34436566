"""Logins under attack: password guesses never stall other routes, their hashing is bounded,
guessing is slowed then locked per account and per address (429 + Retry-After, audited,
an admin unlocks), and the login form's CSRF token is one the server signed."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from careline.web import auth
from careline.web.app import create_app
from db import tables
from db.session import session_factory
from tests.unit.dashboard_seed import PASSWORD
from tests.unit.web_client import _seeded, app, center, login, settings_for  # noqa: F401 - fixtures


@pytest.fixture
def production_hashing():
    """Real Argon2, for the test that measures what it does to the service (tests/unit/conftest.py
    lowers it for every other test: throttling and the hashing pool's bounds do not depend on its cost)."""
    from argon2 import PasswordHasher

    from careline.operators import use_password_hasher

    lowered = use_password_hasher(PasswordHasher())
    yield
    use_password_hasher(lowered)


def _audit(center, action: str) -> list:
    with session_factory(center.database_url)() as s:
        return list(s.execute(select(tables.audit_log).where(tables.audit_log.c.action == action)))


def _token(client: TestClient, user: str, password: str):
    return client.post("/api/auth/token", json={"username": user, "password": password})


def test_password_guesses_do_not_stall_the_other_routes(center, production_hashing):
    """16 guesses at once, each an Argon2 hash (~0.2 s on a quiet machine): /healthz keeps answering
    in less time than a few of them take. Verifying on the event loop (as before) queued /healthz
    behind all 16. The bound is relative to one hash measured here, so a loaded machine slows both."""
    from argon2 import PasswordHasher

    started = time.perf_counter()
    PasswordHasher().hash("one hash, to know what one takes here")
    one_hash = time.perf_counter() - started
    app = create_app(settings_for(center, login_address_free_failures=1000, login_address_lock_failures=1001))
    with TestClient(app) as client:
        running = threading.Event()

        def guess(i: int) -> None:
            running.set()
            _token(client, f"nobody-{i}", "wrong-password")

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        running.wait()
        time.sleep(0.3)  # the guesses are in
        guessing = sum(t.is_alive() for t in threads)
        worst = 0.0
        for _ in range(5):
            started = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            worst = max(worst, time.perf_counter() - started)
        for t in threads:
            t.join()
    assert guessing >= 8, f"only {guessing} guesses were still running when /healthz was measured"
    assert worst < max(1.0, 4 * one_hash), (
        f"/healthz took {worst:.2f} s while passwords were being guessed (one hash: {one_hash:.2f} s)"
    )


def test_at_most_the_configured_number_of_passwords_are_verified_at_once(center, monkeypatch):
    """Each verification holds 64 MiB: a burst of 12 logins never runs more than 2 at a time."""
    from careline.web import login as login_module

    busy, peak, lock = [0], [0], threading.Lock()
    real = login_module.verify_login

    def counting(*args):
        with lock:
            busy[0] += 1
            peak[0] = max(peak[0], busy[0])
        try:
            time.sleep(0.05)
            return real(*args)
        finally:
            with lock:
                busy[0] -= 1

    monkeypatch.setattr(login_module, "verify_login", counting)
    app = create_app(
        settings_for(
            center, password_hash_concurrency=2, login_address_free_failures=1000, login_address_lock_failures=1001
        )
    )
    with TestClient(app) as client:
        threads = [threading.Thread(target=_token, args=(client, f"user-{i}", "wrong-password")) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert peak[0] == 2


def test_logins_beyond_the_waiting_room_are_told_to_retry_instead_of_queueing(center, monkeypatch):
    from careline.web import login as login_module

    release = threading.Event()
    monkeypatch.setattr(login_module, "verify_login", lambda *args: release.wait(10) and None)
    app = create_app(
        settings_for(
            center,
            password_hash_concurrency=1,
            password_hash_queue=1,
            login_address_free_failures=1000,
            login_address_lock_failures=1001,
        )
    )
    with TestClient(app) as client:
        answers: list = []
        threads = [threading.Thread(target=lambda i=i: answers.append(_token(client, f"u{i}", "pw"))) for i in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while len(answers) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        release.set()
        for t in threads:
            t.join()
    codes = sorted(a.status_code for a in answers)
    assert codes == [401, 401, 503, 503], codes
    assert all(a.headers["retry-after"] == "1" for a in answers if a.status_code == 503)


def test_thirty_wrong_passwords_for_one_account_end_in_429_and_the_right_one_waits_too(app, center):
    frozen = datetime.now(UTC)
    app.state.login_clock = lambda: frozen  # guesses come faster than the delays end, however slow the hashing
    client = TestClient(app)
    codes = [_token(client, "op", f"guess-{i:02d}-wrong").status_code for i in range(30)]
    assert codes[:6] == [401] * 6 and set(codes[6:]) == {429}, codes
    right = _token(client, "op", PASSWORD)
    assert right.status_code == 429 and int(right.headers["retry-after"]) >= 1
    (throttled,) = _audit(center, "login.throttled")
    assert (throttled.operator_id, throttled.detail["scope"]) == ("op", "account")


def test_a_locked_account_waits_the_lock_out_until_an_admin_unlocks_it(center):
    app = create_app(settings_for(center, login_free_failures=2, login_lock_failures=3))
    client = TestClient(app)
    assert [_token(client, "op", "wrong-password").status_code for _ in range(3)] == [401, 401, 401]
    locked = _token(client, "op", PASSWORD)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 14 * 60
    (row,) = _audit(center, "login.locked")
    assert row.operator_id == "op" and row.region_path == "江苏省/南京市/鼓楼区"
    adm = login(app, "adm")
    assert (
        adm.post("/admin/operators/op/unlock", data={"csrf_token": adm.csrf}, follow_redirects=False).status_code == 303
    )
    assert _token(client, "op", PASSWORD).status_code == 200
    assert [r.operator_id for r in _audit(center, "operator.unlock")] == ["adm"]


def test_guessing_many_accounts_from_one_address_is_throttled_by_address(center):
    app = create_app(settings_for(center, login_address_free_failures=3, login_address_lock_failures=5))
    frozen = datetime.now(UTC)
    app.state.login_clock = lambda: frozen  # the delay after the third failure has not ended, however slow hashing is
    client = TestClient(app)
    codes = [_token(client, name, "wrong-password").status_code for name in ("a1", "b2", "c3", "d4", "e5")]
    assert codes[:4] == [401] * 4 and codes[4] == 429, codes
    (row,) = _audit(center, "login.throttled")
    assert row.detail["scope"] == "address" and row.target == "testclient"


def test_an_unknown_user_name_is_throttled_like_an_account_and_never_stored(app, center):
    frozen = datetime.now(UTC)
    app.state.login_clock = lambda: frozen  # guesses come faster than the delays end, however slow the hashing
    client = TestClient(app)
    secret_looking = "MyPassw0rd-typed-in-the-user-field"
    codes = [_token(client, secret_looking, "x").status_code for _ in range(8)]
    assert codes[:6] == [401] * 6 and codes[-1] == 429  # the same answers as for a real account
    with session_factory(center.database_url)() as s:
        stored = [str(v) for row in s.execute(select(tables.audit_log)) for v in row]
        keys = [r.key for r in s.execute(select(tables.login_throttle))]
    assert not any(secret_looking in v for v in stored + keys)
    assert {r.operator_id for r in _audit(center, "login")} == {"?"}


def test_a_successful_login_clears_the_accounts_count(app):
    client = TestClient(app)
    for _ in range(4):
        assert _token(client, "sup", "wrong-password").status_code == 401
    assert _token(client, "sup", PASSWORD).status_code == 200
    assert [_token(client, "sup", "wrong-password").status_code for _ in range(5)] == [401] * 5


def test_a_whole_center_logging_in_from_one_address_is_never_throttled(center):
    app = create_app(settings_for(center, login_address_free_failures=3, login_address_lock_failures=5))
    client = TestClient(app)
    codes = [_token(client, user, PASSWORD).status_code for _ in range(4) for user in ("op", "sup", "far")]
    assert codes == [200] * 12
    assert _token(client, "op", "wrong-password").status_code == 401  # failures still count


def test_the_login_form_shows_the_wait_with_429_and_retry_after(center):
    app = create_app(settings_for(center, login_free_failures=1, login_lock_failures=2))
    client = TestClient(app)
    for _ in range(3):
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        answer = client.post(
            "/login", data={"username": "op", "password": "wrong", "csrf_token": token}, follow_redirects=False
        )
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) > 60
    assert "Too many attempts" in answer.text


def test_a_login_csrf_cookie_equal_to_the_field_is_not_enough(app):
    client = TestClient(app, cookies={auth.LOGIN_CSRF_COOKIE: "chosen-by-a-script"})
    answer = client.post(
        "/login",
        data={"username": "op", "password": PASSWORD, "csrf_token": "chosen-by-a-script"},
        follow_redirects=False,
    )
    assert answer.status_code == 403


def test_a_login_csrf_token_of_another_cookie_or_expired_is_refused(center):
    key = auth.secret_key(settings_for(center))
    nonce, token = auth.login_csrf(key)
    assert auth.login_csrf_valid(nonce, token, key)
    assert not auth.login_csrf_valid("another-nonce", token, key)
    assert not auth.login_csrf_valid(nonce, token, b"another-key")
    old_nonce, old_token = auth.login_csrf(key, now=time.time() - auth.LOGIN_CSRF_SECONDS - 1)
    assert not auth.login_csrf_valid(old_nonce, old_token, key)
    for junk in ("", ".", "9" * 5000 + ".x", "²³.x", None):
        assert not auth.login_csrf_valid(nonce, junk, key)
