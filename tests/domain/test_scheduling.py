"""Delays and send windows: parse_delay, validate_window, next_opening and time zones."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st
from zoneinfo import ZoneInfo

from app.domain.errors import ValidationError
from app.domain.campaigns.scheduling import (DAYS, MAX_DELAY, due_at, format_delay, next_opening, parse_delay,
                                   validate_window, zone)

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
OFFICE = {"start": "08:00", "end": "17:00", "days": WEEKDAYS}
EVERY_DAY = list(DAYS)
FAST = settings(max_examples=150, deadline=None)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- delays -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, seconds", [
    ("45s", 45), ("10m", 600), ("2h", 7200), ("3d", 259200), ("1w", 604800), ("1d12h", 129600),
    ("0s", 0), ("2H", 7200), (" 1d 12h ", 129600), ("366d", MAX_DELAY), (0, 0), (90, 90), (MAX_DELAY, MAX_DELAY),
])
def test_parse_delay_reads_durations_and_seconds(text, seconds):
    """Durations in s/m/h/d/w (combined or not) and plain integers become seconds."""
    assert parse_delay(text) == seconds


@pytest.mark.parametrize("bad", ["3x", "", "   ", "-1d", "400d", True, False, -5, MAX_DELAY + 1, "1.5d", "d", "3 days",
                                 1.5, None, "1d-2h", "1" * 5000 + "s"])
def test_parse_delay_refuses_nonsense_naming_the_delay_field(bad):
    """Unknown units, empty text, negatives, more than 366 days and booleans are refused as 'delay'."""
    with pytest.raises(ValidationError) as err:
        parse_delay(bad)
    assert err.value.field == "delay"


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (45, "45s"), (600, "10m"), (7200, "2h"), (259200, "3d"),
                                           (604800, "1w"), (129600, "36h"), (90, "90s")])
def test_format_delay_uses_the_largest_whole_unit(seconds, text):
    """format_delay writes the shortest exact form an author would write."""
    assert format_delay(seconds) == text


@FAST
@given(st.integers(0, MAX_DELAY))
def test_format_then_parse_round_trips_seconds(seconds):
    """Any allowed number of seconds survives format_delay → parse_delay."""
    assert parse_delay(format_delay(seconds)) == seconds


@FAST
@given(st.lists(st.tuples(st.integers(0, 60), st.sampled_from("smhdwSMHDW")), min_size=1, max_size=4))
def test_parsed_compound_delays_round_trip_through_format(parts):
    """format_delay(parse_delay(x)) names the same number of seconds as x."""
    text = "".join(f"{n}{u}" for n, u in parts)
    expected = sum(n * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[u.lower()] for n, u in parts)
    if expected > MAX_DELAY:
        with pytest.raises(ValidationError):
            parse_delay(text)
        return
    assert parse_delay(text) == expected
    assert parse_delay(format_delay(parse_delay(text))) == expected


@FAST
@given(st.one_of(st.text(max_size=30), st.text(alphabet="0123456789smhdw -+.", max_size=30), st.integers(),
                 st.floats(), st.none(), st.booleans()))
def test_parse_delay_only_ever_raises_validation_errors(value):
    """Whatever an author writes, parse_delay answers with seconds in range or a ValidationError."""
    try:
        seconds = parse_delay(value)
    except ValidationError as err:
        assert err.field == "delay"
    else:
        assert 0 <= seconds <= MAX_DELAY


# --- windows ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("window, field", [
    ({"start": "9am", "end": "17:00"}, "send_window.start"),
    ({"start": "25:00", "end": "26:00"}, "send_window.start"),
    ({"start": "09:60", "end": "17:00"}, "send_window.start"),
    ({"start": "09:00", "end": "24:30"}, "send_window.end"),
    ({"start": "09:00", "end": "5pm"}, "send_window.end"),
    ({"start": "17:00", "end": "09:00"}, "send_window"),
    ({"start": "09:00", "end": "09:00"}, "send_window"),
    ({"start": "09:00", "end": "17:00", "days": []}, "send_window.days"),
    ({"start": "09:00", "end": "17:00", "days": ["mon", "funday"]}, "send_window.days"),
    ({"start": "09:00", "end": "17:00", "days": "mon"}, "send_window.days"),
])
def test_validate_window_names_the_bad_part(window, field):
    """Bad times, an empty or inverted window and unknown days are refused, naming what is wrong."""
    with pytest.raises(ValidationError) as err:
        validate_window(window)
    assert err.value.field == field


def test_validate_window_normalises_days_and_defaults():
    """Day names are shortened to mon…sun; missing parts default to the whole day, every day."""
    assert validate_window({"start": "08:00", "end": "17:00", "days": ["Monday", "TUE"]}) == {
        "start": "08:00", "end": "17:00", "days": ["mon", "tue"]}
    assert validate_window({"start": "9:30"}) == {"start": "9:30", "end": "24:00", "days": list(DAYS)}
    assert validate_window(None) == {} and validate_window({}) == {}


# --- next_opening: examples -------------------------------------------------------------------------

def test_no_window_sends_at_once():
    """Without a send window the moment itself is the opening."""
    moment = utc(2026, 1, 4, 3, 17)
    assert next_opening(moment, None, NEW_YORK) == moment
    assert next_opening(moment, {}, NEW_YORK) == moment


def test_inside_the_window_sends_at_once():
    """A moment inside office hours is returned unchanged."""
    moment = utc(2026, 1, 6, 15, 0)  # Tuesday 10:00 in New York
    assert next_opening(moment, OFFICE, NEW_YORK) is moment


def test_saturday_waits_for_monday_morning_in_the_contacts_zone():
    """A step due on Saturday goes out at 08:00 Monday, New York time."""
    assert next_opening(utc(2026, 1, 10, 12, 0), OFFICE, NEW_YORK) == utc(2026, 1, 12, 13, 0)


def test_after_close_waits_for_next_morning():
    """A step due after 17:00 goes out at 08:00 the next working day."""
    assert next_opening(utc(2026, 1, 6, 22, 30), OFFICE, NEW_YORK) == utc(2026, 1, 7, 13, 0)
    assert next_opening(utc(2026, 1, 9, 22, 30), OFFICE, NEW_YORK) == utc(2026, 1, 12, 13, 0)


def test_end_of_window_is_exclusive_and_24_00_means_midnight():
    """17:00 is already closed; an end of 24:00 keeps the window open until midnight."""
    assert next_opening(utc(2026, 1, 6, 22, 0), OFFICE, NEW_YORK) == utc(2026, 1, 7, 13, 0)
    late = {"start": "20:00", "end": "24:00", "days": ["tue"]}
    moment = utc(2026, 1, 7, 4, 59)  # Tuesday 23:59 in New York
    assert next_opening(moment, late, NEW_YORK) == moment


def test_window_read_in_a_half_hour_zone():
    """Windows follow zones with fractional offsets such as Asia/Kolkata (UTC+5:30)."""
    assert next_opening(utc(2026, 1, 6, 0, 0), OFFICE, ZoneInfo("Asia/Kolkata")) == utc(2026, 1, 6, 2, 30)


def test_a_single_day_window_can_be_a_week_away():
    """Just after a Monday-only window closes, the next opening is the following Monday."""
    window = {"start": "09:00", "end": "10:00", "days": ["mon"]}
    assert next_opening(utc(2026, 1, 5, 10, 0), window, UTC) == utc(2026, 1, 12, 9, 0)


def test_due_at_adds_the_delay_then_waits_for_the_window():
    """due_at is the first opening after the delay has passed."""
    friday_evening = utc(2026, 1, 9, 20, 0)
    assert due_at(friday_evening, 3600, OFFICE, UTC) == utc(2026, 1, 12, 8, 0)
    assert due_at(friday_evening, 3600, None, UTC) == utc(2026, 1, 9, 21, 0)


# --- next_opening: daylight saving ------------------------------------------------------------------

def test_spring_forward_morning_opens_at_local_eight_new_york():
    """On the Sunday clocks go forward, 08:00 New York is 12:00 UTC, not 13:00."""
    every_day = {"start": "08:00", "end": "17:00", "days": EVERY_DAY}
    assert next_opening(utc(2024, 3, 10, 3, 0), every_day, NEW_YORK) == utc(2024, 3, 10, 12, 0)
    assert next_opening(utc(2024, 3, 9, 23, 0), OFFICE, NEW_YORK) == utc(2024, 3, 11, 12, 0)


def test_fall_back_morning_opens_at_local_eight_berlin():
    """After clocks go back in Berlin, 08:00 local is 07:00 UTC again."""
    every_day = {"start": "08:00", "end": "17:00", "days": EVERY_DAY}
    assert next_opening(utc(2024, 10, 26, 20, 0), every_day, BERLIN) == utc(2024, 10, 27, 7, 0)
    assert next_opening(utc(2024, 3, 30, 20, 0), every_day, BERLIN) == utc(2024, 3, 31, 6, 0)


def test_window_starting_in_the_skipped_hour_opens_when_clocks_jump():
    """A window starting at 02:30 on the night 02:00–03:00 is skipped opens at 03:00, the first local time past 02:30."""
    night = {"start": "02:30", "end": "04:00", "days": EVERY_DAY}
    assert next_opening(utc(2024, 3, 10, 6, 0), night, NEW_YORK) == utc(2024, 3, 10, 7, 0)
    assert next_opening(utc(2024, 3, 31, 0, 30), night, BERLIN) == utc(2024, 3, 31, 1, 0)


def test_repeated_hour_never_returns_a_time_before_the_moment():
    """In the hour that happens twice, a moment in the second pass waits for the second 01:30, not the first."""
    night = {"start": "01:30", "end": "05:00", "days": EVERY_DAY}
    moment = utc(2024, 11, 3, 6, 10)  # 01:10 EST, the second 01:10 in New York
    assert next_opening(moment, night, NEW_YORK) == utc(2024, 11, 3, 6, 30)
    moment = utc(2024, 10, 27, 1, 10)  # 02:10 CET, the second 02:10 in Berlin
    assert next_opening(moment, {"start": "02:30", "end": "05:00", "days": EVERY_DAY}, BERLIN) == utc(2024, 10, 27, 1, 30)


def test_clocks_going_back_into_the_window_reopen_it():
    """When clocks fall back from 02:00 to 01:00, a window ending at 01:30 is open again at once."""
    early = {"start": "00:00", "end": "01:30", "days": EVERY_DAY}
    assert next_opening(utc(2024, 11, 3, 5, 45), early, NEW_YORK) == utc(2024, 11, 3, 6, 0)


# --- next_opening: properties -----------------------------------------------------------------------

ZONES = [UTC, NEW_YORK, BERLIN, ZoneInfo("Asia/Kolkata"), ZoneInfo("Australia/Lord_Howe"),
         ZoneInfo("America/Santiago"), ZoneInfo("Pacific/Chatham")]
TRANSITIONS = [utc(2024, 3, 10, 7), utc(2024, 11, 3, 6), utc(2024, 3, 31, 1), utc(2024, 10, 27, 1),
               utc(2025, 4, 5, 15), utc(2024, 9, 8, 4), utc(2025, 4, 6, 3)]


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def windows(draw):
    start = draw(st.integers(0, 24 * 60 - 1))
    end = draw(st.integers(start + 1, 24 * 60))
    days = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True))
    return validate_window({"start": _clock(start), "end": _clock(end), "days": days})


moments = st.one_of(
    st.datetimes(datetime(2020, 1, 1), datetime(2030, 12, 31), timezones=st.just(UTC)),
    st.builds(lambda t, s: t + timedelta(seconds=s), st.sampled_from(TRANSITIONS), st.integers(-3 * 86400, 3 * 86400)),
)


def inside(instant: datetime, window, tz) -> bool:
    local = instant.astimezone(tz)
    start = time.fromisoformat(window["start"].zfill(5))
    end = time.max if window["end"] == "24:00" else time.fromisoformat(window["end"].zfill(5))
    return DAYS[local.weekday()] in window["days"] and start <= local.time() < end


@settings(max_examples=200, deadline=None)
@given(moments, windows(), st.sampled_from(ZONES))
def test_next_opening_is_the_earliest_time_inside_the_window(moment, window, tz):
    """The opening is ≥ the moment, inside the window in the contact's zone, the moment itself when already inside,
    and no earlier instant (sampled every 5 minutes and just before) is inside."""
    opening = next_opening(moment, window, tz)
    assert opening >= moment
    assert opening - moment <= timedelta(days=8)
    assert inside(opening, window, tz)
    if inside(moment, window, tz):
        assert opening == moment
    else:
        assert not inside(opening - timedelta(seconds=1), window, tz) or opening - timedelta(seconds=1) < moment
        probe = moment
        while probe < opening:
            assert not inside(probe, window, tz), probe
            probe += timedelta(minutes=5)


# --- zones ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, fallback, expected", [
    ("Europe/Berlin", "UTC", "Europe/Berlin"),
    ("Mars/Base", "America/New_York", "America/New_York"),
    (None, "Europe/Berlin", "Europe/Berlin"),
    ("", "Europe/Berlin", "Europe/Berlin"),
    ("Mars/Base", "Also/Bad", "UTC"),
    ("America", "Europe/Berlin", "Europe/Berlin"),
    ("../../etc/passwd", "UTC", "UTC"),
])
def test_zone_falls_back_for_bad_names(name, fallback, expected):
    """An unknown or malformed zone name falls back to the campaign's zone, then UTC."""
    assert zone(name, fallback) == ZoneInfo(expected)


@st.composite
def night_windows(draw):
    start = draw(st.integers(0, 4 * 60))
    end = draw(st.integers(start + 1, 6 * 60))
    return validate_window({"start": _clock(start), "end": _clock(end), "days": list(DAYS)})


@settings(max_examples=200, deadline=None)
@given(st.builds(lambda t, s: t + timedelta(seconds=s), st.sampled_from(TRANSITIONS[:4]), st.integers(-4 * 3600, 4 * 3600)),
       night_windows(), st.sampled_from([NEW_YORK, BERLIN]))
def test_next_opening_is_earliest_around_daylight_saving_nights(moment, window, tz):
    """Around the nights clocks change, with windows in the small hours, the opening is ≥ the moment, inside,
    and no minute between the moment and the opening is inside."""
    opening = next_opening(moment, window, tz)
    assert opening >= moment and inside(opening, window, tz)
    if inside(moment, window, tz):
        assert opening == moment
    probe = moment
    while probe < opening:
        assert not inside(probe, window, tz), probe
        probe += timedelta(minutes=1)


def test_holidays_push_the_opening_to_the_next_working_day():
    """A step due on Christmas Eve evening waits past the listed holidays to the next open weekday."""
    from datetime import datetime, timezone

    from app.domain.campaigns.scheduling import next_opening, validate_window, zone

    window = validate_window({"start": "09:00", "end": "17:00", "days": ["mon", "tue", "wed", "thu", "fri"],
                              "holidays": ["2026-12-25", "2026-12-28", "2026-12-29"]})
    tz = zone("Europe/Berlin")
    moment = datetime(2026, 12, 24, 18, 0, tzinfo=timezone.utc)
    assert next_opening(moment, window, tz) == datetime(2026, 12, 30, 8, 0, tzinfo=timezone.utc)


def test_bad_holidays_are_refused():
    """Holidays must be ISO dates."""
    import pytest

    from app.domain.errors import ValidationError
    from app.domain.campaigns.scheduling import validate_window

    with pytest.raises(ValidationError) as raised:
        validate_window({"start": "09:00", "end": "17:00", "holidays": ["Christmas"]})
    assert raised.value.field == "send_window.holidays"
