"""A local mock of Twilio's REST API: Stoplight Prism serving Twilio's OpenAPI description.

``install()`` puts ``@stoplight/prism-cli`` and ``@twilio-alpha/mcp`` (which
ships Twilio's OpenAPI files under ``twilio-oai/spec/json``) into
``<repo>/.cache/npm`` with ``npm install --prefix`` (idempotent: nothing is
fetched when both are there at the pinned versions). ``running_prism()``
starts ``prism mock --errors`` on a free port of 127.0.0.1 for
``twilio_api_v2010.json`` and waits until it answers. With ``--errors`` Prism
validates each request against the spec and answers 422 when it does not
conform (e.g. a message without ``To``), 401 without Basic auth.

Command line: ``python -m tools.harness.prism install`` (CI setup) or
``python -m tools.harness.prism run [PORT]``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from careline.brokers import free_port
from config.settings import REPO_ROOT

PACKAGES = {"@stoplight/prism-cli": "5.16.0", "@twilio-alpha/mcp": "0.7.0"}
DEFAULT_PREFIX = REPO_ROOT / ".cache" / "npm"
SPEC_NAME = "twilio_api_v2010.json"
#: ports other test suites of this repository use; never take them


class PrismError(RuntimeError):
    """npm or Prism failed; the message says which and where its log is."""


def _installed_version(prefix: Path, package: str) -> str | None:
    manifest = prefix / "node_modules" / package / "package.json"
    try:
        return json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def install(prefix: Path = DEFAULT_PREFIX, timeout: float = 600) -> Path:
    """Install the pinned packages under ``prefix`` unless present; returns the prism executable."""
    prism = prefix / "node_modules" / ".bin" / "prism"
    if prism.exists() and all(_installed_version(prefix, p) == v for p, v in PACKAGES.items()):
        return prism
    prefix.mkdir(parents=True, exist_ok=True)
    cmd = [
        "npm",
        "install",
        "--prefix",
        str(prefix),
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        *[f"{p}@{v}" for p, v in PACKAGES.items()],
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 or not prism.exists():
        raise PrismError(f"npm install failed ({done.returncode}): {done.stderr[-2000:]}")
    return prism


def find_spec(prefix: Path = DEFAULT_PREFIX) -> Path:
    """Twilio's API 2010 OpenAPI file inside @twilio-alpha/mcp; raises ``PrismError`` if absent."""
    package = prefix / "node_modules" / "@twilio-alpha" / "mcp"
    direct = package / "twilio-oai" / "spec" / "json" / SPEC_NAME
    if direct.is_file():
        return direct
    found = sorted(p for p in package.rglob(SPEC_NAME) if "twilio-oai" in p.parts)
    if not found:
        raise PrismError(f"{SPEC_NAME} not found under {package}: run install()")
    return found[0]


@dataclass(frozen=True)
class PrismServer:
    base_url: str
    port: int
    pid: int
    log_path: Path


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1)
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up
    except (urllib.error.URLError, OSError):
        return False
    return True


@contextlib.contextmanager
def running_prism(
    port: int | None = None, prefix: Path = DEFAULT_PREFIX, log_path: Path | None = None, startup_timeout: float = 120
) -> Iterator[PrismServer]:
    """Run ``prism mock --errors`` for Twilio's API until the block ends (then stop it)."""
    prism, spec = install(prefix), find_spec(prefix)
    port = port or free_port()
    log_path = log_path or prefix / f"prism-{port}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                str(prism),
                "mock",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "--errors",
                "--dynamic",
                str(spec),
            ],  # dynamic: each answer its own SID, as Twilio gives
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while not _answers(base_url + "/"):
            if proc.poll() is not None:
                raise PrismError(f"prism exited with {proc.returncode}; log: {log_path}")
            if time.monotonic() > deadline:
                raise PrismError(f"prism did not answer within {startup_timeout} s; log: {log_path}")
            time.sleep(0.25)
        yield PrismServer(base_url, port, proc.pid, log_path)
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: the node process and its children
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in {"install", "run"}:
        print("usage: python -m tools.harness.prism install | run [PORT]", file=sys.stderr)
        return 2
    if args[0] == "install":
        print(install())
        return 0
    with running_prism(int(args[1]) if len(args) > 1 else None) as server:
        print(f"Prism mock of Twilio's API at {server.base_url} (Ctrl-C stops it)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
