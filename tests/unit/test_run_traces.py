"""``db.runs.request_traces``: what a benchmark prints for a request it saw no decision for."""

from __future__ import annotations

from db import runs
from db.session import session_factory
from tests.unit.dashboard_seed import seed


def test_a_trace_says_how_far_each_request_came(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    seed(url)
    with session_factory(url)() as session:
        traces = runs.request_traces(session, ["R-1001", "R-1004", "R-9999"])
    offered, escalated, unknown = traces["R-1001"], traces["R-1004"], traces["R-9999"]
    assert "status" in offered and "dispatch.offer.created (unsent)" in offered
    assert "status failed (no eligible caregiver)" in escalated
    assert unknown == "no intake claim; not in the outbox; no dispatch claim; not stored; events: none"


def test_the_database_names_each_request_s_first_decision(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    seed(url)
    with session_factory(url)() as session:
        decided = runs.decisions_of(session, ["R-1001", "R-1004", "R-9999"])
    assert decided == {"R-1001": "offer", "R-1004": "failed"}


def test_the_bench_counts_a_decision_the_broker_did_not_deliver_as_seen_in_the_database_only(tmp_path):
    import asyncio

    from tools.bench.stack import Watcher

    url = f"sqlite:///{tmp_path / 'c.db'}"
    seed(url)
    watcher = Watcher("127.0.0.1:1", 1)  # never started: nothing arrives on the topics
    for rid in ("R-1001", "R-1004", "R-9999"):
        watcher.sent[rid] = 0.0
    found = asyncio.run(watcher.reconcile(url, list(watcher.sent)))
    assert sorted(found) == ["R-1001", "R-1004"] and watcher.database_only == {"R-1001", "R-1004"}
    assert {rid: kind for rid, (kind, _) in watcher.decided.items()} == {"R-1001": "offer", "R-1004": "failed"}
