"""Check the worker's live KPIs against the stored records of one replay run.

The live KPIs (``streams.live_kpis``) are a stream fold that must count every
event once, also after a worker was killed: a restarted worker rebuilds its
windows from the stored events and recognises tallies it reads again by their
ids. ``compare`` says which subjects equal what ``careline.reports`` computes
from the database (the monthly report's numbers), and which have a count below
it (lost), above it (counted twice) or another rate; each of those is a
violation. Used by ``careline bench faults`` and the end-to-end test.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from careline.reports import read_month
from config import topics
from config.evaluation import get_evaluation_config
from db import live_kpis, register
from db.session import Session, sessionmaker
from handlers.evaluation.kpis import Kpis, caregiver_kpis, provider_kpis

#: every KPI but the median time to accept, which the live side estimates from a histogram
COMPARED = (
    "offers",
    "acceptance_rate",
    "visits",
    "on_time_rate",
    "completion_rate",
    "no_shows",
    "evv_compliance_rate",
    "ratings",
    "mean_stars",
    "satisfaction",
    "complaints",
    "complaints_per_100_visits",
)
#: the counts: a live one below the stored one means an event was lost
COUNTS = ("offers", "visits", "no_shows", "ratings", "complaints")


@dataclass
class Comparison:
    """``stored``/``live``: subject key (``provider:<id>``, ``caregiver:<id>``) -> KPI dict;
    ``equal``, ``lost`` (a count below the records), ``doubled`` (a count above, none below)
    and ``differ`` (same counts, another rate) list keys."""

    stored: dict[str, dict] = field(default_factory=dict)
    live: dict[str, dict] = field(default_factory=dict)
    equal: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    differ: list[str] = field(default_factory=list)
    #: subject key -> count name -> (live, stored), for the counts that differ
    gaps: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    #: records of the folded topics the worker's group had not committed when the comparison
    #: began (-1: unknown, the broker did not answer); above 0, a count below is lag, maybe not loss
    unread: int = 0

    @property
    def all_equal(self) -> bool:
        return bool(self.stored) and len(self.equal) == len(self.stored)

    def gap(self, key: str) -> str:
        """``visits 3 live / 4 stored, ...`` for one subject's counts that differ."""
        return ", ".join(f"{c} {got:g} live / {want:g} stored" for c, (got, want) in self.gaps.get(key, {}).items())

    def violations(self) -> list[str]:
        """One line per subject whose live KPIs differ from its records: counts below them (a
        lost event), above them (an event counted twice), or another rate; naming the counts."""
        unread = f"; {self.unread} records unread by the worker" if self.unread else ""
        return (
            [f"live KPIs of {key} count fewer events than its records ({self.gap(key)}{unread})" for key in self.lost]
            + [f"live KPIs of {key} count events twice ({self.gap(key)})" for key in self.doubled]
            + [f"live KPIs of {key} differ from its records in a rate" for key in self.differ]
        )

    def summary(self) -> str:
        """One line for the fault table's notes: how many subjects are equal, lost, doubled,
        other; the counts of those with a count below the records; records still unread."""
        return (
            f"live KPIs: {len(self.equal)} of {len(self.stored)} subjects equal the stored records, "
            f"{len(self.lost)} with a count below them, {len(self.doubled)} above, {len(self.differ)} other"
            + "".join(f"; {key}: {self.gap(key)}" for key in self.lost)
            + (f"; {self.unread} records unread by the worker" if self.unread else "")
        )


def _same(a: dict, b: dict) -> bool:
    for name in COMPARED:
        x, y = a.get(name), b.get(name)
        if x is None or y is None:
            if (x is None) != (y is None):
                return False
        elif abs(x - y) > 1e-6 * max(1.0, abs(y)):
            return False
    return True


def stored_kpis(database_url: str, run: str, day_start: datetime) -> dict[str, Kpis]:
    """The KPIs of the run's providers and caregivers from the database, for subjects with
    something to count (a caregiver with only rescinded offers has nothing)."""
    cfg = get_evaluation_config()
    month = read_month(database_url, day_start - timedelta(days=1), day_start + timedelta(days=2), cfg.evv)
    mine = lambda items: [x for x in items if (x.provider_id or "").startswith(run + ".")]  # noqa: E731
    args = (mine(month.offers), mine(month.visits), mine(month.ratings), mine(month.complaints), cfg.kpis)
    out = {}
    for scope, by in (("provider", provider_kpis(*args)), ("caregiver", caregiver_kpis(*args))):
        out.update({f"{scope}:{s}": k for s, k in by.items() if k.offers or k.visits or k.ratings or k.complaints})
    return out


def hold_clock(factory: sessionmaker[Session]) -> None:
    """Slow a replay clock to real time where it stands (``db.register.hold_clock``): the live
    window is the last 24 h of that clock, which at 1200x leaves a replayed day within a
    minute or two."""
    register.hold_clock(factory)


#: the topics the KPI fold reads: when the group has committed their ends, every event is in the table
FOLDED = (topics.LIFECYCLE.name, topics.OFFERS.name, topics.FEEDBACK.name, topics.KPI_TALLIES.name)


def wait_caught_up(bootstrap: str, partitions: int, timeout_s: float, group: str = "careline") -> int:
    """Wait until the worker's group has committed the end of every topic the KPI fold reads (a
    worker behind after a fault is lag, not loss); the records still waiting at the end."""
    from streams.watchdog import StallWatch, read_offsets

    tps = [(t, p) for t in FOLDED for p in range(partitions)]
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            committed, ends = read_offsets(bootstrap, group, tps)
            waiting = StallWatch.waiting(committed, ends)
        except Exception:  # noqa: BLE001 - the broker is still coming back
            waiting = -1
        if waiting == 0 or time.monotonic() >= deadline:
            return waiting
        time.sleep(2.0)


def compare(
    database_url: str,
    factory: sessionmaker[Session],
    run: str,
    day_start: datetime,
    wait_s: float = 60.0,
    bootstrap: str | None = None,
    partitions: int = 3,
) -> Comparison:
    """Compare until every subject is equal or ``wait_s`` wall seconds passed (the worker
    writes the read model every ``score_interval_seconds``); the last comparison. With
    ``bootstrap``, first wait (up to 180 s) until the worker has read every record the fold
    reads, so that a worker still catching up after a fault is not taken for one that lost events."""
    unread = wait_caught_up(bootstrap, partitions, 180.0) if bootstrap is not None else 0
    deadline = time.monotonic() + wait_s
    while True:
        result = Comparison({k: asdict(v) for k, v in stored_kpis(database_url, run, day_start).items()}, unread=unread)
        with factory() as session:
            for scope in ("provider", "caregiver"):
                ids = [key.split(":", 1)[1] for key in result.stored if key.startswith(scope + ":")]
                result.live.update({f"{scope}:{r['subject_id']}": r for r in live_kpis.read(session, scope, ids)})
        for key, want in result.stored.items():
            got = result.live.get(key, {})
            gap = {c: (got.get(c) or 0, want[c]) for c in COUNTS if (got.get(c) or 0) != want[c]}
            if gap:
                result.gaps[key] = gap
            if _same(got, want):
                result.equal.append(key)
            elif any((got.get(c) or 0) < want[c] for c in COUNTS):
                result.lost.append(key)
            elif any((got.get(c) or 0) > want[c] for c in COUNTS):
                result.doubled.append(key)
            else:
                result.differ.append(key)
        if result.all_equal or time.monotonic() >= deadline:
            return result
        time.sleep(2.0)
