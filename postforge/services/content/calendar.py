"""The calendar's reads and moves, in the wall-clock time of the person looking at it.

The calendar shows and takes *naive local* times ("2026-03-29T09:00:00" in the viewer's zone);
the database holds aware UTC instants. `month_events` turns the stored instants of one visible
range into small plain dicts the browser renders as they are; `move_post` turns a dropped
wall-clock time back into an instant (refusing a time the clocks skip) and reschedules.

Dragging a post across days in the month view keeps its time of day: the drop arrives as the
same wall-clock time on the new day, and converting that local time in the viewer's zone is
exactly `timefmt.shift_days_keeping_wall_time` — 09:00 stays 09:00 across a DST change, even
though the UTC instant moves by 23 or 25 hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypedDict

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from postforge.models import Post, PostDestination, SocialAccount
from postforge.services.content import posts
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import ValidationFailed
from postforge.services.tenancy import workspaces

TITLE_CHARS = 60
MAX_RANGE_DAYS = 62  # a month grid shows 42 days; anything much wider is not a calendar view


class CalendarEvent(TypedDict):
    """One post as the calendar draws it: JSON-ready, nothing the browser does not need."""

    id: int
    title: str  # the first line of the text, shortened
    start: str  # naive wall-clock time in the viewer's zone, "YYYY-MM-DDTHH:MM:SS"
    tz: str  # the zone's abbreviation at that instant ("CET", "EDT"): tells 01:30 from 01:30
    status: str
    platforms: list[str]  # distinct platforms of its destinations, sorted
    version: int  # for optimistic concurrency on a move


@dataclass(frozen=True)
class MoveResult:
    post_id: int
    version: int
    scheduled_at: datetime  # aware UTC
    local_start: str  # naive wall-clock time in the viewer's zone
    label: str  # the new time for people: "Tue 24 Mar 2026, 09:00 CET"
    event: CalendarEvent


def month_events(
    session: Session,
    workspace_id: int,
    *,
    start_local: str | datetime,
    end_local: str | datetime,
    timezone: str,
) -> list[CalendarEvent]:
    """The workspace's scheduled posts whose time falls in [start_local, end_local) in `timezone`.

    Read-only; callers authorize "read" first. One query: posts in the range (the
    (workspace_id, scheduled_at) index) joined to their destinations' platforms, aggregated per
    post, with the text cut down in SQL so long posts never leave the database whole.
    """
    tz = timefmt.require_zone(timezone)
    start, end = _local_bound(start_local, "start"), _local_bound(end_local, "end")
    if end <= start:
        raise ValidationFailed("The end of the range must come after its start.", field="end")
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise ValidationFailed(f"Show at most {MAX_RANGE_DAYS} days at a time.", field="end")
    start_utc = start.replace(tzinfo=tz).astimezone(UTC)
    end_utc = end.replace(tzinfo=tz).astimezone(UTC)

    platforms = func.aggregate_strings(sa.cast(SocialAccount.platform, sa.String), ",")
    statement = (
        select(
            Post.id,
            func.substr(Post.content, 1, TITLE_CHARS + 40),
            Post.status,
            Post.scheduled_at,
            Post.version,
            platforms,
        )
        .select_from(Post)
        .outerjoin(PostDestination, col(PostDestination.post_id) == Post.id)
        .outerjoin(SocialAccount, col(SocialAccount.id) == PostDestination.social_account_id)
        .where(
            Post.workspace_id == workspace_id,
            col(Post.deleted_at).is_(None),
            col(Post.scheduled_at) >= start_utc,
            col(Post.scheduled_at) < end_utc,
        )
        .group_by(col(Post.id))
        .order_by(col(Post.scheduled_at), col(Post.id))
    )
    events: list[CalendarEvent] = []
    for post_id, text, status, scheduled_at, version, platform_list in session.exec(statement):
        local = scheduled_at.astimezone(tz)
        events.append(
            {
                "id": post_id,
                "title": title_of(text),
                "start": local.isoformat(timespec="seconds")[:19],  # naive: the offset cut off
                "tz": local.tzname() or "",
                "status": str(status),
                "platforms": sorted(set(platform_list.split(","))) if platform_list else [],
                "version": version,
            }
        )
    return events


def move_post(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    post_id: int,
    new_local_start: str,
    timezone: str,
    expected_version: int | None,
) -> MoveResult:
    """Reschedule a post to a wall-clock time in `timezone` (a calendar drop).

    The time must exist in that zone (a drop into the hour a spring-forward change skips is
    refused with the reason); a time that happens twice means its first occurrence. The posts
    service then refuses past times, posts that can no longer move and stale versions.
    """
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    instant = timefmt.to_utc(timefmt.parse_local(new_local_start), timezone)
    view = posts.reschedule(
        session,
        actor_id=actor_id,
        workspace_id=workspace_id,
        post_id=post_id,
        scheduled_at=instant,
        expected_version=expected_version,
    )
    event = event_from_view(view, timezone)
    assert event is not None  # just rescheduled, so it has a time
    return MoveResult(
        post_id=view.id,
        version=view.version,
        scheduled_at=view.scheduled_at or instant,
        local_start=event["start"],
        label=timefmt.format_local(view.scheduled_at or instant, timezone),
        event=event,
    )


def event_from_view(view: posts.PostView, timezone: str) -> CalendarEvent | None:
    """The calendar event of a post the posts service returned, or None when it has no time."""
    if view.scheduled_at is None:
        return None
    local = view.scheduled_at.astimezone(timefmt.zone(timezone))
    return {
        "id": view.id,
        "title": title_of(view.content),
        "start": local.isoformat(timespec="seconds")[:19],
        "tz": local.tzname() or "",
        "status": str(view.status),
        "platforms": sorted({str(d.platform) for d in view.destinations}),
        "version": view.version,
    }


def title_of(text: str | None) -> str:
    """The first non-empty line, cut to TITLE_CHARS with an ellipsis."""
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"
    return "(no text)"


def _local_bound(value: str | datetime, field: str) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return timefmt.parse_local(value, field=field)
