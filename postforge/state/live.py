"""Live publishing status: one background poller per open tab.

Every shell page's on_load ends with `LiveState.start`, which starts the tab's poller. A poller
started by a page load belongs to that load's event chain, and Reflex cancels an unfinished
page-load chain when the tab navigates, reloads or reconnects — so every `start` starts a new
poller (the old one, if it still runs, sees it was replaced and stops). The new poller carries on
from where the tab's last one looked, so a notice written between two pages is still told. About
once a second the poller asks `live_status.changes_since` (two cheap queries, off the event loop)
what changed since its last look:

* a post or destination of the workspace changed → the page in view refreshes its own data
  (page states register a refresh event for their route with `refresh_on_change`, so this module
  knows no page);
* new notifications → a toast each (success for a publish, error for trouble, with a "View"
  link) and the bell counts up.

A poller stops when the tab has been gone for a while, when its user signs out or leaves the
workspace, or when a newer poller of the same tab replaces it. A tab that comes back after its
last look went stale (a long sleep, a server restart) starts from a fresh baseline: the bell
counts what it missed, without a burst of old toasts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

import reflex as rx
from reflex_base.event import EventHandler, EventSpec
from reflex_components_sonner.toast import ToastAction

from postforge.db import session_scope
from postforge.services.alerts.notifications import NotificationItem
from postforge.services.channels import live_status
from postforge.services.kernel.errors import PermissionDenied
from postforge.state import background
from postforge.state.auth import sign_in_redirect
from postforge.state.notifications import NotificationsState
from postforge.state.session_guard import still_signed_in
from postforge.state.shell import ShellState

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
STALE_SECONDS = 15.0  # a poller that has not looked for this long is gone (e.g. the server restarted)
GONE_SECONDS = 30.0  # a tab whose socket stays away this long was closed (a reload reconnects sooner)
ERROR_PAUSE_SECONDS = 5.0  # after a failed look (database away), wait a little longer
TOASTS_PER_LOOK = 3
ERROR_TOAST_MS = 10_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # "since the beginning": a workspace with nothing yet

_refreshers: dict[str, EventHandler] = {}


def refresh_on_change(route: str, handler: EventHandler) -> None:
    """Register the event that refreshes a page's data when its workspace's posts change."""
    _refreshers[_normal(route)] = handler


def refresher_for(path: str) -> EventHandler | None:
    return _refreshers.get(_normal(path))


def _normal(path: str) -> str:
    return (str(path or "/").split("?", 1)[0].rstrip("/")) or "/"


def notification_toast(item: NotificationItem) -> EventSpec:
    """A toast for one new notification: green for a publish, red when someone must act."""
    props: dict = {"description": item.body, "id": f"notification-{item.id}", "close_button": True}
    if item.link:
        props["action"] = ToastAction(label="View", on_click=rx.redirect(item.link))
    if item.kind == "published":
        return rx.toast.success(item.title, **props)
    return rx.toast.error(item.title, duration=ERROR_TOAST_MS, **props)


def _look(user_id: int, workspace_id: int, since: datetime | None, after_id: int) -> live_status.LiveChanges:
    with session_scope() as session:
        return live_status.changes_since(
            session,
            user_id=user_id,
            workspace_id=workspace_id,
            since_update=since,
            after_notification_id=after_id,
        )


def _tab_connected(token: str) -> bool:
    """Whether the tab's websocket is connected to this server (True when that cannot be known)."""
    try:
        from reflex_base.registry import RegistrationContext

        namespace = RegistrationContext.get().app.event_namespace
    except Exception:  # no running app (tests, tools): assume the tab is there
        return True
    return namespace is None or token in namespace.token_to_sid


class LiveState(rx.State):
    _runs: dict[str, str] = {}  # the tab's poller (see `background`)
    _beat: float = 0.0  # when it last looked (wall clock: state may outlive a process)
    _workspace_id: int = 0
    _since: datetime | None = None  # None until the baseline look
    _after_id: int = 0

    @rx.event
    async def start(self):
        """on_load of every shell page: the bell's count, and a new poller for this tab."""
        shell = await self.get_state(ShellState)
        if not (shell.user_id and shell.workspace_id):
            background.cancel(self, "poll")  # a running poller sees this and stops
            return None
        carry_on = self._workspace_id == shell.workspace_id and time.time() - self._beat < STALE_SECONDS
        if not carry_on:
            self._workspace_id = shell.workspace_id
            self._since, self._after_id = None, 0
        background.book(self, "poll")
        self._beat = time.time()
        return [NotificationsState.load_unread, LiveState.poll]

    async def take(self, changes: live_status.LiveChanges, path: str, zone: str) -> list:
        """Remember how far this tab has seen, hand new notices to the bell, and say what to do."""
        baseline = self._since is None
        self._since = changes.last_update or self._since or EPOCH
        self._after_id = max(self._after_id, changes.last_notification_id)
        if baseline:
            return []
        events: list = []
        if changes.notifications:
            bell = await self.get_state(NotificationsState)
            bell.receive(changes.notifications, zone)
            events += [notification_toast(item) for item in changes.notifications[:TOASTS_PER_LOOK]]
            more = len(changes.notifications) - TOASTS_PER_LOOK
            if more > 0:
                events.append(rx.toast.info(f"{more} more notifications: open the bell to see them all."))
        if changes.changed:
            refresh = refresher_for(path)
            if refresh is not None:
                events.insert(0, refresh)
        return events

    @rx.event(background=True)
    async def poll(self):
        async with self:
            me = background.claim(self, "poll")
        if me is None:
            return  # not booked by this tab's page load: one poller per tab, whatever the client sends
        gone_since: float | None = None
        while True:
            async with self:
                if not background.is_current(self, "poll", me):
                    return
                if not await still_signed_in(self):  # signed out, revoked or expired meanwhile
                    background.cancel(self, "poll")
                    yield sign_in_redirect(self.router)
                    return
                shell = await self.get_state(ShellState)
                user_id, workspace_id = shell.user_id, shell.workspace_id
                zone = shell.user_timezone or shell.workspace_timezone or "UTC"
                if not user_id or workspace_id != self._workspace_id:
                    background.cancel(self, "poll")
                    return
                since, after = self._since, self._after_id
                path, token = self.router.url.path, self.router.session.client_token
            pause = POLL_SECONDS
            try:
                changes = await asyncio.to_thread(_look, user_id, workspace_id, since, after)
            except PermissionDenied:  # no longer a member: nothing more to watch
                async with self:
                    if background.is_current(self, "poll", me):
                        background.cancel(self, "poll")
                return
            except Exception:  # the database is away for a moment: keep the tab, look again later
                logger.warning("live status look failed", exc_info=True)
                changes, pause = None, ERROR_PAUSE_SECONDS
            events: list = []
            async with self:
                if not background.is_current(self, "poll", me):
                    return
                self._beat = time.time()
                if changes is not None:
                    events = await self.take(changes, path, zone)
            for event in events:
                yield event
            if _tab_connected(token):
                gone_since = None
            else:
                gone_since = gone_since or time.monotonic()
                if time.monotonic() - gone_since > GONE_SECONDS:
                    async with self:
                        if background.is_current(self, "poll", me):
                            background.cancel(self, "poll")
                    return
            await asyncio.sleep(pause)
