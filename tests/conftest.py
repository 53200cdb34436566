"""Shared pytest fixtures for careline."""

from __future__ import annotations

import contextlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.hostile_support import hostile_cases, pytest_terminal_summary  # noqa: F401 - profiles, case table

# tests/conftest.py -> parents[1] is the repo root; the shared data sits beside it.
DEFAULT_SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of real public input data (``../shared/data``), override with CARELINE_SHARED_DATA.

    Fails (does not skip) when the folder is missing: tests on real data must not
    silently disappear from a run.
    """
    override = os.environ.get("CARELINE_SHARED_DATA")
    folder = Path(override) if override else DEFAULT_SHARED_DATA
    if not folder.is_dir():
        source = "CARELINE_SHARED_DATA" if override else "default location beside the repository"
        pytest.fail(
            f"shared data folder not found: {folder} (from {source}). "
            "Check out the shared data next to the repository or set CARELINE_SHARED_DATA.",
            pytrace=False,
        )
    return folder


@dataclass
class Services:
    """A real broker and database for integration tests, and a running worker."""

    bootstrap: str
    database_url: str
    kind: str
    worker: subprocess.Popen | None = None
    worker_log: Path | None = None

    @property
    def sessions(self):
        from db.session import session_factory

        return session_factory(self.database_url)


def _need(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            f"{name} is not set: run the tests with scripts/test (it starts PostgreSQL and "
            "Apache Kafka), or deselect them with -m 'not integration and not e2e'",
            pytrace=False,
        )
    return value


@pytest.fixture(scope="session")
def services(tmp_path_factory) -> Iterator[Services]:
    """Broker selected by CARELINE_TEST_KAFKA (``apache``: CARELINE_TEST_BROKER, started by
    scripts/test; ``tansu``: started here) and PostgreSQL at CARELINE_TEST_DATABASE_URL."""
    from careline.brokers import start_tansu

    kind = os.environ.get("CARELINE_TEST_KAFKA", "apache")
    database_url = _need("CARELINE_TEST_DATABASE_URL")
    with contextlib.ExitStack() as stack:
        if kind == "tansu" and not os.environ.get("CARELINE_TEST_BROKER"):
            bootstrap = stack.enter_context(
                start_tansu(log_path=tmp_path_factory.mktemp("tansu") / "tansu.log")
            ).bootstrap
        else:
            bootstrap = _need("CARELINE_TEST_BROKER")
        yield Services(bootstrap, database_url, kind)


@pytest.fixture(scope="session")
def pipeline(services, prism, tmp_path_factory) -> Iterator[Services]:
    """Schema migrated, topics declared and one stream worker running for the whole session.
    The worker sends its SMS and calls through the official Twilio helper to Prism, so a
    message Twilio's API description rejects fails the flow that needed it."""
    from careline.brokers import ensure_topics
    from config import topics
    from config.settings import Settings
    from db.migrate import upgrade
    from tools.replay.stack import worker_env, worker_process

    var = tmp_path_factory.mktemp("var")
    settings = Settings(var_dir=var, broker=services.bootstrap, database_url=services.database_url)
    upgrade(services.database_url)
    ensure_topics(
        services.bootstrap, topics.resolved(settings.topic_partitions), drop_rejected_configs=services.kind == "tansu"
    )
    log = var / "worker.log"
    env = worker_env(settings, services.bootstrap, services.database_url)
    env.update(
        CARELINE_TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        CARELINE_TWILIO_AUTH_TOKEN="test-auth-token",
        CARELINE_TWILIO_FROM_NUMBER="+15005550006",
        CARELINE_TWILIO_API_BASE_URL=prism.base_url,
    )
    with worker_process(env, var / "scheduler.log", "scheduler"), worker_process(env, log) as proc:
        services.worker, services.worker_log = proc, log
        yield services
    print(f"\nworker log: {log}")


@pytest.fixture(scope="session")
def prism(tmp_path_factory):
    """A Prism mock of Twilio's REST API (Twilio's own OpenAPI description, ``--errors``:
    requests the spec rejects get 422) on a free port; npm installs it into .cache/npm once."""
    from tools.harness.prism import running_prism

    with running_prism(log_path=tmp_path_factory.mktemp("prism") / "prism.log") as server:
        yield server


@pytest.fixture
def worker_on(monkeypatch, tmp_path):
    """``worker_on(url)``: the stream worker's runtime (``streams.runtime``: settings read from the
    environment, its sessions, the var dir under ``tmp_path / "var"``) on the database at ``url``,
    as a worker process has it; undone after the test."""
    from config.settings import get_settings
    from streams import runtime

    def install(url: str) -> None:
        monkeypatch.setenv("CARELINE_DATABASE_URL", url)
        monkeypatch.setenv("CARELINE_VAR_DIR", str(tmp_path / "var"))
        get_settings.cache_clear()
        runtime.install(None)

    yield install
    runtime.install(None)
    get_settings.cache_clear()
