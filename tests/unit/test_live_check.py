"""The fault table's live-KPI note: a subject whose live counts fall below its records is
named with the counts that differ, so a failed run says what was lost or counted twice."""

from tools.faults.live_check import Comparison


def test_summary_names_the_counts_a_lost_subject_misses_and_the_unread_records():
    c = Comparison(
        stored={"caregiver:c4": {}, "caregiver:c5": {}},
        equal=["caregiver:c5"],
        lost=["caregiver:c4"],
        gaps={"caregiver:c4": {"visits": (3, 4), "ratings": (1, 2)}},
        unread=7,
    )
    line = c.summary()
    assert line.startswith("live KPIs: 1 of 2 subjects equal the stored records, 1 with a count below them")
    assert "caregiver:c4: visits 3 live / 4 stored, ratings 1 live / 2 stored" in line
    assert line.endswith("; 7 records unread by the worker")
    assert not c.all_equal


def test_a_doubled_subject_is_counted_but_not_spelled_out():
    c = Comparison(stored={"provider:p1": {}}, doubled=["provider:p1"], gaps={"provider:p1": {"offers": (5, 4)}})
    assert c.summary() == (
        "live KPIs: 0 of 1 subjects equal the stored records, 0 with a count below them, 1 above, 0 other"
    )


def test_each_lost_subject_is_one_violation_naming_its_counts():
    c = Comparison(stored={"caregiver:c4": {}}, lost=["caregiver:c4"], gaps={"caregiver:c4": {"ratings": (1, 2)}})
    assert c.violations() == [
        "live KPIs of caregiver:c4 count fewer events than its records (ratings 1 live / 2 stored)"
    ]


def test_a_subject_counting_an_event_twice_or_with_another_rate_is_a_violation_too():
    c = Comparison(
        stored={"provider:p1": {}, "caregiver:c4": {}},
        doubled=["provider:p1"],
        differ=["caregiver:c4"],
        gaps={"provider:p1": {"offers": (5, 4)}},
    )
    assert c.violations() == [
        "live KPIs of provider:p1 count events twice (offers 5 live / 4 stored)",
        "live KPIs of caregiver:c4 differ from its records in a rate",
    ]
