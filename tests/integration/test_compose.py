"""docker/compose.yaml is valid Compose and stops at once when a secret is missing; its
shape (every image built from docker/, healthchecks, ports). Running it is scripts/deploy-smoke's
job, after the test suite.

Needs the docker client with the Compose v2 plugin (no engine: ``config`` only
reads the file); scripts/compose.sh installs the plugin when it is missing.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

COMPOSE = Path(__file__).resolve().parents[2] / "docker" / "compose.yaml"
SECRETS = {"POSTGRES_PASSWORD": "pw", "CARELINE_SESSION_SECRET": "s" * 64, "CARELINE_METRICS_TOKEN": "m" * 64}


def compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    docker = shutil.which("docker")
    if docker is None:
        pytest.fail(
            "the docker client is not installed: install it (Debian: docker.io or docker-ce-cli) "
            "and run scripts/compose.sh for the Compose v2 plugin",
            pytrace=False,
        )
    if subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.fail(
            "`docker compose` is missing: run scripts/compose.sh (installs the Compose v2 plugin)", pytrace=False
        )
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS and not k.startswith(("CARELINE_", "DOCKER_"))}
    return subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), *args], capture_output=True, text=True, env={**clean, **env}, timeout=60
    )


def test_the_compose_file_is_valid_when_its_secrets_are_given():
    result = compose("config", "-q", env=SECRETS)
    assert result.returncode == 0, result.stderr


def test_the_compose_file_names_the_missing_secret():
    # one secret missing at a time: with several missing, Compose names whichever it meets first
    result = compose("config", "-q", env={k: v for k, v in SECRETS.items() if k != "CARELINE_SESSION_SECRET"})
    assert result.returncode != 0 and "CARELINE_SESSION_SECRET" in result.stderr
    result = compose("config", "-q", env={k: v for k, v in SECRETS.items() if k != "CARELINE_METRICS_TOKEN"})
    assert result.returncode != 0 and "CARELINE_METRICS_TOKEN" in result.stderr


def test_workers_scale_and_start_after_migrations_on_a_healthy_broker_and_database():
    rendered = compose("config", "--format", "json", env={**SECRETS, "CARELINE_WORKERS": "4"})
    services = json.loads(rendered.stdout)["services"]
    assert services["worker"]["deploy"]["replicas"] == 4 and services["scheduler"]["deploy"]["replicas"] == 1
    assert services["worker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert all("healthcheck" in services[name] for name in ("kafka", "postgres", "worker", "scheduler", "web"))


def test_every_image_is_built_here_and_only_the_web_port_is_published_on_loopback():
    services = json.loads(compose("config", "--format", "json", env=SECRETS).stdout)["services"]
    dockerfiles = {name: s["build"]["dockerfile"] for name, s in services.items()}
    assert dockerfiles["kafka"] == "docker/kafka/Dockerfile" and dockerfiles["postgres"] == "docker/postgres/Dockerfile"
    assert {dockerfiles[n] for n in ("migrate", "worker", "scheduler", "web")} == {"docker/Dockerfile"}
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert list(published) == ["web"] and published["web"][0]["host_ip"] == "127.0.0.1"


def test_careline_can_point_at_an_existing_database_and_broker():
    env = {
        **SECRETS,
        "CARELINE_DATABASE_URL": "postgresql+psycopg://u:p@db.internal/careline",
        "CARELINE_BROKER": "k1:9092",
    }
    worker = json.loads(compose("config", "--format", "json", env=env).stdout)["services"]["worker"]
    assert worker["environment"]["CARELINE_DATABASE_URL"] == env["CARELINE_DATABASE_URL"]
    assert worker["environment"]["CARELINE_BROKER"] == "k1:9092"
