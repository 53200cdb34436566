"""The deploy smoke: docker/compose.yaml brought up from the built images and used from outside,
as a center would, then torn down. ``scripts/deploy-smoke`` prepares the engine and the images and
runs this file with any Python 3.11 (standard library only; it talks to the stack over HTTP and
through the ``docker`` CLI, never by importing careline).

Steps, each printed with its time; the exit status is 0 only when every step held:

1. the stack starts and every service is healthy (the migrate job exits 0);
2. the images are safe: no root user, no compiler or test tools, no ``tools/`` package;
3. an operator account is made with ``careline operators add`` and logs in, on the dashboard and
   for an API token;
4. a small register is imported (``import_register``: the hook for ``careline register import``);
5. a hotline call (signed Twilio webhooks, following the TwiML's menus) and an app request each
   become a request with an offer that the operator's board shows; a caregiver accepts, checks
   in and checks out by SMS (signed ``/twilio/sms``), and the visit is completed;
6. the worker holding the requests' partition is killed: the other worker takes every partition
   and a request sent right after the kill is offered and completed; nothing is lost (the
   operator's statistics and ``/metrics`` count every request completed, no dead letters, no lag);
7. ``careline report providers`` writes the month's report as a PDF in the web container;
8. ``/metrics`` refuses a scrape without the token and answers with it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

from tools.deploy.center import CAREGIVERS, ELDER, PUBLIC_BASE, Center
from tools.deploy.stack import COMPOSE_FILE, SmokeFailed, Stack, Web, wait_for

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
OPERATOR = "smoke-admin"
IMAGES = ("careline", "careline-kafka", "careline-postgres")


class Smoke:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.t0 = time.monotonic()
        self.results: list[tuple[str, float, str]] = []
        self.twilio_token = secrets.token_hex(16)
        self.metrics_token = secrets.token_hex(32)
        self.password = secrets.token_urlsafe(18)
        self.env_file = Path(args.state_dir) / f"{args.project}.env"
        self.env_file.parent.mkdir(parents=True, exist_ok=True)
        self.env_file.write_text(
            f"CARELINE_TWILIO_AUTH_TOKEN={self.twilio_token}\nCARELINE_PUBLIC_BASE_URL={PUBLIC_BASE}\n"
        )
        self.env_file.chmod(0o600)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CARELINE_", "POSTGRES_", "KAFKA_"))},
            "POSTGRES_PASSWORD": secrets.token_hex(16),
            "CARELINE_SESSION_SECRET": secrets.token_hex(32),
            "CARELINE_METRICS_TOKEN": self.metrics_token,
            "CARELINE_WEB_ADDRESS": "127.0.0.1",
            "CARELINE_WEB_PORT": str(args.port),
            "CARELINE_ENV_FILE": str(self.env_file),
            "CARELINE_IMAGE_TAG": args.tag,
            "CARELINE_WORKERS": "2",
        }
        self.stack = Stack(args.project, env)
        self.web = Web(f"http://127.0.0.1:{args.port}")
        self.center = Center(self.web, self.twilio_token)
        self.operator_web = Web(f"http://127.0.0.1:{args.port}")
        self.requests: list[str] = []

    # --- reporting

    def say(self, text: str) -> None:
        print(f"[smoke {time.monotonic() - self.t0:6.1f}s] {text}", flush=True)

    @contextlib.contextmanager
    def step(self, name: str):
        start = time.monotonic()
        self.say(f"{name} ...")
        try:
            yield
        except Exception as exc:
            self.results.append((name, time.monotonic() - start, "FAILED"))
            self.say(f"{name}: FAILED after {time.monotonic() - start:.1f} s: {exc}")
            raise
        self.results.append((name, time.monotonic() - start, "ok"))
        self.say(f"{name}: ok ({time.monotonic() - start:.1f} s)")

    # --- steps

    def stack_up(self) -> None:
        self.stack.compose("up", "-d", "--no-build", timeout=self.args.up_timeout)
        wanted = {"kafka": 1, "postgres": 1, "worker": 2, "scheduler": 1, "web": 1}

        def ready():
            cs = self.stack.containers()
            migrate = [c for c in cs if c["service"] == "migrate"]
            if any(c["status"] == "exited" and c["exit"] != 0 for c in migrate):
                raise SmokeFailed(f"the migrate job failed:\n{self.stack.compose('logs', '--tail', '40', 'migrate')}")
            healthy = {s: sum(1 for c in cs if c["service"] == s and c["health"] == "healthy") for s in wanted}
            done = migrate and all(c["status"] == "exited" for c in migrate)
            return cs if done and healthy == wanted else None

        cs = wait_for("every service healthy", ready, self.args.up_timeout, every=2)
        for c in sorted(cs, key=lambda c: c["name"]):
            self.say(f"  {c['name']:<28} {c['status']:<8} {c['health'] or 'exit ' + str(c['exit'])}")

    def images_are_safe(self) -> None:
        probe = (
            "id -u; for t in gcc cc c++ make pip pip3 pytest; do command -v $t || true; done; "
            "python -c 'import tools' 2>/dev/null && echo tools-importable; careline --help"
        )
        out = self.stack.exec("web", "sh", "-c", probe)
        uid, rest = out.split("\n", 1)
        if uid.strip() == "0":
            raise SmokeFailed("the careline image runs as root")
        tools = [line for line in rest.splitlines() if line.startswith("/")]
        if tools:
            raise SmokeFailed(f"build or test tools in the careline image: {tools}")
        if "tools-importable" in rest or re.search(r"^\W+(bench|replay|demo)\s", rest, re.MULTILINE):
            raise SmokeFailed("tools/ (bench, replay, demo) is in the careline image")
        for service in ("kafka", "postgres", "worker", "scheduler"):
            if self.stack.exec(service, "id", "-u").strip() == "0":
                raise SmokeFailed(f"{service} runs as root")
        self.say(
            "  careline, worker, scheduler, kafka and postgres run as non-root; no compiler, pip or pytest; no tools/"
        )

    def operator_account(self) -> None:
        out = self.stack.exec(
            "web", "careline", "operators", "add", OPERATOR, "--role", "admin", "--name", "Smoke Admin",
            stdin=f"{self.password}\n{self.password}\n",
        )  # fmt: skip
        if f"operator {OPERATOR} (admin) saved" not in out:
            raise SmokeFailed(f"careline operators add said: {out!r}")
        page = self.operator_web.request("GET", "/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if page.status != 200 or not token:
            raise SmokeFailed(f"GET /login: {page.status}, no CSRF token in the form")
        login = self.operator_web.request(
            "POST", "/login", form={"username": OPERATOR, "password": self.password, "csrf_token": token.group(1)}
        )
        if login.status != 303 or login.headers.get("Location", "").rstrip("/").split("/")[-1] != "dashboard":
            raise SmokeFailed(
                f"POST /login: {login.status} to {login.headers.get('Location')!r}, not 303 to /dashboard"
            )
        board = self.operator_web.request("GET", "/dashboard")
        if board.status != 200 or "Smoke Admin" not in board.text:
            raise SmokeFailed(f"GET /dashboard after login: {board.status}")
        api = self.web.request("POST", "/api/auth/token", body={"username": OPERATOR, "password": self.password})
        if api.status != 200:
            raise SmokeFailed(f"POST /api/auth/token: {api.status} {api.text[:200]}")
        self.operator_token = api.json()["access_token"]
        self.say(f"  {OPERATOR} logged in on /dashboard and got an API token")

    def import_register(self) -> None:
        """The hook for issue 15: with ``careline register import`` in the image, the CSV files of
        tools/deploy/register go in through it; before that command exists, tools/deploy/seed.sql
        writes the same register into the tables with psql. Then app tokens for the elder and the
        caregivers, with ``careline tokens issue``."""
        has_import = (
            subprocess.run(
                [
                    "docker",
                    "compose",
                    "-f",
                    str(COMPOSE_FILE),
                    "-p",
                    self.stack.project,
                    "exec",
                    "-T",
                    "web",
                    "careline",
                    "register",
                    "import",
                    "--help",
                ],
                capture_output=True,
                env=self.stack.env,
                timeout=120,
            ).returncode  # fmt: skip
            == 0
        )
        if has_import:
            web = next(c for c in self.stack.containers() if c["service"] == "web")
            self.stack.docker("cp", str(HERE / "register"), f"{web['id']}:/tmp/register")
            for kind in ("providers", "caregivers", "elders"):
                self.say(
                    "  "
                    + self.stack.exec(
                        "web", "careline", "register", "import", kind, f"/tmp/register/{kind}.csv"
                    ).strip()[-300:]
                )
        else:
            self.stack.exec(
                "postgres", "psql", "-v", "ON_ERROR_STOP=1", "-q", "-h", "/var/run/postgresql", "-U", "careline", "-d", "careline",
                stdin=(HERE / "seed.sql").read_text(encoding="utf-8"),
            )  # fmt: skip
            self.say("  no `careline register import` in this build: tools/deploy/seed.sql written with psql")
        for kind, subject in [("elder", ELDER[0])] + [("caregiver", c) for c in CAREGIVERS]:
            self.center.tokens[subject] = (
                self.stack.exec("web", "careline", "tokens", "issue", kind, subject).strip().split()[-1]
            )
        self.say(f"  app tokens for {', '.join(self.center.tokens)}")

    # --- the channels

    def offered_and_done(self, request_id: str, channel: str) -> None:
        """``request_id`` has an offer the operator sees; the caregiver accepts, checks in and
        checks out by SMS; the elder's app then shows the visit completed."""
        caregiver, offer = wait_for(
            f"an offer for {request_id}", lambda: self.center.pending_offer(request_id), 90, every=2
        )
        code = offer["short_code"]
        board = self.operator_web.request("GET", "/dashboard/board")
        if f'data-request="{request_id}"' not in board.text:
            raise SmokeFailed(f"the operator's board does not show {request_id}")
        self.say(
            f"  {channel} request {request_id}: offer {offer['offer_id']} to {caregiver} (code {code}), on the board"
        )
        for body, status in ((f"1 {code}", "accepted"), (f"到 {code}", "in-progress"), (f"完 {code}", "completed")):
            answer = self.center.sms(caregiver, body)
            wait_for(f"{request_id} {status} after the SMS {body!r} (answered {answer!r})",
                     lambda s=status: self.center.status(request_id) == s, 60)  # fmt: skip
            self.say(f"  SMS {body!r} -> {request_id} {status}")
        self.requests.append(request_id)

    def hotline_and_app(self) -> None:
        hotline = self.center.hotline_call()
        self.say(f"  the caller heard request number {hotline}")
        self.offered_and_done(hotline, "hotline")
        self.offered_and_done(self.center.app_request(), "app")

    # --- a worker dies

    def group(self) -> dict:
        out = self.stack.exec("web", "python", "-", stdin=(HERE / "group_probe.py").read_text(encoding="utf-8"))
        return json.loads(out)

    def worker_killed(self) -> None:
        workers = [c for c in self.stack.containers() if c["service"] == "worker" and c["status"] == "running"]
        group = self.group()
        if len(workers) != 2 or len(group["members"]) != 2:
            raise SmokeFailed(f"expected 2 running workers in the group, saw {len(workers)} containers, group {group}")
        used = [int(p) for p, end in group["ends"]["care.requests.v1"].items() if end > 0]
        owner = next(m for m in group["members"] if set(used) & set(m["assigned"].get("care.requests.v1", [])))
        victim = next(c for c in workers if owner["host"] in c["ips"])
        self.say(
            f"  care.requests.v1 partitions {sorted(used)} carry our requests; {victim['name']} holds "
            f"{owner['assigned']['care.requests.v1']}: killing it"
        )
        self.stack.docker("kill", victim["id"])
        request_id = self.center.app_request()  # sent while the group rebalances
        self.say(f"  app request {request_id} sent right after the kill")

        def taken_over():
            g = self.group()
            if len(g["members"]) != 1:
                return None
            held = g["members"][0]["assigned"]
            whole = all(len(held.get(t, [])) == len(g["ends"][t]) for t in g["ends"])
            return g if whole else None

        g = wait_for("the surviving worker holding every partition", taken_over, 120, every=2)
        survivor = next(c for c in workers if g["members"][0]["host"] in c["ips"])
        self.say(f"  {survivor['name']} now holds every partition of {', '.join(sorted(g['ends']))}")
        self.offered_and_done(request_id, "app")

    def nothing_lost(self) -> None:
        auth = {"Authorization": f"Bearer {self.operator_token}"}
        stats = self.web.request("GET", "/api/stats/cumulative?minutes=120", headers=auth)
        if stats.status != 200:
            raise SmokeFailed(f"GET /api/stats/cumulative: {stats.status} {stats.text[:200]}")
        states = {r: self.center.status(r) for r in self.requests}
        if set(states.values()) != {"completed"} or len(states) != 3:
            raise SmokeFailed(f"every request completed: {states}")
        workspace = stats.json()["workspace"]
        counts = {
            k: workspace.get(k) for k in ("tasks_entered", "tasks_completed", "tasks_canceled", "tasks_escalated")
        }
        if counts != {"tasks_entered": 3, "tasks_completed": 3, "tasks_canceled": 0, "tasks_escalated": 0}:
            raise SmokeFailed(f"the operator's statistics count 3 requests entered and completed: {counts}")
        self.say(f"  {', '.join(f'{r} {s}' for r, s in states.items())}; the operator's statistics: {counts}")

    def monthly_report(self) -> None:
        """``careline report providers`` in the web container writes the month's HTML and a PDF
        (weasyprint on the image's Pango, Chinese in its CJK font)."""
        month = time.strftime("%Y-%m", time.gmtime())
        out = self.stack.exec(
            "web", "careline", "report", "providers", "--month", month, "--out-dir", "/tmp/report", "--lang", "both"
        )
        if "no CJK font" in out:
            raise SmokeFailed(f"the report found no CJK font in the image: {out.strip()[-300:]}")
        pdfs = [line.strip() for line in out.splitlines() if line.strip().endswith(".pdf")]
        if not pdfs:
            raise SmokeFailed(f"careline report providers named no PDF: {out.strip()[-300:]}")
        magic = self.stack.exec("web", "sh", "-c", f"head -c 5 '{pdfs[-1]}'; echo; wc -c < '{pdfs[-1]}'").split()
        if not magic or magic[0] != "%PDF-" or int(magic[-1]) < 1000:
            raise SmokeFailed(f"{pdfs[-1]} is not a PDF: {magic}")
        self.say(f"  {pdfs[-1]} ({int(magic[-1]) / 1000:.0f} kB) for {month}")

    def metrics(self) -> None:
        refused = self.web.request("GET", "/metrics")
        if refused.status != 401:
            raise SmokeFailed(f"/metrics without the token: {refused.status}, not 401")

        def scrape():
            resp = self.web.request("GET", "/metrics", headers={"Authorization": f"Bearer {self.metrics_token}"})
            if resp.status != 200:
                raise SmokeFailed(f"/metrics with the token: {resp.status}")
            values = {}
            for line in resp.text.splitlines():
                if line and not line.startswith("#"):
                    name, _, value = line.rpartition(" ")
                    values[name] = float(value)
            settled = (
                values.get("careline_broker_up") == 1
                and values.get('careline_requests{status="completed"}') == 3
                and values.get("careline_outbox_unsent") == 0
                and all(
                    v == 0
                    for k, v in values.items()
                    if k.startswith(("careline_dead_letters", "careline_consumer_lag"))
                )
            )
            return values if settled else None

        values = wait_for(
            "/metrics: broker up, 3 requests completed, no dead letters, no unsent outbox, no consumer lag",
            scrape,
            90,
            5,
        )
        shown = {
            k: v
            for k, v in values.items()
            if k.startswith(
                (
                    "careline_requests",
                    "careline_dead_letters",
                    "careline_consumer_lag",
                    "careline_broker_up",
                    "careline_dispatch_latency_seconds_count",
                )
            )
        }
        self.say("  " + ", ".join(f"{k} {v:g}" for k, v in sorted(shown.items())))

    # --- the run

    def teardown(self) -> None:
        self.stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False, timeout=300)
        self.env_file.unlink(missing_ok=True)

    def dump_logs(self) -> None:
        """Every service's last 60 lines, then the workers' last 400 (both replicas, the killed one
        too: a worker-kill failure needs them), and each container's state."""
        with contextlib.suppress(Exception):
            print(self.stack.compose("logs", "--no-color", "--tail", "60", check=False, timeout=120)[-20000:])
            print(
                self.stack.compose("logs", "--no-color", "--tail", "400", "worker", check=False, timeout=120)[-60000:]
            )
            for c in self.stack.containers():
                print(f"{c['name']}: {c['status']} health={c['health']} exit={c['exit']}")

    def image_sizes(self) -> list[str]:
        lines = []
        for name in IMAGES:
            out = self.stack.docker("image", "inspect", "--format", "{{.Size}}", f"{name}:{self.args.tag}", check=False)
            lines.append(f"{name}:{self.args.tag} {int(out.strip()) / 1e6:.0f} MB" if out.strip() else f"{name}: ?")
        return lines

    def run(self) -> int:
        steps = [
            ("stack up, every service healthy", self.stack_up),
            ("images: non-root, no compilers or test tools", self.images_are_safe),
            ("operator account", self.operator_account),
            ("register imported", self.import_register),
            ("hotline call and app request: offered, accepted, visited, completed", self.hotline_and_app),
            ("a worker killed: the other takes its partitions", self.worker_killed),
            ("nothing lost", self.nothing_lost),
            ("the monthly report (PDF)", self.monthly_report),
            ("/metrics with the token", self.metrics),
        ]
        ok = False
        try:
            for name, action in steps:
                with self.step(name):
                    action()
            ok = True
        except Exception as exc:  # noqa: BLE001 - any failure fails the smoke, after the logs
            if not isinstance(exc, SmokeFailed):
                self.say(f"unexpected {type(exc).__name__}: {exc}")
            self.dump_logs()
        finally:
            if self.args.keep:
                self.say(f"--keep: project {self.args.project} left running")
            else:
                with self.step("torn down"):
                    self.teardown()
        print(
            f"\ndeploy smoke ({self.args.project}): {'passed' if ok else 'FAILED'} in {time.monotonic() - self.t0:.0f} s"
        )
        for name, seconds, result in self.results:
            print(f"  {result:<6} {seconds:6.1f} s  {name}")
        print("images: " + "; ".join(self.image_sizes()))
        return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", default=f"careline-smoke-{os.getpid()}")
    parser.add_argument("--port", type=int, required=True, help="host port (127.0.0.1) for the web service")
    parser.add_argument("--tag", default=os.environ.get("CARELINE_IMAGE_TAG", "local"))
    parser.add_argument("--state-dir", default=str(REPO / ".cache" / "engine"))
    parser.add_argument("--up-timeout", type=float, default=480.0, help="seconds for every service to be healthy")
    parser.add_argument("--keep", action="store_true", help="leave the stack running (debugging)")
    return Smoke(parser.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
