"""The timer service: the one process that owns the APScheduler job store.

Handlers ask for a deadline by emitting a ``timer.requested`` event, which the
unit of work writes to the outbox with topic ``scheduler``. This service polls
those rows, adds (or replaces) a date job per deadline in APScheduler 3's
SQLAlchemy job store, and marks the rows done; when a job runs it publishes a
``timer.fired`` event on ``care.timers.v1`` (keyed by service area) with the
deadline as its event time. Handlers ignore a firing whose request moved on.

Run exactly one (``careline scheduler``) per database: APScheduler 3 job stores must not
be shared by several schedulers (a second one fires the same jobs and fails removing them,
``JobLookupError``). So the service holds a lease on its database (``db.leases``, row
``timer-service``), renewed every ``RENEW_SECONDS``; another refuses to start while the
holder is alive: on this host while its process runs, elsewhere while it renewed within
``LEASE_TTL_SECONDS``. ``coalesce=True`` and ``misfire_grace_time=None`` make a restarted
scheduler fire each deadline it missed while down exactly once, late rather than never.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from kafka import KafkaProducer

from config import topics
from config.settings import get_settings
from db import leases, timers
from db.channels import enqueue
from db.register import read_clock
from db.session import engine_for, session_factory
from db.uow import envelope
from handlers import events as ev
from handlers.channels.subscriptions import DAYS, intake_for

log = logging.getLogger("careline.scheduler")

LEASE = "timer-service"
#: seconds without renewal after which a holder on another host counts as gone
LEASE_TTL_SECONDS = 15.0
#: seconds between renewals of the lease
RENEW_SECONDS = 3.0


class TimerLoopEnded(RuntimeError):
    """The scheduler's thread ended while the service ran: no deadline would fire again, so the
    service stops (a non-zero exit its supervisor restarts) rather than look alive."""


class TimerServiceRunning(RuntimeError):
    """Another timer service holds this database's lease (``lease``) and is alive."""

    def __init__(self, lease: leases.Lease) -> None:
        self.lease = lease
        super().__init__(
            f"a timer service already serves this database: pid {lease.pid} on {lease.host}, publishing "
            f"to {lease.broker}, alive at {lease.renewed_at:%H:%M:%S} UTC. careline runs one per database "
            "(APScheduler's job store takes one scheduler): use it, or stop it first"
        )


def _running(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (a zombie, killed and not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return True


def holder_alive(lease: leases.Lease, now: datetime) -> bool:
    """Whether the lease's holder still serves: renewed within ``LEASE_TTL_SECONDS`` and, if
    on this host, its process running (so a killed service's successor takes over at once; a
    holder with this very pid is a previous life of a restarted container, not alive)."""
    if (now - lease.renewed_at).total_seconds() > LEASE_TTL_SECONDS:
        return False
    if lease.host == socket.gethostname():
        return lease.pid != os.getpid() and _running(lease.pid)
    return True


def running_timer_service(database_url: str) -> leases.Lease | None:
    """The lease of the timer service serving ``database_url`` if it is alive, else None."""
    with session_factory(database_url)() as session:
        held = leases.current(session, LEASE)
    return held if held is not None and holder_alive(held, datetime.now(UTC)) else None


def claim_database(database_url: str, broker: str, wait_s: float = LEASE_TTL_SECONDS) -> leases.Lease:
    """Take the timer-service lease of ``database_url``. A holder on another host gets
    ``wait_s`` seconds to show it is gone (it may just have died).

    :raises TimerServiceRunning: a live timer service holds it.
    """
    now = datetime.now(UTC)
    me = leases.Lease(
        LEASE, f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}", socket.gethostname(), os.getpid(),
        broker, now, now,
    )  # fmt: skip
    deadline = time.monotonic() + wait_s
    while True:
        with session_factory(database_url)() as session:
            held = leases.current(session, LEASE)
            now = datetime.now(UTC)
            if held is None or not holder_alive(held, now):
                mine = replace(me, acquired_at=now, renewed_at=now)
                if leases.take(session, mine, None if held is None else held.holder):
                    return mine
                continue  # another process took it first: read who
        if held.host == socket.gethostname() or time.monotonic() >= deadline:
            raise TimerServiceRunning(held)
        time.sleep(1.0)


@lru_cache
def _producer() -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=get_settings().broker, acks="all", linger_ms=0)


#: seconds before a firing the broker did not take is tried again: doubled at each attempt, at most
#: ``FIRE_RETRY_MAX_SECONDS`` (``fire``)
FIRE_RETRY_SECONDS = 2.0
FIRE_RETRY_MAX_SECONDS = 60.0

#: the scheduler this process built (``build_scheduler``): a firing that failed goes back to it
_SCHEDULER: BackgroundScheduler | None = None


def fire(kind: str, target_id: str, service_area: str, due: str, attempt: int = 0) -> None:
    """Job function (referenced by name in the job store): publish the firing.

    APScheduler removes a date job from the store when it starts it, so a firing the broker did
    not take (a restart, an outage, a timeout) would be lost. It goes back to the job store under
    its own id, due again after ``FIRE_RETRY_SECONDS`` doubled per attempt (at most
    ``FIRE_RETRY_MAX_SECONDS``), for as long as it takes: no thread of the scheduler's pool waits
    meanwhile, and the deadline is stored, not held in memory. A newer deadline asked for the same
    target meanwhile keeps its place (the old one is dropped). Without a running scheduler in this
    process (it is shutting down) it goes back to the outbox as a ``timer.requested`` row, which the
    next timer service takes. Only a broker and a database
    both away lose it, and that is logged as an error.
    """
    from kafka.errors import KafkaError

    try:
        _publish_firing(kind, target_id, service_area, due)
    except KafkaError as exc:
        _fire_again_later(kind, target_id, service_area, due, attempt + 1, exc)


def _fire_again_later(kind: str, target_id: str, service_area: str, due: str, attempt: int, exc: Exception) -> None:
    from apscheduler.jobstores.base import ConflictingIdError

    delay = min(FIRE_RETRY_SECONDS * 2 ** (attempt - 1), FIRE_RETRY_MAX_SECONDS)
    say = log.error if attempt >= 5 else log.warning
    say("timer %s not published (attempt %d: %s); trying again in %g s", kind, attempt, type(exc).__name__, delay)
    scheduler = _SCHEDULER
    try:
        if scheduler is None or not scheduler.running:  # shutting down: the outbox keeps it for the next one
            asked = ev.area_timer_requested(
                kind, target_id, service_area, datetime.fromisoformat(due), datetime.now(UTC)
            )
            with session_factory(get_settings().database_url)() as session:
                enqueue(
                    session, topics.SCHEDULER, service_area, envelope(asked, str(uuid.uuid4()), "careline/scheduler")
                )
                session.commit()
            return
        # add_job waits for the scheduler's pass that started this job to end (its job stores'
        # lock), so the pass's removal of the job cannot remove this one
        scheduler.add_job(
            fire,
            "date",
            run_date=datetime.now(UTC) + timedelta(seconds=delay),
            id=f"{kind}:{target_id}",
            replace_existing=False,
            kwargs={"kind": kind, "target_id": target_id, "service_area": service_area, "due": due, "attempt": attempt},
        )
    except ConflictingIdError:
        log.info("timer %s asked for again meanwhile: the newer deadline stands", kind)
    except Exception:
        log.exception("timer %s lost: neither the broker nor the database took it", kind)
        raise


def firing_record(kind: str, target_id: str, service_area: str, due: str) -> dict:
    """The CloudEvents record the timer service publishes on ``care.timers.v1`` when the deadline
    ``kind`` of ``target_id`` comes (``due``: ISO 8601 with its offset, as the request stored it;
    ``handlers.events.timer_fired``), under a fresh event id; raises ``ValueError`` for a ``due``
    that is not ISO 8601."""
    fired = ev.timer_fired(kind, target_id, service_area, datetime.fromisoformat(due))
    return envelope(fired, str(uuid.uuid4()), "careline/scheduler")


def _publish_firing(kind: str, target_id: str, service_area: str, due: str) -> None:
    value = firing_record(kind, target_id, service_area, due)
    _producer().send(topics.TIMERS.name, key=service_area.encode(), value=json.dumps(value).encode()).get(30)


#: seconds before the scheduler's loop looks at its job store again after a database error
STORE_RETRY_SECONDS = 2.0


class TimerScheduler(BackgroundScheduler):
    """APScheduler 3's background scheduler whose loop outlives a database error.

    The stock loop guards only the read of the due jobs: an error after it (removing a job that
    ran, updating a recurring one's next run, reading the next run time) leaves ``_process_jobs``
    and ends the scheduler's thread. The service went on taking requests and touching its
    heartbeat, and no deadline fired again: in CI's fault lab, after PostgreSQL restarted, no
    offer expired and requests sat in ``received`` through every later scenario. Here such an
    error is logged and the loop looks again after ``STORE_RETRY_SECONDS``. A job that ran
    before the error and was not removed runs again then: a firing is at least once, and the
    handlers ignore one whose target moved on."""

    def _process_jobs(self) -> float | None:
        try:
            return super()._process_jobs()
        except Exception as exc:  # noqa: BLE001 - the job store is durable: look again shortly
            log.warning("timer jobs not processed (%s); looking again in %g s", type(exc).__name__, STORE_RETRY_SECONDS)
            return STORE_RETRY_SECONDS


def build_scheduler(database_url: str) -> BackgroundScheduler:
    """The timer service's scheduler over the database's job store; a firing that failed goes back
    to the last one built in this process (``fire``)."""
    global _SCHEDULER
    store = timers.DeferringJobStore(engine=engine_for(database_url), tablename="apscheduler_jobs")
    _SCHEDULER = TimerScheduler(
        jobstores={"default": store},
        timezone=UTC,
        jobstore_retry_interval=STORE_RETRY_SECONDS,
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
    )
    return _SCHEDULER


def take_requests(scheduler: BackgroundScheduler, database_url: str, grace_seconds: float) -> int:
    """Turn unsent ``scheduler`` outbox rows into jobs, written in one transaction
    (``db.timers.DeferringJobStore``) before the rows are marked; returns how many."""
    with session_factory(database_url)() as session:
        rows = timers.deadline_requests(session)
        if not rows:
            return 0
        clock = read_clock(session)
        store = scheduler._lookup_jobstore("default")  # APScheduler 3 has no public getter
        # the scheduler's lock around the write too: a pass that read a job as due and then removes
        # it must not remove the replacement written between the two (APScheduler has no public lock)
        deferred = store.deferred() if isinstance(store, timers.DeferringJobStore) else contextlib.nullcontext()
        with scheduler._jobstores_lock, deferred:
            for row in rows:
                data = row.value["data"]
                due = datetime.fromisoformat(data["due"])
                run_at = max(clock.to_wall(due) + timedelta(seconds=grace_seconds), datetime.now(UTC))
                scheduler.add_job(
                    fire,
                    "date",
                    run_date=run_at,
                    id=f"{data['kind']}:{data['target_id']}",
                    replace_existing=True,
                    kwargs={
                        "kind": data["kind"],
                        "target_id": data["target_id"],
                        "service_area": data["service_area"],
                        "due": data["due"],
                    },
                )
        if scheduler.running:  # the jobs are stored now: the scheduler's next look counts them
            scheduler.wakeup()
        timers.mark_scheduled(session, [r.seq for r in rows])
        session.commit()
        return len(rows)


def fire_subscription(subscription_id: str) -> None:
    """Cron job function: submit today's request of a recurring service."""
    settings = get_settings()
    with session_factory(settings.database_url)() as session:
        sub = timers.subscription(session, subscription_id)
    if sub is None or not sub.active:
        return
    record = intake_for(sub, datetime.now(UTC))
    _producer().send(topics.INTAKE.name, key=record["intake_id"].encode(), value=json.dumps(record).encode()).get(30)


def sync_subscriptions(scheduler: BackgroundScheduler, database_url: str) -> int:
    """One cron job per active subscription (``lead_minutes`` before the
    service, in the elder's zone); jobs of removed or paused ones are dropped."""
    with session_factory(database_url)() as session:
        subs = timers.subscriptions(session)
    wanted = set()
    for sub in subs:
        job_id = f"subscription:{sub.subscription_id}"
        if not sub.active:
            continue
        fire_at = datetime.combine(datetime(2000, 1, 3).date(), sub.local_time()) - timedelta(minutes=sub.lead_minutes)
        days = ",".join(DAYS[(d - (1 if fire_at.day < 3 else 0)) % 7] for d in sorted(sub.weekdays()))
        scheduler.add_job(
            fire_subscription,
            CronTrigger(day_of_week=days, hour=fire_at.hour, minute=fire_at.minute, timezone=sub.zone()),
            id=job_id,
            replace_existing=True,
            kwargs={"subscription_id": sub.subscription_id},
        )
        wanted.add(job_id)
    for job in scheduler.get_jobs():
        if job.id.startswith("subscription:") and job.id not in wanted:
            job.remove()
    return len(wanted)


DAY_PLAN_JOB = "day-plans"


def plan_tomorrow() -> int:
    """Cron job function: plan tomorrow (the programme's time zone, by the clock every
    component reads) for every area in planned mode and tell each planned caregiver their
    day (``careline.day_plan``); an area that cannot be planned is logged and skipped.
    Returns how many areas were planned. The solver runs in a child process (OR-Tools keeps
    the GIL while it searches: a thread would stall this service's timers), for at most
    ``plan_time_limit_seconds`` per area."""
    from zoneinfo import ZoneInfo

    from careline.day_plan import PlanRefused, plan_area_day
    from config.bootstrap import bootstrap
    from db.day_plans import planned_areas

    runtime = bootstrap()
    with runtime.sessions() as session:
        areas = planned_areas(session)
        today = read_clock(session).now().astimezone(ZoneInfo(runtime.settings.programme_timezone)).date()
    planned = 0
    for area in areas:
        try:
            done = plan_area_day(
                runtime, area, today + timedelta(days=1), runtime.settings.plan_time_limit_seconds, announce_now=True
            )
        except PlanRefused as exc:
            log.warning("day plan of an area for %s not made: %s", today + timedelta(days=1), exc)
            continue
        except Exception:
            log.exception("day plan of an area for %s failed", today + timedelta(days=1))
            continue
        planned += 1
        log.warning(
            "day plan for %s: %d of %d visits planned, %d notices",
            today + timedelta(days=1), len(done.plan), len(done.day.visits), len(done.notices),
        )  # fmt: skip
    return planned


def schedule_day_plans(scheduler: BackgroundScheduler, hour: int, timezone: str) -> None:
    """The evening job (``plan_tomorrow``) at ``hour``:00 every day in ``timezone``
    (``CARELINE_PLAN_ANNOUNCE_HOUR``, ``CARELINE_PROGRAMME_TIMEZONE``)."""
    scheduler.add_job(
        plan_tomorrow, CronTrigger(hour=hour, minute=0, timezone=timezone), id=DAY_PLAN_JOB, replace_existing=True
    )


class Heartbeat:
    """Touches ``path`` at most every ``every`` seconds: the container healthcheck
    (``docker/compose.yaml``) calls the service healthy while the file is under 60 s old."""

    def __init__(self, path: Path, every: float = 5.0) -> None:
        self.path, self.every, self.last = path, every, float("-inf")

    def beat(self) -> None:
        if time.monotonic() - self.last >= self.every:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
            self.last = time.monotonic()


def run(stop: threading.Event | None = None, poll_seconds: float = 0.1) -> None:
    """Serve until ``stop`` is set (or forever, or until another process took the lease):
    hold the database's lease, poll the outbox, run jobs; after each poll that reached the
    database, touch ``<var_dir>/scheduler.heartbeat`` (the container's healthcheck reads it).

    :raises TimerServiceRunning: another timer service serves the database.
    :raises TimerLoopEnded: the scheduler's thread ended (the lease is released first).
    """
    settings = get_settings()
    lease = claim_database(settings.database_url, settings.broker)
    scheduler = build_scheduler(settings.database_url)
    scheduler.start()
    schedule_day_plans(scheduler, settings.plan_announce_hour, settings.programme_timezone)
    log.warning("timer service started; %d jobs in the store", len(scheduler.get_jobs()))
    stop = stop or threading.Event()
    heartbeat = Heartbeat(settings.var_dir / "scheduler.heartbeat")
    synced = renewed = 0.0
    try:
        while not stop.is_set():
            if time.monotonic() - renewed > RENEW_SECONDS:
                try:
                    if not _renew(settings.database_url, lease):
                        log.error("another timer service took this database's lease; stopping")
                        return
                    renewed = time.monotonic()
                except Exception:  # the database away (a restart): the lease stays ours meanwhile
                    log.exception("could not renew the timer service's lease; retrying")
            if time.monotonic() - synced > 60:
                try:
                    sync_subscriptions(scheduler, settings.database_url)
                except Exception:
                    log.exception("could not sync recurring services")
                synced = time.monotonic()
            if not _loop_alive(scheduler):
                log.error("the scheduler's thread ended; stopping so that a fresh timer service takes over")
                raise TimerLoopEnded("the scheduler's thread ended: no deadline would fire; see the log above")
            try:
                taken = take_requests(scheduler, settings.database_url, settings.timer_grace_seconds)
                heartbeat.beat()
                if taken == 0:
                    time.sleep(poll_seconds)
            except Exception:
                log.exception("could not take timer requests; retrying")
                time.sleep(1.0)
    finally:
        scheduler.shutdown(wait=False)
        try:
            with session_factory(settings.database_url)() as session:
                leases.release(session, LEASE, lease.holder)
        except Exception:  # left to go stale, or to be taken over by the next one on this host
            log.exception("could not release the timer service's lease")


def _loop_alive(scheduler: BackgroundScheduler) -> bool:
    """Whether the scheduler's own thread (which runs due jobs) still runs; APScheduler 3 keeps it
    in ``_thread`` and has no public check."""
    thread = getattr(scheduler, "_thread", None)
    return thread is not None and thread.is_alive()


def _renew(database_url: str, lease: leases.Lease) -> bool:
    with session_factory(database_url)() as session:
        return leases.renew(session, LEASE, lease.holder, datetime.now(UTC))
