"""The notification bell (unread count, the latest notices) and the full notifications page.

The live poller (`state.live`) hands new notices to `receive`, so the bell counts up without a
reload; opening the bell or the page reads the list afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import reflex as rx
from pydantic import BaseModel

from postforge.services.alerts import notifications
from postforge.services.alerts.notifications import NotificationItem
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import ServiceError
from postforge.state.shell import ShellState, run_in_session

BELL_SIZE = 20
PAGE_SIZE = notifications.MAX_LIST
TIME_PATTERN = "%d %b, %H:%M"

# kind -> (lucide icon, Radix colour)
KIND_LOOKS = {
    "published": ("circle-check", "green"),
    "failed": ("circle-x", "red"),
    "needs_review": ("circle-help", "orange"),
    "account_needs_reconnect": ("unplug", "red"),
}


class NotificationRow(BaseModel):
    id: int
    kind: str
    title: str
    body: str
    link: str
    when: str
    read: bool
    icon: str
    color: str


def notification_row(item: NotificationItem, zone: str) -> NotificationRow:
    icon, color = KIND_LOOKS.get(item.kind, ("bell", "gray"))
    return NotificationRow(
        id=item.id,
        kind=item.kind,
        title=item.title,
        body=item.body,
        link=item.link,
        when=timefmt.format_local(item.created_at, zone, TIME_PATTERN) if item.created_at else "",
        read=item.read,
        icon=icon,
        color=color,
    )


class NotificationsState(rx.State):
    unread: int = 0
    items: list[NotificationRow] = []  # the bell's list, newest first
    page_items: list[NotificationRow] = []  # the notifications page
    page_loaded: bool = False

    @rx.var
    def unread_label(self) -> str:
        """What the bell says to a screen reader."""
        if not self.unread:
            return "Notifications, none unread"
        return f"Notifications, {self.unread} unread"

    @rx.var
    def unread_badge(self) -> str:
        return "99+" if self.unread > 99 else str(self.unread)

    async def _who(self) -> tuple[int, int, str]:
        shell = await self.get_state(ShellState)
        zone = shell.user_timezone or shell.workspace_timezone or "UTC"
        return shell.user_id, shell.workspace_id, zone

    async def _list(self, limit: int) -> list[NotificationRow] | None:
        user_id, workspace_id, zone = await self._who()
        if not (user_id and workspace_id):
            return []
        try:
            found = await asyncio.to_thread(
                run_in_session,
                notifications.list_notifications,
                user_id=user_id,
                workspace_id=workspace_id,
                limit=limit,
            )
        except ServiceError:
            return None
        return [notification_row(item, zone) for item in found]

    @rx.event
    async def load_unread(self):
        """The bell's count, read when a page loads (the poller keeps it current afterwards)."""
        user_id, workspace_id, _zone = await self._who()
        if not (user_id and workspace_id):
            self.unread, self.items = 0, []
            return
        try:
            self.unread = await asyncio.to_thread(
                run_in_session, notifications.unread_count, user_id=user_id, workspace_id=workspace_id
            )
        except ServiceError:
            self.unread = 0

    @rx.event
    async def bell_opened(self, is_open: bool):
        """Opening the bell reads the latest notices afresh."""
        if not is_open:
            return None
        rows = await self._list(BELL_SIZE)
        if rows is None:
            return rx.toast.error("The notifications could not be loaded. Try again.")
        self.items = rows
        return None

    @rx.event
    async def load_page(self):
        rows = await self._list(PAGE_SIZE)
        if rows is None:
            return rx.toast.error("The notifications could not be loaded. Try again.")
        self.page_items, self.page_loaded = rows, True
        return None

    @rx.event
    async def mark_all_read(self):
        user_id, workspace_id, _zone = await self._who()
        if not (user_id and workspace_id):
            return None
        try:
            await asyncio.to_thread(
                run_in_session, notifications.mark_all_read, user_id=user_id, workspace_id=workspace_id
            )
        except ServiceError as error:
            return rx.toast.error(error.message)
        self.unread = 0
        self.items = [row.model_copy(update={"read": True}) for row in self.items]
        self.page_items = [row.model_copy(update={"read": True}) for row in self.page_items]
        return None

    def receive(self, found: Sequence[NotificationItem], zone: str) -> None:
        """New notices from the live poller (newest first): count them and put them on top."""
        known = {row.id for row in self.items}
        fresh = [notification_row(item, zone) for item in found if item.id not in known]
        self.unread += sum(1 for row in fresh if not row.read)
        self.items = (fresh + self.items)[:BELL_SIZE]
        if self.page_loaded:
            page_known = {row.id for row in self.page_items}
            self.page_items = ([r for r in fresh if r.id not in page_known] + self.page_items)[:PAGE_SIZE]
