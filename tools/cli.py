"""The ``careline`` commands that replay, demonstrate and measure: ``replay``,
``demo`` and ``bench``. They live outside the runtime package (``careline/``)
with the replay driver, the fault lab and the benchmarks they run, and are
added to the ``careline`` command by ``careline.cli`` when ``tools/`` is
installed (a development install; the production image leaves it out)."""

from __future__ import annotations

import contextlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from careline.cli import console, make_console, out
from config.settings import get_settings
from handlers.datasets.nyc311 import NEW_YORK

replay_app = typer.Typer(help="Stream real input through the pipeline.", no_args_is_help=True)


def _replay(
    path: Path,
    embedded: bool,
    database_url: str,
    speed: float,
    lead: float,
    seed: int,
    accept: float,
    decline: float,
    timeout: float,
    poor: tuple[str, ...] = (),
    twin_roster: bool = False,
    mode: str = "online",
    board_port: int | None = None,
) -> int:
    """Replay ``path`` on a local stack and print the summary; with ``board_port``, the web
    service and a demo account too, kept up after the replay until Ctrl-C. The exit code."""
    from careline.cli import interrupt_on_stop_signals
    from db.register import hold_clock
    from db.session import session_factory
    from handlers.datasets.uhhc import InstanceError, load_instance
    from handlers.simulation.caregiver_model import CaregiverModel
    from tools.replay.driver import ReplayDriver, ReplayOptions
    from tools.replay.live import live_board, serve_until_interrupted
    from tools.replay.stack import StackError, local_stack

    try:
        instance = load_instance(path.read_bytes(), name=path.stem)
    except (OSError, InstanceError) as exc:
        console.print(f"[red]cannot read {path}: {exc}")
        return 2
    settings = get_settings()
    options = ReplayOptions(
        speed=speed,
        lead_minutes=lead,
        timeout_seconds=timeout,
        twin_roster=twin_roster,
        mode=mode,
        model=CaregiverModel(seed=seed, accept_rate=accept, decline_rate=decline, poor_providers=poor),
    )
    interrupt_on_stop_signals()  # SIGTERM and SIGINT stop what the stack started
    factory = session_factory(database_url)
    try:
        with contextlib.ExitStack() as started:
            stack = started.enter_context(local_stack(settings, embedded, database_url, run_name=path.stem))
            console.print(
                f"broker {stack.bootstrap} · database {database_url.split('@')[-1]} · worker log "
                f"{stack.worker_log} · {stack.timer_service}",
                highlight=False,
            )
            if board_port is not None:
                board = started.enter_context(live_board(settings, stack, board_port, path.stem))
                out.print(f"dashboard: {board.url}\nlogin: {board.user} {board.password}", highlight=False)
            driver = ReplayDriver(
                stack.bootstrap, factory, instance, options, console, worker_alive=lambda: stack.worker.poll() is None
            )
            try:
                result = driver.run()
            finally:
                held = hold_clock(factory)  # the day goes on at the wall clock's pace, not the replay's
            _print_result(path, instance, result, database_url, held)
            if board_port is not None:
                out.print(f"the replay is over; the board stays up at {board.url}. Ctrl-C stops everything")
                serve_until_interrupted(stack)
    except StackError as exc:
        console.print(f"[red]{exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("interrupted: stopped the web service, worker, timer service and broker it started")
        return 130
    return 0 if result.summary.all_final and len(result.final) >= len(result.day.submissions) else 1


def _print_result(path: Path, instance, result, database_url: str, held) -> None:
    from handlers.datasets.uhhc import published_costs
    from tools.replay.summary import print_provider_work, print_summary

    print_summary(out, path.stem, result.summary, published_costs(path, instance), result.wall_seconds)
    print_provider_work(out, result.provider_work, result.run)
    if not result.summary.all_final or len(result.final) < len(result.day.submissions):
        console.print("[red]some requests did not reach a final state")
    else:
        out.print(f"every request reached a final state (run {result.run})")
    example = next((rid for rid, state in result.final.items() if state == "failed"), next(iter(result.final), ""))
    out.print(
        f"why a request went where it went: CARELINE_DATABASE_URL={database_url} careline explain {example}",
        highlight=False,
    )
    out.print(
        f"the database clock is held at the replayed day ({held.now():%Y-%m-%d %H:%M} UTC, at wall speed); "
        f"CARELINE_DATABASE_URL={database_url} careline clock reset returns it to the wall clock",
        highlight=False,
    )


Speed = Annotated[float, typer.Option(help="simulated seconds per wall second")]
Lead = Annotated[float, typer.Option(help="minutes between submission and window start")]
Seed = Annotated[int, typer.Option(help="seed of the caregiver model")]
Accept = Annotated[float, typer.Option(help="share of offers a caregiver accepts")]
Decline = Annotated[
    float,
    typer.Option(
        help="share of offers a caregiver declines, counted as 'rejected' as TaskRouter names it (the rest time out)"
    ),
]
Timeout = Annotated[float, typer.Option(help="wall seconds before giving up")]


@replay_app.command("uhhc")
def replay_uhhc(
    file: Annotated[Path, typer.Argument(help="UHHC instance JSON")],
    embedded: Annotated[bool, typer.Option(help="start the embedded Tansu broker")] = False,
    speed: Speed = 600.0,
    lead_minutes: Lead = 60.0,
    seed: Seed = 7,
    accept_rate: Accept = 0.85,
    decline_rate: Decline = 0.10,
    timeout: Timeout = 300.0,
    poor_provider: Annotated[
        list[str] | None, typer.Option(help="make this provider (prov1, prov2 …) perform badly; repeatable")
    ] = None,
    twin_roster: Annotated[
        bool, typer.Option(help="every provider employs a copy of the roster, so only evaluation separates them")
    ] = False,
    mode: Annotated[
        str,
        typer.Option(
            help="online (each request on arrival), batched (assignment every 60 s) or planned "
            "(an OR-Tools day plan first, online on disruption)"
        ),
    ] = "online",
) -> None:
    """Replay a UHHC instance as a day of care requests through CARELINE_BROKER
    (or the embedded broker) and CARELINE_DATABASE_URL; prints the summary."""
    settings = get_settings()
    raise typer.Exit(
        _replay(
            file,
            embedded,
            settings.database_url,
            speed,
            lead_minutes,
            seed,
            accept_rate,
            decline_rate,
            timeout,
            tuple(poor_provider or ()),
            twin_roster,
            mode,
        )
    )


def _replay_city(
    providers_file: Path,
    calls_file: Path,
    embedded: bool,
    database_url: str,
    speed: float,
    seed: int,
    timeout: float,
    caregivers_per_provider: int,
    hours: float | None,
    limit: int | None,
    map_file: Path | None,
) -> int:
    """Replay a day of New York City on a local stack, print its measures and write its map.
    The exit code: 0 when every request reached a final state, 1 when not, 2 for bad input."""
    from careline.cli import interrupt_on_stop_signals
    from db.register import hold_clock
    from db.session import session_factory
    from handlers.simulation.caregiver_model import CaregiverModel
    from tools.replay.city import CityInputError, CityReplayDriver, read_city
    from tools.replay.city_map import draw_city_map
    from tools.replay.city_report import print_city_summary, print_inputs
    from tools.replay.driver import ReplayOptions
    from tools.replay.stack import StackError, local_stack

    try:
        city = read_city(providers_file, calls_file)
    except CityInputError as exc:
        console.print(f"[red]cannot read {exc}", highlight=False)
        return 2
    settings = get_settings()
    options = ReplayOptions(speed=speed, timeout_seconds=timeout, model=CaregiverModel(seed=seed))
    interrupt_on_stop_signals()
    factory = session_factory(database_url)
    try:
        driver = CityReplayDriver(
            "",
            factory,
            city,
            options,
            console,
            caregivers_per_provider=caregivers_per_provider,
            hours=hours,
            limit=limit,
        )
    except ValueError as exc:
        console.print(f"[red]{exc}", highlight=False)
        return 2
    print_inputs(out, city, driver.day)
    try:
        with local_stack(settings, embedded, database_url, run_name=driver.run_id) as stack:
            console.print(
                f"broker {stack.bootstrap} · database {database_url.split('@')[-1]} · worker log "
                f"{stack.worker_log} · {stack.timer_service}",
                highlight=False,
            )
            driver.bootstrap = stack.bootstrap
            driver.worker_alive = lambda: stack.worker.poll() is None
            try:
                result = driver.run()
            finally:
                held = hold_clock(factory)
    except StackError as exc:
        console.print(f"[red]{exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("interrupted: stopped the worker, timer service and broker it started")
        return 130
    print_city_summary(out, driver._name(), result.summary, result.wall_seconds)
    path = map_file or settings.var_dir / f"city-{result.run}.png"
    day = result.day
    title = (
        f"New York City, {day.start.astimezone(NEW_YORK):%Y-%m-%d %H:%M} New York time: "
        f"{len(day.submissions)} requests, {len(day.providers)} providers, {len(day.caregivers)} caregivers"
    )
    draw_city_map(day, result.final, result.summary.legs, result.points, path, title)
    out.print(f"map of the day: {path}", highlight=False)
    complete = result.summary.all_final and len(result.final) >= len(day.submissions)
    if not complete:
        console.print("[red]some requests did not reach a final state")
    else:
        out.print(f"every request reached a final state (run {result.run})")
    out.print(
        f"the database clock is held at the replayed day ({held.now():%Y-%m-%d %H:%M} UTC, at wall speed); "
        f"CARELINE_DATABASE_URL={database_url} careline clock reset returns it to the wall clock",
        highlight=False,
    )
    return 0 if complete else 1


CallsFile = Annotated[Path | None, typer.Option(help="NYC 311 extract (default: shared nyc311 of 2024-04-15)")]
ProvidersFile = Annotated[
    Path | None, typer.Option(help="NYC aging department's contracted providers (default: shared nyc-aging)")
]
Hours = Annotated[float | None, typer.Option(help="replay only the calls within this many hours of the first")]
Limit = Annotated[int | None, typer.Option(help="replay at most this many calls (the first ones)")]
PerProvider = Annotated[int, typer.Option(min=1, help="caregivers per provider (three times as many for homecare)")]
MapFile = Annotated[Path | None, typer.Option("--map", help="where to write the map PNG (default var/city-RUN.png)")]


def _city_files(calls: Path | None, providers: Path | None) -> tuple[Path, Path]:
    shared = get_settings().shared_data
    return (
        providers or shared / "nyc-aging" / "contracted_providers.csv",
        calls or shared / "nyc311" / "service_requests_2024-04-15.csv",
    )


@replay_app.command("city")
def replay_city(
    calls: CallsFile = None,
    providers: ProvidersFile = None,
    embedded: Annotated[bool, typer.Option(help="start the embedded Tansu broker")] = False,
    speed: Speed = 600.0,
    seed: Seed = 7,
    timeout: Timeout = 600.0,
    caregivers_per_provider: PerProvider = 6,
    hours: Hours = None,
    limit: Limit = None,
    map_file: MapFile = None,
) -> None:
    """Replay a day of New York City through CARELINE_BROKER (or the embedded broker) and
    CARELINE_DATABASE_URL: the aging department's home-care and related providers with
    generated caregivers and rotas, elders asking for care where and when 311 calls came in
    (their channel and complaint mapped by documented rules); prints the measures and writes
    a map of the day (PNG)."""
    providers_file, calls_file = _city_files(calls, providers)
    raise typer.Exit(
        _replay_city(
            providers_file,
            calls_file,
            embedded,
            get_settings().database_url,
            speed,
            seed,
            timeout,
            caregivers_per_provider,
            hours,
            limit,
            map_file,
        )
    )


def demo(
    speed: Annotated[
        float | None, typer.Option(help="simulated seconds per wall second (default 1200; with --live 300)")
    ] = None,
    seed: Seed = 7,
    hotline: Annotated[
        bool,
        typer.Option(
            help="instead: one hotline call through the signed webhooks, "
            "printing the TwiML and the SMS that would be sent"
        ),
    ] = False,
    live: Annotated[
        bool,
        typer.Option(
            help="also serve the operator dashboard with a demo account, and keep everything up "
            "after the replay until Ctrl-C"
        ),
    ] = False,
    port: Annotated[int, typer.Option(help="with --live: the dashboard's TCP port on 127.0.0.1")] = 8000,
    city: Annotated[
        bool,
        typer.Option(
            help="instead: a day of New York City (aging-department providers, 311 calls) on the embedded defaults, "
            f"the first {CITY_DEMO_CALLS} calls of the shared 2024-04-15 extract; prints the measures and the map's file"
        ),
    ] = False,
) -> None:
    """The main job on the embedded default: Tansu broker, a fresh SQLite file, a stream
    worker and the timer service, the Rome UHHC day replayed end to end, and its summary.
    With --live the web service too: it prints the dashboard's address and a login, and the
    board fills as the day plays; Ctrl-C stops everything it started."""
    if hotline:
        from tools.replay.hotline_demo import main as hotline_main

        raise typer.Exit(hotline_main())
    settings = get_settings()
    if city:
        if live:
            console.print("[red]--city runs without the board for now: leave out --live")
            raise typer.Exit(2)
        raise typer.Exit(_demo_city(speed or 1200.0, seed))
    instance = settings.shared_data / "uhhc" / "instances" / "rome-p44.json"
    if not instance.exists():
        console.print(f"[red]missing {instance}: set CARELINE_SHARED_DATA to the shared data folder")
        raise typer.Exit(2)
    if live:
        from careline.brokers import free_port

        try:
            free_port(port)
        except OSError:
            console.print(f"[red]--port: 127.0.0.1:{port} is in use; choose another, e.g. --port {free_port()}")
            raise typer.Exit(2) from None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    db_path = settings.var_dir / f"demo-{stamp}.db"
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    speed = speed or (300.0 if live else 1200.0)
    timeout = 900.0 if live else 170.0  # live: the day at 300x takes about two minutes, on a busy machine more
    raise typer.Exit(
        _replay(
            instance,
            True,
            f"sqlite:///{db_path}",
            speed,
            60.0,
            seed,
            0.85,
            0.10,
            timeout,
            board_port=port if live else None,
        )
    )


CITY_DEMO_CALLS = 300


def _demo_city(speed: float, seed: int) -> int:
    """``careline demo --city``: the city replay on Tansu and a fresh SQLite file."""
    settings = get_settings()
    providers_file, calls_file = _city_files(None, None)
    for path in (providers_file, calls_file):
        if not path.exists():
            console.print(f"[red]missing {path}: set CARELINE_SHARED_DATA to the shared data folder")
            return 2
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    database_url = f"sqlite:///{settings.var_dir / f'demo-city-{stamp}.db'}"
    return _replay_city(
        providers_file, calls_file, True, database_url, speed, seed, 270.0, 6, None, CITY_DEMO_CALLS, None
    )


bench_app = typer.Typer(help="Benchmarks: printed tables with the command that produced them.", no_args_is_help=True)


def _shared_instances() -> list[Path]:
    return sorted((get_settings().shared_data / "uhhc" / "instances").glob("*.json"))


@bench_app.command("faults")
def bench_faults(
    profile: Annotated[str, typer.Option(help="short (CI) or full")] = "full",
    scenario: Annotated[list[str] | None, typer.Option(help="run only these (repeatable)")] = None,
    instance: Annotated[Path | None, typer.Option(help="UHHC day (default bazirha-E2)")] = None,
    speed: Speed = 600.0,
    timeout: Annotated[float, typer.Option(help="wall seconds per replay")] = 300.0,
    repeat: Annotated[int, typer.Option(min=1, help="run the scenarios this many times, each run on its own day")] = 1,
    kill_at: Annotated[
        str,
        typer.Option(
            help="where kills strike: rotate (each point in turn), random, share, intake, intake-commit, offers, relay"
        ),
    ] = "rotate",
    seed: Annotated[int | None, typer.Option(help="seed of the kill points (printed)")] = None,
) -> None:
    """Replay a day per scenario on a broker, database and worker the bench starts itself, break
    one of them mid-run (worker SIGKILL at several points, worker and timer service together, the
    web service while webhooks arrive, rebalance, broker and PostgreSQL restarts, a 30 s broker
    outage, Twilio errors, five-fold delivery) and check the invariants: one table row each."""
    import shlex
    import tempfile

    from handlers.datasets.uhhc import InstanceError
    from tools.faults.lab import main as faults_main

    if profile not in ("short", "full"):
        raise typer.BadParameter("short or full", param_hint="--profile")
    path = instance or get_settings().shared_data / "uhhc" / "instances" / "bazirha-E2.json"
    get_settings().var_dir.mkdir(parents=True, exist_ok=True)
    var = Path(tempfile.mkdtemp(prefix="careline-faults-", dir=get_settings().var_dir))
    command = "careline " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        code = faults_main(profile, scenario, path, speed, timeout, var, make_console(), command, repeat, kill_at, seed)
    except KeyError as exc:
        raise typer.BadParameter(
            str(exc.args[0]), param_hint="--kill-at" if "kill point" in str(exc) else "--scenario"
        ) from None
    except (OSError, InstanceError) as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}", param_hint="--instance") from None
    raise typer.Exit(code)


@bench_app.command("dispatch")
def bench_dispatch(
    files: Annotated[list[Path] | None, typer.Argument(help="UHHC instances (default: all shared)")] = None,
    time_limit: Annotated[float, typer.Option(help="planner seconds per instance")] = 20.0,
    seed: Seed = 7,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the rows to this JSON file", dir_okay=False)
    ] = None,
    repair_seconds: Annotated[
        float, typer.Option(min=0, help="planned day: solver seconds per repair of a fallen visit (0: insertion)")
    ] = 3.0,
    rounds: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=10,
            help="planned day: confirmation rounds after the evening announcement (0: requests on the day, repairs "
            "only; default: config/policy.toml's [planned] rounds)",
        ),
    ] = None,
) -> None:
    """Online, batched and planned dispatch on UHHC days beside the published
    solutions: travel, tardiness, unserved visits, visits in their window, runtime."""
    from tools.bench.dispatch import ROUNDS
    from tools.bench.dispatch import main as bench_main

    raise typer.Exit(
        bench_main(
            list(files or _shared_instances()),
            time_limit,
            seed,
            json_out,
            repair_seconds,
            ROUNDS if rounds is None else rounds,
        )
    )


@bench_app.command("confirm")
def bench_confirm(
    files: Annotated[list[Path] | None, typer.Argument(help="UHHC instances (default: all shared)")] = None,
    rounds: Annotated[int, typer.Option(min=1, help="rounds of answers and re-plans at most")] = 4,
    keep_minutes: Annotated[
        str, typer.Option(help="what moving an accepted visit to another caregiver costs, minutes, comma separated")
    ] = "0,20",
    time_limit: Annotated[float, typer.Option(min=0.1, help="planner seconds for the plan (half per re-plan)")] = 8.0,
    seed: Seed = 7,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the rows to this JSON file", dir_okay=False)
    ] = None,
) -> None:
    """Confirmation rounds ahead of the day, at the planning level: offer the plan, re-plan with the
    answers, repeat; travel, tardiness and unconfirmed visits after each round."""
    from tools.bench.confirm import main as bench_main

    try:
        keep = [int(k) for k in keep_minutes.split(",") if k.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"{keep_minutes!r}: whole minutes, comma separated", param_hint="--keep-minutes"
        ) from None
    if not keep or min(keep) < 0:
        raise typer.BadParameter(f"{keep_minutes!r}: at least one, none negative", param_hint="--keep-minutes")
    raise typer.Exit(bench_main(list(files or _shared_instances()), rounds, keep, time_limit, seed, json_out))


Loads = Annotated[str, typer.Option(help="offered loads, requests per second, comma separated; stops at saturation")]
Broker = Annotated[
    str | None,
    typer.Option(help="bootstrap host:port of a running broker (default: start the embedded Tansu broker)"),
]
BenchDatabase = Annotated[str | None, typer.Option(help="SQLAlchemy URL (default: a new SQLite file in var/bench)")]
BenchInstance = Annotated[
    Path | None, typer.Option(help="UHHC instance copied per service area (default: shared bazirha-F1)")
]


@bench_app.command("live-plan")
def bench_live_plan(
    visits: Annotated[int, typer.Option(min=1, help="booked visits of the day")] = 200,
    caregivers: Annotated[int, typer.Option(min=1, help="caregivers of the area")] = 40,
    time_limit: Annotated[float, typer.Option(help="solver seconds")] = 20.0,
    seed: Seed = 7,
) -> None:
    """A live day plan (careline plan --date) on a synthetic register of that size in Suzhou:
    read, build, solve, check and store; planned, left to online dispatch, travel, runtime."""
    from tools.bench.live_plan import main as bench_main

    raise typer.Exit(bench_main(visits, caregivers, time_limit, seed))


@bench_app.command("throughput")
def bench_throughput(
    broker: Broker = None,
    database_url: BenchDatabase = None,
    loads: Loads = "10,25,50,100,200,1000",
    seconds: Annotated[float, typer.Option(help="seconds each load is offered")] = 10.0,
    messages: Annotated[int, typer.Option(help="records through the raw aiokafka loop (0: skip)")] = 20000,
    instance: BenchInstance = None,
    p95_bound: Annotated[float, typer.Option(help="p95 (seconds) beyond which a load is saturated")] = 5.0,
    drain: Annotated[float, typer.Option(help="seconds to wait for the last decisions of a load")] = 60.0,
    profile: Annotated[
        Path | None, typer.Option(help="sample the worker with py-spy into this folder and print its top functions")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the results here as JSON")] = None,
    workers: Annotated[int, typer.Option(min=1, help="stream workers sharing the partitions")] = 1,
) -> None:
    """A raw aiokafka consume → transform → produce loop beside the careline
    pipeline (intake → first offer) on the same broker and records: events per
    second, their ratio, and latency p50/p95/p99 per offered load until saturation."""
    from tools.bench.throughput import main as throughput_main

    if workers > 1 and not (database_url or "").startswith("postgresql"):
        raise typer.BadParameter(
            "several workers need PostgreSQL (on SQLite the outbox relay is safe with one worker only, "
            "streams/relay.py): give --database-url postgresql+psycopg://…",
            param_hint="--workers",
        )
    raise typer.Exit(
        throughput_main(
            broker,
            database_url,
            [float(x) for x in loads.split(",") if x.strip()],
            seconds,
            messages,
            instance or _shared_instance("bazirha-F1"),
            p95_bound,
            drain,
            profile,
            json_out,
            workers,
        )
    )


@bench_app.command("scale")
def bench_scale(
    requests: Annotated[int, typer.Option(help="requests to replay")] = 100000,
    in_flight: Annotated[
        int | None, typer.Option(help="most requests sent and not yet decided (final with --lifecycle); 500 / 2000")
    ] = None,
    broker: Broker = None,
    database_url: BenchDatabase = None,
    instance: BenchInstance = None,
    stall: Annotated[float, typer.Option(help="give up after this many seconds without a decision")] = 120.0,
    restart_after: Annotated[
        float,
        typer.Option(
            help="restart a worker that decided nothing for this many seconds (0: never); counted in the result"
        ),
    ] = 0.0,
    profile: Annotated[
        Path | None, typer.Option(help="sample the worker with py-spy into this folder and print its top functions")
    ] = None,
    lifecycle: Annotated[
        bool,
        typer.Option(
            help="whole lifecycles (caregivers answer, check in and out, elders rate) on the bench's own Apache "
            "Kafka and PostgreSQL (unless --broker / --database-url), with the invariants checked"
        ),
    ] = False,
    workers: Annotated[int, typer.Option(min=1, help="stream workers (--lifecycle)")] = 1,
    partitions: Annotated[int, typer.Option(min=1, help="partitions of every topic (--lifecycle)")] = 12,
    kill_worker_at: Annotated[
        str | None, typer.Option(help="SIGKILL a worker when this share of requests is final, e.g. 30% (--lifecycle)")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the result here as JSON (--lifecycle)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the caregiver model (--lifecycle)")] = 7,
    rebalance: Annotated[
        bool, typer.Option(help="one more worker joins at 40% final and leaves at 70% (--lifecycle)")
    ] = False,
) -> None:
    """Replay many requests through the pipeline as fast as it takes them
    (bounded in flight): wall time, requests and events per second, peak memory.
    With --lifecycle: whole lifecycles through N workers, the domain ceiling on the same
    requests, memory, statements per request and the invariants."""
    if lifecycle:
        from tools.bench.scale_run import main as lifecycle_main

        raise typer.Exit(
            lifecycle_main(
                requests,
                workers,
                in_flight or 2000,
                instance or _shared_instance("bazirha-F1"),
                _share(kill_worker_at),
                json_out,
                broker,
                database_url,
                partitions,
                stall if stall != 120.0 else 300.0,
                seed,
                rebalance,
            )
        )
    from tools.bench.scale import main as scale_main

    raise typer.Exit(
        scale_main(
            broker,
            database_url,
            requests,
            in_flight or 500,
            instance or _shared_instance("bazirha-F1"),
            stall,
            profile,
            restart_after,
        )
    )


def _share(text: str | None) -> float | None:
    """``30%`` or ``0.3`` -> 0.3; None stays None."""
    if text is None:
        return None
    try:
        value = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a share (30% or 0.3)", param_hint="--kill-worker-at") from None
    if not 0 < value < 1:
        raise typer.BadParameter("a share between 0 and 100 %", param_hint="--kill-worker-at")
    return value


def _shared_instance(name: str) -> Path:
    return get_settings().shared_data / "uhhc" / "instances" / f"{name}.json"


def whatif(
    date: Annotated[str, typer.Option("--date", help="the recorded day, YYYY-MM-DD (programme time zone)")],
    policy: Annotated[
        Path, typer.Option("--policy", help="the other routing policy (config/policy.toml format)", dir_okay=False)
    ],
    area: Annotated[
        str | None, typer.Option("--area", help="service area (default: the only one with requests that day)")
    ] = None,
    mode: Annotated[
        str | None, typer.Option("--mode", help="online, batched or planned (default: the area's mode)")
    ] = None,
    seed: Annotated[int, typer.Option(help="caregiver model seed, for offers the record has no answer to")] = 7,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the comparison to this JSON file", dir_okay=False)
    ] = None,
) -> None:
    """Re-run a recorded day (its real arrivals; the caregivers' recorded answers where the same
    offer was made, the caregiver model where not) under another policy or mode, and print the
    differences: time to accept, fill rate, SLA, travel, lateness, visits inside the window,
    first offers per provider, and the requests that went to another caregiver."""
    from tools.whatif import main as whatif_main

    raise typer.Exit(whatif_main(date, area, policy, mode, seed, json_out, out, console))


def register(app: typer.Typer) -> None:
    """Add ``replay``, ``demo``, ``bench`` and ``whatif`` to the ``careline`` command ``app``."""
    app.add_typer(replay_app, name="replay")
    app.command()(demo)
    app.add_typer(bench_app, name="bench")
    app.command("whatif")(whatif)
