"""``db.register.load_day`` leaves rows that exist as they are: loading a day again (the replay
driver does, after the fault lab gave the caregivers phones) must not blank what was added."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from db import runs
from db.channels import caregiver_by_phone
from db.migrate import upgrade
from db.register import load_day
from db.session import session_factory
from handlers.datasets.day import build_day
from handlers.datasets.uhhc import load_instance


def test_loading_a_day_again_keeps_the_phone_a_caregiver_was_given(tmp_path, shared_data: Path):
    url = f"sqlite:///{tmp_path / 'day.db'}"
    upgrade(url)
    factory = session_factory(url)
    instance = load_instance((shared_data / "uhhc" / "instances" / "bazirha-E2.json").read_bytes())
    day = build_day(instance, datetime(2026, 12, 7, 7, tzinfo=UTC), 60.0, "again")
    load_day(factory, day, instance)
    first = day.caregivers[0].caregiver_id
    with factory() as session:
        runs.set_caregiver_phone(session, first, "+8613912345678", "zh")
        session.commit()
    load_day(factory, day, instance)
    with factory() as session:
        found = caregiver_by_phone(session, "+8613912345678")
    assert found is not None and found.caregiver_id == first
