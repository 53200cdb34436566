"""A newcomer's first read: the README's opening lines say how to watch careline work, with a
command that exists."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readmes_first_lines_tell_a_newcomer_to_run_the_live_demo_and_the_command_has_that_option():
    from careline.cli import app

    opening = "\n".join(README.read_text(encoding="utf-8").splitlines()[:6])
    assert "careline demo --live" in opening and "login" in opening
    help_text = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "200"}).output
    assert "--live" in help_text and "--port" in help_text
