"""The stream worker: the Faust app (``streams.app``, a leaf: the app object and
its topics) with every agent and timer registered. ``careline worker`` runs
``app`` from here; agents import the app, never the reverse."""

from __future__ import annotations

from streams import agents, evaluation, live_kpis, notices, surveys
from streams.app import app

__all__ = ["app", "agents", "evaluation", "live_kpis", "notices", "surveys"]
