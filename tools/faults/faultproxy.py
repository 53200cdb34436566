"""A fault-injecting HTTP proxy in front of the Prism mock of Twilio's REST API.

The real Twilio helper library talks to this proxy as if it were
``https://api.twilio.com``. For each ``POST`` that creates a message or a call
the proxy draws (seeded) one of: answer **500** (Twilio's JSON error body),
answer **429** (``Retry-After: 1``), **hang** without forwarding until the
client times out (the request never reached Twilio), or forward to Prism.
Everything else is forwarded untouched. ``stats`` counts attempts, injected
faults and forwarded creates per (To, Body, StatusCallback), so a test or ``careline bench
faults`` can show retries happened and no SMS was sent twice.

``FaultPlan.script`` replaces the random draw with a fixed sequence (``"500"``,
``"429"``, ``"hang"``, ``"ok"``) for the first creates, for exact tests.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import requests

from careline.brokers import free_port

CREATES = ("/Messages.json", "/Calls.json")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client that went away (a killed worker's keep-alive connection) is not an error."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


@dataclass
class FaultPlan:
    """Shares of creates answered 500, 429 or left hanging for ``hang_seconds``."""

    p500: float = 0.0
    p429: float = 0.0
    phang: float = 0.0
    hang_seconds: float = 12.0
    seed: int = 7
    script: list[str] = field(default_factory=list)


@dataclass
class ProxyStats:
    attempts: int = 0
    injected: Counter = field(default_factory=Counter)
    forwarded: Counter = field(default_factory=Counter)  # (path kind, To, Body, StatusCallback) -> creates answered 2xx
    created: list = field(default_factory=list)  # (sid, StatusCallback URL or "") of each forwarded create

    @property
    def duplicates(self) -> int:
        """Creates forwarded more than once for the same recipient, text and status callback."""
        return sum(n - 1 for n in self.forwarded.values() if n > 1)


class FaultProxy:
    def __init__(self, upstream: str, plan: FaultPlan) -> None:
        self.upstream, self.plan = upstream.rstrip("/"), plan
        self.stats = ProxyStats()
        self._lock = threading.Lock()
        self._random = random.Random(plan.seed)
        self._script = list(plan.script)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.server = _Server(("127.0.0.1", self.port), self._handler())

    def _draw(self) -> str:
        with self._lock:
            self.stats.attempts += 1
            if self._script:
                return self._script.pop(0)
            roll = self._random.random()
        for kind, share in (("500", self.plan.p500), ("429", self.plan.p429), ("hang", self.plan.phang)):
            if roll < share:
                return kind
            roll -= share
        return "ok"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _forward(self, body: bytes | None) -> requests.Response:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                return requests.request(
                    self.command, proxy.upstream + self.path, data=body, headers=headers, timeout=30
                )

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                create = self.command == "POST" and self.path.endswith(CREATES)
                fault = proxy._draw() if create else "ok"
                if fault != "ok":
                    with proxy._lock:
                        proxy.stats.injected[fault] += 1
                if fault == "hang":
                    time.sleep(proxy.plan.hang_seconds)
                    self.close_connection = True
                    return
                if fault in ("500", "429"):
                    code = 20429 if fault == "429" else 20500
                    payload = (
                        f'{{"code": {code}, "message": "injected {fault}", "more_info": '
                        f'"https://www.twilio.com/docs/errors/{code}", "status": {fault}}}'
                    ).encode()
                    extra = {"Retry-After": "1"} if fault == "429" else {}
                    self._answer(int(fault), payload, {"Content-Type": "application/json", **extra})
                    return
                upstream = self._forward(body)
                if create and upstream.status_code < 300:
                    form = urllib.parse.parse_qs((body or b"").decode())
                    # the status callback names the request the message is about: the same text to the
                    # same person about two requests (two offers sharing a short code) is two messages
                    key = (
                        self.path.rsplit("/", 1)[-1],
                        form.get("To", [""])[0],
                        form.get("Body", [""])[0],
                        form.get("StatusCallback", [""])[0],
                    )
                    try:
                        sid = upstream.json().get("sid", "")
                    except ValueError:
                        sid = ""
                    with proxy._lock:
                        proxy.stats.forwarded[key] += 1
                        proxy.stats.created.append((sid, form.get("StatusCallback", [""])[0]))
                self._answer(
                    upstream.status_code,
                    upstream.content,
                    {"Content-Type": upstream.headers.get("Content-Type", "application/json")},
                )

            do_GET = do_POST = do_DELETE = _handle

        return Handler

    def __enter__(self) -> FaultProxy:
        threading.Thread(target=self.server.serve_forever, name="fault-proxy", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def fault_proxy(upstream: str, plan: FaultPlan) -> Iterator[FaultProxy]:
    with FaultProxy(upstream, plan) as proxy:
        yield proxy
