"""Show UTC instants in a person's zone."""

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def format_local(instant: datetime, timezone: str, pattern: str = "%a %d %b %Y, %H:%M") -> str:
    local = instant.astimezone(zone(timezone))
    return f"{local.strftime(pattern)} {local.tzname()}"
