import pytest

from config.policy import DEFAULT_PATH, PolicyError, load_policy


def test_the_shipped_policy_loads_with_its_version_ladder_and_hierarchy():
    policy = load_policy()
    assert policy.version and policy.offer_timeout_seconds == 120
    assert [s.step for s in policy.steps_for("stat")] == ["best", "emergency_services"]
    assert policy.covers("nurse", "companionship") and not policy.covers("personal_care", "medical_escort")
    assert policy.parallel_for("stat") == 3 and policy.parallel_for("routine") == 1


def test_a_bad_value_is_refused_naming_the_key(tmp_path):
    bad = tmp_path / "policy.toml"
    bad.write_text(DEFAULT_PATH.read_text().replace("timeout_seconds = 120", "timeout_seconds = -1"))
    with pytest.raises(PolicyError, match=r"offers\.timeout_seconds"):
        load_policy(bad)


def test_an_unknown_priority_in_the_ladder_is_refused(tmp_path):
    bad = tmp_path / "policy.toml"
    bad.write_text(DEFAULT_PATH.read_text() + '\n[[ladder.whenever]]\nstep = "best"\ndeadline_seconds = 5\n')
    with pytest.raises(PolicyError, match="whenever"):
        load_policy(bad)


def test_a_bad_value_is_refused_naming_the_line_that_sets_it(tmp_path):
    bad = tmp_path / "policy.toml"
    text = DEFAULT_PATH.read_text().replace("timeout_seconds = 120", "timeout_seconds = -1")
    bad.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.startswith("timeout_seconds = -1"))
    with pytest.raises(PolicyError) as refused:
        load_policy(bad)
    assert (refused.value.line, refused.value.field) == (line, "offers.timeout_seconds")
    assert str(refused.value).startswith(f"policy.toml:{line}: offers.timeout_seconds: ")


def test_a_file_that_is_not_toml_is_refused_naming_its_line(tmp_path):
    bad = tmp_path / "policy.toml"
    bad.write_text('version = "x"\n[scoring\ntravel_weight = 1\n')
    with pytest.raises(PolicyError, match=r"^policy\.toml:2: not valid TOML"):
        load_policy(bad)


def test_a_worker_with_a_broken_policy_file_refuses_to_start_naming_file_line_and_key(tmp_path):
    """``careline worker`` checks every configuration file before it consumes a record
    (it used to start and dead-letter every dispatch event)."""
    import os
    import subprocess
    import sys

    bad = tmp_path / "policy.toml"
    bad.write_text(DEFAULT_PATH.read_text().replace("timeout_seconds = 120", "timeout_seconds = 0"))
    line = next(n for n, row in enumerate(bad.read_text().splitlines(), 1) if row.startswith("timeout_seconds = 0"))
    env = dict(
        os.environ,
        CARELINE_POLICY_FILE=str(bad),
        CARELINE_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
        CARELINE_BROKER="127.0.0.1:1",
    )
    done = subprocess.run(
        [sys.executable, "-m", "careline.cli", "worker"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert f"policy.toml:{line}: offers.timeout_seconds: " in done.stdout + done.stderr


def test_a_round_lead_shorter_than_the_wait_for_the_last_rounds_answer_is_refused(tmp_path):
    """The last round's answer may come half a round after it closes (``rounds.answer_wait``): a
    visit starting sooner could begin before its elder is told her window (found by a review)."""
    bad = tmp_path / "policy.toml"
    text = DEFAULT_PATH.read_text().replace("round_lead_minutes = 60.0", "round_lead_minutes = 5.0")
    bad.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.startswith("round_lead_minutes = 5.0"))
    with pytest.raises(PolicyError, match="shorter than the wait for the last round's answer") as refused:
        load_policy(bad)
    assert (refused.value.line, refused.value.field) == (line, "planned.round_lead_minutes")
    bad.write_text(text.replace("round_lead_minutes = 5.0", "round_lead_minutes = 9.0"))  # 18 min rounds: 9 min
    assert load_policy(bad).confirm_lead_minutes == 9.0
