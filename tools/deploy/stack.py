"""What scripts/deploy-smoke drives the stack with, from outside: HTTP to the published web port,
Twilio's request signature, ``docker compose`` and ``docker`` against the engine's API. Standard
library only, so any Python 3.11 runs it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker" / "compose.yaml"


class SmokeFailed(Exception):
    """A step did not hold; the message says what was expected and what was seen."""


def twilio_signature(url: str, params: dict[str, str], token: str) -> str:
    """X-Twilio-Signature as Twilio computes it: HMAC-SHA1 over the URL followed by every POST
    parameter's name and value in name order, base64 (twilio.com/docs/usage/security)."""
    data = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def wait_for(what: str, check, timeout: float, every: float = 1.0):
    """``check()``'s first truthy value within ``timeout`` seconds, else SmokeFailed naming ``what``
    and the last value seen."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise SmokeFailed(f"{what}: not within {timeout:.0f} s (last seen: {last!r})")


class Response:
    def __init__(self, status: int, headers, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Web:
    """HTTP to the published web port; cookies kept by hand (production cookies are Secure, and
    a browser behind the TLS proxy would send them)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies: dict[str, str] = {}
        self.opener = urllib.request.build_opener(_NoRedirect)

    def request(self, method: str, path: str, *, form=None, body=None, headers=None, timeout: float = 30) -> Response:
        headers = dict(headers or {})
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with self.opener.open(req, timeout=timeout) as r:
                resp = Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            resp = Response(e.code, e.headers, e.read())
        for cookie in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            value = rest.split(";", 1)[0].strip().strip('"')
            if value and "Max-Age=0" not in cookie:
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        return resp


class Stack:
    """The compose project: ``docker compose`` and ``docker`` against the engine's API."""

    def __init__(self, project: str, env: dict[str, str]) -> None:
        self.project, self.env = project, env

    def compose(self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 600) -> str:
        cmd = ["docker", "compose", "-f", str(COMPOSE_FILE), "-p", self.project, *args]
        r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=self.env, timeout=timeout)
        if check and r.returncode != 0:
            raise SmokeFailed(f"`{' '.join(cmd[3:])}` exited {r.returncode}: {(r.stderr or r.stdout).strip()[-1500:]}")
        return r.stdout

    def docker(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        r = subprocess.run(["docker", *args], capture_output=True, text=True, env=self.env, timeout=timeout)
        if check and r.returncode != 0:
            raise SmokeFailed(f"`docker {' '.join(args)}` exited {r.returncode}: {r.stderr.strip()[-800:]}")
        return r.stdout

    def containers(self) -> list[dict]:
        """Every container of the project with its service, state, health and exit code."""
        ids = self.docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={self.project}").split()
        if not ids:
            return []
        found = []
        for c in json.loads(self.docker("inspect", *ids)):
            state = c["State"]
            found.append(
                {
                    "id": c["Id"],
                    "name": c["Name"].lstrip("/"),
                    "service": c["Config"]["Labels"].get("com.docker.compose.service"),
                    "status": state.get("Status"),
                    "health": (state.get("Health") or {}).get("Status"),
                    "exit": state.get("ExitCode"),
                    "ips": [n.get("IPAddress") for n in (c.get("NetworkSettings", {}).get("Networks") or {}).values()],
                }
            )
        return found

    def exec(self, service: str, *cmd: str, stdin: str | None = None) -> str:
        return self.compose("exec", "-T", service, *cmd, stdin=stdin)
