import pytest

from handlers.channels.intake import InvalidIntake, validate_intake
from handlers.model import Elder, SyncType

ELDERS = {"e1": Elder("e1", "gulou", 3)}


def record(**changes):
    base = {
        "intake_id": "i1",
        "channel": "hotline",
        "elder_id": "e1",
        "service_type": "meal",
        "duration_minutes": 30,
        "submitted_at": "2026-11-30T07:00:00+08:00",
        "window": {"start": "2026-11-30T11:00:00+08:00", "end": "2026-11-30T12:00:00+08:00"},
    }
    return {**base, **changes}


def check(raw):
    return validate_intake(raw, ELDERS.get, {"meal", "bathing"})


def test_a_valid_record_becomes_a_request_in_utc_in_the_elders_area():
    r = check(record())
    assert r.request_id == "i1" and r.service_area == "gulou" and r.location_index == 3
    assert r.window_start.isoformat() == "2026-11-30T03:00:00+00:00"


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"window": {"start": "2026-11-30T12:00:00+08:00", "end": "2026-11-30T11:00:00+08:00"}}, "window"),
        ({"window": {"start": "2026-11-30T11:00:00", "end": "2026-11-30T12:00:00+08:00"}}, "window.start"),
        ({"channel": "fax"}, "channel"),
        ({"elder_id": "nobody"}, "elder_id"),
        ({"service_type": "karaoke"}, "service_type"),
        ({"priority": "whenever"}, "priority"),
    ],
)
def test_a_bad_record_is_refused_naming_the_field(changes, field):
    with pytest.raises(InvalidIntake) as err:
        check(record(**changes))
    assert err.value.field == field


def test_a_missing_field_is_named():
    raw = record()
    del raw["elder_id"]
    with pytest.raises(InvalidIntake, match="elder_id"):
        check(raw)


def test_a_synchronised_follower_keeps_its_gap():
    r = check(
        record(
            sync={
                "type": "sequential",
                "partner_request_id": "i0",
                "follower": True,
                "min_gap_minutes": 60,
                "max_gap_minutes": 90,
            }
        )
    )
    assert (r.sync_type, r.sync_partner_id, r.sync_min_gap, r.sync_max_gap) == (SyncType.SEQUENTIAL, "i0", 60, 90)


def test_an_emergency_is_taken_whatever_its_service_type_so_it_reaches_an_operator():
    r = check(record(service_type="emergency", priority="stat"))
    assert r.service_type == "emergency" and r.priority.value == "stat"
