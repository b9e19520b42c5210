"""Wall-clock ↔ UTC, right across daylight-saving changes."""

from datetime import UTC, datetime

import pytest

from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import ValidationFailed


@pytest.mark.parametrize(
    ("zone", "local", "utc"),
    [
        ("America/New_York", "2026-03-08 01:30", datetime(2026, 3, 8, 6, 30, tzinfo=UTC)),
        ("America/New_York", "2026-03-08 03:30", datetime(2026, 3, 8, 7, 30, tzinfo=UTC)),
        # Fall back: 01:30 happens twice; the first (still daylight time) is meant.
        ("America/New_York", "2026-11-01 01:30", datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        ("Europe/Berlin", "2026-10-25 02:30", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("Europe/Berlin", "2026-07-01 09:00", datetime(2026, 7, 1, 7, 0, tzinfo=UTC)),
        ("UTC", "2026-01-01T00:00", datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_local_times_convert_to_the_right_instant(zone, local, utc):
    assert timefmt.to_utc(timefmt.parse_local(local), zone) == utc


@pytest.mark.parametrize(
    ("zone", "local"),
    [("America/New_York", "2026-03-08 02:30"), ("Europe/Berlin", "2026-03-29 02:30")],
)
def test_a_time_the_clocks_skip_is_refused_with_a_reason(zone, local):
    with pytest.raises(ValidationFailed, match="does not exist") as refusal:
        timefmt.to_utc(timefmt.parse_local(local), zone)
    assert refusal.value.field == "scheduled_at"


@pytest.mark.parametrize("text", ["", "tomorrow", "2026-13-01 10:00", "2026-02-30 10:00", "10:00"])
def test_unreadable_input_is_refused(text):
    with pytest.raises(ValidationFailed):
        timefmt.parse_local(text)


def test_an_unknown_zone_is_refused_for_input_but_shown_as_utc():
    with pytest.raises(ValidationFailed, match="Unknown time zone"):
        timefmt.to_utc(datetime(2026, 5, 1, 9), "Mars/Olympus")
    assert timefmt.format_local(datetime(2026, 5, 1, 9, tzinfo=UTC), "Mars/Olympus").endswith("UTC")


def test_moving_across_a_dst_change_keeps_the_time_of_day():
    # 09:00 Berlin on the Saturday before summer time starts, moved one day later: still 09:00.
    saturday = timefmt.to_utc(datetime(2026, 3, 28, 9), "Europe/Berlin")
    sunday = timefmt.shift_days_keeping_wall_time(saturday, 1, "Europe/Berlin")
    assert timefmt.to_local(sunday, "Europe/Berlin") == datetime(2026, 3, 29, 9)
    assert (sunday - saturday).total_seconds() == 23 * 3600
