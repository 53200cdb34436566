"""Weekly rotas as people write them: parsing, the calendar they give, and the canonical text."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from handlers.register.rota import (
    Absence,
    ExtraShift,
    Rota,
    RotaConflict,
    RotaSyntaxError,
    WeeklyShift,
    format_rota,
    parse,
)

TZ = "Asia/Shanghai"
SH = ZoneInfo(TZ)
MON = date(2026, 12, 7)  # a Monday


def at(day: date, hh: int, mm: int = 0, zone: ZoneInfo = SH) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=zone)


def test_english_and_chinese_spellings_of_the_same_rota_are_equal():
    english = parse("mon-fri 08:00-16:00; sat 09:00-12:00", TZ)
    chinese = parse("周一至周五 08:00-16:00；周六 09:00-12:00", TZ)
    assert english == chinese
    assert english == parse("Monday to Friday 8:00-16:00\nSaturday 9:00~12:00", TZ)
    assert english == parse("星期一到星期五 ０８：００－１６：００；礼拜六 09:00至12:00", TZ)


def test_a_list_of_days_with_the_chinese_enumeration_comma():
    rota = parse("周二、周四 13:00-21:00", TZ)
    assert [w.weekday for w in rota.weekly] == [1, 3]
    assert rota == parse("tue,thu 13:00-21:00", TZ) == parse("tue thu 13:00-21:00", TZ)


def test_every_day_weekdays_and_weekends_are_words_centers_use():
    assert parse("每天 08:00-12:00", TZ) == parse("daily 08:00-12:00", TZ) == parse("mon-sun 08:00-12:00", TZ)
    assert parse("工作日 08:00-12:00", TZ) == parse("weekdays 08:00-12:00", TZ) == parse("周一至五 08:00-12:00", TZ)
    assert parse("周末 09:00-11:00", TZ) == parse("sat-sun 09:00-11:00", TZ)


def test_several_shifts_a_day_are_all_kept():
    rota = parse("mon-fri 08:00-12:00, 14:00-18:00; sat 09:00-12:00", TZ)
    assert [(s.start.hour, s.end.hour) for s in rota.shifts_on(MON)] == [(8, 12), (14, 18)]
    assert rota == parse("周一至周五 08:00-12:00，14:00-18:00；周六 09:00-12:00", TZ)


def test_a_comma_before_the_next_days_starts_a_new_clause():
    assert parse("mon-fri 08:00-16:00, sat 09:00-12:00", TZ) == parse("mon-fri 08:00-16:00; sat 09:00-12:00", TZ)


def test_an_overnight_shift_belongs_to_the_day_it_starts_and_runs_into_the_next():
    rota = parse("mon 22:00-06:00", TZ)
    (shift,) = rota.shifts_on(MON)
    assert shift.start == at(MON, 22) and shift.end == at(MON + timedelta(days=1), 6)
    assert rota.shifts_on(MON + timedelta(days=1)) == ()
    assert rota.on_shift(at(MON + timedelta(days=1), 5, 59))
    assert not rota.on_shift(at(MON + timedelta(days=1), 6, 0))


def test_a_sunday_night_shift_wraps_into_monday_morning():
    rota = parse("sun 22:00-06:00", TZ)
    assert rota.on_shift(at(MON, 3))
    with pytest.raises(RotaSyntaxError, match="overlaps"):
        parse("sun 22:00-06:00; mon 05:00-09:00", TZ)


def test_a_caregiver_on_a_morning_shift_is_not_on_shift_in_the_evening():
    rota = parse("mon-fri 08:00-12:00", TZ)
    assert rota.on_shift(at(MON, 8))
    assert not rota.on_shift(at(MON, 12))
    assert not rota.on_shift(at(MON, 20))
    assert not rota.on_shift(at(MON - timedelta(days=1), 9))  # Sunday


def test_on_shift_compares_instants_across_time_zones():
    rota = parse("mon 08:00-12:00", TZ)
    assert rota.on_shift(datetime(2026, 12, 7, 1, 0, tzinfo=ZoneInfo("UTC")))  # 09:00 in Shanghai
    assert not rota.on_shift(datetime(2026, 12, 7, 5, 0, tzinfo=ZoneInfo("UTC")))  # 13:00


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse("mon 08:00-12:00", TZ).on_shift(datetime(2026, 12, 7, 9))


def test_a_visit_fits_a_shift_only_when_it_ends_by_the_shift_end():
    rota = parse("mon 08:00-12:00, 14:00-18:00", TZ)
    shift = rota.shift_covering(at(MON, 10), at(MON, 11))
    assert shift is not None and shift.start == at(MON, 8)
    assert rota.shift_covering(at(MON, 11, 30), at(MON, 12, 30)) is None  # runs past 12:00
    assert rota.shift_covering(at(MON, 20), at(MON, 21)) is None
    assert rota.shift_covering(at(MON, 11), at(MON, 14, 30)) is None  # spans the lunch gap


def test_a_visit_fits_an_overnight_shift_after_midnight():
    rota = parse("mon 22:00-06:00", TZ)
    tue = MON + timedelta(days=1)
    assert rota.shift_covering(at(tue, 2), at(tue, 3)) is not None
    assert rota.shift_covering(at(tue, 5), at(tue, 7)) is None


def test_a_visit_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError, match="before it starts"):
        parse("mon 08:00-12:00", TZ).shift_covering(at(MON, 10), at(MON, 9))


def test_leave_removes_the_shifts_of_its_days_and_is_reported():
    rota = parse("mon-fri 08:00-16:00; leave 2026-12-08..2026-12-09; sick 2026-12-11", TZ)
    assert rota.shifts_on(date(2026, 12, 8)) == () and rota.shifts_on(date(2026, 12, 9)) == ()
    assert rota.shifts_on(date(2026, 12, 10)) != ()
    assert rota.absence_on(date(2026, 12, 9)) == Absence(date(2026, 12, 8), date(2026, 12, 9), "leave")
    assert rota.absence_on(date(2026, 12, 11)).kind == "sick"
    assert not rota.on_shift(at(date(2026, 12, 11), 9))


def test_chinese_absences_and_dates_are_understood():
    rota = parse("周一至周五 08:00-16:00；请假 2026年12月24日至2026年12月31日；病假 2026/12/03", TZ)
    assert rota.absences == (
        Absence(date(2026, 12, 3), date(2026, 12, 3), "sick"),
        Absence(date(2026, 12, 24), date(2026, 12, 31), "leave"),
    )


def test_an_extra_shift_adds_work_on_a_free_day():
    rota = parse("mon-fri 08:00-16:00; extra 2026-12-12 09:00-12:00", TZ)  # a Saturday
    (shift,) = rota.shifts_on(date(2026, 12, 12))
    assert shift.extra and shift.start == at(date(2026, 12, 12), 9)
    assert parse("周一至周五 08:00-16:00；加班 2026-12-12 09:00-12:00", TZ) == rota


def test_an_extra_shift_on_a_day_of_leave_or_over_a_weekly_shift_is_an_error():
    with pytest.raises(RotaSyntaxError, match="day of absence") as err:
        parse("leave 2026-12-12; extra 2026-12-12 09:00-12:00", TZ)
    assert err.value.column == 19
    with pytest.raises(RotaSyntaxError, match="overlaps mon 08:00-16:00"):
        parse("mon-fri 08:00-16:00; extra 2026-12-07 15:00-17:00", TZ)


def test_next_shift_skips_the_rest_of_the_day_and_days_of_leave():
    rota = parse("mon-fri 08:00-16:00; leave 2026-12-08..2026-12-10", TZ)
    nxt = rota.next_shift_after(at(MON, 9))
    assert nxt.start == at(date(2026, 12, 11), 8)
    assert rota.next_shift_after(at(MON, 8)).start == at(MON, 8)


def test_next_shift_after_a_long_leave_is_found():
    rota = parse("mon 08:00-16:00; leave 2026-12-01..2027-03-31", TZ)
    assert rota.next_shift_after(at(MON, 9)).start == at(date(2027, 4, 5), 8)


def test_an_empty_rota_is_never_on_shift():
    rota = parse("  ", TZ)
    assert rota == Rota(TZ)
    assert rota.next_shift_after(at(MON, 9)) is None and not rota.on_shift(at(MON, 9))


def test_shifts_keep_wall_clock_times_on_a_daylight_saving_day():
    ny = ZoneInfo("America/New_York")
    rota = parse("sun 00:00-08:00", "America/New_York")
    (shift,) = rota.shifts_on(date(2026, 3, 8))  # clocks go forward at 02:00
    assert shift.end == datetime(2026, 3, 8, 8, tzinfo=ny)
    assert shift.end - shift.start == timedelta(hours=8)  # wall clock
    assert (shift.end.timestamp() - shift.start.timestamp()) / 3600 == 7  # one hour fewer worked


@pytest.mark.parametrize(
    ("text", "column", "expected"),
    [
        ("mon-fri 8-16", 9, "a shift like 08:00-16:00"),
        ("周一至周五 8点-16点", 7, "a shift like 08:00-16:00"),
        ("fri 08:00-16:00 sat", 17, "';' between clauses"),
        ("mon 25:00-26:00", 5, "a time like 08:00 (hours 00-24, minutes 00-59)"),
        ("mon 08:00-", 11, "an end time like 16:00"),
        ("holidays 08:00-12:00", 1, "a day (mon..sun"),
        ("leave 2026-02-30", 7, "a date like 2026-12-24 (day is out of range for month)"),
        ("leave 12月24日", 7, "a date like 2026-12-24"),
        ("leave 2026-12-31..2026-12-01", 19, "a last day not before 2026-12-31"),
        ("mon 08:00-08:00", 11, "an end time different from the start"),
        ("mon 24:00-08:00", 5, "a start time before 24:00"),
    ],
)
def test_an_error_names_the_column_and_what_was_expected(text, column, expected):
    with pytest.raises(RotaSyntaxError) as err:
        parse(text, TZ)
    assert err.value.column == column
    assert err.value.expected.startswith(expected)
    assert str(err.value).startswith(f"column {column}: ")


def test_the_column_counts_characters_of_the_original_text():
    with pytest.raises(RotaSyntaxError) as err:
        parse("周一至周五 ０８：００－１６：００；周六 9点", TZ)  # full-width, as typed on a Chinese keyboard
    assert err.value.column == 22 and "9点" in str(err.value)


def test_overlapping_shifts_are_an_error_at_the_later_clause():
    with pytest.raises(RotaSyntaxError) as err:
        parse("mon 08:00-12:00; mon 10:00-14:00", TZ)
    assert err.value.column == 18 and "mon 08:00-12:00 overlaps mon 10:00-14:00" in str(err.value)


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(ValueError, match="unknown time zone"):
        parse("mon 08:00-12:00", "Mars/Olympus")


def test_a_rota_built_from_values_is_checked_too():
    with pytest.raises(RotaConflict):
        Rota(TZ, weekly=(WeeklyShift(0, 480, 240), WeeklyShift(0, 600, 60)))
    with pytest.raises(RotaConflict):
        WeeklyShift(7, 0, 60)


def test_the_canonical_text_groups_days_with_the_same_shifts():
    rota = parse("tue 08:00-16:00; mon 08:00-16:00; wed-fri 08:00-16:00; sat 09:00-12:00; sun 09:00-12:00", TZ)
    assert format_rota(rota) == "mon-fri 08:00-16:00; sat-sun 09:00-12:00"
    assert format_rota(rota, "zh") == "周一至周五 08:00-16:00；周六至周日 09:00-12:00"
    assert format_rota(parse("mon 16:00-00:00", TZ)) == "mon 16:00-24:00"
    assert str(parse("周二、周四 13:00-21:00", TZ)) == "tue,thu 13:00-21:00"


# --- properties -------------------------------------------------------------------------

_minutes = st.integers(0, 1439)
_durations = st.integers(1, 1440)
_days = st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31))


@st.composite
def rotas(draw) -> Rota:
    weekly = draw(st.lists(st.builds(WeeklyShift, st.integers(0, 6), _minutes, st.integers(15, 720)), max_size=6))
    absences = draw(
        st.lists(
            st.builds(
                lambda d, n, k: Absence(d, d + timedelta(days=n), k),
                _days,
                st.integers(0, 20),
                st.sampled_from(["leave", "sick"]),
            ),
            max_size=3,
        )
    )
    extras = draw(st.lists(st.builds(ExtraShift, _days, _minutes, st.integers(15, 720)), max_size=3))
    tz = draw(st.sampled_from(["Asia/Shanghai", "America/New_York", "Europe/London"]))
    try:
        return Rota(tz, tuple(weekly), tuple(absences), tuple(extras))
    except RotaConflict:
        assume(False)
        raise


@given(rotas(), st.sampled_from(["en", "zh"]))
def test_the_canonical_text_reads_back_as_the_same_rota(rota, language):
    assert parse(format_rota(rota, language), rota.tz) == rota


@given(rotas(), st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)))
def test_on_shift_agrees_with_the_shifts_of_that_day_and_the_day_before(rota, naive):
    t = naive.replace(tzinfo=ZoneInfo("UTC"))
    local_day = t.astimezone(rota.zone).date()
    shifts = rota.shifts_on(local_day) + rota.shifts_on(local_day - timedelta(days=1))
    assert rota.on_shift(t) == any(s.start <= t < s.end for s in shifts)


@given(rotas(), st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)), st.integers(1, 240))
def test_a_covering_shift_holds_the_whole_visit(rota, naive, minutes):
    start = naive.replace(tzinfo=ZoneInfo("UTC"))
    end = start + timedelta(minutes=minutes)
    shift = rota.shift_covering(start, end)
    day = start.astimezone(rota.zone).date()
    holding_start = [s for s in rota.shifts_on(day) + rota.shifts_on(day - timedelta(days=1)) if s.contains(start)]
    if shift is not None:
        assert shift.start <= start and end <= shift.end
    else:
        assert all(s.end < end for s in holding_start)  # no shift, or the one running ends too early


@given(rotas(), st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)))
def test_no_shift_starts_between_a_time_and_the_next_shift_after_it(rota, naive):
    t = naive.replace(tzinfo=ZoneInfo("UTC"))
    nxt = rota.next_shift_after(t)
    day = t.astimezone(rota.zone).date() - timedelta(days=1)
    starts = [s.start for k in range(9) for s in rota.shifts_on(day + timedelta(days=k)) if s.start >= t]
    if nxt is None:
        assert not rota.weekly and not starts
    else:
        assert nxt.start >= t
        assert all(s >= nxt.start for s in starts)
