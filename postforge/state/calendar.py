"""Calendar page state: the visible range's events, drops, clicks.

Only the range the calendar shows is loaded (FullCalendar reports it through `datesSet`), never
all posts. A successful drop patches the one event it moved instead of re-sending the range; a
refused drop puts the stored event back (`patches`) and bumps `revision` so the calendar redraws
it where it was, with the refusal as an error toast.
"""

import asyncio
from datetime import datetime, timedelta
from typing import Any

import reflex as rx

from postforge import routes
from postforge.db import session_scope
from postforge.services.content import calendar, posts
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import NotFound, ServiceError
from postforge.services.tenancy import workspaces
from postforge.state.live import refresh_on_change
from postforge.state.post_editor import PostEditorState
from postforge.state.shell import ShellState

VIEWS = ("dayGridMonth", "timeGridWeek", "timeGridDay", "listWeek", "listDay")
DEFAULT_NEW_POST_TIME = (9, 0)  # a click on a whole day in month view proposes 09:00


def _load(user_id: int, workspace_id: int, start: str, end: str, zone: str) -> list[calendar.CalendarEvent]:
    with session_scope() as session:
        workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="read")
        return calendar.month_events(session, workspace_id, start_local=start, end_local=end, timezone=zone)


def _move(
    user_id: int, workspace_id: int, post_id: int, new_start: str, zone: str, version: int | None
) -> calendar.MoveResult:
    with session_scope() as session:
        return calendar.move_post(
            session,
            actor_id=user_id,
            workspace_id=workspace_id,
            post_id=post_id,
            new_local_start=new_start,
            timezone=zone,
            expected_version=version,
        )


def _stored_event(user_id: int, workspace_id: int, post_id: int, zone: str) -> calendar.CalendarEvent | None:
    """The post as stored now (None when it is gone or has no time)."""
    with session_scope() as session:
        try:
            view = posts.get_post(session, actor_id=user_id, workspace_id=workspace_id, post_id=post_id)
        except NotFound:
            return None
        return calendar.event_from_view(view, zone)


def proposed_start(clicked: str, all_day: bool, zone: str, *, now: datetime | None = None) -> str | None:
    """The local start a click on the calendar proposes for a new post, or None for the past.

    A click on a whole day (month view) proposes 09:00 that day, or the next full hour when that
    is later (today); a click on a time slot proposes that slot.
    """
    try:
        local = timefmt.parse_local(clicked)
    except ServiceError:
        return None
    current = timefmt.to_local(now or datetime.now(timefmt.zone(zone)), zone)
    if all_day:
        day = local.date()
        local = datetime(day.year, day.month, day.day, *DEFAULT_NEW_POST_TIME)
        next_hour = current.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        if day == current.date() and local < next_hour:
            local = next_hour
        if local.date() != day:  # too late in the day to propose anything
            return None
    if local <= current:
        return None
    return local.strftime("%Y-%m-%dT%H:%M")


class CalendarState(rx.State):
    events: list[dict[str, Any]] = []
    patches: dict[str, Any] = {}
    revision: int = 0
    zone: str = "UTC"
    view: str = "dayGridMonth"
    range_start: str = ""
    range_end: str = ""
    loading: bool = False
    count: int = 0

    async def _shell(self) -> ShellState:
        return await self.get_state(ShellState)

    @rx.event
    async def load(self):
        """on_load: the zone to show. The range arrives from the calendar itself (`datesSet` on mount)."""
        shell = await self._shell()
        self.zone = shell.user_timezone or "UTC"

    @rx.event
    async def load_range(self, start: str, end: str, view: str):
        self.range_start, self.range_end = start, end
        self.view = view if view in VIEWS else "dayGridMonth"
        return await self._fetch()

    @rx.event
    async def reload(self):
        if not (self.range_start and self.range_end):
            return None
        return await self._fetch()

    async def _fetch(self):
        shell = await self._shell()
        if not shell.workspace_id:
            self.events, self.patches, self.count = [], {}, 0
            return None
        self.zone = shell.user_timezone or "UTC"
        self.loading = True
        try:
            events = await asyncio.to_thread(
                _load, shell.user_id, shell.workspace_id, self.range_start, self.range_end, self.zone
            )
        except ServiceError as error:
            return rx.toast.error(error.message)
        finally:
            self.loading = False
        self.events, self.patches, self.count = events, {}, len(events)
        return None

    @rx.event
    async def move(self, post_id: str, new_start: str, old_start: str, version: int):
        """A drop: reschedule on the server; keep the move or put the event back."""
        shell = await self._shell()
        try:
            ident = int(post_id)
        except (TypeError, ValueError):
            self.revision += 1
            return rx.toast.error("That post could not be found.")
        try:
            result = await asyncio.to_thread(
                _move, shell.user_id, shell.workspace_id, ident, new_start, self.zone, int(version) or None
            )
        except ServiceError as error:
            await self._restore(shell, ident)
            return rx.toast.error(error.message)
        self.patches = {**self.patches, str(result.post_id): dict(result.event)}
        return rx.toast.success(f"Moved to {result.label}")

    async def _restore(self, shell: ShellState, post_id: int) -> None:
        try:
            stored = await asyncio.to_thread(
                _stored_event, shell.user_id, shell.workspace_id, post_id, self.zone
            )
        except ServiceError:
            stored = None
        self.patches = {**self.patches, str(post_id): dict(stored) if stored else None}
        self.revision += 1

    @rx.event
    def open_post(self, post_id: str):
        """A click on an event opens it in the editor dialog."""
        try:
            return PostEditorState.open_edit(int(post_id))
        except (TypeError, ValueError):
            return rx.toast.error("That post could not be opened.")

    @rx.event
    def new_post_at(self, clicked: str, all_day: bool):
        """A click on an empty day or time slot starts a new post scheduled there."""
        local = proposed_start(clicked, bool(all_day), self.zone)
        if local is None:
            return rx.toast.info("That time has passed: click today or a later day to schedule a post.")
        return PostEditorState.open_new(local)

    @rx.event
    def new_post(self):
        return PostEditorState.open_new("")


# A post of the workspace changed (e.g. it was published): the visible range is fetched again and
# the calendar redraws its events in place.
refresh_on_change(routes.CALENDAR, CalendarState.reload)
