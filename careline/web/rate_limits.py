"""Rate limits of the app API and the alarm buttons, with ``limits`` (moving window).

Each rate is ``limits`` notation with a short and a long window, e.g.
``10/minute;60/hour``: the short one is the burst a person or a device may
need at once, the long one what it may keep up. A call must be allowed by
every window. Keys are counted after authentication, so a stranger cannot
use up a real elder's or device's allowance:

- ``app``: every app API call, per token (``CARELINE_APP_RATE_LIMIT``);
- ``intake``: new care requests, per elder, all the elder's tokens together
  (``CARELINE_APP_INTAKE_RATE_LIMIT``);
- ``alarm``: presses, per device (``CARELINE_ALARM_RATE_LIMIT``).

A refusal is HTTP 429 with ``Retry-After`` (whole seconds) and code
``rate_limited``. One exception keeps elders safe: an emergency (a press, or
an app request of priority ``stat``) over its limit is still taken when the
elder has no open emergency; over the limit it is refused only while one is
open, where it would only have joined it (``handlers.channels.emergencies``).

Counts live in ``CARELINE_RATE_LIMIT_STORAGE``: ``memory://`` counts per web
process (so N replicas allow N times the rate); ``redis://host:6379`` shares them.
"""

from __future__ import annotations

import hashlib
import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from config.settings import Settings


class RateLimits:
    """The web process's limiters; ``wait(kind, key)`` counts a call and says how long to wait."""

    def __init__(self, settings: Settings) -> None:
        self.limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage))
        self.rates: dict[str, list[RateLimitItem]] = {
            "app": parse_many(settings.app_rate_limit),
            "intake": parse_many(settings.app_intake_rate_limit),
            "alarm": parse_many(settings.alarm_rate_limit),
        }

    def wait(self, kind: str, key: str) -> int:
        """Count one call of ``kind`` by ``key``: 0 when allowed, else the seconds (≥ 1) until
        the fullest window lets one more in (nothing is counted then)."""
        digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:32]  # no token in the store
        items = self.rates[kind]
        if all(self.limiter.hit(item, kind, digest) for item in items):
            return 0
        now = time.time()
        resets = [self.limiter.get_window_stats(item, kind, digest) for item in items]
        return max(1, math.ceil(max((s.reset_time for s in resets if s.remaining == 0), default=now + 1) - now))
