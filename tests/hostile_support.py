"""The hostile-input suite's shared parts: hypothesis profiles and the case tally.

Profiles (``hypothesis.settings``): ``ci``, the default, runs a modest number of
examples per test so the whole suite stays under a minute on two cores; ``full``
runs many more. Choose with ``CARELINE_HYPOTHESIS_PROFILE=full`` or pytest's
``--hypothesis-profile=full`` (the option wins). Tests that set their own
``max_examples`` keep it under either profile.

Every generated case a hostile test sends is counted per parser and outcome
(``4xx``, ``dead-lettered``, ``accepted``); ``pytest -m hostile`` ends with the
table (``pytest_terminal_summary`` in ``tests/conftest.py``).
"""

from __future__ import annotations

import copy
import os
from collections import Counter, defaultdict

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PROFILE_ENV = "CARELINE_HYPOTHESIS_PROFILE"
#: 4xx: an HTTP refusal naming the problem; dead-lettered: a record set aside with its reason
#: (dead-letter topic, or a rejected CSV row); refused: a file or command refused with a reason
#: (a CLI exit status 2); accepted: parsed and acted on (for Twilio: a TwiML answer).
OUTCOMES = ("4xx", "dead-lettered", "refused", "accepted")

#: the web tests send every example through one app and database on purpose (function_scoped_fixture)
_quiet = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
    HealthCheck.function_scoped_fixture,
]
settings.register_profile("ci", max_examples=20, deadline=None, suppress_health_check=_quiet, print_blob=True)
settings.register_profile("full", max_examples=500, deadline=None, suppress_health_check=_quiet, print_blob=True)
settings.load_profile(os.environ.get(PROFILE_ENV, "ci"))


class CaseTally:
    """Cases per parser and outcome; ``record`` refuses an outcome not in ``OUTCOMES``."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)

    def record(self, parser: str, outcome: str) -> str:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}: one of {OUTCOMES}")
        self.counts[parser][outcome] += 1
        return outcome

    def http(self, parser: str, status: int) -> str:
        """Count an HTTP answer: 4xx, else accepted (a 5xx fails the test before it is counted)."""
        assert status < 500, f"{parser}: server error {status}"
        return self.record(parser, "4xx" if 400 <= status < 500 else "accepted")

    def rows(self) -> list[tuple]:
        return [(parser, sum(c.values()), *(c[o] for o in OUTCOMES)) for parser, c in sorted(self.counts.items())]

    def table(self) -> str:
        header = ("parser", "cases", *OUTCOMES)
        rows = [header] + [tuple(map(str, r)) for r in self.rows()]
        total = [sum(r[i] for r in self.rows()) for i in range(1, len(header))]
        rows.append(("total", *map(str, total)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [
            " | ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=False))
            )
            for r in rows
        ]
        lines.insert(1, "-|-".join("-" * w for w in widths))
        return "\n".join(lines)


TALLY = CaseTally()


@pytest.fixture(scope="session")
def hostile_cases() -> CaseTally:
    """The session's tally of hostile cases (see the module docstring)."""
    return TALLY


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not TALLY.counts:
        return
    profile = settings.get_current_profile_name()
    terminalreporter.write_sep("=", f"hostile input: cases per parser (hypothesis profile {profile!r})")
    terminalreporter.write_line(TALLY.table())


# --- strategies -----------------------------------------------------------------------------

SQL = (
    "'; DROP TABLE care_requests; --",
    "1' OR '1'='1",
    "Robert'); DELETE FROM elders;--",
    '" OR ""="',
    "1; SELECT pg_sleep(5)",
    "%' UNION SELECT token_hash FROM app_tokens --",
)
MARKUP = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "</textarea><script>x</script>",
    "{{ 7*7 }}",
    "${7*7}",
    "&lt;b&gt;&amp;",
    "]]><!--",
    "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]>",
    "javascript:alert(1)",
)
ODD = (
    "",
    " ",
    "\x00",
    "\x00\x01\x1f\x7f",
    "\u202eevil",
    "\ufeff",
    "\ud7ff",
    "\r\n\r\n",
    "\t" * 50,
    "NaN",
    "Infinity",
    "-0",
    "1e309",
    "9" * 5000,
    "null",
    "true",
    "[]",
    "{}",
    "\\",
    "%00",
    "%s%n%x",
    "ＹＥＳ",
    "１２３４",
    "接　４８２１",
    "👍" * 3,
    "🆘",
    "救命!!!",
    "ज़ ४८२१",
    "١٢٣٤",
    "Ⅳ",
    "⓵",
    "Ω" * 300,
)
#: hand-picked hostile strings: SQL, markup, control and format characters, numbers in disguise,
#: full-width and other-script digits, emoji, right-to-left override
NASTY = SQL + MARKUP + ODD


def hostile_text(max_size: int = 300) -> st.SearchStrategy[str]:
    """Any Unicode (surrogates excepted), the hand-picked ``NASTY`` strings, and mixtures of both."""
    anything = st.text(st.characters(exclude_categories=("Cs",)), max_size=max_size)
    mixed = st.lists(st.one_of(st.sampled_from(NASTY), anything), min_size=1, max_size=4).map("".join)
    return st.one_of(st.sampled_from(NASTY), anything, mixed)


def bogus_phone() -> st.SearchStrategy[str]:
    """Strings that look more or less like phone numbers and mostly are not."""
    digits = st.text("0123456789", min_size=0, max_size=25)
    return st.one_of(
        digits,
        digits.map(lambda d: "+" + d),
        digits.map(lambda d: "00" + d),
        st.sampled_from(
            (
                "+",
                "+0",
                "+86",
                "+861380013800099999",
                "＋８６１３８００１３８０００",
                "tel:+8613800138000",
                "+1 (555) 010-0000 ext. 99",
                "13800138000;ext=1",
                "sip:alice@example.org",
                "client:alice",
                "+86138001380000" * 20,
                "anonymous",
                "Restricted",
                "266696687",
                "+2147483648",
            )
        ),
        hostile_text(40),
    )


# --- intake records -----------------------------------------------------------------------------
#: a valid intake record (``handlers.channels.intake``) to mangle, the edge times to put in it, and the
#: paths a mangling touches

RECORD = {
    "intake_id": "i1",
    "channel": "hotline",
    "elder_id": "e1",
    "service_type": "meal",
    "duration_minutes": 30,
    "submitted_at": "2026-11-30T07:00:00+08:00",
    "priority": "urgent",
    "window": {"start": "2026-11-30T11:00:00+08:00", "end": "2026-11-30T12:00:00+08:00"},
    "sync": {"type": "sequential", "partner_request_id": "i0", "min_gap_minutes": 0, "max_gap_minutes": 30},
}
EDGE_TIMES = (
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59+14:00",
    "2026-02-30T10:00:00+08:00",
    "2026-11-30T24:00:00Z",
    "2026-11-30",
    "1e20",
    "-1",
    "2026-11-30T11:00:00+25:00",
    "2026-11-30T11:00:00.9999999999+08:00",
    "now",
)


def json_values() -> st.SearchStrategy:
    """Any JSON value, nested a little: edge numbers (NaN, infinities, 10**18 and up), hostile text, edge times."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=10**18),
        st.floats(allow_nan=True, allow_infinity=True),
        hostile_text(80),
        st.sampled_from(EDGE_TIMES),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(hostile_text(12), inner, max_size=3)),
        max_leaves=6,
    )


PATHS = [
    ("intake_id",),
    ("channel",),
    ("elder_id",),
    ("service_type",),
    ("duration_minutes",),
    ("submitted_at",),
    ("priority",),
    ("window",),
    ("window", "start"),
    ("window", "end"),
    ("sync",),
    ("sync", "type"),
    ("sync", "partner_request_id"),
    ("sync", "max_gap_minutes"),
    ("request_id",),
    ("window_hard",),
]


@st.composite
def mangled_records(draw) -> dict:
    """The valid ``RECORD`` with fields dropped, replaced by any JSON value or edge time, or added."""
    record = copy.deepcopy(RECORD)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS))
        parent = record
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        action = draw(st.sampled_from(["drop", "replace", "time", "extra"]))
        if action == "drop":
            parent.pop(path[-1], None)
        elif action == "replace":
            parent[path[-1]] = draw(json_values())
        elif action == "time":
            parent[path[-1]] = draw(st.sampled_from(EDGE_TIMES))
        else:
            parent[draw(hostile_text(20))] = draw(json_values())
    return record
