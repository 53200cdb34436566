"""Live KPIs of providers and caregivers in a Faust windowed table, and the
provider scores dispatch reads from them (the evaluation loop closes here).

- ``tally_events``: ``care.lifecycle.v1``, ``dispatch.offers.v1`` and
  ``care.feedback.v1`` -> ``kpi.tallies.v1``, one record per subject an event
  counts for (``handlers.evaluation.live_kpis.tallies``), keyed ``provider:<id>`` or
  ``caregiver:<id>``. This is the repartition: a table key must live on the
  partition of the records that update it, and the source topics are keyed by
  request id.
- ``window_tallies``: ``kpi.tallies.v1`` -> the ``kpi_live`` table, tumbling
  windows of ``kpi_step_minutes`` in event time (the CloudEvents ``time``, so a
  replay's simulated day windows like a real one). Its changelog topic
  ``careline-kpi_live-changelog`` is the state a restarted worker recovers.
  Windows that left the rolling window are deleted here, in event time:
  Faust's own expiry runs on the wall clock, which a replay of another day
  does not follow, so it is off (``expires`` 0).
- ``publish_live_kpis`` (every ``score_interval_seconds``): the rolling window
  is the last ``score_window_hours`` (24 h), advancing every step: the sum of
  each subject's windows in it gives its ``Kpis``
  (``handlers.evaluation.live_kpis.kpis_from_counts``); a provider's composite score goes
  on the compacted ``provider.scores.v1`` when it changed, and every changed
  subject's KPIs into the ``live_kpis`` read model the dashboard shows.

The fold is at least once. A record delivered twice with one id (the outbox
relay re-sends rows whose acknowledgement was lost, a producer retries a batch
the broker had written: both happen around a broker outage) is folded once:
each agent remembers the last ``SEEN_LIMIT`` ids it folded (source event ids;
tally ids ``<event id>|<subject key>``). That memory dies with the worker, so
records re-read after a worker was killed count again.

A tumbling table summed over the window's steps, rather than a hopping table,
writes one changelog record per tally instead of one per overlapping window
(24 for a 24 h window stepping hourly): the worker's pace is the limit
(``docs/benchmarks.md``). Every worker publishes the subjects its partitions
hold. On Tansu, whose end offsets are wrong after multi-record batches
(``docs/NOTES.md``), a restarted worker may recover a table short of records;
on Apache Kafka it recovers all of them.
"""
from __future__ import annotations

import logging
import math
from datetime import datetime, timezone

from mode.utils.collections import LRUCache

from config import topics
from handlers.evaluation.kpis import composite_score
from handlers.evaluation.live_kpis import Counts, kpis_from_counts, split_key, tallies
from streams import steps
from streams.app import app, topic
from streams.evaluation import scores_topic
from streams.runtime import current, db_call

log = logging.getLogger("careline.live_kpis")
settings = current().settings
STEP_SECONDS = settings.kpi_step_minutes * 60.0
#: windows summed for the rolling window (24 h / 1 h: 24)
WINDOW_STEPS = max(1, math.ceil(settings.score_window_hours * 3600.0 / STEP_SECONDS))

kpi_sources = app.topic(topics.LIFECYCLE.name, topics.OFFERS.name, topics.FEEDBACK.name, key_type=None,
                        value_type=None, key_serializer="raw", value_serializer="raw")
tallies_topic = topic(topics.KPI_TALLIES)
kpi_table = app.Table("kpi_live", default=Counts, partitions=settings.topic_partitions,
                      help="KPI counters per subject and event-time window (handlers.evaluation.live_kpis)")


def _tally_time(event) -> float:  # noqa: ANN001 - a faust event
    return datetime.fromisoformat(event.value["time"]).timestamp()


kpi_windows = kpi_table.tumbling(STEP_SECONDS, expires=0).relative_to(_tally_time)

#: subject key -> the window ranges this worker holds; rebuilt from the table when the window moves
_held: dict[str, set[tuple[float, float]]] = {}
_dirty: set[str] = set()
_state = {"step": None}
_published: dict[str, float] = {}
#: ids remembered per agent; a re-sent record comes seconds after the first, far fewer records apart
SEEN_LIMIT = 50_000
_seen_events: LRUCache = LRUCache(limit=SEEN_LIMIT)
_seen_tallies: LRUCache = LRUCache(limit=SEEN_LIMIT)


def first_time(seen: LRUCache, record_id: object) -> bool:
    """False for an id folded before (remembering it otherwise); True for a record without an id."""
    if not isinstance(record_id, str) or not record_id:
        return True
    if record_id in seen:
        return False
    seen[record_id] = True
    return True


def _window_start(ts: float) -> float:
    return math.floor(ts / STEP_SECONDS) * STEP_SECONDS


def _range(start: float) -> tuple[float, float]:
    return kpi_table.window.ranges(start)[0]


@app.agent(kpi_sources)
async def tally_events(stream):
    """Lifecycle, offer and feedback events -> ``kpi.tallies.v1``. Records that
    are not JSON events were dead-lettered by the agents that own those topics."""
    on_time = current().configuration.evaluation.kpis.on_time_minutes
    async for raw in stream:
        try:
            value = steps.decode(raw)
        except steps.DeadLetter:
            continue
        source = value.get("id") if isinstance(value.get("id"), str) else None
        if not first_time(_seen_events, source):
            continue
        for tally in tallies(value, on_time):
            await tallies_topic.send(key=tally.key.encode(), value={
                "id": f"{source}|{tally.key}" if source else None, "counts": tally.counts,
                "time": tally.at.isoformat()})


@app.agent(tallies_topic)
async def window_tallies(stream):
    """``kpi.tallies.v1`` -> the windowed ``kpi_live`` table; prunes the
    subject's windows that left the rolling window."""
    async for event in stream.events():
        value, key = event.value, (event.message.key or b"").decode(errors="replace")
        try:
            ts = _tally_time(event)
            counts = Counts({str(k): float(v) for k, v in value["counts"].items()})
        except (KeyError, TypeError, ValueError, AttributeError):
            log.warning("tally without time or counts skipped (offset %s)", event.message.offset)
            continue
        if not first_time(_seen_tallies, value.get("id")):
            continue
        kpi_windows[key] += counts
        held = _held.setdefault(key, set())
        held.add(_range(_window_start(ts)))
        oldest = _window_start(ts) - (WINDOW_STEPS - 1) * STEP_SECONDS
        for old in [r for r in held if r[0] < oldest]:
            held.discard(old)
            if (key, old) in kpi_table.data:
                del kpi_table[(key, old)]
        _dirty.add(key)


def window_sum(key: str, now_ts: float) -> Counts:
    """The subject's counters over the rolling window that ends with the step holding ``now_ts``."""
    total = Counts()
    newest = _window_start(now_ts)
    for i in range(WINDOW_STEPS):
        total = total + (kpi_table.data.get((key, _range(newest - i * STEP_SECONDS))) or {})
    return total


def _reindex() -> None:
    _held.clear()
    for stored in list(kpi_table.data.keys()):
        if isinstance(stored, tuple) and len(stored) == 2:
            _held.setdefault(stored[0], set()).add(tuple(stored[1]))


@app.timer(interval=settings.score_interval_seconds)
async def publish_live_kpis() -> None:
    now = await db_call(steps.clock_now)
    step = _window_start(now.timestamp())
    if step != _state["step"]:  # the window moved (or first pass): every subject's numbers change
        _state["step"] = step
        _reindex()
        keys = set(_held)
    else:
        keys = set(_dirty)
    _dirty.difference_update(keys)
    if not keys:
        return
    cfg = current().configuration.evaluation
    rows, scores = [], {}
    for key in sorted(keys):
        scope, subject = split_key(key)
        kpis = kpis_from_counts(subject, window_sum(key, now.timestamp()), cfg.kpis)
        score = round(composite_score(kpis, cfg.weights, cfg.kpis), 2) if scope == "provider" else None
        rows.append((scope, kpis, score))
        if score is not None:
            scores[subject] = score
    start = datetime.fromtimestamp(step - (WINDOW_STEPS - 1) * STEP_SECONDS, timezone.utc)
    end = datetime.fromtimestamp(step + STEP_SECONDS, timezone.utc)
    await db_call(steps.save_live_kpis, rows, start, end)
    for provider_id, score in scores.items():
        if _published.get(provider_id) != score:
            await scores_topic.send(key=provider_id.encode(), value={"provider_id": provider_id, "score": score})
            _published[provider_id] = score
