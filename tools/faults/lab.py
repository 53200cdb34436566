"""Fault scenarios (issue 7): replay a day, break a real part mid-run, check the invariants.

The ``Lab`` owns real parts it can break: its own Apache Kafka 4.4 broker
(``docker/kafka/kafka.sh``, fresh data on free ports), its own PostgreSQL
cluster (``scripts/postgres.sh``), Prism serving Twilio's OpenAPI description
behind a fault-injecting proxy (``tools.faults.faultproxy``), ``careline
web`` (app API and signed Twilio webhooks, stamping events with the replay
clock), the timer service and one or more stream workers. Logs stay in the
lab's var directory; the broker's and database's data are removed at exit. Each scenario replays a UHHC day
with intake and caregiver answers written to the durable outbox (what the
HTTP channels do), injects its fault from a side thread when the run is
under way, waits until the run is over and the outbox is empty, and checks
``tools.faults.invariants``, then compares the worker's live KPIs with the stored
records (``tools.faults.live_check``). A kill strikes at a kill point
(``tools.faults.points``: during intake, right after an intake commit, during
a batch of offers, during the relay, at a share of the run); ``--repeat`` runs
the scenarios again, each run on its own day, and an intake that became no
request is followed hop by hop (``tools.faults.trace``). ``careline bench
faults`` prints one row per run; ``tests/integration/test_faults.py`` runs the
short profile with a random kill point.

Recovery time: wall seconds from the end of the fault (worker restarted,
broker or database back, worker left) until the pipeline next emitted an
event of the run.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Callable, Iterator

from rich.console import Console

from careline import brokers
from config import topics
from config.settings import REPO_ROOT, Settings
from db import runs
from db.migrate import upgrade
from db.session import Session, session_factory, sessionmaker
from handlers.datasets.uhhc import Instance
from tools.faults import points as fault_points
from tools.faults.invariants import RESTING, Verdict, check
from tools.faults.live_check import Comparison, compare, hold_clock
from tools.replay.driver import ReplayDriver, ReplayOptions
from tools.replay.stack import worker_env

POSTGRES_SH = REPO_ROOT / "scripts" / "postgres.sh"


#: a timer-service log line worth showing beside a stuck request
_TROUBLE = re.compile(r"WARNING|ERROR|CRITICAL|Traceback|Exception in thread")

#: the first run's day; run ``i`` of a bench replays the day ``i`` days later (its own day and ids)
FIRST_DAY = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


class Lab:
    """Broker, database, Twilio mock and worker processes a scenario may break."""

    _web_url: str  # careline web's base URL, once it answered (``web``)

    def __init__(self, var: Path, console: Console) -> None:
        self.var, self.console = var, console
        var.chmod(0o755)  # PostgreSQL runs as its own user when we are root (scripts/postgres.sh)
        self.logs = var / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.workers: list[subprocess.Popen] = []
        self._stack = contextlib.ExitStack()

    # --- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Lab:
        from tools.faults.faultproxy import FaultPlan, FaultProxy
        from tools.harness.prism import running_prism

        try:
            self.kafka_port, self.controller_port = brokers.free_port(), brokers.free_port()
            self.console.print(f"lab: Apache Kafka on 127.0.0.1:{self.kafka_port}")
            self.broker = brokers.start_apache_kafka(
                self.kafka_port, self.controller_port, log_path=self.logs / "kafka-sh.log"
            )
            # the broker's data (under .cache/kafka) and the cluster (under var) go when the lab does
            self._stack.callback(shutil.rmtree, REPO_ROOT / ".cache" / "kafka" / f"data-{self.kafka_port}", True)
            self._stack.callback(self.broker.stop)
            self._stack.callback(shutil.rmtree, self.var / "pg", True)
            self.pg_env = dict(os.environ, PG_PORT=str(brokers.free_port()), PG_HOME=str(self.var / "pg"))
            self._postgres("start")
            self._stack.callback(self._postgres, "stop")
            self._postgres("reset")
            self.database_url = subprocess.run(
                ["bash", str(POSTGRES_SH), "url"], env=self.pg_env, check=True, capture_output=True, text=True
            ).stdout.strip()
            self.sessions: sessionmaker[Session] = session_factory(self.database_url)
            upgrade(self.database_url)
            brokers.ensure_topics(self.bootstrap, topics.resolved(Settings().topic_partitions))
            prism = self._stack.enter_context(running_prism(log_path=self.logs / "prism.log"))
            self.proxy = self._stack.enter_context(FaultProxy(prism.base_url, FaultPlan()))
            self.web_port = brokers.free_port()
            self.phones: dict[str, str] = {}
            settings = Settings(var_dir=self.var, broker=self.bootstrap, database_url=self.database_url)
            self.env = dict(
                worker_env(settings, self.bootstrap, self.database_url),
                CARELINE_TWILIO_ACCOUNT_SID="AC" + "0" * 32,
                CARELINE_TWILIO_AUTH_TOKEN="lab-token",
                CARELINE_TWILIO_FROM_NUMBER="+15005550006",
                CARELINE_TWILIO_API_BASE_URL=self.proxy.base_url,
                CARELINE_TWILIO_TIMEOUT_SECONDS="2",
                CARELINE_PUBLIC_BASE_URL=f"http://127.0.0.1:{self.web_port}",
                CARELINE_WEB_CLOCK="replay",
                # at 600x the default 120 s offer is 0.2 s of wall time, less than one SMS
                # webhook round trip: offers last 10 simulated minutes (1 s) in the lab
                CARELINE_OFFER_TIMEOUT_SECONDS="600",
            )
            self.scheduler = self.spawn("scheduler")
            self.spawn("worker")
            self._stack.callback(self.stop_all)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def partitions(self) -> int:
        """Partitions of every careline topic in the lab."""
        return Settings().topic_partitions

    def _postgres(self, action: str) -> None:
        subprocess.run(
            ["bash", str(POSTGRES_SH), action], env=self.pg_env, check=True, capture_output=True, timeout=120
        )

    def spawn(self, command: str = "worker") -> subprocess.Popen:
        """Start ``careline <command>``; workers are kept in ``workers`` (oldest first)."""
        n = len(self.workers) + 1
        log = open(self.logs / f"{command}-{n}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "careline.cli", command], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        if command == "worker":
            self.workers.append(proc)
        return proc

    def live_workers(self) -> list[subprocess.Popen]:
        """Worker processes still running, oldest first."""
        return [w for w in self.workers if w.poll() is None]

    def stop_all(self) -> None:
        """SIGTERM every worker and the timer service; SIGKILL whatever is left after 20 s."""
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [*self.workers, self.scheduler]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    # --- faults ------------------------------------------------------------------------------
    def kill_worker(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the oldest live worker and wait (at most 30 s) until it is gone."""
        proc = self.live_workers()[0]
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def stop_broker(self) -> None:
        """``kafka.sh stop`` for the lab's broker; its data stays for ``start_broker``."""
        brokers.stop_apache_kafka(self.kafka_port, self.controller_port)

    def start_broker(self) -> None:
        """``kafka.sh start`` on the same ports and data; returns once the broker is ready."""
        brokers.start_apache_kafka(self.kafka_port, self.controller_port, log_path=self.logs / "kafka-sh.log")

    def web(self) -> str:
        """``careline web`` (uvicorn: webhooks, alarms, the app API) on a free port, started
        if it is not running; returns its base URL when /healthz answers."""
        import requests

        proc = getattr(self, "_web", None)
        if proc is not None and proc.poll() is None:
            return self._web_url
        port = self.web_port
        log = open(self.logs / "web.log", "ab")
        proc = self._web = subprocess.Popen(
            [sys.executable, "-m", "careline.cli", "web", "--port", str(port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if not getattr(self, "_web_stop_registered", False):
            self._stack.callback(self.stop_web)
            self._web_stop_registered = True
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(url + "/healthz", timeout=2).ok:
                    self._web_url = url
                    return url
            time.sleep(0.3)
        raise RuntimeError(f"careline web did not answer; see {self.logs / 'web.log'}")

    def stop_web(self, sig: int = signal.SIGTERM) -> None:
        """Stop ``careline web`` with ``sig`` (SIGTERM, or SIGKILL for a crash) and wait until it is gone."""
        proc = getattr(self, "_web", None)
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def use_ivr(self, service_type: str) -> None:
        """Restart ``careline web`` with the hotline menu's digit 1 offering ``service_type`` (a
        service the day's caregivers give), so that hotline calls become requests dispatch can place."""
        text = (REPO_ROOT / "config" / "ivr.toml").read_text(encoding="utf-8")
        path = self.var / f"ivr-{service_type}.toml"
        # the service menu's first item (meal in the shipped menu) swaps places with service_type
        first, wanted = 'service_type = "meal"', f'service_type = "{service_type}"'
        path.write_text(text.replace(wanted, "\x00").replace(first, wanted, 1).replace("\x00", first), encoding="utf-8")
        if self.env.get("CARELINE_IVR_CONFIG") != str(path):
            self.env["CARELINE_IVR_CONFIG"] = str(path)
            self.stop_web()
        self.web()

    def kill_timer_service(self) -> None:
        """SIGKILL the timer service (``careline scheduler``) and wait until it is gone."""
        self.scheduler.kill()
        self.scheduler.wait(timeout=30)

    def start_timer_service(self) -> None:
        self.scheduler = self.spawn("scheduler")

    def elder_token(self, elder_id: str) -> str:
        """A fresh app API token for ``elder_id`` (what ``careline tokens issue elder`` does)."""
        import secrets
        from datetime import datetime

        from db import app_api

        token = secrets.token_urlsafe(32)
        with self.sessions() as session:
            app_api.add_token(session, token, "elder", elder_id, datetime.now(UTC))
            session.commit()
        return token

    def post_signed(self, path: str, form: dict[str, str], copies: int = 1) -> list:
        """POST ``form`` to ``path`` on ``careline web`` as Twilio would (X-Twilio-Signature over
        the public URL with the lab's auth token), ``copies`` times at once; the status codes."""
        from concurrent.futures import ThreadPoolExecutor

        import requests

        from careline.web.twilio_security import sign

        url = self.web() + path
        headers = {"X-Twilio-Signature": sign(url, form, self.env["CARELINE_TWILIO_AUTH_TOKEN"])}
        with ThreadPoolExecutor(max_workers=copies) as pool:
            replies = list(
                pool.map(lambda _: requests.post(url, data=form, headers=headers, timeout=30), range(copies))
            )
        return replies

    def sms_reply(self, driver: ReplayDriver, act, copies: int, refused: list[str]) -> None:
        """A caregiver answers by SMS (``1 4821``, ``2 4821``, ``到 4821``, ``完 4821``), the
        inbound webhook delivered ``copies`` times at once with one MessageSid."""
        import uuid

        with self.sessions() as session:
            code = runs.short_code(session, act.offer_id, act.request_id, act.caregiver_id)
        word = {"accept": "1", "decline": "2", "check_in": "到", "check_out": "完"}[act.kind]
        form = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": self.env["CARELINE_TWILIO_ACCOUNT_SID"],
            "From": self.phones[act.caregiver_id],
            "To": self.env["CARELINE_TWILIO_FROM_NUMBER"],
            "Body": f"{word} {code}",
            "NumMedia": "0",
            "NumSegments": "1",
        }
        replies = self.post_signed("/twilio/sms", form, copies)
        if any(r.status_code != 200 for r in replies):
            refused.append(f"SMS webhook {act.kind} answered {[r.status_code for r in replies]}")
        if os.environ.get("CARELINE_FAULTS_DEBUG"):
            self.console.print(f"{act.kind} {form['Body']!r}: {[r.text[-80:] for r in replies]}")

    def shuffled_status_callbacks(self, copies: int = 3) -> list[str]:
        """For every SMS the Twilio side accepted, deliver its status callbacks newest first
        (delivered, sent, queued), each ``copies`` times at once; return what is wrong after:
        a message whose stored status is not ``delivered``."""
        from urllib.parse import urlsplit

        done = [(sid, cb) for sid, cb in self.proxy.stats.created if sid.startswith(("SM", "MM")) and cb]
        for sid, callback in done:
            parts = urlsplit(callback)
            for status in ("delivered", "sent", "queued"):
                form = {
                    "MessageSid": sid,
                    "MessageStatus": status,
                    "SmsStatus": status,
                    "AccountSid": self.env["CARELINE_TWILIO_ACCOUNT_SID"],
                }
                self.post_signed(f"{parts.path}?{parts.query}", form, copies)
        wrong = []
        with self.sessions() as session:
            stored = runs.message_statuses(session, [sid for sid, _ in done])
        for sid, _ in done:
            if stored.get(sid) != "delivered":
                wrong.append(f"message …{sid[-6:]}: status {stored.get(sid)!r} after callbacks out of order")
        return wrong

    def broker_up(self) -> bool:
        """True when the broker's port accepts a TCP connection (2 s timeout)."""
        import socket

        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.kafka_port), timeout=2):
            return True
        return False

    def restart_postgres(self) -> None:
        """``postgres.sh stop`` (fast shutdown, connections dropped) then ``start``."""
        self._postgres("stop")
        self._postgres("start")

    # --- reading a run -----------------------------------------------------------------------
    def unsent_outbox(self) -> int:
        """Outbox rows not yet marked sent (relay and timer-service rows alike)."""
        with self.sessions() as session:
            return runs.unsent_outbox(session)

    def give_caregivers_phones(self, driver: ReplayDriver) -> None:
        """Mainland mobile numbers for the run's caregivers, so every offer is also an SMS."""
        from db.register import load_day

        load_day(self.sessions, driver.day, driver.instance)
        with self.sessions() as session:
            for caregiver in driver.day.caregivers:
                phone = f"+86139{os.getpid() % 1000:03d}{len(self.phones):05d}"
                self.phones[caregiver.caregiver_id] = phone
                runs.set_caregiver_phone(session, caregiver.caregiver_id, phone, "zh")
            session.commit()

    def give_family_a_phone(self, elder_id: str) -> str:
        """A mainland mobile number for a family member of one elder of the run, who calls the
        hotline for the elder (the elder's own number would also get satisfaction calls)."""
        phone = self.phones.get(elder_id) or f"+86138{os.getpid() % 1000:03d}{len(self.phones):05d}"
        self.phones[elder_id] = phone
        with self.sessions() as session:
            runs.set_family_phones(session, elder_id, [phone])
            session.commit()
        return phone

    def verdict(self, driver: ReplayDriver) -> Verdict:
        """Read the run's requests, offers, visits, status events, outbox and the SMS
        Twilio received, and check them (``tools.faults.invariants.check``)."""
        ids = [s.record["intake_id"] for s in driver.day.submissions] + sorted(driver.extra)
        with self.sessions() as session:
            requests, offers, visits = runs.run_and_extra_records(
                session, f"{driver.run_id}.", sorted(driver.extra), ids
            )
            status_events = runs.statuses_reached(session, ids)
        dead = [rid for rid, state in driver.final.items() if state == "dead-letter"]
        verdict = check(
            ids, requests, offers, visits, status_events, dead, self.unsent_outbox(), dict(self.proxy.stats.forwarded)
        )
        stuck = sorted(r.request_id for r in requests if r.status not in RESTING)
        if stuck:
            verdict.violations.extend(self.stuck_traces(stuck, offers))
        lost = set(ids) - {r.request_id for r in requests} - set(dead)
        if lost:
            from tools.faults.trace import trace

            verdict.violations.extend(trace(self.bootstrap, self.sessions, self.partitions, lost))
        return verdict

    def stuck_traces(self, request_ids: list[str], offers: list) -> list[str]:
        """One line per request not at rest: how far it came and its events in order
        (``db.runs.request_traces``), then each of its offers with caregiver, status, expiry and
        answer (replay-clock times), so that a broken run says where the request stopped."""
        from db.register import read_clock

        with self.sessions() as session:
            traces = runs.request_traces(session, request_ids)
            now = read_clock(session).now()
        lines = [f"  replay clock at the check: {now:%d %H:%M:%S}"]
        for rid in request_ids:
            mine = sorted((o for o in offers if o.request_id == rid), key=lambda o: o.offer_id)
            told = "; ".join(
                f"{o.offer_id.rsplit('.', 1)[-1]} {o.caregiver_id.rsplit('.', 1)[-1]} {o.status.value}"
                f" expires {o.expires_at:%d %H:%M:%S}"
                + (f" answered {o.responded_at:%d %H:%M:%S}" if o.responded_at else "")
                for o in mine
            )
            lines.append(f"  trace {rid}: {traces.get(rid, '')}; offers: {told or 'none'}")
        return lines + self.timer_service_troubles()

    def timer_service_troubles(self, last: int = 8) -> list[str]:
        """The timer service's last warnings and errors (its logs ``scheduler-*.log``): a request
        stuck behind a deadline that never fired says why, if the service knew."""
        said = []
        for log in sorted(self.logs.glob("scheduler-*.log"), key=lambda p: p.stat().st_mtime):
            text = log.read_text(encoding="utf-8", errors="replace").splitlines()
            said += [f"{log.name}: {line.strip()[:200]}" for line in text if _TROUBLE.search(line)]
        return [f"  timer service: {line}" for line in said[-last:]] or ["  timer service: no warning or error logged"]

    def quiesce(self, timeout_s: float = 60.0) -> None:
        """Wait until the outbox is empty (or ``timeout_s``), then a little for SMS in flight."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.unsent_outbox():
            time.sleep(0.5)
        time.sleep(2.0)


@dataclass
class FaultLog:
    """What the injector did and when (monotonic seconds)."""

    started: float | None = None
    restored: float | None = None
    notes: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    #: where a kill strikes (``tools.faults.points.POINTS``) and the run's random source
    kill_at: str = "share"
    rng: random.Random = field(default_factory=random.Random)


@dataclass(frozen=True)
class Scenario:
    """``inject(lab, driver, log)`` runs in a side thread once the replay started; it
    waits for progress, breaks something, and records in ``log`` when it was restored."""

    name: str
    fault: str
    inject: Callable[[Lab, ReplayDriver, FaultLog], None]
    profiles: tuple[str, ...] = ("short", "full")
    copies: int = 1
    #: replay speed for this scenario instead of the bench's (a 30 s outage at 1200× is 10 simulated hours)
    speed: float | None = None


@dataclass
class Row:
    scenario: str
    fault: str
    verdict: Verdict
    recovery_seconds: float | None
    wall_seconds: float
    notes: list[str]
    #: what the Twilio side saw: faults injected by kind, creates forwarded; app API answers in the fault
    injected: dict = field(default_factory=dict)
    app_answers: int = 0
    #: the live KPIs against the stored records (``tools.faults.live_check``)
    live: Comparison | None = None


_wait_progress = fault_points.wait_progress


def _none(lab: Lab, driver: ReplayDriver, log: FaultLog) -> None:
    return None


def _kill_worker(lab: Lab, driver: ReplayDriver, log: FaultLog) -> None:
    where = fault_points.strike(log.kill_at, lab, driver, log.rng)
    log.started = time.monotonic()
    lab.kill_worker(signal.SIGKILL)
    lab.spawn("worker")
    log.restored = time.monotonic()
    log.notes.append(f"killed at {where}")


def _kill_worker_and_timers(lab: Lab, driver: ReplayDriver, log: FaultLog) -> None:
    where = fault_points.strike(log.kill_at, lab, driver, log.rng)
    log.started = time.monotonic()
    worker = lab.live_workers()[0]
    worker.send_signal(signal.SIGKILL)
    lab.scheduler.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    lab.kill_timer_service()
    lab.start_timer_service()
    lab.spawn("worker")
    log.restored = time.monotonic()
    log.notes.append(f"worker and timer service killed together at {where}")


def _hotline_call(lab: Lab, url: str, caller: str, service_type: str, answered: list[int]) -> str | None:
    """One call to the hotline through its five signed voice webhooks (call, first menu, service
    menu, time menu, read-back confirmed), each delivered again until the web answers (Twilio retries a webhook that got
    no answer); the request id the caller heard in the confirmation, or None."""
    import html
    import re
    import uuid

    import requests

    from careline.web.twilio_security import sign

    base = {
        "CallSid": "CA" + uuid.uuid4().hex,
        "AccountSid": lab.env["CARELINE_TWILIO_ACCOUNT_SID"],
        "From": caller,
        "To": lab.env["CARELINE_TWILIO_FROM_NUMBER"],
        "CallStatus": "in-progress",
    }
    # the call answered, then: a home service (2), the first service (1), as soon as possible (1),
    # and the read-back confirmed (1); each answer goes to the action the previous prompt gathered for
    keys: tuple[dict[str, str], ...] = ({}, {"Digits": "2"}, {"Digits": "1"}, {"Digits": "1"}, {"Digits": "1"})
    reply = None
    path = "/twilio/voice"
    for more in keys:
        if reply is not None:
            action = re.search(r'<Gather[^>]* action="([^"]+)"', reply.text)
            if action is None:
                return None
            path = html.unescape(action.group(1)).removeprefix(url)
        form = {**base, **more}
        headers = {"X-Twilio-Signature": sign(url + path, form, lab.env["CARELINE_TWILIO_AUTH_TOKEN"])}
        deadline = time.monotonic() + 60
        while True:
            try:
                reply = requests.post(url + path, data=form, headers=headers, timeout=10)
                if reply.status_code == 200:
                    answered[0] += 1
                    break
            except requests.RequestException:
                answered[1] += 1
            if time.monotonic() > deadline:
                return None
            time.sleep(0.2)
    heard = re.search(r"请求号([\d ]+)", reply.text if reply is not None else "")  # spoken digit by digit: "1 0 2 4"
    return f"HL{heard.group(1).replace(' ', '')}" if heard else None


def _kill_web(lab: Lab, driver: ReplayDriver, log: FaultLog) -> None:
    """Families call the hotline for the run's elders (two calls at a time, a call a second
    each, for 24 s); the web service is killed (SIGKILL) at a random moment in between and
    started again. Every call whose caller heard a request number joins the run: that request
    must exist and end."""
    service_type = driver.day.submissions[0].record["service_type"]
    lab.use_ivr(service_type)
    url = lab.web()
    callers = [lab.give_family_a_phone(e.elder_id) for e in driver.day.elders[:6]]
    _wait_progress(driver, 0.1)
    heard: list[str] = []
    answered = [0, 0]  # webhooks answered 200, deliveries that got no answer
    until = time.monotonic() + 24

    def call(k: int) -> None:
        n = 0
        while time.monotonic() < until:
            rid = _hotline_call(lab, url, callers[(k + 2 * n) % len(callers)], service_type, answered)
            if rid is None:
                log.violations.append("a hotline call never heard its request number")
            else:
                heard.append(rid)
                driver.extra.add(rid)
            n += 1
            time.sleep(1.0)

    threads = [threading.Thread(target=call, args=(k,), daemon=True) for k in range(2)]
    for t in threads:
        t.start()
    time.sleep(log.rng.uniform(4, 14))
    log.started = time.monotonic()
    lab.stop_web(signal.SIGKILL)
    lab.web()
    log.restored = time.monotonic()
    for t in threads:
        t.join(timeout=120)
    log.notes.append(
        f"web killed {log.started - (until - 24):.1f} s into the calls and started again: "
        f"{len(heard)} calls heard their request number; {answered[0]} webhooks answered 200, "
        f"{answered[1]} deliveries got no answer and were delivered again"
    )


def _rebalance(lab: Lab, driver: ReplayDriver, log: FaultLog) -> None:
    _wait_progress(driver, 0.25)
    log.started = time.monotonic()
    second = lab.spawn("worker")
    _wait_progress(driver, 0.6)
    second.terminate()
    second.wait(timeout=60)
    log.restored = time.monotonic()
    log.notes.append("joined at 25 %, left at 60 %")


def _restart_broker(lab: Lab, driver: ReplayDriver, log: FaultLog) -> None:
    _wait_progress(driver, 0.3)
    log.started = time.monotonic()
    lab.stop_broker()
    lab.start_broker()
    log.restored = time.monotonic()


def _restart_postgres(lab: Lab, driver: ReplayDriver, log: FaultLog) -> None:
    _wait_progress(driver, 0.3)
    log.started = time.monotonic()
    lab.restart_postgres()
    log.restored = time.monotonic()


def _app_requests(lab: Lab, driver: ReplayDriver, until: float, every_s: float = 3.0) -> list[float]:
    """Elders ask for care through the app API over HTTP until ``until`` (monotonic);
    each accepted request joins the run. Returns the answer times (seconds) of 202s;
    any other answer is raised."""
    import requests

    from db.register import read_clock

    url, answered = lab.web(), []
    service = driver.day.submissions[0].record["service_type"]
    n = 0
    while time.monotonic() < until:
        elder = driver.day.elders[n % len(driver.day.elders)].elder_id
        with lab.sessions() as session:
            now = read_clock(session).now()
        body = {
            "service_type": service,
            "duration_minutes": 30,
            "priority": "routine",
            "window": {
                "start": (now + timedelta(minutes=30)).isoformat(),
                "end": (now + timedelta(minutes=180)).isoformat(),
            },
        }
        sent = time.monotonic()
        reply = requests.post(
            f"{url}/api/v1/requests",
            json=body,
            timeout=10,
            headers={"Authorization": f"Bearer {lab.elder_token(elder)}"},
        )
        if reply.status_code != 202:
            raise RuntimeError(f"app API answered {reply.status_code} during the fault: {reply.text[:200]}")
        answered.append(time.monotonic() - sent)
        driver.extra.add(reply.json()["request_id"])
        n += 1
        time.sleep(max(0.0, every_s - (time.monotonic() - sent)))
    return answered


def _broker_outage(seconds: float) -> Callable[[Lab, ReplayDriver, FaultLog], None]:
    def inject(lab: Lab, driver: ReplayDriver, log: FaultLog) -> None:
        lab.web()
        _wait_progress(driver, 0.2)
        log.started = time.monotonic()
        lab.stop_broker()
        before = lab.unsent_outbox()
        answers: list[float] = []
        try:
            answers = _app_requests(lab, driver, log.started + seconds)
        except Exception as exc:  # noqa: BLE001 - intake must keep answering: a broken invariant
            log.violations.append(f"app API during the outage: {exc!r}")
        finally:
            time.sleep(max(0.0, seconds - (time.monotonic() - log.started)))
            held = lab.unsent_outbox()
            lab.start_broker()
            log.restored = time.monotonic()
        log.notes.append(
            f"app API answered {len(answers)} requests with 202 while Kafka was down "
            f"(slowest {max(answers, default=0) * 1000:.0f} ms); the outbox held {held} "
            f"records ({held - before:+d} during the outage)"
        )

    return inject


def _twilio_errors(lab: Lab, driver: ReplayDriver, log: FaultLog) -> None:
    from tools.faults.faultproxy import FaultPlan

    lab.proxy.plan = FaultPlan(p500=0.2, p429=0.2, phang=0.05, hang_seconds=3.0)
    log.started = log.restored = time.monotonic()


def _webhooks(lab: Lab, driver: ReplayDriver, log: FaultLog) -> None:
    """Set up before the run (``on_ready`` runs this first): answers go by SMS webhook, 5×."""
    log.started = log.restored = time.monotonic()


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("baseline", "none", _none),
        Scenario("worker-sigkill", "worker killed (SIGKILL) and restarted, at a kill point", _kill_worker),
        Scenario(
            "worker-and-timers-sigkill",
            "worker and timer service killed together (SIGKILL), at a kill point",
            _kill_worker_and_timers,
        ),
        Scenario("web-sigkill", "web service killed (SIGKILL) while hotline webhooks arrive, restarted", _kill_web),
        Scenario("rebalance", "second worker joins, then leaves", _rebalance, ("full",)),
        Scenario("broker-restart", "Kafka stopped and started at 30 %", _restart_broker, ("full",)),
        Scenario("postgres-restart", "PostgreSQL restarted at 30 %", _restart_postgres),
        Scenario("broker-outage-30s", "Kafka unreachable 30 s, intake continues", _broker_outage(30.0), speed=240.0),
        Scenario("twilio-errors", "Twilio 500 20 %, 429 20 %, no answer 5 %", _twilio_errors),
        Scenario("deliver-5x", "every intake and caregiver answer delivered 5 times", _none, copies=5),
        Scenario(
            "webhooks-5x",
            "caregivers answer by SMS, each webhook 5× at once; status callbacks newest first, 3× each",
            _webhooks,
        ),
    )
}


def run_scenario(
    lab: Lab,
    scenario: Scenario,
    instance: Instance,
    speed: float,
    timeout_s: float,
    day: int = 0,
    kill_at: str = "share",
    rng: random.Random | None = None,
) -> Row:
    """Replay ``instance`` at ``speed`` (simulated seconds per wall second; the scenario may
    override it) for at most ``timeout_s`` wall seconds on the day ``day`` days after
    ``FIRST_DAY``, injecting the scenario's fault (a kill strikes at ``kill_at``,
    ``tools.faults.points``); then wait for the outbox to drain and return the row with the
    invariants' verdict."""
    from tools.faults.faultproxy import FaultPlan

    lab.proxy.plan = FaultPlan()
    lab.proxy.stats.forwarded.clear()
    lab.proxy.stats.injected.clear()
    lab.proxy.stats.created.clear()
    driver = ReplayDriver(
        lab.bootstrap,
        lab.sessions,
        instance,
        ReplayOptions(
            speed=scenario.speed or speed,
            timeout_seconds=timeout_s,
            via_outbox=True,
            copies=scenario.copies,
            day_start=FIRST_DAY + timedelta(days=day),
        ),
        lab.console,
    )
    lab.give_caregivers_phones(driver)
    log = FaultLog(kill_at=kill_at, rng=rng or random.Random())
    failure: list[BaseException] = []

    def injector() -> None:
        try:
            scenario.inject(lab, driver, log)
        except BaseException as exc:  # noqa: BLE001 - reported in the row
            lab.console.print(f"[red]{scenario.name}: the fault injector failed: {exc!r}")
            failure.append(exc)

    started = time.monotonic()
    lab.console.rule(f"{scenario.name}: {scenario.fault}")
    thread = threading.Thread(target=injector, name=f"fault-{scenario.name}", daemon=True)
    driver.on_ready = thread.start
    refused: list[str] = []
    if scenario.inject is _webhooks:
        lab.web()
        driver.action_sink = lambda act: lab.sms_reply(driver, act, 5, refused)
    driver.run()
    thread.join(timeout=120)
    if not lab.live_workers():  # a fault that left no worker: bring one back for the next scenario
        lab.spawn("worker")
    if not lab.broker_up():  # nor a broker
        lab.start_broker()
    lab.proxy.plan = FaultPlan()
    lab.quiesce()
    verdict = lab.verdict(driver)
    verdict.violations.extend(refused[:20] + log.violations + [f"injector failed: {exc!r}" for exc in failure])
    if scenario.inject is _webhooks:
        sent = len(lab.proxy.stats.created)
        verdict.violations.extend(lab.shuffled_status_callbacks())
        log.notes.append(f"{sent} SMS/calls got status callbacks delivered newest first, 3× each")
    # the worker's live KPIs, after the fault: every subject equals its stored records (a restarted
    # worker rebuilds its windows from the stored events and counts each tally once)
    hold_clock(lab.sessions)
    live = compare(
        lab.database_url,
        lab.sessions,
        driver.run_id,
        driver.day.start,
        wait_s=60,
        bootstrap=lab.bootstrap,
        partitions=Settings().topic_partitions,
    )
    verdict.violations.extend(live.violations())
    notes = list(log.notes) + [live.summary()]
    shared = Counter((kind, to, body) for kind, to, body, _ in lab.proxy.stats.forwarded)
    notes.extend(
        f"{kind} to …{to[-4:]}: the same text about {n} requests (two offers share a short code): {body[:40]!r}"
        for (kind, to, body), n in shared.items()
        if n > 1
    )
    if scenario.name == "twilio-errors":
        s = lab.proxy.stats
        notes.append(f"Twilio: {dict(s.injected)} injected, {sum(s.forwarded.values())} SMS/calls sent")
    recovery = None
    if log.restored is not None:
        after = [t for t in driver.seen_at if t >= log.restored]
        recovery = (after[0] - log.restored) if after else None
    return Row(
        scenario.name,
        scenario.fault,
        verdict,
        recovery,
        time.monotonic() - started,
        notes,
        dict(lab.proxy.stats.injected),
        len(driver.extra),
        live,
    )


def scenarios_for(profile: str, names: list[str] | None = None) -> list[Scenario]:
    """The scenarios ``names`` (in that order), else those of ``profile`` (short | full).
    Raises ``KeyError`` naming unknown scenarios."""
    if names:
        unknown = [n for n in names if n not in SCENARIOS]
        if unknown:
            raise KeyError(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
        return [SCENARIOS[n] for n in names]
    return [s for s in SCENARIOS.values() if profile in s.profiles]


@contextlib.contextmanager
def lab(var: Path, console: Console) -> Iterator[Lab]:
    """A started ``Lab`` under ``var`` (must be traversable by the postgres user), stopped on exit."""
    with Lab(var, console) as running:
        yield running


def _live_cell(live: Comparison | None) -> str:
    """``12/12`` subjects equal; ``+2`` counted twice, ``[red]-1`` lost."""
    if live is None:
        return "—"
    cell = f"{len(live.equal)}/{len(live.stored)}"
    if live.doubled:
        cell += f" +{len(live.doubled)}"
    if live.lost:
        cell += f" [red]-{len(live.lost)}"
    return cell


def render(rows: list[Row], console: Console, what: str, command: str) -> None:
    """The fault table (one row per scenario), then each scenario's notes and broken invariants."""
    from rich.table import Table

    table = Table(title=f"careline bench faults — {what}, Apache Kafka 4.4 + PostgreSQL", caption=f"$ {command}")
    for column in (
        "scenario",
        "fault",
        "requests in",
        "completed",
        "to operator",
        "lost",
        "duplicated",
        "recovery s",
        "wall s",
        "live KPIs",
        "invariants",
    ):
        table.add_column(
            column,
            justify="left" if column in ("scenario", "fault", "invariants") else "right",
            no_wrap=column != "fault",
            max_width=44 if column == "fault" else None,
        )
    for row in rows:
        v = row.verdict
        table.add_row(
            row.scenario,
            row.fault,
            str(v.requests_in),
            str(v.completed),
            str(v.to_operator),
            str(v.lost),
            str(v.duplicated),
            "—" if row.recovery_seconds is None else f"{row.recovery_seconds:.1f}",
            f"{row.wall_seconds:.0f}",
            _live_cell(row.live),
            "hold" if v.holds else f"[red]{len(v.violations)} broken",
        )
    wide = Console(file=console.file, width=max(console.width, 170), no_color=console.no_color)
    wide.print(table)
    for row in rows:
        for line in row.notes:
            console.print(f"  {row.scenario}: {line}", width=max(console.width, 160))
        for line in row.verdict.violations[:20]:
            console.print(f"  [red]{row.scenario}: {line}")


def kill_point(kill_at: str, run: int, rng: random.Random) -> str:
    """The kill point of run ``run``: ``kill_at`` itself, ``rotate`` (every point in turn,
    ``tools.faults.points.POINTS``) or ``random``."""
    if kill_at == "rotate":
        return fault_points.POINTS[run % len(fault_points.POINTS)]
    if kill_at == "random":
        return fault_points.choose(rng)
    if kill_at not in fault_points.POINTS:
        raise KeyError(f"unknown kill point {kill_at!r}; known: rotate, random, {', '.join(fault_points.POINTS)}")
    return kill_at


def tally(rows: list[Row]) -> list[str]:
    """One line per scenario run more than once: runs that held, lost and duplicated in all,
    runs whose live KPIs equal the records."""
    lines = []
    for name in dict.fromkeys(r.scenario.split(" #")[0] for r in rows):
        mine = [r for r in rows if r.scenario.split(" #")[0] == name]
        if len(mine) > 1:
            lines.append(
                f"{name}: {sum(r.verdict.holds for r in mine)} of {len(mine)} runs hold; "
                f"lost {sum(r.verdict.lost for r in mine)}, duplicated "
                f"{sum(r.verdict.duplicated for r in mine)}; live KPIs equal the records in "
                f"{sum(bool(r.live and r.live.all_equal) for r in mine)} of {len(mine)}"
            )
    return lines


def main(
    profile: str,
    names: list[str] | None,
    instance_path: Path,
    speed: float,
    timeout_s: float,
    var: Path,
    console: Console,
    command: str,
    repeat: int = 1,
    kill_at: str = "rotate",
    seed: int | None = None,
) -> int:
    """Run the scenarios ``repeat`` times (each run on its own day, so with its own ids), print
    the table (and the command), return 1 if an invariant broke. Kills strike at ``kill_at``
    (``kill_point``). Raises ``InstanceError`` for an unreadable day file, ``KeyError`` for
    unknown scenarios or kill points."""
    from handlers.datasets.uhhc import load_instance

    chosen = scenarios_for(profile, names)
    seed = random.randrange(1 << 30) if seed is None else seed
    rng = random.Random(seed)
    kill_point(kill_at, 0, rng)  # an unknown point fails before the lab starts
    instance = load_instance(instance_path.read_bytes(), name=instance_path.stem)
    rows: list[Row] = []
    console.print(f"kill points: {kill_at}, seed {seed}")
    with lab(var, console) as running:
        for run in range(repeat):
            for scenario in chosen:
                row = run_scenario(
                    running,
                    scenario,
                    instance,
                    speed,
                    timeout_s,
                    day=len(rows),
                    kill_at=kill_point(kill_at, len(rows), rng),
                    rng=rng,
                )
                if repeat > 1:
                    row.scenario = f"{row.scenario} #{run + 1}"
                rows.append(row)
                v = row.verdict
                console.print(
                    f"{row.scenario}: {'hold' if v.holds else f'{len(v.violations)} broken'}; lost {v.lost}, "
                    f"duplicated {v.duplicated}, live KPIs {_live_cell(row.live)}; " + "; ".join(row.notes[:1]),
                    highlight=False,
                )
    render(rows, console, f"{instance.name} at {speed:g}×", command)
    for line in tally(rows):
        console.print(line)
    return 0 if all(r.verdict.holds for r in rows) else 1
