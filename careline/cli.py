"""The ``careline`` command line."""

from __future__ import annotations

import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from config.settings import get_settings

app = typer.Typer(
    help="careline: dispatch for a virtual nursing home.", no_args_is_help=True, pretty_exceptions_enable=False
)
import_app = typer.Typer(help="Load real registers into the database.", no_args_is_help=True)
report_app = typer.Typer(help="Reports for supervisors and contract managers.", no_args_is_help=True)
subs_app = typer.Typer(help="Recurring services (e.g. weekday lunch).", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(report_app, name="report")
app.add_typer(subs_app, name="subscriptions")


def _bootstrap():  # noqa: ANN202 - config.bootstrap.Runtime, imported late to keep --help fast
    """The process's runtime (``config.bootstrap``); exits 2 naming the file, line
    and key when a configuration file is bad."""
    from config.bootstrap import bootstrap
    from config.files import ConfigFileError

    try:
        return bootstrap()
    except ConfigFileError as exc:
        console.print(f"[red]careline: {exc}", highlight=False)
        raise typer.Exit(2) from None


def make_console(stderr: bool = False) -> Console:
    """Rich console; not wrapped at 80 columns when output is a file or pipe."""
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=120)


console = make_console(stderr=True)
out = make_console()


def interrupt_on_stop_signals() -> None:
    """Make SIGTERM (``kill``, a service manager's stop) and SIGINT unwind as Ctrl-C does, so
    the ``with`` blocks of a long-running command stop the processes they started. Python's
    default for SIGTERM is to exit at once, leaving them running; and a command started in the
    background of a non-interactive shell inherits SIGINT ignored."""
    import signal

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)


@app.command()
def worker() -> None:
    """Run the Faust stream worker (agents, timers, outbox relay). A bad
    configuration file refuses to start, naming its file, line and key; so does a broker without
    every careline topic (exit 78: run ``careline topics``, as an upgrade that adds one must)."""
    from careline.brokers import missing_topics
    from config import topics
    from streams import runtime

    runtime.install(_bootstrap())
    missing = missing_topics(get_settings().broker, [t.name for t in topics.ALL])
    if missing:  # a record for a missing topic would hold the outbox relay for every area
        console.print(
            f"[red]careline worker: the broker has no {', '.join(sorted(missing))}; create the topics with "
            "`careline topics` (docs/DEPLOY.md, Upgrades)",
            highlight=False,
        )
        raise typer.Exit(78)  # EX_CONFIG
    from streams.worker import app as faust_app

    level = {"warning": "warn", "critical": "crit"}.get(
        get_settings().log_level.lower(), get_settings().log_level.lower()
    )
    port = get_settings().worker_web_port
    web = ["--web-port", str(port), "--web-host", "127.0.0.1"] if port else ["--without-web"]
    sys.argv = ["careline-worker", "worker", "--loglevel", level, *web]
    faust_app.main()


@app.command()
def scheduler() -> None:
    """Run the timer service (exactly one per database: a second one refuses to start, exit 3):
    deadlines from the outbox into APScheduler's job store, firings onto care.timers.v1. Exit 75
    when its scheduler thread ended (no deadline would fire): a supervisor starts a fresh one."""
    import signal
    import threading

    from careline.scheduler import TimerLoopEnded, TimerServiceRunning, run

    _bootstrap()  # the files the deadlines' handlers will read are checked before serving
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run(stop)
    except TimerServiceRunning as exc:
        console.print(f"[red]careline scheduler: {exc}", highlight=False)
        raise typer.Exit(3) from None
    except TimerLoopEnded as exc:  # EX_TEMPFAIL, as a stalled worker: its supervisor starts a fresh one
        console.print(f"[red]careline scheduler: {exc}", highlight=False)
        raise typer.Exit(75) from None
    except KeyboardInterrupt:
        pass


@app.command()
def web(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
) -> None:
    """Serve the web side: Twilio webhooks, one-key alarms, the app API, the
    operator dashboard, statistics and /metrics (behind a TLS proxy in production)."""
    import uvicorn

    from db.migrate import upgrade

    _bootstrap()  # a bad configuration file refuses to start here, before uvicorn's factory
    upgrade(get_settings().database_url)  # migrations at start, as the compose prestart does
    uvicorn.run(
        "careline.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        proxy_headers=True,
        log_level=get_settings().log_level.lower(),
        timeout_graceful_shutdown=5,
    )


@app.command()
def broker(port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1")] = 9092) -> None:
    """Run the embedded Tansu broker (memory storage) until Ctrl-C or SIGTERM, which stop it."""
    from careline.brokers import BrokerStartError, start_tansu

    settings = get_settings()
    interrupt_on_stop_signals()
    try:
        with start_tansu(port=port, log_path=settings.var_dir / "logs" / "tansu.log") as b:
            out.print(f"Tansu broker on {b.bootstrap} (memory storage, log {b.log_path}); Ctrl-C stops it")
            while True:
                time.sleep(3600)
    except BrokerStartError as exc:
        console.print(f"[red]careline broker: {exc}", highlight=False)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass


clock_app = typer.Typer(
    help="The database clock every service reads (a replay's, or the wall clock).", no_args_is_help=True
)
app.add_typer(clock_app, name="clock")


@clock_app.command("show")
def clock_show() -> None:
    """Print the clock the services of CARELINE_DATABASE_URL read now."""
    from db.migrate import upgrade
    from db.register import read_clock
    from db.session import session_factory

    upgrade(get_settings().database_url)
    with session_factory(get_settings().database_url)() as session:
        clock = read_clock(session)
    if clock.speed == 1 and clock.sim_origin == clock.wall_origin:
        out.print(f"wall clock: {clock.now():%Y-%m-%d %H:%M:%S} UTC")
    else:
        out.print(
            f"replay clock: {clock.now():%Y-%m-%d %H:%M:%S} UTC at {clock.speed:g}x ('careline clock reset' ends it)"
        )


@clock_app.command("reset")
def clock_reset() -> None:
    """End a replay's clock: every service of CARELINE_DATABASE_URL reads the wall clock again
    (deadlines already scheduled keep their times)."""
    from db.migrate import upgrade
    from db.register import clear_clock
    from db.session import session_factory

    upgrade(get_settings().database_url)
    removed = clear_clock(session_factory(get_settings().database_url))
    out.print("replay clock removed; the services read the wall clock" if removed else "already on the wall clock")


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


@app.command()
def explain(request_id: Annotated[str, typer.Argument(help="care request id")]) -> None:
    """Print, in plain words, every decision and state change of one request (notices sent
    included), times in the center's zone (CARELINE_PROGRAMME_TIMEZONE)."""
    from zoneinfo import ZoneInfo

    from careline.history import CenterWords
    from db.migrate import upgrade
    from db.request_history import read_history
    from db.session import session_factory
    from handlers.dispatch.explain import explain as explain_events

    settings = get_settings()
    upgrade(settings.database_url)
    with session_factory(settings.database_url)() as session:
        found = read_history(session, request_id)
    if found is None or not found.events:
        console.print(f"[red]no events for request {request_id!r} in {settings.database_url}")
        raise typer.Exit(1)
    out.print(f"request {request_id} (times in {settings.programme_timezone})")
    for line in explain_events(found.events, CenterWords("en", ZoneInfo(settings.programme_timezone)), found.notices):
        out.print(line, highlight=False)


@app.command()
def plan(
    file: Annotated[
        Path | None, typer.Argument(help="UHHC instance JSON (visits known the day before); or --date")
    ] = None,
    time_limit: Annotated[float, typer.Option(help="solver seconds")] = 20.0,
    seed: Annotated[int, typer.Option(help="seed of the solver's first solutions")] = 0,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="write the plan as a UHHC solution JSON file", dir_okay=False),
    ] = None,
    date: Annotated[
        str | None, typer.Option("--date", help="plan this day (YYYY-MM-DD, programme time zone) from the database")
    ] = None,
    area: Annotated[
        str | None, typer.Option("--area", help="with --date: this service area (default: every planned area)")
    ] = None,
    announce: Annotated[
        bool, typer.Option("--announce", help="with --date: tell each planned caregiver their day now")
    ] = False,
) -> None:
    """Plan the day's caregiver routes with OR-Tools (time windows, skills,
    shifts, paired visits) and print them with their cost beside published solutions;
    with --out, write them in the UHHC solution format. With --date, plan a day of the
    live system instead: that day's booked and recurring requests, the area's caregivers
    on their rotas; the plan is stored (a planned area's worker follows it) and printed."""
    if date is not None or area is not None or announce:
        if file is not None or out_file is not None:
            console.print("[red]give a UHHC FILE, or --date (with --area, --announce), not both", highlight=False)
            raise typer.Exit(2)
        _plan_live(date, area, time_limit, announce)
        return
    if file is None:
        console.print("[red]give a UHHC FILE, or --date YYYY-MM-DD to plan a day from the database", highlight=False)
        raise typer.Exit(2)
    _plan_file(file, time_limit, seed, out_file)


def _plan_live(date: str | None, area: str | None, time_limit: float, announce: bool) -> None:
    """``careline plan --date D [--area A] [--announce]``: see ``careline.day_plan``."""
    from datetime import date as Date

    from rich.table import Table

    from careline.day_plan import PlanRefused, plan_area_day
    from db.day_plans import planned_areas
    from db.migrate import upgrade
    from handlers.dispatch.day_plan import routes_by_caregiver

    if date is None:
        console.print("[red]--date: give the day to plan, YYYY-MM-DD", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    try:
        day = Date.fromisoformat(date)
    except ValueError:
        console.print(
            f"[red]--date: {date!r} is not a date like 2026-12-08 (YYYY-MM-DD)", highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None
    if not 0 < time_limit <= 3600:
        console.print(
            f"[red]--time-limit: {time_limit:g} s is not between 0 and 3600 seconds", highlight=False, soft_wrap=True
        )
        raise typer.Exit(2)
    runtime = _bootstrap()
    upgrade(runtime.settings.database_url)
    if area is None:
        with runtime.sessions() as session:
            areas = planned_areas(session)
        if not areas:
            console.print("[red]--area: no area is in planned mode (careline register area A --mode planned)")
            raise typer.Exit(2)
    else:
        areas = [area]
    tz = runtime.settings.programme_timezone
    shown = [-5.0]

    def progress(line: str) -> None:  # a line every 5 s: the solver reports each second
        if time.monotonic() - shown[0] >= 5.0:
            shown[0] = time.monotonic()
            console.print(line, highlight=False, soft_wrap=True)

    for name in areas:
        shown[0] = -5.0
        try:
            done = plan_area_day(runtime, name, day, time_limit, progress, announce)
        except PlanRefused as exc:
            console.print(f"[red]{name}: {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(tz)
        table = Table(title=f"{name} {day.isoformat()}: planned visits (times in {tz})")
        table.add_column("caregiver")
        table.add_column("visits")
        table.add_column("start-end (service)")
        for cid, visits in routes_by_caregiver(done.plan).items():
            table.add_row(
                cid,
                str(len(visits)),
                "  ".join(
                    f"{v.start.astimezone(zone):%H:%M}-{v.end.astimezone(zone):%H:%M} {rid} "
                    f"({done.day.visits[rid].service_type})"
                    for rid, v in visits
                ),
            )
        out.print(table)
        out.print(
            f"{name}: {len(done.plan)} of {len(done.day.visits)} visits planned for "
            f"{len({v.caregiver_id for v in done.plan.values()})} caregivers, travel {done.travel_minutes:.0f} min, "
            f"solver {done.solve_seconds:.1f} s of {time_limit:g}"
            + ("; every start inside its window and shift" if not done.problems else ""),
            highlight=False,
            soft_wrap=True,
        )
        for problem in done.problems:
            console.print(f"[red]  broken promise: {problem}", highlight=False, soft_wrap=True)
        for rid in done.unplanned:
            out.print(f"  not planned (dispatched online when it arrives): {rid}", highlight=False, soft_wrap=True)
        for key, why in done.day.left_out.items():
            out.print(f"  left out: {key}: {why}", highlight=False, soft_wrap=True)
        if done.mode != "planned":
            out.print(
                f"[yellow]{name} dispatches {done.mode}: the plan is stored, and followed once the area is "
                f"planned (careline register area {name} --mode planned)",
                highlight=False,
                soft_wrap=True,
            )
        if announce:
            told = {n.recipient_id for n in done.notices}
            out.print(
                f"announced: {len(done.notices)} notices to {len(told)} caregivers", highlight=False, soft_wrap=True
            )


def _plan_file(file: Path, time_limit: float, seed: int, out_file: Path | None) -> None:
    """``careline plan FILE``: a UHHC benchmark day."""
    import json

    from rich.table import Table

    from handlers.datasets.uhhc import (
        InstanceError,
        evaluate_routes,
        ignored_cost_components,
        load_instance,
        published_costs,
        solution_from_routes,
    )
    from handlers.dispatch.planning import plan_day, sync_violations

    try:
        instance = load_instance(file.read_bytes(), name=file.stem)
    except (OSError, InstanceError) as exc:
        console.print(f"[red]cannot read {file}: {exc}")
        raise typer.Exit(2) from None
    ignored = ignored_cost_components(instance)
    if ignored:
        out.print(f"[yellow]warning: cost components the planner ignores: {', '.join(ignored)}", soft_wrap=True)
    with console.status(f"planning {file.stem} for {time_limit:g} s"):
        routes = plan_day(instance, time_limit, seed)
    table = Table(title=f"{file.stem}: planned routes (minutes from the start of the day)")
    table.add_column("caregiver")
    table.add_column("visits (start patient/service)")
    for cid, stops in sorted(routes.items()):
        table.add_row(cid, "  ".join(f"{s.start:.0f} {s.patient_id}/{s.service_id}" for s in stops))
    out.print(table)
    cost = evaluate_routes(instance, routes)
    out.print(
        f"planned: travel {cost.travel_time:.0f} min, total tardiness {cost.total_tardiness:.0f}, "
        f"max {cost.highest_tardiness:.0f}, unserved {cost.unserved}, "
        f"synchronisation violations {len(sync_violations(instance, routes))}"
    )
    try:
        published = published_costs(file, instance)
    except (OSError, ValueError) as exc:
        console.print(f"[yellow]published solutions beside {file} not compared: {exc}")
        published = {}
    for method, c in published.items():
        out.print(f"published {method}: travel {c.travel_time:.0f} min, total tardiness {c.total_tardiness:.0f}")
    if out_file is not None:
        try:
            out_file.write_text(json.dumps(solution_from_routes(instance, routes), indent=2) + "\n")
        except OSError as exc:
            console.print(f"[red]cannot write {out_file}: {exc}")
            raise typer.Exit(2) from None
        out.print(f"plan written to {out_file} (UHHC solution format)")


@report_app.command("providers")
def report_providers(
    month: Annotated[str, typer.Option(help="calendar month, YYYY-MM")],
    out_dir: Annotated[Path, typer.Option(help="where the HTML and PDF go")] = Path("var/reports"),
    lang: Annotated[str | None, typer.Option(help="zh, en or both (default CARELINE_DEFAULT_LANGUAGE)")] = None,
) -> None:
    """The monthly contract performance report per provider: KPIs against their targets, the
    change from last month, unserved requests, trend, ranking and plots, as HTML and PDF (A4),
    in Chinese and/or English; the month and every time in CARELINE_PROGRAMME_TIMEZONE."""
    from careline.reports import main as report_main
    from db.migrate import upgrade

    upgrade(get_settings().database_url)
    raise typer.Exit(report_main(month, out_dir, get_settings().database_url, lang))


@subs_app.command("add")
def subscriptions_add(
    subscription_id: str,
    elder_id: str,
    service_type: str,
    days: Annotated[str, typer.Option(help="mon-fri, mon,wed,fri or *")] = "mon-fri",
    at: Annotated[str, typer.Option(help="local time of the service, HH:MM")] = "11:00",
    tz: Annotated[str, typer.Option(help="the elder's IANA time zone")] = "Asia/Shanghai",
    duration: Annotated[float, typer.Option(help="minutes")] = 30.0,
    window: Annotated[float, typer.Option(help="minutes")] = 60.0,
    lead: Annotated[float, typer.Option(help="minutes ahead the request is made")] = 60.0,
) -> None:
    """Subscribe an elder to a recurring service; the timer service picks it up within a minute."""
    from db import timers
    from db.migrate import upgrade
    from db.session import session_factory
    from db.uow import SqlUnitOfWork
    from handlers.channels.subscriptions import InvalidSubscription, Subscription, next_services

    sub = Subscription(subscription_id, elder_id, service_type, days, at, tz, duration, window, lead)
    try:
        upcoming = next_services(sub, datetime.now(UTC), 3)
    except InvalidSubscription as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from None
    upgrade(get_settings().database_url)
    with SqlUnitOfWork(session_factory(get_settings().database_url)) as uow:
        if uow.elders.get(elder_id) is None:
            console.print(f"[red]elder_id: no registered elder {elder_id!r}")
            raise typer.Exit(2)
        timers.save_subscription(uow.session, sub)
        uow.commit()
    out.print(
        f"subscription {subscription_id}: next services " + ", ".join(s.strftime("%a %d %b %H:%M %Z") for s in upcoming)
    )


operators_app = typer.Typer(help="Operator accounts.", no_args_is_help=True)
app.add_typer(operators_app, name="operators")


@operators_app.command("add")
def operators_add(
    user: str,
    role: Annotated[str, typer.Option(help="operator, supervisor or admin")] = "operator",
    name: Annotated[str | None, typer.Option(help="display name")] = None,
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
        raise typer.Exit(2) from None
    out.print(f"operator {user} ({role}) saved")


def _account_change(change, done) -> None:  # noqa: ANN001
    """Run ``change(session)`` on the configured database as the unscoped ``cli`` actor, commit, report."""
    from careline.operators import AccountError
    from db.migrate import upgrade
    from db.session import session_factory
    from handlers.operations.access import LastGlobalAdmin

    upgrade(get_settings().database_url)
    with session_factory(get_settings().database_url)() as session:
        try:
            result = change(session)
        except (AccountError, LastGlobalAdmin) as exc:
            console.print(f"[red]{exc}")
            raise typer.Exit(2) from None
        session.commit()
    out.print(done(result))


@operators_app.command("unlock")
def operators_unlock(
    user: Annotated[str | None, typer.Argument(help="the account to unlock")] = None,
    address: Annotated[str | None, typer.Option(help="a client IP address to unlock")] = None,
) -> None:
    """Lift a login delay or lock (too many wrong passwords) from an account or a client address."""
    from careline.operators import unlock, unlock_address

    if (user is None) == (address is None):
        console.print("[red]name one account, or one --address")
        raise typer.Exit(2)
    said = {True: "unlocked", False: "was not locked"}
    if user is not None:
        _account_change(lambda s: unlock(s, user), lambda was: f"{user} {said[was]}")
    elif address is not None:
        _account_change(lambda s: unlock_address(s, address), lambda was: f"{address} {said[was]}")


@operators_app.command("deactivate")
def operators_deactivate(user: str) -> None:
    """Deactivate an account and end its sessions (never the last active admin for all regions)."""
    from careline.operators import set_active

    _account_change(lambda s: set_active(s, user, False), lambda _: f"{user} deactivated")


@operators_app.command("reactivate")
def operators_reactivate(user: str) -> None:
    """Let a deactivated account log in again (with its old password)."""
    from careline.operators import set_active

    _account_change(lambda s: set_active(s, user, True), lambda _: f"{user} reactivated")


tokens_app = typer.Typer(
    help="Per-user tokens of the elder/family and caregiver apps and of providers.", no_args_is_help=True
)
app.add_typer(tokens_app, name="tokens")


@tokens_app.command("issue")
def tokens_issue(kind: Annotated[str, typer.Argument(help="elder, caregiver or provider")], subject_id: str) -> None:
    """Issue an app token (printed once; only its hash is stored)."""
    from channels.app_tokens import issue_token

    try:
        out.print(issue_token(get_settings().database_url, kind, subject_id))
    except (ValueError, LookupError) as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from None


@tokens_app.command("revoke")
def tokens_revoke(kind: str, subject_id: str) -> None:
    """Revoke every token of an elder, caregiver or provider."""
    from channels.app_tokens import revoke_tokens

    out.print(f"revoked {revoke_tokens(get_settings().database_url, kind, subject_id)} tokens")


@import_app.command("providers")
def import_providers(file: Annotated[Path, typer.Argument(help="contracted_providers.csv")]) -> None:
    """Load the aging department's contracted provider list; rejected rows are
    printed with line, field and reason."""
    from careline.importing import import_provider_file

    raise typer.Exit(import_provider_file(file, get_settings().database_url, out))


register_app = typer.Typer(
    help="The center's register: providers, elders, caregivers and alarm devices, from and to files.",
    no_args_is_help=True,
)
app.add_typer(register_app, name="register")
RegisterKind = Annotated[str, typer.Argument(help="providers, elders, caregivers or devices")]


def _register_kind(kind: str) -> str:
    from channels.register import KINDS

    if kind not in KINDS:
        raise typer.BadParameter(f"one of {', '.join(KINDS)}", param_hint="KIND")
    return kind


@register_app.command("import")
def register_import(
    kind: RegisterKind,
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8, with or without BOM, or GB18030/GBK) or .xlsx")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check and report, change nothing")] = False,
) -> None:
    """Add or update (by id) the register's rows from a file; every rejected row is printed as
    'line N, column C: reason'. Exit status 0 when every row went in, 1 otherwise. Import
    providers before their caregivers, elders before their devices."""
    from careline.register_files import import_command
    from db.migrate import upgrade

    kind = _register_kind(kind)
    runtime = _bootstrap()
    upgrade(runtime.settings.database_url)
    raise typer.Exit(import_command(runtime, kind, file, dry_run, out, console))


@register_app.command("export")
def register_export(kind: RegisterKind) -> None:
    """Write the register's KIND as CSV to standard output (the import's English column names,
    plus location_provenance: given, geocoded or approximate)."""
    from careline.register_files import export_command
    from db.migrate import upgrade

    kind = _register_kind(kind)
    runtime = _bootstrap()
    upgrade(runtime.settings.database_url)
    raise typer.Exit(export_command(runtime, kind))


@register_app.command("area")
def register_area(
    service_area: Annotated[str, typer.Argument(help="service area id (as the register's rows name it)")],
    mode: Annotated[str, typer.Option(help="online, batched or planned")],
    batch_interval: Annotated[float, typer.Option(help="seconds between batches (batched)")] = 60.0,
) -> None:
    """Choose how an area's requests are first offered: online (on arrival), batched (matched
    every --batch-interval seconds) or planned (following the day plan, `careline plan --date`).
    A running worker reads the change within a minute."""
    from db.migrate import upgrade
    from db.register import change_area_mode
    from db.session import session_factory
    from handlers.dispatch.area import InvalidMode, check_mode

    try:
        checked, interval = check_mode(mode, batch_interval)
    except InvalidMode as exc:
        console.print(f"[red]{exc}", highlight=False)
        raise typer.Exit(2) from None
    upgrade(get_settings().database_url)
    with session_factory(get_settings().database_url)() as session:
        if not change_area_mode(session, service_area, checked, interval):
            console.print(
                f"[red]service_area: no area {service_area!r} (areas are added by the register's rows)",
                highlight=False,
            )
            raise typer.Exit(2)
        session.commit()
    every = f" every {interval:g} s" if checked == "batched" else ""
    out.print(f"{service_area}: {checked}{every}", highlight=False)


@register_app.command("areas")
def register_areas() -> None:
    """Write the service areas and their dispatch modes as CSV to standard output
    (service_area, name, dispatch_mode, batch_interval_seconds)."""
    import csv

    from db.migrate import upgrade
    from db.register import area_modes
    from db.session import session_factory

    upgrade(get_settings().database_url)
    with session_factory(get_settings().database_url)() as session:
        rows = area_modes(session)
    writer = csv.DictWriter(
        sys.stdout, ["service_area", "name", "dispatch_mode", "batch_interval_seconds"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)


@register_app.command("device-token")
def register_device_token(device_id: str) -> None:
    """Issue a bearer token for a registered alarm device (printed once; only its hash is kept)."""
    from db import alarms
    from db.migrate import upgrade
    from db.session import session_factory
    from handlers.model import AlarmDevice

    upgrade(get_settings().database_url)
    with session_factory(get_settings().database_url)() as session:
        device = session.get(AlarmDevice, device_id)
        if device is None:
            console.print(
                f"[red]no registered device {device_id!r}: import it first (careline register import devices)"
            )
            raise typer.Exit(2)
        token = alarms.register_device(session, device_id, device.elder_id)
        session.commit()
    out.print(token)


def _tools() -> None:
    """The development commands (``replay``, ``demo``, ``bench``) live in ``tools/``,
    outside the runtime package: a production image without ``tools/`` has none of them."""
    try:
        from tools.cli import register
    except ImportError:
        return
    register(app)


_tools()


def main() -> None:
    logging.basicConfig(level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    app()


if __name__ == "__main__":
    main()
