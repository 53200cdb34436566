"""Finding the line of a key in a TOML file, so a refused configuration names it."""

from config.files import line_of

TEXT = """version = "1"
[offers]
timeout_seconds = 120   # seconds
parallel = { stat = 3 }

[[ladder.stat]]
step = "best"
[languages.zh.services]
"meal" = "送餐"
"""


def test_a_key_in_a_table_is_found_on_its_own_line():
    assert line_of(TEXT, ("offers", "timeout_seconds")) == 3


def test_a_missing_key_points_at_its_table():
    assert line_of(TEXT, ("offers", "max_offers_per_request")) == 2


def test_array_tables_list_indexes_and_quoted_keys_are_followed():
    assert line_of(TEXT, ("ladder", "stat", 0, "step")) == 7
    assert line_of(TEXT, ("languages", "zh", "services", "meal")) == 9


def test_a_key_nowhere_in_the_file_has_no_line():
    assert line_of(TEXT, ("dispatch",)) is None
