"""A local careline stack: broker, schema, topics and a stream worker process.

``local_stack`` starts what is missing and stops what it started, so the demo,
replays and end-to-end tests run the real parts with one call.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from config import topics
from config.settings import Settings
from db.migrate import upgrade


@dataclass
class Stack:
    bootstrap: str
    database_url: str
    worker_log: Path
    worker: subprocess.Popen
    #: what fires the deadlines: the stack's own timer service, or the one already running
    timer_service: str = ""


class StackError(RuntimeError):
    """The stack cannot run here as asked (e.g. a timer service of another broker holds the database)."""


def worker_env(settings: Settings, bootstrap: str, database_url: str) -> dict[str, str]:
    return dict(
        os.environ,
        CARELINE_BROKER=bootstrap,
        CARELINE_DATABASE_URL=database_url,
        CARELINE_WORKER_WEB_PORT="0",
        CARELINE_VAR_DIR=str(settings.var_dir),
        CARELINE_TOPIC_PARTITIONS=str(settings.topic_partitions),
    )


@contextlib.contextmanager
def module_process(
    module: str, env: dict[str, str], log_path: Path, args: tuple[str, ...] = ()
) -> Iterator[subprocess.Popen]:
    """``python -m <module> <args>`` with ``env`` as a child process logging to ``log_path``;
    ``RuntimeError`` naming the log when it exits within 0.2 s; stopped with SIGTERM (then
    SIGKILL after 20 s) on exit."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", module, *args], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.2)
        if proc.poll() is not None:
            raise RuntimeError(f"python -m {shlex.join([module, *args])} exited at once; see {log_path}")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def worker_process(
    env: dict[str, str], log_path: Path, command: str = "worker", args: tuple[str, ...] = ()
) -> contextlib.AbstractContextManager[subprocess.Popen]:
    """``careline <command> <args>`` (the Faust worker, the timer service, the web service)
    as a child process (``module_process``)."""
    return module_process("careline.cli", env, log_path, (command, *args))


@contextlib.contextmanager
def local_stack(settings: Settings, embedded_broker: bool, database_url: str, run_name: str = "run") -> Iterator[Stack]:
    """Broker (embedded Tansu, or ``settings.broker``), migrated database,
    declared topics and a running worker."""
    from careline import brokers

    logs = settings.var_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if embedded_broker:
            broker = stack.enter_context(brokers.start_tansu(log_path=logs / f"tansu-{run_name}.log"))
            bootstrap = broker.bootstrap
        else:
            bootstrap = settings.broker
            brokers.wait_for_broker(bootstrap, 60)
        upgrade(database_url)
        brokers.ensure_topics(
            bootstrap, topics.resolved(settings.topic_partitions), drop_rejected_configs=embedded_broker
        )
        worker_log = logs / f"worker-{run_name}.log"
        env = worker_env(settings, bootstrap, database_url)
        timers = _timer_service(database_url, bootstrap)
        if not timers:
            timers = f"timer service log {logs / f'scheduler-{run_name}.log'}"
            stack.enter_context(worker_process(env, logs / f"scheduler-{run_name}.log", "scheduler"))
        proc = stack.enter_context(worker_process(env, worker_log))
        yield Stack(bootstrap, database_url, worker_log, proc, timers)


def _timer_service(database_url: str, bootstrap: str) -> str:
    """The timer service already serving ``database_url`` (described), or "" if none: there is
    one per database (``careline.scheduler``), so the stack uses a running one on its broker.

    :raises StackError: the running one publishes to another broker.
    """
    from careline.scheduler import running_timer_service

    held = running_timer_service(database_url)
    if held is None:
        return ""
    if held.broker != bootstrap:
        raise StackError(
            f"a timer service (pid {held.pid} on {held.host}) serves this database for the broker {held.broker}, "
            f"not {bootstrap}: stop it, or replay into another database (CARELINE_DATABASE_URL)"
        )
    return f"the timer service already running (pid {held.pid} on {held.host})"
