"""Shared pytest fixtures for careline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# tests/conftest.py -> parents[1] is the repo root; the shared data sits beside it.
DEFAULT_SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of real public input data (``../shared/data``), override with CARELINE_SHARED_DATA.

    Fails (does not skip) when the folder is missing: tests on real data must not
    silently disappear from a run.
    """
    override = os.environ.get("CARELINE_SHARED_DATA")
    folder = Path(override) if override else DEFAULT_SHARED_DATA
    if not folder.is_dir():
        source = "CARELINE_SHARED_DATA" if override else "default location beside the repository"
        pytest.fail(
            f"shared data folder not found: {folder} (from {source}). "
            "Check out the shared data next to the repository or set CARELINE_SHARED_DATA.",
            pytrace=False,
        )
    return folder
