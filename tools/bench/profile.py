"""Sample a running process with py-spy (optional: ``pip install py-spy``) and
summarise where its time went.

``py-spy record --format raw`` writes collapsed stacks, one line per distinct
stack: ``thread;frame;frame;… count``. Self time is the last frame of a
stack; inclusive time counts a function once per stack it appears in.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

SELF_HINT = (
    "only the thread holding the GIL is sampled (py-spy --gil): idle threads and threads waiting for the GIL are not"
)


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


class Sampler:
    """``with Sampler(pid, out): …`` samples ``pid`` at ``rate`` Hz into ``out`` (collapsed stacks)."""

    def __init__(self, pid: int, out: Path, rate: int = 100) -> None:
        self.pid, self.out, self.rate = pid, out, rate

    def __enter__(self) -> Sampler:
        binary = py_spy()
        if binary is None:
            raise RuntimeError("py-spy is not installed: pip install py-spy")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                binary,
                "record",
                "--pid",
                str(self.pid),
                "--rate",
                str(self.rate),
                "--format",
                "raw",
                "--nonblocking",
                "--gil",  # only the thread holding the GIL: what costs CPU, not who waits for it
                "--output",
                str(self.out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _frame_name(frame: str) -> str:
    """``func (path/to/file.py:12)`` -> ``func (file.py)`` so lines of one function add up."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if len(parts) > 1 else path
    return f"{name} ({short})"


def summarise(collapsed: Path, top: int = 15) -> tuple[int, list[tuple[str, float]], list[tuple[str, float]]]:
    """(samples, top functions by self share, top by inclusive share) from collapsed stacks."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame_name(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    share = lambda c: [(k, v / total) for k, v in c.most_common(top)] if total else []  # noqa: E731
    return total, share(own), share(incl)


#: (a frame name in the stack, the worker step it belongs to), first match wins
STEPS = (
    ("handle_dispatch_event", "dispatch step (streams.steps)"),
    ("dispatch_batch", "dispatch step (streams.batches)"),
    ("validate_intake_record", "intake validation"),
    ("intake_batch", "intake validation"),
    ("feedback_batch", "feedback"),
    ("_claim (streams/relay", "outbox relay: database"),
    ("_finish (streams/relay", "outbox relay: database"),
    ("_take (streams/relay", "outbox relay: database"),
    ("_send (streams/relay", "outbox relay: send and acks"),
    ("tell (streams/notices", "notices (offer SMS and every other notice)"),
    ("run_batches", "batch timer"),
    ("publish_live_kpis", "live KPIs and provider scores timer"),
    ("window_tallies", "live KPI windows"),
    ("tally_events", "live KPI tallies"),
)
#: leaf frames of a thread that waits (py-spy --nonblocking does not always tell idle threads)
WAITING = ("EpollSelector.select", "_worker (concurrent", "Queue.get", "Condition.wait", "Event.wait")


def by_step(collapsed: Path) -> tuple[int, list[tuple[str, float]]]:
    """(busy samples, share per worker step): samples whose innermost frame is a
    wait are left out; the rest go to the first step of ``STEPS`` on their
    stack, else to Faust/aiokafka (consuming, producing, the stream machinery)
    or "other"."""
    found: Counter[str] = Counter()
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit() or stack.rsplit(";", 1)[-1].startswith(WAITING):
            continue
        step = next((name for key, name in STEPS if key in stack), None)
        if step is None:
            step = "Faust / aiokafka" if any(k in stack for k in ("faust/", "aiokafka/", "mode/")) else "other"
        found[step] += int(count)
    busy = sum(found.values())
    return busy, [(k, v / busy) for k, v in found.most_common()] if busy else []
