"""The stall watchdog's decision: records waiting and no committed offset moving."""

from streams.watchdog import StallWatch

A, B = ("care.requests.v1", 0), ("care.requests.v1", 1)


def test_a_worker_that_keeps_committing_or_has_nothing_to_do_is_not_stalled():
    watch = StallWatch()
    assert watch.observe({A: 10, B: 5}, {A: 20, B: 5}, 0.0) is None  # first reading
    assert watch.observe({A: 15, B: 5}, {A: 30, B: 5}, 15.0) is None  # moved
    assert watch.observe({A: 30, B: 5}, {A: 30, B: 5}, 30.0) is None  # caught up
    assert watch.observe({A: 30, B: 5}, {A: 30, B: 5}, 300.0) is None  # idle: nothing waits


def test_records_waiting_while_no_offset_moves_count_up_from_the_last_reading_that_moved():
    watch = StallWatch()
    assert watch.observe({A: 10, B: 5}, {A: 20, B: 5}, 0.0) is None
    assert watch.observe({A: 10, B: 5}, {A: 25, B: 5}, 15.0) == 15.0
    assert watch.observe({A: 10, B: 5}, {A: 40, B: 9}, 120.0) == 120.0
    assert StallWatch.waiting({A: 10, B: 5}, {A: 40, B: 9}) == 34
    assert watch.observe({A: 11, B: 5}, {A: 40, B: 9}, 150.0) is None  # one commit: alive again
    assert watch.observe({A: 11, B: 5}, {A: 40, B: 9}, 165.0) == 15.0


def test_a_partition_never_committed_counts_from_offset_zero():
    watch = StallWatch()
    watch.observe({A: None}, {A: 3}, 0.0)
    assert watch.observe({A: None}, {A: 3}, 60.0) == 60.0
    assert StallWatch.waiting({}, {A: 3}) == 3


def test_a_worker_holding_no_partition_watches_all_of_the_group_so_a_hung_join_is_seen():
    from streams.watchdog import watched

    topics = ("care.intake.v1", "care.requests.v1")
    assert watched([("care.requests.v1", 1), ("kpi.tallies.v1", 0)], topics, 3) == ([("care.requests.v1", 1)], True)
    everything, holds = watched([], topics, 2)
    assert not holds and everything == [
        ("care.intake.v1", 0),
        ("care.intake.v1", 1),
        ("care.requests.v1", 0),
        ("care.requests.v1", 1),
    ]
    watch = StallWatch()  # nobody commits while records wait: a stall like any other
    watch.observe({p: 0 for p in everything}, {p: 4 for p in everything}, 0.0)
    assert watch.observe({p: 0 for p in everything}, {p: 4 for p in everything}, 120.0) == 120.0
