"""Posting slots: a workspace's weekly schedule (e.g. Mon-Fri 09:00 and 17:00) and its next free slot.

Slots are wall-clock times in the workspace's zone, so "Monday 09:00" stays 09:00 through a DST
change. On a spring-forward day a slot inside the skipped hour does not exist and is passed
over; on a fall-back day a slot inside the repeated hour means its first occurrence (as
`timefmt.to_utc` decides everywhere), never both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlmodel import Session, col, select

from postforge.models import Post, PostingSlot, PostStatus, Workspace, utcnow
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import Conflict, NotFound, ValidationFailed
from postforge.services.tenancy import workspaces

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_SLOTS = 50
SEARCH_WEEKS = 8
# A slot must be at least this far ahead to be offered: the person still has to save the post.
MIN_LEAD = timedelta(minutes=5)
# Posts that hold their slot: those still going out at that time.
TAKING_STATUSES = (PostStatus.SCHEDULED, PostStatus.PUBLISHING)


@dataclass(frozen=True)
class SlotView:
    id: int
    weekday: int
    local_time: str  # "HH:MM"
    label: str  # "Mon 09:00"


def list_slots(session: Session, *, actor_id: int, workspace_id: int) -> list[SlotView]:
    """The weekly schedule, Monday first, then by time."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="read")
    return [_view(slot) for slot in _slots(session, workspace_id)]


def add_slots(
    session: Session, *, actor_id: int, workspace_id: int, weekdays: Iterable[int], local_time: str
) -> list[SlotView]:
    """Add one time on several weekdays (e.g. Mon-Fri at 09:00); all or nothing.

    Returns the whole schedule afterwards.
    """
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    at = parse_time(local_time)
    days = sorted({parse_weekday(day) for day in weekdays})
    if not days:
        raise ValidationFailed("Choose at least one weekday.", field="weekdays")
    existing = _slots(session, workspace_id)
    taken = {(slot.weekday, slot.local_time) for slot in existing}
    duplicates = [f"{WEEKDAYS[day]} {at:%H:%M}" for day in days if (day, at) in taken]
    if duplicates:
        raise Conflict(f"Already in the schedule: {', '.join(duplicates)}.")
    _check_size(len(existing) + len(days))
    for day in days:
        session.add(PostingSlot(workspace_id=workspace_id, weekday=day, local_time=at))
    session.flush()
    return [_view(slot) for slot in _slots(session, workspace_id)]


def remove_slot(session: Session, *, actor_id: int, workspace_id: int, slot_id: int) -> list[SlotView]:
    """Remove one slot; returns the schedule afterwards."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    slot = session.get(PostingSlot, slot_id)
    if slot is None or slot.workspace_id != workspace_id:
        raise NotFound("That posting slot is gone already.")
    session.delete(slot)
    session.flush()
    return [_view(slot) for slot in _slots(session, workspace_id)]


def replace_slots(
    session: Session, *, actor_id: int, workspace_id: int, slots: Sequence[tuple[int, str]]
) -> list[SlotView]:
    """Set the whole weekly schedule to `slots` ((weekday, "HH:MM") pairs); all or nothing."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    wanted: list[tuple[int, time]] = []
    for weekday, local_time in slots:
        pair = (parse_weekday(weekday), parse_time(local_time))
        if pair in wanted:
            raise ValidationFailed(f"{WEEKDAYS[pair[0]]} {pair[1]:%H:%M} is listed twice.", field="slots")
        wanted.append(pair)
    _check_size(len(wanted))
    current = {(slot.weekday, slot.local_time): slot for slot in _slots(session, workspace_id)}
    for pair, slot in current.items():
        if pair not in wanted:
            session.delete(slot)
    for weekday, at in wanted:
        if (weekday, at) not in current:
            session.add(PostingSlot(workspace_id=workspace_id, weekday=weekday, local_time=at))
    session.flush()
    return [_view(slot) for slot in _slots(session, workspace_id)]


def next_free_slot(
    session: Session, *, actor_id: int, workspace_id: int, after: datetime | None = None
) -> datetime | None:
    """The first slot after `after` (default: now) that no scheduled post occupies, as aware UTC.

    Searches SEARCH_WEEKS weeks ahead in the workspace's zone and never offers a slot less
    than MIN_LEAD from now. None when there are no slots or all of them are taken.
    """
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="read")
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("That workspace is gone.")
    slots = _slots(session, workspace_id)
    if not slots:
        return None
    earliest = utcnow() + MIN_LEAD
    if after is not None:
        if after.tzinfo is None:
            raise ValueError("`after` must be an aware datetime")
        earliest = max(earliest, after.astimezone(UTC) + timedelta(microseconds=1))
    horizon = earliest + timedelta(weeks=SEARCH_WEEKS)
    taken = _taken_minutes(session, workspace_id, earliest - timedelta(minutes=1), horizon)
    for candidate in slot_instants(slots, workspace.timezone, earliest, horizon):
        if _minute(candidate) not in taken:
            return candidate
    return None


def slot_instants(
    slots: Sequence[PostingSlot], timezone: str, start: datetime, end: datetime
) -> Iterable[datetime]:
    """Every slot's UTC instant in [start, end), in order.

    A slot time the clocks skip that day is left out; one the clocks repeat is its first occurrence.
    """
    zone = timefmt.zone(timezone)
    by_weekday: dict[int, list[time]] = {}
    for slot in slots:
        by_weekday.setdefault(slot.weekday, []).append(slot.local_time)
    day = start.astimezone(zone).date() - timedelta(days=1)  # a zone ahead of UTC may start yesterday
    last = end.astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        for at in sorted(by_weekday.get(day.weekday(), ())):
            try:
                instant = timefmt.to_utc(datetime.combine(day, at), timezone)
            except ValidationFailed:
                continue  # skipped by a spring-forward change
            if start <= instant < end:
                yield instant
        day += timedelta(days=1)


def parse_weekday(value: int | str) -> int:
    text = str(value).strip()
    if text[:3].title() in WEEKDAYS:
        return WEEKDAYS.index(text[:3].title())
    try:
        day = int(text)
    except ValueError:
        raise ValidationFailed(
            f"{value!r} is not a weekday: use Mon to Sun or 0 to 6.", field="weekday"
        ) from None
    if not 0 <= day <= 6:
        raise ValidationFailed("A weekday is 0 (Monday) to 6 (Sunday).", field="weekday")
    return day


def parse_time(value: str | time) -> time:
    """A wall-clock time of day from "HH:MM" (24-hour)."""
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    text = str(value or "").strip()
    try:
        parsed = datetime.strptime(text, "%H:%M").time()
    except ValueError:
        raise ValidationFailed(
            f"{text or 'An empty time'!r} is not a time like 09:00 or 17:30.", field="local_time"
        ) from None
    return parsed


def _check_size(count: int) -> None:
    if count > MAX_SLOTS:
        raise ValidationFailed(f"A schedule holds at most {MAX_SLOTS} slots.", field="slots")


def _slots(session: Session, workspace_id: int) -> list[PostingSlot]:
    return list(
        session.exec(
            select(PostingSlot)
            .where(PostingSlot.workspace_id == workspace_id)
            .order_by(col(PostingSlot.weekday), col(PostingSlot.local_time))
        ).all()
    )


def _taken_minutes(session: Session, workspace_id: int, start: datetime, end: datetime) -> set[datetime]:
    times = session.exec(
        select(Post.scheduled_at).where(
            Post.workspace_id == workspace_id,
            col(Post.deleted_at).is_(None),
            col(Post.status).in_(TAKING_STATUSES),
            col(Post.scheduled_at) >= start,
            col(Post.scheduled_at) < end,
        )
    ).all()
    return {_minute(at) for at in times if at is not None}


def _minute(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(second=0, microsecond=0)


def _view(slot: PostingSlot) -> SlotView:
    return SlotView(
        id=slot.id or 0,
        weekday=slot.weekday,
        local_time=f"{slot.local_time:%H:%M}",
        label=f"{WEEKDAYS[slot.weekday]} {slot.local_time:%H:%M}",
    )
