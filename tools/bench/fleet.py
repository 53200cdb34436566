"""The bench's own processes: N stream workers and the timer service, supervised the way a
compose file or systemd would (a worker that exits is started again), with their memory read
every few seconds.

A worker that exits with status 75 is its stall watchdog at work (``streams.watchdog``); the
bench counts those (``watchdog_restarts``), and any other exit (``other_restarts``), and
starts a fresh worker in the same slot either way. ``kill`` sends SIGKILL to one worker and
starts its replacement, as a supervisor would after a crash; ``restart`` stops one gracefully
(SIGTERM) and starts a fresh one, as the scale bench does with a stalled worker.

Every bench that runs careline's own processes starts them here (``tools.bench.stack.BenchStack``
for the throughput and scale benches, ``tools.bench.scale_run`` for whole lifecycles).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from streams.watchdog import EXIT_STALLED
from tools.bench.stack import cpu_seconds, peak_rss_mib


def _terminate(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM ``proc``; SIGKILL when it has not exited after ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_mib(pid: int | None) -> float | None:
    """Resident memory of a live process in MiB (VmRSS); None when unknown."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Slot:
    """One supervised process: its current ``proc`` and how often it was started."""

    name: str
    command: str
    proc: subprocess.Popen | None = None
    starts: int = 0


@dataclass
class Fleet:
    env: dict[str, str]
    logs: Path
    slots: list[Slot] = field(default_factory=list)
    watchdog_restarts: int = 0
    other_restarts: int = 0
    kills: int = 0
    #: graceful restarts asked for (``restart``)
    restarts: int = 0
    #: process name (``worker-2``, ``worker-2.r1`` after a restart, ``scheduler``) -> peak RSS MiB
    peaks: dict[str, float] = field(default_factory=dict)
    #: slot name -> [(seconds since start, RSS MiB)], one reading per ``sample``
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    #: CPU seconds of processes that are gone (killed or restarted), by slot name
    retired_cpu: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)
    #: slot name -> environment a process of that slot gets on top of ``env`` (its own database
    #: role, so the statements it runs are counted apart)
    env_for: Callable[[str], dict[str, str]] | None = None

    def start(self, workers: int) -> None:
        """The timer service and ``workers`` stream workers; ``RuntimeError`` naming the log of
        a process that exits within 0.2 s (a bad setting, a port in use)."""
        self.logs.mkdir(parents=True, exist_ok=True)
        self.slots.append(Slot("scheduler", "scheduler"))
        self.slots += [Slot(f"worker-{i + 1}", "worker") for i in range(workers)]
        for slot in self.slots:
            self._spawn(slot)
        time.sleep(0.2)
        for slot in self.slots:
            assert slot.proc is not None
            if slot.proc.poll() is not None:
                raise RuntimeError(f"careline {slot.command} exited at once; see {self.logs / f'{slot.name}.log'}")

    def add_worker(self) -> Slot:
        """Start one more worker (a scale-out); returns its slot."""
        slot = Slot(f"worker-{len(self.workers()) + 1}", "worker")
        self.slots.append(slot)
        self._spawn(slot)
        return slot

    def retire(self, slot: Slot) -> None:
        """Stop a worker for good (SIGTERM, a graceful leave; SIGKILL after 30 s)."""
        self._account(slot)
        assert slot.proc is not None
        _terminate(slot.proc, 30)
        self.slots.remove(slot)

    def workers(self) -> list[Slot]:
        return [s for s in self.slots if s.command == "worker"]

    def restart(self, slot: Slot) -> None:
        """Stop the process in ``slot`` (SIGTERM, SIGKILL after 20 s) and start a fresh one."""
        assert slot.proc is not None
        self._account(slot)
        _terminate(slot.proc, 20)
        self.restarts += 1
        self._spawn(slot)

    def _label(self, slot: Slot) -> str:
        return slot.name if slot.starts <= 1 else f"{slot.name}.r{slot.starts - 1}"

    def _spawn(self, slot: Slot) -> None:
        slot.starts += 1
        log = open(self.logs / f"{self._label(slot)}.log", "ab")
        slot.proc = subprocess.Popen(
            [sys.executable, "-m", "careline.cli", slot.command],
            env=dict(self.env, **self.env_for(slot.name)) if self.env_for else self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _account(self, slot: Slot) -> None:
        pid = slot.proc.pid if slot.proc else None
        self.retired_cpu[slot.name] = self.retired_cpu.get(slot.name, 0.0) + cpu_seconds(pid)
        peak = peak_rss_mib(pid)
        if peak is not None:
            label = self._label(slot)
            self.peaks[label] = max(self.peaks.get(label, 0.0), peak)

    def supervise(self) -> None:
        """Start again every process that exited (counting watchdog exits apart)."""
        for slot in self.slots:
            assert slot.proc is not None
            code = slot.proc.poll()
            if code is None:
                continue
            self._account(slot)
            if code == EXIT_STALLED:
                self.watchdog_restarts += 1
                self.notes.append(f"{self._label(slot)}: the stall watchdog exited it (status 75)")
            else:
                self.other_restarts += 1
                self.notes.append(f"{self._label(slot)}: exited with status {code}")
            self._spawn(slot)

    def kill(self, slot: Slot) -> int:
        """SIGKILL the worker in ``slot``, wait for it, start its replacement; the killed pid."""
        assert slot.proc is not None
        pid = slot.proc.pid
        self._account(slot)
        slot.proc.send_signal(signal.SIGKILL)
        slot.proc.wait(30)
        self.kills += 1
        self._spawn(slot)
        return pid

    def sample(self) -> None:
        """Read every live process's memory now (``series``) and keep the peaks (``peaks``)."""
        t = time.monotonic() - self.started_at
        for slot in self.slots:
            pid = slot.proc.pid if slot.proc and slot.proc.poll() is None else None
            now = rss_mib(pid)
            if now is None:
                continue
            self.series.setdefault(slot.name, []).append((round(t, 1), round(now, 1)))
            peak = peak_rss_mib(pid) or now
            label = self._label(slot)
            self.peaks[label] = max(self.peaks.get(label, 0.0), peak)

    def cpu(self) -> dict[str, float]:
        """CPU seconds per slot so far (live process plus those before it)."""
        out = dict(self.retired_cpu)
        for slot in self.slots:
            if slot.proc is not None and slot.proc.poll() is None:
                out[slot.name] = out.get(slot.name, 0.0) + cpu_seconds(slot.proc.pid)
        return out

    def stop(self) -> None:
        """SIGTERM everything; SIGKILL whatever is left after 20 s."""
        for slot in self.slots:
            if slot.proc is not None and slot.proc.poll() is None:
                self._account(slot)
                slot.proc.terminate()
        for slot in self.slots:
            if slot.proc is None:
                continue
            try:
                slot.proc.wait(20)
            except subprocess.TimeoutExpired:
                slot.proc.kill()
                slot.proc.wait()
