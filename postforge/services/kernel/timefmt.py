"""Wall-clock times in a person's zone and the UTC instants PostForge stores.

Every time a person types or drags is a local wall-clock time in a named IANA zone; every time
stored is an aware UTC instant. Converting between them is done here only, so DST rules are
applied the same way by the composer, the calendar, CSV import and the API.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from postforge.services.kernel.errors import ValidationFailed

LOCAL_INPUT_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


def zone(name: str) -> ZoneInfo:
    """The named zone, or UTC for an unknown name (for display only; input uses `require_zone`)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def require_zone(name: str, *, field: str = "timezone") -> ZoneInfo:
    try:
        return ZoneInfo(str(name).strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(
            f"Unknown time zone {name!r}: choose one like Europe/Berlin.", field=field
        ) from None


def format_local(instant: datetime, timezone: str, pattern: str = "%a %d %b %Y, %H:%M") -> str:
    local = instant.astimezone(zone(timezone))
    return f"{local.strftime(pattern)} {local.tzname()}"


def parse_local(text: str, *, field: str = "scheduled_at") -> datetime:
    """A naive wall-clock time from what a form or CSV sends ("2026-03-29T02:30")."""
    value = str(text or "").strip()
    if not value:
        raise ValidationFailed("Enter a date and time.", field=field)
    for pattern in LOCAL_INPUT_FORMATS:
        try:
            return datetime.strptime(value, pattern)
        except ValueError:
            continue
    raise ValidationFailed(f"{value!r} is not a date and time like 2026-05-04 09:30.", field=field)


def to_utc(local: datetime, timezone: str, *, field: str = "scheduled_at") -> datetime:
    """The UTC instant of a wall-clock time in `timezone`.

    A time that does not exist (skipped by a spring-forward change, e.g. 02:30 in New York on
    the second Sunday of March) is refused with a message saying so: moving it silently would
    publish at a time nobody chose. A time that happens twice (a fall-back change) means the
    first occurrence, as calendars and cron do.
    """
    tz = require_zone(timezone)
    naive = local.replace(tzinfo=None)
    first = naive.replace(tzinfo=tz, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != naive:
        raise ValidationFailed(
            f"{naive:%H:%M} does not exist on {naive:%d %b %Y} in {timezone}: the clocks skip that hour. "
            "Choose another time.",
            field=field,
        )
    return instant


def to_local(instant: datetime, timezone: str) -> datetime:
    """The naive wall-clock time of a UTC instant in `timezone`."""
    return instant.astimezone(zone(timezone)).replace(tzinfo=None)


def shift_days_keeping_wall_time(instant: datetime, days: int, timezone: str) -> datetime:
    """Move an instant by whole days while keeping its local time of day (across DST changes)."""
    local = to_local(instant, timezone) + timedelta(days=days)
    return to_utc(local, timezone)
