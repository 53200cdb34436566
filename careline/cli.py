"""The ``careline`` command line."""
from __future__ import annotations

import logging
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from config.settings import get_settings

app = typer.Typer(help="careline: dispatch for a virtual nursing home.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
replay_app = typer.Typer(help="Stream real input through the pipeline.", no_args_is_help=True)
import_app = typer.Typer(help="Load real registers into the database.", no_args_is_help=True)
report_app = typer.Typer(help="Reports for supervisors and contract managers.", no_args_is_help=True)
subs_app = typer.Typer(help="Recurring services (e.g. weekday lunch).", no_args_is_help=True)
app.add_typer(replay_app, name="replay")
app.add_typer(import_app, name="import")
app.add_typer(report_app, name="report")
app.add_typer(subs_app, name="subscriptions")
def _console(stderr: bool = False) -> Console:
    """Rich console; not wrapped at 80 columns when output is a file or pipe."""
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=120)


console = _console(stderr=True)
out = _console()


@app.command()
def worker() -> None:
    """Run the Faust stream worker (agents, timers, outbox relay)."""
    from streams.app import app as faust_app

    level = {"warning": "warn", "critical": "crit"}.get(get_settings().log_level.lower(),
                                                          get_settings().log_level.lower())
    port = get_settings().worker_web_port
    web = ["--web-port", str(port), "--web-host", "127.0.0.1"] if port else ["--without-web"]
    sys.argv = ["careline-worker", "worker", "--loglevel", level, *web]
    faust_app.main()


@app.command()
def scheduler() -> None:
    """Run the timer service (exactly one per database): deadlines from the
    outbox into APScheduler's job store, firings onto care.timers.v1."""
    import signal
    import threading

    from careline.scheduler import run

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run(stop)
    except KeyboardInterrupt:
        pass


@app.command()
def web(host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port")] = 8000) -> None:
    """Serve the web side: Twilio webhooks, one-key alarms, the app API, the
    operator dashboard, statistics and /metrics (behind a TLS proxy in production)."""
    import uvicorn

    from db.migrate import upgrade

    upgrade(get_settings().database_url)  # migrations at start, as the compose prestart does
    uvicorn.run("careline.web.app:create_app", factory=True, host=host, port=port,
                proxy_headers=True, log_level=get_settings().log_level.lower(), timeout_graceful_shutdown=5)


@app.command()
def broker(port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1")] = 9092) -> None:
    """Run the embedded Tansu broker (memory storage) until interrupted."""
    from careline.brokers import start_tansu

    settings = get_settings()
    with start_tansu(port=port, log_path=settings.var_dir / "logs" / "tansu.log") as b:
        out.print(f"Tansu broker on {b.bootstrap} (memory storage); Ctrl-C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


@app.command()
def migrate() -> None:
    """Bring the database (CARELINE_DATABASE_URL) to the newest schema."""
    from db.migrate import upgrade

    upgrade(get_settings().database_url)
    out.print("database at head")


@app.command()
def topics() -> None:
    """Create every careline topic on CARELINE_BROKER (existing ones are kept)."""
    from careline.brokers import ensure_topics
    from config import topics as t

    settings = get_settings()
    ensure_topics(settings.broker, t.resolved(settings.topic_partitions))
    out.print("\n".join(spec.name for spec in t.ALL))


def _replay(path: Path, embedded: bool, database_url: str, speed: float, lead: float, seed: int,
            accept: float, decline: float, timeout: float, poor: tuple[str, ...] = (),
            twin_roster: bool = False, mode: str = "online") -> int:
    from careline.replay import ReplayDriver, ReplayOptions
    from careline.report import print_provider_work, print_summary, published_costs
    from careline.stack import local_stack
    from db.session import session_factory
    from handlers.simulation import CaregiverModel
    from handlers.uhhc import InstanceError, load_instance

    try:
        instance = load_instance(path.read_bytes(), name=path.stem)
    except (OSError, InstanceError) as exc:
        console.print(f"[red]cannot read {path}: {exc}")
        return 2
    settings = get_settings()
    options = ReplayOptions(speed=speed, lead_minutes=lead, timeout_seconds=timeout, twin_roster=twin_roster, mode=mode,
                            model=CaregiverModel(seed=seed, accept_rate=accept, decline_rate=decline,
                                                 poor_providers=poor))
    with local_stack(settings, embedded, database_url, run_name=path.stem) as stack:
        console.print(f"broker {stack.bootstrap} · database {database_url.split('@')[-1]} · "
                      f"worker log {stack.worker_log}")
        driver = ReplayDriver(stack.bootstrap, session_factory(database_url), instance, options, console,
                              worker_alive=lambda: stack.worker.poll() is None)
        result = driver.run()
    print_summary(out, path.stem, result.summary, published_costs(path, instance), result.wall_seconds)
    print_provider_work(out, result.provider_work, result.run)
    if not result.summary.all_final or len(result.final) < len(result.day.submissions):
        console.print("[red]some requests did not reach a final state")
        return 1
    out.print(f"every request reached a final state (run {result.run})")
    example = next((rid for rid, state in result.final.items() if state == "failed"), next(iter(result.final), ""))
    out.print(f"why a request went where it went: CARELINE_DATABASE_URL={database_url} careline explain {example}",
              highlight=False)
    return 0


Speed = Annotated[float, typer.Option(help="simulated seconds per wall second")]
Lead = Annotated[float, typer.Option(help="minutes between submission and window start")]
Seed = Annotated[int, typer.Option(help="seed of the caregiver model")]
Accept = Annotated[float, typer.Option(help="share of offers a caregiver accepts")]
Decline = Annotated[float, typer.Option(help="share of offers a caregiver declines, counted as 'rejected' "
                                               "as TaskRouter names it (the rest time out)")]
Timeout = Annotated[float, typer.Option(help="wall seconds before giving up")]


@replay_app.command("uhhc")
def replay_uhhc(file: Annotated[Path, typer.Argument(help="UHHC instance JSON")],
                embedded: Annotated[bool, typer.Option(help="start the embedded Tansu broker")] = False,
                speed: Speed = 600.0, lead_minutes: Lead = 60.0, seed: Seed = 7,
                accept_rate: Accept = 0.85, decline_rate: Decline = 0.10,
                timeout: Timeout = 300.0,
                poor_provider: Annotated[Optional[list[str]], typer.Option(
                    help="make this provider (prov1, prov2 …) perform badly; repeatable")] = None,
                twin_roster: Annotated[bool, typer.Option(
                    help="every provider employs a copy of the roster, so only evaluation separates them")] = False,
                mode: Annotated[str, typer.Option(
                    help="online (each request on arrival), batched (assignment every 60 s) or planned "
                         "(an OR-Tools day plan first, online on disruption)")] = "online",
                ) -> None:
    """Replay a UHHC instance as a day of care requests through CARELINE_BROKER
    (or the embedded broker) and CARELINE_DATABASE_URL; prints the summary."""
    settings = get_settings()
    raise typer.Exit(_replay(file, embedded, settings.database_url, speed, lead_minutes, seed,
                             accept_rate, decline_rate, timeout, tuple(poor_provider or ()), twin_roster, mode))


@app.command()
def demo(speed: Speed = 1200.0, seed: Seed = 7,
         hotline: Annotated[bool, typer.Option(help="instead: one hotline call through the signed webhooks, "
                                                    "printing the TwiML and the SMS that would be sent")] = False,
         ) -> None:
    """The main job on the embedded default: Tansu broker, a fresh SQLite file,
    the Rome UHHC day replayed end to end, and its summary."""
    if hotline:
        from careline.hotline_demo import main as hotline_main

        raise typer.Exit(hotline_main())
    settings = get_settings()
    instance = settings.shared_data / "uhhc" / "instances" / "rome-p44.json"
    if not instance.exists():
        console.print(f"[red]missing {instance}: set CARELINE_SHARED_DATA to the shared data folder")
        raise typer.Exit(2)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    db_path = settings.var_dir / f"demo-{stamp}.db"
    raise typer.Exit(_replay(instance, True, f"sqlite:///{db_path}", speed, 60.0, seed, 0.85, 0.10, 170.0))


@app.command()
def explain(request_id: Annotated[str, typer.Argument(help="care request id")]) -> None:
    """Print, in plain words, every decision and state change of one request."""
    from sqlalchemy import select

    from db import tables
    from db.session import session_factory
    from db.migrate import upgrade
    from handlers.explain import explain as explain_events

    upgrade(get_settings().database_url)
    with session_factory(get_settings().database_url)() as session:
        rows = session.execute(select(tables.event_log.c.payload).where(
            tables.event_log.c.subject == request_id).order_by(tables.event_log.c.seq)).scalars().all()
    if not rows:
        console.print(f"[red]no events for request {request_id!r} in {get_settings().database_url}")
        raise typer.Exit(1)
    out.print(f"request {request_id}")
    for line in explain_events(rows):
        out.print(line, highlight=False)


bench_app = typer.Typer(help="Benchmarks: printed tables with the command that produced them.",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")


def _shared_instances() -> list[Path]:
    return sorted((get_settings().shared_data / "uhhc" / "instances").glob("*.json"))


@bench_app.command("faults")
def bench_faults(profile: Annotated[str, typer.Option(help="short (CI) or full")] = "full",
                 scenario: Annotated[Optional[list[str]], typer.Option(help="run only these (repeatable)")] = None,
                 instance: Annotated[Optional[Path], typer.Option(help="UHHC day (default bazirha-E2)")] = None,
                 speed: Speed = 600.0,
                 timeout: Annotated[float, typer.Option(help="wall seconds per replay")] = 300.0,
                 repeat: Annotated[int, typer.Option(min=1, help="run the scenarios this many times, each run "
                                                               "on its own day")] = 1,
                 kill_at: Annotated[str, typer.Option(help="where kills strike: rotate (each point in turn), random, "
                                                           "share, intake, intake-commit, offers, relay")] = "rotate",
                 seed: Annotated[Optional[int], typer.Option(help="seed of the kill points (printed)")] = None) -> None:
    """Replay a day per scenario on a broker, database and worker the bench starts itself, break
    one of them mid-run (worker SIGKILL at several points, worker and timer service together, the
    web service while webhooks arrive, rebalance, broker and PostgreSQL restarts, a 30 s broker
    outage, Twilio errors, five-fold delivery) and check the invariants: one table row each."""
    import shlex
    import tempfile

    from careline.faults import main as faults_main
    from handlers.uhhc import InstanceError

    if profile not in ("short", "full"):
        raise typer.BadParameter("short or full", param_hint="--profile")
    path = instance or get_settings().shared_data / "uhhc" / "instances" / "bazirha-E2.json"
    get_settings().var_dir.mkdir(parents=True, exist_ok=True)
    var = Path(tempfile.mkdtemp(prefix="careline-faults-", dir=get_settings().var_dir))
    command = "careline " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        code = faults_main(profile, scenario, path, speed, timeout, var, _console(), command, repeat, kill_at, seed)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="--kill-at" if "kill point" in str(exc)
                                 else "--scenario") from None
    except (OSError, InstanceError) as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}", param_hint="--instance") from None
    raise typer.Exit(code)


@bench_app.command("dispatch")
def bench_dispatch(files: Annotated[Optional[list[Path]], typer.Argument(help="UHHC instances (default: all shared)")] = None,
                   time_limit: Annotated[float, typer.Option(help="planner seconds per instance")] = 20.0,
                   seed: Seed = 7) -> None:
    """Online, batched and planned dispatch on UHHC days beside the published
    solutions: travel, tardiness, unserved visits, runtime."""
    from careline.bench import main as bench_main

    raise typer.Exit(bench_main(list(files or _shared_instances()), time_limit, seed))


Loads = Annotated[str, typer.Option(help="offered loads, requests per second, comma separated; stops at saturation")]
Broker = Annotated[Optional[str], typer.Option(help="bootstrap host:port of a running broker (default: start the "
                                                     "embedded Tansu broker)")]
BenchDatabase = Annotated[Optional[str], typer.Option(help="SQLAlchemy URL (default: a new SQLite file in var/bench)")]
BenchInstance = Annotated[Optional[Path], typer.Option(help="UHHC instance copied per service area "
                                                             "(default: shared bazirha-F1)")]


@bench_app.command("throughput")
def bench_throughput(broker: Broker = None, database_url: BenchDatabase = None,
                     loads: Loads = "10,25,50,100,200,1000",
                     seconds: Annotated[float, typer.Option(help="seconds each load is offered")] = 10.0,
                     messages: Annotated[int, typer.Option(help="records through the raw aiokafka loop (0: skip)")] = 20000,
                     instance: BenchInstance = None,
                     p95_bound: Annotated[float, typer.Option(help="p95 (seconds) beyond which a load is saturated")] = 5.0,
                     drain: Annotated[float, typer.Option(help="seconds to wait for the last decisions of a load")] = 60.0,
                     profile: Annotated[Optional[Path], typer.Option(help="sample the worker with py-spy into this "
                                                                          "folder and print its top functions")] = None,
                     json_out: Annotated[Optional[Path], typer.Option("--json", help="also write the results "
                                                                                      "here as JSON")] = None,
                     ) -> None:
    """A raw aiokafka consume → transform → produce loop beside the careline
    pipeline (intake → first offer) on the same broker and records: events per
    second, their ratio, and latency p50/p95/p99 per offered load until saturation."""
    from careline.bench_throughput import main as throughput_main

    raise typer.Exit(throughput_main(broker, database_url, [float(x) for x in loads.split(",") if x.strip()],
                                     seconds, messages, instance or _shared_instance("bazirha-F1"), p95_bound,
                                     drain, profile, json_out))


@bench_app.command("scale")
def bench_scale(requests: Annotated[int, typer.Option(help="requests to replay")] = 100000,
                in_flight: Annotated[int, typer.Option(help="most requests sent and not yet decided")] = 500,
                broker: Broker = None, database_url: BenchDatabase = None, instance: BenchInstance = None,
                stall: Annotated[float, typer.Option(help="give up after this many seconds without a decision")] = 120.0,
                restart_after: Annotated[float, typer.Option(help="restart a worker that decided nothing for this "
                                                                  "many seconds (0: never); counted in the result")] = 0.0,
                profile: Annotated[Optional[Path], typer.Option(help="sample the worker with py-spy into this "
                                                                     "folder and print its top functions")] = None,
                ) -> None:
    """Replay many requests through the pipeline as fast as it takes them
    (bounded in flight): wall time, requests and events per second, peak memory."""
    from careline.bench_scale import main as scale_main

    raise typer.Exit(scale_main(broker, database_url, requests, in_flight, instance or _shared_instance("bazirha-F1"),
                                stall, profile, restart_after))


def _shared_instance(name: str) -> Path:
    return get_settings().shared_data / "uhhc" / "instances" / f"{name}.json"


@app.command()
def plan(file: Annotated[Path, typer.Argument(help="UHHC instance JSON (visits known the day before)")],
         time_limit: Annotated[float, typer.Option(help="solver seconds")] = 20.0,
         seed: Seed = 0) -> None:
    """Plan the day's caregiver routes with OR-Tools (time windows, skills,
    shifts, paired visits) and print them with their cost beside published solutions."""
    from rich.table import Table

    from careline.report import published_costs
    from handlers.planning import plan_day, sync_violations
    from handlers.uhhc import InstanceError, evaluate_routes, load_instance

    try:
        instance = load_instance(file.read_bytes(), name=file.stem)
    except (OSError, InstanceError) as exc:
        console.print(f"[red]cannot read {file}: {exc}")
        raise typer.Exit(2)
    with console.status(f"planning {file.stem} for {time_limit:g} s"):
        routes = plan_day(instance, time_limit, seed)
    table = Table(title=f"{file.stem}: planned routes (minutes from the start of the day)")
    table.add_column("caregiver")
    table.add_column("visits (start patient/service)")
    for cid, stops in sorted(routes.items()):
        table.add_row(cid, "  ".join(f"{s.start:.0f} {s.patient_id}/{s.service_id}" for s in stops))
    out.print(table)
    cost = evaluate_routes(instance, routes)
    out.print(f"planned: travel {cost.travel_time:.0f} min, total tardiness {cost.total_tardiness:.0f}, "
              f"max {cost.highest_tardiness:.0f}, unserved {cost.unserved}, "
              f"synchronisation violations {len(sync_violations(instance, routes))}")
    for method, c in published_costs(file, instance).items():
        out.print(f"published {method}: travel {c.travel_time:.0f} min, total tardiness {c.total_tardiness:.0f}")


@report_app.command("providers")
def report_providers(month: Annotated[str, typer.Option(help="calendar month, YYYY-MM")],
                     out_dir: Annotated[Path, typer.Option(help="where the HTML and PDF go")] = Path("var/reports"),
                     ) -> None:
    """The monthly contract performance report per provider: KPIs, trend,
    ranking and plots, as HTML and PDF."""
    from careline.reports import main as report_main
    from db.migrate import upgrade

    upgrade(get_settings().database_url)
    raise typer.Exit(report_main(month, out_dir, get_settings().database_url))


@subs_app.command("add")
def subscriptions_add(subscription_id: str, elder_id: str, service_type: str,
                      days: Annotated[str, typer.Option(help="mon-fri, mon,wed,fri or *")] = "mon-fri",
                      at: Annotated[str, typer.Option(help="local time of the service, HH:MM")] = "11:00",
                      tz: Annotated[str, typer.Option(help="the elder's IANA time zone")] = "Asia/Shanghai",
                      duration: Annotated[float, typer.Option(help="minutes")] = 30.0,
                      window: Annotated[float, typer.Option(help="minutes")] = 60.0,
                      lead: Annotated[float, typer.Option(help="minutes ahead the request is made")] = 60.0) -> None:
    """Subscribe an elder to a recurring service; the timer service picks it up within a minute."""
    from db import tables
    from db.migrate import upgrade
    from db.session import session_factory
    from handlers.subscriptions import InvalidSubscription, Subscription, next_services

    sub = Subscription(subscription_id, elder_id, service_type, days, at, tz, duration, window, lead)
    try:
        upcoming = next_services(sub, datetime.now(timezone.utc), 3)
    except InvalidSubscription as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2)
    upgrade(get_settings().database_url)
    with session_factory(get_settings().database_url)() as session:
        if session.get(__import__("handlers.model", fromlist=["Elder"]).Elder, elder_id) is None:
            console.print(f"[red]elder_id: no registered elder {elder_id!r}")
            raise typer.Exit(2)
        session.execute(tables.care_subscriptions.delete().where(
            tables.care_subscriptions.c.subscription_id == subscription_id))
        session.execute(tables.care_subscriptions.insert().values(**sub.__dict__))
        session.commit()
    out.print(f"subscription {subscription_id}: next services " + ", ".join(s.strftime("%a %d %b %H:%M %Z") for s in upcoming))


operators_app = typer.Typer(help="Operator accounts.", no_args_is_help=True)
app.add_typer(operators_app, name="operators")


@operators_app.command("add")
def operators_add(user: str, role: Annotated[str, typer.Option(help="operator, supervisor or admin")] = "operator",
                  name: Annotated[Optional[str], typer.Option(help="display name")] = None,
                  region: Annotated[str, typer.Option(help="region path prefix the account sees; '' = all")] = "",
                  ) -> None:
    """Create or update an operator account; the password is asked for (at least 12 characters)."""
    from careline.operators import AccountError, add_operator
    from db.migrate import upgrade

    password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    upgrade(get_settings().database_url)
    try:
        add_operator(get_settings().database_url, user, role, password, name=name, region_scope=region)
    except AccountError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2)
    out.print(f"operator {user} ({role}) saved")


tokens_app = typer.Typer(help="Per-user tokens of the elder/family and caregiver apps and of providers.",
                         no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")


@tokens_app.command("issue")
def tokens_issue(kind: Annotated[str, typer.Argument(help="elder, caregiver or provider")], subject_id: str) -> None:
    """Issue an app token (printed once; only its hash is stored)."""
    from careline.app_tokens import issue_token

    try:
        out.print(issue_token(get_settings().database_url, kind, subject_id))
    except (ValueError, LookupError) as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2)


@tokens_app.command("revoke")
def tokens_revoke(kind: str, subject_id: str) -> None:
    """Revoke every token of an elder, caregiver or provider."""
    from careline.app_tokens import revoke_tokens

    out.print(f"revoked {revoke_tokens(get_settings().database_url, kind, subject_id)} tokens")


@import_app.command("providers")
def import_providers(file: Annotated[Path, typer.Argument(help="contracted_providers.csv")]) -> None:
    """Load the aging department's contracted provider list; rejected rows are
    printed with line, field and reason."""
    from careline.importing import import_provider_file

    raise typer.Exit(import_provider_file(file, get_settings().database_url, out))


def main() -> None:
    logging.basicConfig(level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    app()


if __name__ == "__main__":
    main()
