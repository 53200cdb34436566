"""The stall watchdog's decision: records waiting and no committed offset moving."""
from streams.watchdog import StallWatch

A, B = ("care.requests.v1", 0), ("care.requests.v1", 1)


def test_a_worker_that_keeps_committing_or_has_nothing_to_do_is_not_stalled():
    watch = StallWatch()
    assert watch.observe({A: 10, B: 5}, {A: 20, B: 5}, 0.0) is None    # first reading
    assert watch.observe({A: 15, B: 5}, {A: 30, B: 5}, 15.0) is None   # moved
    assert watch.observe({A: 30, B: 5}, {A: 30, B: 5}, 30.0) is None   # caught up
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
