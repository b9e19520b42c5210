"""The sandbox feed page: the workspace's sandbox posts, newest first, a page at a time, live."""

from __future__ import annotations

import asyncio

import reflex as rx
from pydantic import BaseModel

from postforge import routes
from postforge.db import session_scope
from postforge.services.channels import sandbox_feed
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import ServiceError
from postforge.state import paging
from postforge.state.live import refresh_on_change
from postforge.state.shell import ShellState

PAGE_SIZE = 20


class FeedRow(BaseModel):
    id: int
    anchor: str  # "post-<id>": the sandbox adapter's post URL points here
    display_name: str
    handle: str
    initial: str
    text: str
    when: str


def _page(user_id: int, workspace_id: int, offset: int) -> sandbox_feed.FeedPage:
    with session_scope() as session:
        return sandbox_feed.feed_page(
            session, user_id=user_id, workspace_id=workspace_id, limit=PAGE_SIZE, offset=offset
        )


class SandboxFeedState(rx.State):
    rows: list[FeedRow] = []
    total: int = 0
    page: int = 0
    loaded: bool = False

    @rx.var
    def has_previous(self) -> bool:
        return self.page > 0

    @rx.var
    def has_next(self) -> bool:
        return paging.has_next(self.page, PAGE_SIZE, self.total)

    @rx.var
    def range_text(self) -> str:
        return paging.range_text(self.page, PAGE_SIZE, self.total)

    @rx.event
    async def load(self):
        self.page = 0
        return await self._fetch()

    @rx.event
    async def refresh_live(self):
        """Something was published: show the current page again (new posts appear on the first)."""
        return await self._fetch()

    @rx.event
    async def next_page(self):
        if self.has_next:
            self.page += 1
            return await self._fetch()
        return None

    @rx.event
    async def previous_page(self):
        if self.page > 0:
            self.page -= 1
            return await self._fetch()
        return None

    async def _fetch(self):
        shell = await self.get_state(ShellState)
        if not (shell.user_id and shell.workspace_id):
            self.rows, self.total = [], 0
            return None
        zone = shell.user_timezone or shell.workspace_timezone or "UTC"
        try:
            found = await asyncio.to_thread(_page, shell.user_id, shell.workspace_id, self.page * PAGE_SIZE)
        except ServiceError as error:
            return rx.toast.error(error.message)
        self.rows = [
            FeedRow(
                id=post.id,
                anchor=f"post-{post.id}",
                display_name=post.display_name,
                handle=post.handle,
                initial=post.initial,
                text=post.text,
                when=timefmt.format_local(post.created_at, zone),
            )
            for post in found.rows
        ]
        self.total, self.loaded = found.total, True
        return None


refresh_on_change(routes.SANDBOX, SandboxFeedState.refresh_live)
