#!/usr/bin/env python3
"""The careline image's container healthcheck: ``careline-healthcheck web|worker|scheduler``.

Standard library only, so a check costs a Python start and nothing more (it runs every 10 s in
each container). Exit status 0 is healthy.

- ``web``: ``GET /healthz`` on the container's port 8000 answers within 3 s.
- ``worker``: the Faust web server (``CARELINE_WORKER_WEB_PORT``, on the container's loopback)
  answers within 3 s: the worker's event loop runs. A worker that stops consuming exits by
  itself (``streams.watchdog``) and is restarted.
- ``scheduler``: the timer service touched ``$CARELINE_VAR_DIR/scheduler.heartbeat`` within
  60 s, which it does after each poll that reached the database (``careline.scheduler``).

(One argument without spaces: Podman's Docker-compatible API splits a healthcheck's
arguments at spaces.)
"""

import os
import sys
import time
import urllib.request

HEARTBEAT_SECONDS = 60


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


def beating(path: str) -> bool:
    try:
        return time.time() - os.path.getmtime(path) < HEARTBEAT_SECONDS
    except OSError:
        return False


def healthy(role: str) -> bool:
    if role == "web":
        return answers("http://127.0.0.1:8000/healthz")
    if role == "worker":
        return answers(f"http://127.0.0.1:{os.environ.get('CARELINE_WORKER_WEB_PORT', '6066')}/")
    if role == "scheduler":
        return beating(os.path.join(os.environ.get("CARELINE_VAR_DIR", "/var/lib/careline"), "scheduler.heartbeat"))
    raise SystemExit(f"careline-healthcheck: unknown role {role!r} (web, worker or scheduler)")


if __name__ == "__main__":
    sys.exit(0 if len(sys.argv) == 2 and healthy(sys.argv[1]) else 1)
