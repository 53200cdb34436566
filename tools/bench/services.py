"""The services a bench starts for itself: its own Apache Kafka 4.4 (``docker/kafka/kafka.sh``)
and its own PostgreSQL cluster (``scripts/postgres.sh``), on free ports, with fresh data that
goes when the bench does (PostgreSQL's under ``.cache/bench-postgres``). PostgreSQL loads ``pg_stat_statements`` so the bench can count the
statements every process ran (``statements``).

Other engineers run their services on this machine at the same time: nothing here uses a
fixed port, and nothing stops a process this bench did not start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from careline import brokers
from config.settings import REPO_ROOT
from db import runs

POSTGRES_SH = REPO_ROOT / "scripts" / "postgres.sh"


@dataclass
class Services:
    """A broker and a database for one bench run; ``broker_pid`` and ``database_pid`` when
    the bench started them (for memory readings)."""

    bootstrap: str
    database_url: str
    broker_pid: int | None = None
    database_pid: int | None = None

    def statements(self) -> tuple[int, int] | None:
        """(statements executed, transactions committed) in the database so far (``db.runs``)."""
        return runs.statement_counts(self.database_url)


def _pid_from(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def own_services(
    var: Path, log: Path, broker: str | None = None, database_url: str | None = None
) -> Iterator[Services]:
    """Start what is not given: Apache Kafka on free ports (data under ``.cache/kafka``,
    removed at exit) and PostgreSQL with ``pg_stat_statements`` (data under
    ``.cache/bench-postgres``, removed at exit). A given ``broker`` or ``database_url`` is used as it is."""
    with contextlib.ExitStack() as stack:
        broker_pid = database_pid = None
        if broker is None:
            port, controller = brokers.free_port(), brokers.free_port()
            kafka = brokers.start_apache_kafka(port, controller, log_path=log / "kafka-sh.log")
            stack.callback(shutil.rmtree, REPO_ROOT / ".cache" / "kafka" / f"data-{port}", True)
            stack.callback(kafka.stop)
            broker = kafka.bootstrap
            broker_pid = _pid_from(REPO_ROOT / ".cache" / "kafka" / f"kafka-{port}.pid")
        else:
            brokers.wait_for_broker(broker, 60)
        if database_url is None:
            # under the repository's .cache, as scripts/postgres.sh keeps its own: when we are root
            # PostgreSQL runs as its own user, which cannot enter a 0700 folder such as pytest's tmp
            port = brokers.free_port()
            home = REPO_ROOT / ".cache" / "bench-postgres" / str(port)
            home.mkdir(parents=True, exist_ok=True)
            home.parent.chmod(0o755)
            env = dict(
                os.environ,
                PG_PORT=str(port),
                PG_HOME=str(home),
                PG_OPTS="-c shared_preload_libraries=pg_stat_statements -c max_connections=200",
            )

            def pg(action: str) -> str:
                done = subprocess.run(
                    ["bash", str(POSTGRES_SH), action], env=env, capture_output=True, text=True, timeout=180
                )
                if done.returncode != 0:
                    raise RuntimeError(f"scripts/postgres.sh {action} failed: {done.stdout}{done.stderr}")
                return done.stdout.strip()

            stack.callback(shutil.rmtree, home, True)
            pg("start")
            stack.callback(pg, "stop")
            database_url = pg("url")
            runs.enable_statement_counts(database_url)
            database_pid = _pid_from(home / f"data-{env['PG_PORT']}" / "postmaster.pid")
        yield Services(broker, database_url, broker_pid, database_pid)
