"""The live board of ``careline demo --live``: the web service beside a replay's stack, and a
demo operator account to log in with.

``live_board`` starts ``careline web`` on the stack's database, creates the account ``demo``
(role operator, a fresh random password each run) and waits until the service answers;
leaving the block stops the web service. ``serve_until_interrupted`` keeps everything up
after the replay until Ctrl-C (or SIGTERM, made to unwind the same way).
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from careline.operators import add_operator
from config.settings import Settings
from tools.replay.stack import Stack, worker_env, worker_process

DEMO_USER = "demo"


@dataclass(frozen=True)
class Board:
    url: str
    user: str
    password: str
    log: Path


def _wait_healthy(base: str, proc: subprocess.Popen, log: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"the web service exited ({proc.returncode}); see {log}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"the web service did not answer within {timeout_s:.0f} s; see {log}") from None
            time.sleep(0.3)


@contextlib.contextmanager
def live_board(settings: Settings, stack: Stack, port: int, run_name: str) -> Iterator[Board]:
    """``careline web`` on 127.0.0.1:``port`` over the stack's database and broker, with the
    demo account; stopped (SIGTERM) when the block ends.

    :raises RuntimeError: the web service exited or did not answer within a minute (its log named).
    """
    password = secrets.token_urlsafe(12)  # 16 characters; accounts need at least 12
    add_operator(stack.database_url, DEMO_USER, "operator", password, name="Demo operator")
    env = dict(
        worker_env(settings, stack.bootstrap, stack.database_url),
        CARELINE_SESSION_SECRET=secrets.token_hex(32),
        CARELINE_DEFAULT_LANGUAGE=settings.default_language,
    )
    log = settings.var_dir / "logs" / f"web-{run_name}.log"
    with worker_process(env, log, "web", ("--host", "127.0.0.1", "--port", str(port))) as proc:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, proc, log)
        yield Board(f"{base}/dashboard", DEMO_USER, password, log)


def serve_until_interrupted(stack: Stack) -> None:
    """Return on Ctrl-C (KeyboardInterrupt), or when the stack's worker exits."""
    with contextlib.suppress(KeyboardInterrupt):
        while stack.worker.poll() is None:
            time.sleep(0.5)
