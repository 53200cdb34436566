"""What the worker did lately, as one log line every ``worker_stats_seconds`` (benches turn it on):
per batch step, the batches, records and seconds spent since the last line."""

from __future__ import annotations

import logging
from collections import defaultdict

log = logging.getLogger("careline.stats")


class Stats:
    """Counts per batch step since the last log line (``streams.batches``)."""

    def __init__(self) -> None:
        self._steps: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
        self._published = 0

    def note(self, step: str, records: int, seconds: float) -> None:
        """One batch of ``step``: ``records`` records handled in ``seconds`` (wall)."""
        entry = self._steps[step]
        entry[0] += 1
        entry[1] += records
        entry[2] += seconds

    def log(self, published: int) -> None:
        """Write the line and start counting again; ``published`` is the relay's running total of
        rows published (the line shows those since the last one)."""
        parts = [
            f"{name} {int(b)} batches {int(r)} records {s:.1f} s" for name, (b, r, s) in sorted(self._steps.items())
        ]
        log.warning("worker: %s; relay published %d", "; ".join(parts) or "idle", published - self._published)
        self._published = published
        self._steps.clear()


stats = Stats()
