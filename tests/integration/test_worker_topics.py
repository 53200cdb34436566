"""A worker on a broker without one of careline's topics refuses to start, naming it: a record for
a missing topic holds the outbox relay (aiokafka waits for the topic's metadata, up to 20 minutes
by default) and with it every area's offers and notices. An upgrade that adds a topic
(``dispatch.rounds.v1``, 2026-12-07) meets this on a cluster whose topics are made by hand."""

from __future__ import annotations

import sys
import types

import pytest
from typer.testing import CliRunner

from careline.brokers import missing_topics
from careline.cli import app
from config import topics
from config.settings import get_settings

pytestmark = pytest.mark.integration


def test_the_broker_reports_which_topics_it_lacks(pipeline):
    assert missing_topics(pipeline.bootstrap, [t.name for t in topics.ALL]) == set()
    assert missing_topics(pipeline.bootstrap, [topics.INTAKE.name, "dispatch.nowhere.v1"]) == {"dispatch.nowhere.v1"}
    assert missing_topics("127.0.0.1:1", [topics.INTAKE.name], timeout_s=1) is None  # nobody answers: unknown


def test_a_worker_refuses_to_start_without_a_topic_and_names_it(pipeline, monkeypatch):
    never = types.ModuleType("streams.worker")
    never.app = types.SimpleNamespace(main=lambda: pytest.fail("the worker started without its topic"))
    monkeypatch.setitem(sys.modules, "streams.worker", never)
    monkeypatch.setattr("streams.runtime._runtime", None)  # the runtime the command installs goes after
    monkeypatch.setattr(topics, "ALL", (*topics.ALL, topics.TopicSpec("dispatch.nowhere.v1", "area", "test")))
    monkeypatch.setenv("CARELINE_BROKER", pipeline.bootstrap)
    monkeypatch.setenv("CARELINE_DATABASE_URL", pipeline.database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["worker"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 78, result.output
    assert "dispatch.nowhere.v1" in result.output and "careline topics" in result.output
